"""The PBT worker: trains one member for one ready interval, scores it,
exports it. Runs in the controller process (num_workers=1) or in a spawned
worker process (``tfdis.pbt.executor``).

A member lives in ``members/<id>/``:
  member.json        id, seed, hyperparameters, step, trained_generation,
                     checkpoint (relative prefix), scores / status / details
                     / TensorFlow thread counts per generation, parent
                     lineage
  checkpoints/gen_<g>.*   tf.train.Checkpoint: weights, optimiser state,
                     step, RNG and hyperparameter variables
  tensorboard/       score, hyperparameters and losses per generation

Idempotence: ``member.json`` is written (atomically) only after the
checkpoint it points to is complete, and names it explicitly, so a task
killed at any moment is redone from the previous good state; a member whose
``trained_generation`` already equals the task's generation is only scored
(or, if scored too, returned as is).

Training goes through the one setup path of ``tfdis_train``
(``tfdis.training.TrainSession``): a member's interval is the TrainConfig
``PBTConfig.member_config`` builds (its seed, hyperparameters, learning
rate, batch size, steps = member step + one interval, strategy, XLA,
precision), started from the member's named checkpoint
(``Checkpoints(read=..., write=checkpoints/gen_<g>)``) and run with the
``retry`` non-finite policy — a member whose loss or weights become
non-finite is restored from its last checkpoint and retried with a new seed
(``max_nan_retries``), then scored 0 and left at its last good checkpoint
(exploit usually replaces it). This module keeps only member bookkeeping,
its model cache and evaluation.

Speed: each worker keeps one session (built model and trainer, whose traced
step has an unknown batch dimension) per model configuration and restores
members' checkpoints into it, so a task costs the interval's steps, not a
rebuild and a retrace.
"""

from __future__ import annotations

import glob
import json
import math
import os
import time
import traceback
from typing import Any, Dict, Optional, Tuple

import numpy as np

from tfdis import io_utils
from tfdis.execution import tf_threads

MEMBER_FILE = "member.json"
ENCODE_BATCH = 256
_CACHE: Dict[str, Any] = {}


# ---------------------------------------------------------------------------
# member files
# ---------------------------------------------------------------------------
def read_member(member_dir: str) -> Dict[str, Any]:
  return io_utils.read_json(os.path.join(member_dir, MEMBER_FILE))


def write_member(member_dir: str, member: Dict[str, Any]) -> None:
  io_utils.write_json(os.path.join(member_dir, MEMBER_FILE), member)


def new_member(member_id: str, seed: int, hyperparameters: Dict[str, Any]
               ) -> Dict[str, Any]:
  return {"id": member_id, "seed": int(seed),
          "hyperparameters": dict(hyperparameters), "step": 0,
          "trained_generation": 0, "checkpoint": None, "scores": {},
          "status": {}, "details": {}, "parents": [], "seeds": {}}


# ---------------------------------------------------------------------------
# per-process cache: data, models, eval inputs
# ---------------------------------------------------------------------------
def _context(config) -> Dict[str, Any]:
  """Data, training rows, eval rows and labels of this run (cached)."""
  from tfdis.pbt import evaluation
  from tfdis.training import inputs

  key = ("ctx", config.output_dir, config.dataset,
         json.dumps(config.dataset_options, sort_keys=True),
         config.indices_path)
  ctx = _CACHE.get(key)
  if ctx is not None:
    return ctx
  data = config.build_data()
  indices = inputs.load_indices(None, config.indices_path)
  ctx = {"data": data, "indices": indices,
         "dataset_size": len(indices) if indices is not None
         else data.num_examples, "images": {}}
  path = os.path.join(config.output_dir, evaluation.EVAL_INDICES_FILE)
  if os.path.isfile(path):
    with np.load(path) as f:
      ctx["eval_indices"] = np.asarray(f["indices"], np.int64)
      ctx["eval_num_train"] = int(f["num_train"])
    ctx["eval_factors"] = data.index_to_factors(ctx["eval_indices"])
  if config.eval == "surrogate_mig":
    ctx["surrogate"] = evaluation.subsample_surrogate_labels(
        evaluation.load_surrogate_labels(config.surrogate_labels),
        config.surrogate_num_rows, config.seed)
  supervision_path = os.path.join(config.output_dir, "supervision.npz")
  ctx["labels"] = None
  if config.final_supervision == "eval+loss" and os.path.isfile(
      supervision_path):
    ctx["labels"] = inputs.load_labels(data, supervision_path, None,
                                       config.seed, indices)
  _CACHE.clear()  # one run per process at a time: drop other runs' models
  _CACHE[key] = ctx
  return ctx


def _images(ctx, rows: np.ndarray) -> np.ndarray:
  """float32 images of grid rows; small sets are cached as uint8."""
  key = (len(rows), int(rows[:16].sum()) if len(rows) else 0,
         int(rows.sum()) if len(rows) else 0)
  cached = ctx["images"].get(key)
  if cached is None:
    cached = ctx["data"].images_from_indices(rows, np.random.RandomState(0))
    if cached.nbytes <= 512 * 2 ** 20:
      ctx["images"][key] = cached
  return cached


def _member_config(config, ctx, member):
  """The member's TrainConfig for its next interval (``member_config``)."""
  return config.member_config(member["hyperparameters"], member["seed"],
                              ctx["dataset_size"], member["step"])


def _checkpoints(member_dir: str, member: Dict[str, Any],
                 g: Optional[int] = None):
  """The member's checkpoint to start from and the one its interval ``g``
  writes (``checkpoints/gen_<g>``; None: nothing is written)."""
  from tfdis.training.session import Checkpoints

  return Checkpoints(
      read=(os.path.join(member_dir, member["checkpoint"])
            if member["checkpoint"] else None),
      write=(None if g is None
             else os.path.join(member_dir, _checkpoint_prefix(g))),
      owner=member["id"])


def _checkpoint_prefix(g: int) -> str:
  return os.path.join("checkpoints", f"gen_{g:04d}")


def _session(config, ctx, tconfig) -> Dict[str, Any]:
  """The cached (TrainSession, encoder) that builds ``tconfig``'s model:
  members are restored into it instead of rebuilding (and retracing)."""
  import tensorflow as tf
  from tfdis.training.session import TrainSession

  key = ("model", json.dumps(tconfig.model_spec().to_dict(), sort_keys=True),
         tconfig.ensemble_size, ctx["dataset_size"], tconfig.strategy,
         tconfig.xla, tconfig.deterministic)
  entry = _CACHE.get(key)
  if entry is not None:
    return entry
  session = TrainSession(tconfig, ctx["data"], ctx["dataset_size"])
  model = session.model
  image_spec = tf.TensorSpec([None, *ctx["data"].observation_shape],
                             tf.float32)

  @tf.function(input_signature=[image_spec])
  def encode(images):
    return model.encode(images, training=False)

  entry = {"session": session, "model": model, "encode": encode,
           "ensemble": config.eval == "udr"}
  _CACHE[key] = entry
  return entry


def _encode_rows(entry, ctx, rows: np.ndarray, with_logvar: bool = False):
  means, logvars = [], []
  for start in range(0, len(rows), ENCODE_BATCH):
    images = _images_batch(ctx, rows, start)
    mean, logvar = entry["encode"](images.astype(np.float32) / 255.0)
    means.append(mean.numpy())
    logvars.append(logvar.numpy())
  means = np.concatenate(means)
  return (means, np.concatenate(logvars)) if with_logvar else means


def _images_batch(ctx, rows, start):
  full = _images(ctx, rows) if len(rows) * np.prod(
      ctx["data"].observation_shape) <= 512 * 2 ** 20 else None
  if full is not None:
    return full[start:start + ENCODE_BATCH]
  return ctx["data"].images_from_indices(rows[start:start + ENCODE_BATCH],
                                         np.random.RandomState(0))


def _evaluate(entry, config, ctx) -> Tuple[float, Dict[str, Any]]:
  from tfdis.pbt import evaluation

  if config.eval in ("mig", "dci"):
    codes = _encode_rows(entry, ctx, ctx["eval_indices"])
    if config.eval == "mig":
      return evaluation.mig_score(codes, ctx["eval_factors"], config.num_bins)
    return evaluation.dci_score(codes, ctx["eval_factors"],
                                ctx["eval_num_train"], config.seed)
  if config.eval == "udr":
    means, logvar = _encode_rows(entry, ctx, ctx["eval_indices"], True)
    kls = evaluation.per_latent_kl(  # [K, d], spec: the UDR KL filter
        means, logvar, config.kl_estimator, evaluation.AUTHORS_UDR_BATCH)
    if not (np.all(np.isfinite(means)) and np.all(np.isfinite(kls))):
      return 0.0, {"error": "non-finite codes"}
    return evaluation.udr_score(means, kls, config.udr_kl_threshold,
                                config.seed)
  return evaluation.surrogate_mig_score(
      lambda rows: _encode_rows(entry, ctx, rows), ctx["surrogate"],
      config.num_bins)


def _write_tensorboard(member_dir, generation, step, member, score, terms):
  import tensorflow as tf
  writer = tf.summary.create_file_writer(os.path.join(member_dir,
                                                      "tensorboard"))
  with writer.as_default(step=int(step)):
    tf.summary.scalar("pbt/score", float(score))
    tf.summary.scalar("pbt/generation", int(generation))
    for k, v in member["hyperparameters"].items():
      tf.summary.scalar(f"hyperparameters/{k}", float(v))
    for k, v in terms.items():
      v = np.asarray(v, np.float64)
      if v.ndim == 0:
        tf.summary.scalar(f"losses/{k}", float(v))
      elif v.ndim == 1 and k != "per_latent_kl":
        tf.summary.scalar(f"losses/{k}_mean", float(np.mean(v)))
  writer.flush()
  writer.close()


def _prune_checkpoints(member_dir: str, keep_prefix: str, keep: int) -> None:
  prefixes = sorted({p.split(".")[0] for p in glob.glob(
      os.path.join(member_dir, "checkpoints", "gen_*.*"))})
  keep_abs = os.path.join(member_dir, keep_prefix)
  others = [p for p in prefixes if p != keep_abs]  # gen_<g> sorts by g
  for p in others[:max(0, len(others) - (keep - 1))]:
    for f in glob.glob(p + ".*"):
      os.remove(f)


# ---------------------------------------------------------------------------
# tasks
# ---------------------------------------------------------------------------
def step_member(task: Dict[str, Any]) -> Dict[str, Any]:
  """Trains member ``task['member_dir']`` to ``task['generation']`` (if not
  done yet) and scores it. Returns {status, score, details, step, seed, ...}.
  """
  from tfdis.pbt.config import PBTConfig

  config = PBTConfig.from_dict(task["config"])
  member_dir, g = task["member_dir"], int(task["generation"])
  member = read_member(member_dir)
  key = str(g)
  if member["trained_generation"] >= g and key in member["scores"]:
    return _result(member, g, cached=True)
  t0 = time.time()
  ctx = _context(config)
  tconfig = _member_config(config, ctx, member)
  entry = _session(config, ctx, tconfig)
  ckpts = _checkpoints(member_dir, member, g)
  entry["session"].start(tconfig, ckpts)
  terms: Dict[str, Any] = {}
  if member["trained_generation"] < g:
    # Test hook: {member id: number of attempts declared non-finite}.
    forced = int(task.get("force_nan", {}).get(member["id"], 0))
    fit = entry["session"].run(
        tconfig, ckpts, indices=ctx["indices"], labels=ctx["labels"],
        label=f"member {member['id']}", nan_policy="retry",
        max_retries=config.max_nan_retries, quiet=True,
        fault_injection=forced)
    # The interval is bit-reproducible at this thread count
    # (ExecutionConfig.cpus_per_task), so it is part of its record.
    member.setdefault("tf_threads", {})[key] = tf_threads()
    if fit.seed != int(member["seed"]):
      member["seeds"][key] = fit.seed
    member["seed"] = fit.seed
    if not fit.finite:
      # Left at its last good checkpoint, scored 0.
      member["trained_generation"] = g
      member["scores"][key] = 0.0
      member["status"][key] = "non_finite"
      member["details"][key] = {"nan_retries": fit.retries}
      write_member(member_dir, member)
      return _result(member, g, seconds=time.time() - t0)
    terms = {k: np.asarray(v).tolist() for k, v in fit.terms.items()}
    prefix = _checkpoint_prefix(g)
    member.update(step=int(entry["model"].step.numpy()), checkpoint=prefix,
                  trained_generation=g)
    member["status"][key] = "trained"
    write_member(member_dir, member)
    _prune_checkpoints(member_dir, prefix, config.keep_checkpoints)
  score, details = _evaluate(entry, config, ctx)
  if not math.isfinite(score):
    score, details = 0.0, dict(details, note="non-finite score set to 0")
  member["scores"][key] = float(score)
  member["details"][key] = details
  member["status"][key] = "ok"
  write_member(member_dir, member)
  try:
    _write_tensorboard(member_dir, g, member["step"], member, score, terms)
  except Exception:  # TensorBoard is a convenience, never a failure
    pass
  return _result(member, g, seconds=time.time() - t0, terms=terms)


def _result(member, g, cached=False, seconds=0.0, terms=None):
  key = str(g)
  return {"status": member["status"].get(key, "ok"),
          "score": float(member["scores"].get(key, 0.0)),
          "details": member["details"].get(key, {}),
          "step": int(member["step"]), "seed": int(member["seed"]),
          "hyperparameters": member["hyperparameters"], "cached": cached,
          "seconds": float(seconds),
          "loss": (None if not terms else
                   float(np.sum(np.asarray(terms.get("loss", np.nan)))))}


def export_member(task: Dict[str, Any]) -> Dict[str, Any]:
  """Exports a member (for UDR members: its VAE with the best individual
  UDR, ``task['model_index']``) as a tfdis SavedModel."""
  from tfdis.export.saved_model import export_saved_model
  from tfdis.pbt.config import PBTConfig
  from tfdis.training.session import metadata_for

  config = PBTConfig.from_dict(task["config"])
  member_dir = task["member_dir"]
  member = read_member(member_dir)
  ctx = _context(config)
  tconfig = _member_config(config, ctx, member)
  entry = _session(config, ctx, tconfig)
  entry["session"].start(tconfig, _checkpoints(member_dir, member))
  model = entry["model"]
  extra = {"pbt": {"member": member["id"], "generation": task["generation"],
                   "score": member["scores"].get(str(task["generation"])),
                   "eval": config.eval}}
  if entry["ensemble"]:
    k = int(task.get("model_index") or 0)
    model = model.extract(k)
    extra["pbt"]["ensemble_index"] = k
  meta = metadata_for(model, tconfig, ctx["data"], **extra)
  export_saved_model(model, task["export_dir"], meta)
  return {"status": "ok", "export_dir": task["export_dir"]}


def run_task(task: Dict[str, Any]) -> Dict[str, Any]:
  """Entry point of every executor: dispatches on ``task['op']``; never
  raises (a failing member must not stop the population)."""
  try:
    if task["op"] == "step":
      return step_member(task)
    if task["op"] == "export":
      return export_member(task)
    raise ValueError(f"unknown task op {task['op']!r}")
  except Exception as e:  # noqa: BLE001 — reported to the controller
    return {"status": "error", "error": f"{type(e).__name__}: {e}",
            "traceback": traceback.format_exc()[-4000:], "score": 0.0}
