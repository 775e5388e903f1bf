"""run_pbt(config): the synchronous PBT controller (Jaderberg et al. 2017;
paper 003, PBT section and Algorithm 1's metaEpoch).

Per generation g = 1, 2, …:
  step     every active member trains one ready interval and is scored
           (worker tasks, in parallel through the executor);
  select   record the scores, keep the best N of a big initial population
           (g = 1), export the generation's best member, decide whether to
           stop (after every generation, in the authors' order: the best
           score below ``stop_below_score``, the convergence rule,
           ``max_generations`` if set), else draw the
           exploit/explore plan (which loser copies which donor, the clone's
           new hyperparameters and fresh seed) from the controller RNG;
  exploit  apply the plan: copy each donor's directory to a temporary name,
           rewrite its member.json and rename it over the loser.

``controller_state.json`` (generation, phase, members, scores, plan, RNG
state) is written atomically after every phase, and every phase is
idempotent: killing the controller at any moment and rerunning the same
command continues where it stopped (members already trained for the
generation are not retrained; a plan is drawn once and replayed).

Outputs under ``output_dir``: ``members/<id>/``, ``generations.csv``,
``plots/scores.png``, ``plots/hyperparameters.png``,
``best/generation_<g>/saved_model`` and ``best/saved_model`` (the latest
generation's best; for UDR members the VAE with the best individual UDR),
``results.json``.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import time
from typing import Any, Dict, List, Optional, Union

import numpy as np
from absl import logging

from tfdis import io_utils, rundir
from tfdis.pbt import evaluation, explore_exploit, worker
from tfdis.pbt.config import PBTConfig
from tfdis.execution import (ExecutionConfig, Executor, open_executor,
                             preflight)
from tfdis.specs import check_compatible

STATE_FILE = "controller_state.json"
STATE_VERSION = 1


def _member_ids(n: int) -> List[str]:
  return [f"m{i:03d}" for i in range(n)]


def _rng_from_state(state) -> np.random.Generator:
  rng = np.random.default_rng()
  rng.bit_generator.state = state["rng_state"]
  return rng


def _save(output_dir: str, state: Dict[str, Any]) -> None:
  io_utils.write_json(os.path.join(output_dir, STATE_FILE), state)


def _pool_rows(config: PBTConfig, data) -> np.ndarray:
  from tfdis.training import inputs
  idx = inputs.load_indices(None, config.indices_path)
  return np.arange(data.num_examples, dtype=np.int64) if idx is None else idx


def _supervision_labels(config: PBTConfig, data) -> Optional[str]:
  """eval+loss: all surrogate labels as one masked label matrix (the union of
  the labelled rows; columns = every metaEpoch's active latents, at most
  latent_dim of them, in leaf/metaEpoch order)."""
  if config.final_supervision != "eval+loss":
    return None
  path = os.path.join(config.output_dir, "supervision.npz")
  if os.path.isfile(path):
    return path
  blocks = [b for leaf in evaluation.load_surrogate_labels(
      config.surrogate_labels) for b in leaf if b[1].ndim == 2]
  cols, kept = 0, []
  for rows, labels in blocks:
    if cols + labels.shape[1] > config.latent_dim:
      break
    kept.append((rows, labels, cols))
    cols += labels.shape[1]
  if cols == 0:
    raise ValueError("eval+loss: no surrogate label columns fit in "
                     f"latent_dim={config.latent_dim}")
  all_rows = np.unique(np.concatenate([r for r, _, _ in kept]))
  labels = np.zeros([len(all_rows), cols], np.float32)
  mask = np.zeros_like(labels)
  for rows, lab, c0 in kept:
    pos = np.searchsorted(all_rows, rows)
    labels[pos, c0:c0 + lab.shape[1]] = lab
    mask[pos, c0:c0 + lab.shape[1]] = 1.0
  io_utils.write_npz(path, indices=all_rows, labels=labels, mask=mask)
  return path


def _initial_state(config: PBTConfig, space) -> Dict[str, Any]:
  rng = np.random.default_rng(int(config.seed))
  n0 = config.population_size * config.big_init_population_factor
  members = {}
  for mid in _member_ids(n0):
    hp = explore_exploit.sample_hyperparameters(space, rng)
    hp.update(config.hyperparameters)
    members[mid] = {"hyperparameters": hp,
                    "seed": explore_exploit.fresh_seed(rng), "parent": None}
  return {"version": STATE_VERSION, "config": config.to_dict(),
          "generation": 1, "phase": "step", "active": sorted(members),
          "members": members, "scores": {}, "best_scores": [],
          "best_members": [], "plan": None, "converged": False,
          "stop_reason": None, "history": [], "exports": {},
          "rng_state": rng.bit_generator.state,
          "notes": dict(explore_exploit.NOTES)}


def _check_resume(config: PBTConfig, state: Dict[str, Any]) -> None:
  """A resumed run may change only the fields not marked immutable
  (num_workers, max_generations, convergence rule, exports, retries)."""
  check_compatible(PBTConfig.from_dict(state["config"]), config,
                   config.output_dir, overwrite_hint=None)


class NoFiniteScoreError(RuntimeError):
  """No member of the population ever produced a finite score."""

  user_facing = True


def _finite_members(state: Dict[str, Any], g: Optional[int] = None):
  return {r["member"] for r in state["history"] if r["status"] == "ok" and (
      g is None or r["generation"] == g)}


def _write_outputs(config: PBTConfig, state: Dict[str, Any],
                   plots: bool = True) -> str:
  import pandas as pd
  rows = state["history"]
  path = os.path.join(config.output_dir, "generations.csv")
  frame = pd.DataFrame(rows)
  if len(frame):
    frame["details"] = [json.dumps(io_utils.to_jsonable(d), sort_keys=True)
                        for d in frame["details"]]
    hp = pd.json_normalize(frame.pop("hyperparameters").tolist())
    hp.columns = [f"hp_{c}" for c in hp.columns]
    frame = pd.concat([frame, hp], axis=1)
  io_utils.write_csv(path, frame)
  if not plots:
    return path
  try:
    _plots(config, frame)
  except Exception as e:  # plots are a convenience, never a failure
    logging.warning("PBT plots failed: %s", e)
  return path


def _plots(config: PBTConfig, frame) -> None:
  if not len(frame):
    return
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt
  plot_dir = os.path.join(config.output_dir, "plots")
  fig, ax = plt.subplots(figsize=(6, 4))
  for mid, grp in frame.groupby("member"):
    ax.plot(grp["generation"], grp["score"], ".-", alpha=0.4, lw=0.8)
  best = frame.groupby("generation")["score"].max()
  ax.plot(best.index, best.values, "k-", lw=2, label="best")
  ax.set_xlabel("generation")
  ax.set_ylabel(f"score ({config.eval})")
  ax.legend()
  io_utils.save_figure(os.path.join(plot_dir, "scores.png"), fig)
  plt.close(fig)
  hp_cols = [c for c in frame.columns if c.startswith("hp_")]
  fig, axes = plt.subplots(len(hp_cols), 1, figsize=(6, 2.2 * len(hp_cols)),
                           squeeze=False)
  for ax, col in zip(axes[:, 0], hp_cols):
    for _, grp in frame.groupby("member"):
      ax.plot(grp["generation"], grp[col], ".-", alpha=0.5, lw=0.8)
    if col in ("hp_learning_rate", "hp_batch_size", "hp_beta"):
      ax.set_yscale("log")
    ax.set_ylabel(col[3:])
  axes[-1, 0].set_xlabel("generation")
  io_utils.save_figure(os.path.join(plot_dir, "hyperparameters.png"), fig)
  plt.close(fig)


def _copy_member(src: str, dst: str, member: Dict[str, Any]) -> None:
  """Atomically replaces ``dst`` by a copy of ``src`` with ``member``."""
  parent = os.path.dirname(dst)
  tmp = os.path.join(parent, f".{os.path.basename(dst)}.copy")
  old = os.path.join(parent, f".{os.path.basename(dst)}.old")
  for p in (tmp, old):
    if os.path.exists(p):
      shutil.rmtree(p)
  shutil.copytree(src, tmp)
  worker.write_member(tmp, member)
  if os.path.exists(dst):
    os.replace(dst, old)
  os.replace(tmp, dst)
  shutil.rmtree(old, ignore_errors=True)


def _copy_tree_atomic(src: str, dst: str) -> None:
  tmp = dst + ".tmp_copy"
  if os.path.exists(tmp):
    shutil.rmtree(tmp)
  shutil.copytree(src, tmp)
  old = dst + ".old"
  if os.path.exists(dst):
    if os.path.exists(old):
      shutil.rmtree(old)
    os.replace(dst, old)
  os.replace(tmp, dst)
  shutil.rmtree(old, ignore_errors=True)


def run_pbt(config: PBTConfig,
            executor: Union[Executor, ExecutionConfig, None] = None,
            _force_nan: Optional[Dict[str, int]] = None) -> Dict[str, Any]:
  """Runs (or resumes) a PBT population; returns the result dict of
  docs/design.md (generations, best_member, best_score, best_scores,
  converged, best_saved_model, generations_csv) plus stop_reason and notes.

  ``executor``: where members train: a running ``tfdis.execution.Executor``
  (not closed here), an ExecutionConfig (e.g. ``executor='ray'``), or None
  (in-process for num_workers=1, else a local spawn pool). ``_force_nan``
  (tests): {member id: attempts whose loss is declared non-finite}.
  """
  config.validate()
  out = os.path.abspath(config.output_dir)
  config = config.replace(output_dir=out)
  data = config.build_data()
  config._check_data(data)   # refused before anything is written
  from tfdis.models import get_model_class
  space = explore_exploit.default_space(
      list(get_model_class(config.model).HYPERPARAMETERS), config.evolve,
      config.hyperparameter_space)
  state_path = os.path.join(out, STATE_FILE)
  if os.path.isfile(state_path):
    _check_resume(config, io_utils.read_json(state_path))
  # An unauthenticated Ray cluster, or one that does not answer or rejects
  # the token, is refused before anything is written.
  execution = preflight(executor)
  os.makedirs(out, exist_ok=True)
  with rundir.RunLock(out, "tfdis_pbt"):
    rundir.clean_stale_temporaries(out)
    return _run_locked(config, executor, _force_nan, data, space, execution)


def _run_locked(config, executor, _force_nan, data, space, execution):
  out = config.output_dir
  state_path = os.path.join(out, STATE_FILE)
  os.makedirs(os.path.join(out, "members"), exist_ok=True)
  if os.path.isfile(state_path):
    state = io_utils.read_json(state_path)
    _check_resume(config, state)
    state["config"] = config.to_dict()
    logging.info("Resuming PBT in %s at generation %d, phase %s", out,
                 state["generation"], state["phase"])
  else:
    state = _initial_state(config, space)
  evaluation.write_eval_indices(out, config, _pool_rows(config, data))
  _supervision_labels(config, data)
  if state["phase"] == "step" and state["generation"] == 1:
    for mid in state["active"]:
      mdir = os.path.join(out, "members", mid)
      if not os.path.isfile(os.path.join(mdir, worker.MEMBER_FILE)):
        m = state["members"][mid]
        os.makedirs(mdir, exist_ok=True)
        worker.write_member(mdir, worker.new_member(mid, m["seed"],
                                                    m["hyperparameters"]))
  _save(out, state)

  executor, own_executor = open_executor(
      executor, config.num_workers, max_tasks=len(state["active"]),
      verbosity=logging.get_verbosity())
  cfg_dict = config.to_dict()
  t_start = time.time()
  try:
    executor.check_output_dir(out)
    while state["phase"] != "done":
      g = state["generation"]
      if state["phase"] == "step":
        _phase_step(config, cfg_dict, state, executor, g, _force_nan or {})
      elif state["phase"] == "select":
        _phase_select(config, cfg_dict, state, executor, g, space)
      elif state["phase"] == "exploit":
        _phase_exploit(config, state, g)
      _save(out, state)
      # New scores arrive only with the step phase: plot once a generation.
      _write_outputs(config, state, plots=state["phase"] == "select")
  finally:
    if own_executor:
      executor.close()

  if not _finite_members(state):
    raise NoFiniteScoreError(
        f"PBT in {out}: no member produced a finite score in any of "
        f"{state['generation']} generation(s) (every member diverged or "
        "failed; see generations.csv and members/*/member.json), so there "
        "is no best model. Lower the learning rates / regularisation in "
        "--hyperparameter_space, or check the errors logged above.")
  best_dir = os.path.join(out, "best", "saved_model")
  g_last = state["generation"]
  last_scores = state["scores"][str(g_last)]
  best_member = explore_exploit.rank(last_scores)[0]
  result = {
      "generations": g_last,
      "best_member": best_member,
      "best_score": float(last_scores[best_member]),
      "best_scores": [float(s) for s in state["best_scores"]],
      "best_members": state["best_members"],
      "converged": bool(state["converged"]),
      "stop_reason": state["stop_reason"],
      "best_saved_model": best_dir if os.path.isdir(best_dir) else None,
      "generations_csv": os.path.join(out, "generations.csv"),
      "output_dir": out,
      "eval": config.eval,
      "failures": [r for r in state["history"]
                   if r["status"] not in ("ok",)],
      "notes": state["notes"],
      # Where this call ran; for Ray, how it was authenticated.
      "execution": execution,
      "wall_seconds_this_call": time.time() - t_start,
      "versions": io_utils.library_versions(),
  }
  # TensorBoard HParams dashboard: every member's hyperparameters and score.
  from tfdis.results.hparams import write_pbt_hparams
  result["tensorboard_hparams"] = write_pbt_hparams(out, state)["experiment"]
  io_utils.write_json(os.path.join(out, "results.json"), result)
  return result


def _phase_step(config, cfg_dict, state, executor, g, force_nan) -> None:
  out = config.output_dir
  tasks = [{"op": "step", "config": cfg_dict, "generation": g,
            "member_dir": os.path.join(out, "members", mid),
            "force_nan": force_nan} for mid in state["active"]]
  t0 = time.time()
  results = executor.map(worker.run_task, tasks)
  scores = {}
  for mid, res in zip(state["active"], results):
    score = float(res.get("score", 0.0))
    status = res.get("status", "error")
    if status == "error":
      logging.warning("member %s failed in generation %d: %s", mid, g,
                      res.get("error"))
      score = 0.0
    if not math.isfinite(score):
      score = 0.0
    scores[mid] = score
    m = state["members"][mid]
    if "seed" in res:
      m["seed"] = res["seed"]
    state["history"].append({
        "member": mid, "generation": g, "score": score, "status": status,
        "parent": m.get("parent"), "step": res.get("step"),
        "seed": m["seed"], "loss": res.get("loss"),
        "hyperparameters": dict(m["hyperparameters"]),
        "details": res.get("details") if status != "error"
        else {"error": res.get("error")}})
  # A resumed step phase may have appended rows twice: keep the last.
  seen, rows = set(), []
  for r in reversed(state["history"]):
    key = (r["member"], r["generation"])
    if key not in seen:
      seen.add(key)
      rows.append(r)
  state["history"] = rows[::-1]
  state["scores"][str(g)] = scores
  best = explore_exploit.rank(scores)[0]
  took = time.time() - t0
  if not config.max_generations:
    eta = "; until the convergence rule stops it"
  elif g < config.max_generations:
    left = config.max_generations - g
    eta = f"; at most {left} more, ETA ≤ {left * took / 60:.0f} min"
  else:
    eta = ""
  logging.info("PBT generation %d/%s: best %s = %.4f, median %.4f (%.1f s, "
               "%.2f member-intervals/min%s)", g,
               config.max_generations or "-", best, scores[best],
               float(np.median(list(scores.values()))), took,
               60.0 * len(tasks) / max(took, 1e-9), eta)
  state["phase"] = "select"


def _phase_select(config, cfg_dict, state, executor, g, space) -> None:
  out = config.output_dir
  scores = state["scores"][str(g)]
  if (g == 1 and config.big_init_population_factor > 1 and
      len(state["active"]) > config.population_size):
    keep = explore_exploit.keep_best(scores, config.population_size)
    for mid in state["active"]:
      if mid not in keep:
        shutil.rmtree(os.path.join(out, "members", mid), ignore_errors=True)
    state["active"] = sorted(keep)
    state["dropped_initial"] = sorted(set(scores) - set(keep))
    scores = {m: scores[m] for m in state["active"]}
  best = explore_exploit.rank(scores)[0]
  if len(state["best_scores"]) < g:
    state["best_scores"].append(float(scores[best]))
    state["best_members"].append(best)
  stop = None
  if (config.stop_below_score is not None and
      not scores[best] >= config.stop_below_score):
    stop = "score_below_threshold"  # rPU's leaf-run stop (NaN counts)
  elif explore_exploit.converged(state["best_scores"],
                                 config.convergence_threshold,
                                 config.convergence_patience):
    stop, state["converged"] = "converged", True
  elif config.max_generations is not None and g >= config.max_generations:
    stop = "max_generations"
  if (config.export_every_generation or stop) and best in _finite_members(
      state, g):
    _export_best(config, cfg_dict, state, executor, g, best)
  if stop:
    state["phase"], state["stop_reason"] = "done", stop
    return
  rng = _rng_from_state(state)
  plan = []
  for loser, donor in explore_exploit.exploit(scores, config.cutoff, rng):
    hp = explore_exploit.explore(state["members"][donor]["hyperparameters"],
                                 space, rng,
                                 resample_probability=config.resample_probability)
    plan.append({"loser": loser, "donor": donor, "hyperparameters": hp,
                 "seed": explore_exploit.fresh_seed(rng)})
  state["rng_state"] = rng.bit_generator.state
  state["plan"] = plan
  state["phase"] = "exploit"


def _export_best(config, cfg_dict, state, executor, g, best) -> None:
  out = config.output_dir
  member_dir = os.path.join(out, "members", best)
  details = worker.read_member(member_dir)["details"].get(str(g), {})
  export_dir = os.path.join(out, "best", f"generation_{g:04d}", "saved_model")
  if not os.path.isfile(os.path.join(export_dir, "saved_model.pb")):
    res = executor.map(worker.run_task, [{
        "op": "export", "config": cfg_dict, "member_dir": member_dir,
        "generation": g, "export_dir": export_dir,
        "model_index": details.get("best_model")}])[0]
    if res.get("status") != "ok":
      logging.warning("export of %s (generation %d) failed: %s", best, g,
                      res.get("error"))
      return
  _copy_tree_atomic(export_dir, os.path.join(out, "best", "saved_model"))
  state["exports"][str(g)] = {"member": best, "export_dir": export_dir,
                              "model_index": details.get("best_model")}
  if not config.export_every_generation:
    # Only the final model was asked for: keep just best/saved_model.
    shutil.rmtree(os.path.dirname(export_dir), ignore_errors=True)


def _phase_exploit(config, state, g) -> None:
  out = config.output_dir
  for item in state["plan"] or []:
    loser, donor = item["loser"], item["donor"]
    src = os.path.join(out, "members", donor)
    member = worker.read_member(src)
    member.update(id=loser, seed=int(item["seed"]),
                  hyperparameters=dict(item["hyperparameters"]))
    member["parents"] = list(member.get("parents", [])) + [
        {"generation": g, "donor": donor}]
    _copy_member(src, os.path.join(out, "members", loser), member)
    state["members"][loser] = {"hyperparameters": item["hyperparameters"],
                               "seed": int(item["seed"]), "parent": donor}
  for mid in state["active"]:
    if mid not in {p["loser"] for p in state["plan"] or []}:
      state["members"][mid]["parent"] = None
  state["plan"] = None
  state["generation"] = g + 1
  state["phase"] = "step"
  logging.info("PBT generation %d: exploit/explore done", g)
