"""The work units of a study, runnable in-process or in a spawned worker.

Each step is idempotent and skipped when its artifact exists:

| step      | artifact that marks it done                         | on a rerun            |
|-----------|-----------------------------------------------------|-----------------------|
| train     | ``results/train.json`` with ``steps`` ≥ target       | else resumes from checkpoints/ |
| export    | ``saved_model/saved_model.pb``                      | else exported from the checkpoint |
| evaluate  | ``metrics/<representation>/<metric>.json`` (same request) | only missing/changed metrics run |
| visualise | ``visualizations/visualize.json`` (written last)    | else redone           |
| (model)   | ``results/study.json`` (this module's marker)       | model skipped without loading TF |
| UDR       | ``udr.json`` over the same model set and settings   | else recomputed       |

Functions here take and return plain JSON-able dicts so that they pickle
cheaply to ``spawn`` or Ray workers (``tfdis.execution``); exceptions are
returned as text (a traceback does not survive pickling). A job rerun after
its worker died resumes from the model's checkpoint.
"""

from __future__ import annotations

import contextlib
import os
import time
import traceback
from typing import Any, Dict, List, Optional

from absl import logging

from tfdis import io_utils
from tfdis.errors import UserError
from tfdis.execution import in_worker, tf_threads
from tfdis.study.spec import representations_of

MARKER = os.path.join("results", "study.json")
TRAIN_JSON = os.path.join("results", "train.json")
SAVED_MODEL_PB = os.path.join("saved_model", "saved_model.pb")
VISUALIZE_JSON = os.path.join("visualizations", "visualize.json")


def _parallel_context():
  """joblib's threading backend inside pool workers, a no-op elsewhere.

  The metrics fit factors in parallel with joblib, whose default (loky)
  starts grandchild processes; inside a ``spawn`` worker those were observed
  never to receive loky's shutdown, so the worker hung at exit and with it
  the study's final ``shutdown``. Threads avoid that (scikit-learn's tree
  building releases the GIL, so GBT fits still run concurrently).
  """
  if not in_worker():
    return contextlib.nullcontext()
  import joblib

  return joblib.parallel_config(backend="threading")


# ---------------------------------------------------------------- checks ----
def trained_steps(model_dir: str) -> Optional[int]:
  """Steps recorded by a finished training run (None if never finished)."""
  path = os.path.join(model_dir, TRAIN_JSON)
  if not os.path.isfile(path):
    return None
  try:
    stats = io_utils.read_json(path)
  except ValueError:
    return None
  for key in ("steps", "step", "global_step", "final_step"):
    if isinstance(stats.get(key), (int, float)):
      return int(stats[key])
  return None


def train_done(model_dir: str, steps: int) -> bool:
  done = trained_steps(model_dir)
  return done is not None and done >= int(steps) and os.path.isfile(
      os.path.join(model_dir, SAVED_MODEL_PB))


def metric_path(model_dir: str, representation: str, metric: str) -> str:
  return os.path.join(model_dir, "metrics", representation, f"{metric}.json")


def model_requirements(job: Dict[str, Any], spec: Dict[str, Any]
                       ) -> Dict[str, Any]:
  """What a finished model must have for this study (stored in the marker)."""
  metrics = sorted(spec["metrics"])
  return {
      "steps": int(job["train"]["steps"]),
      "representation": list(representations_of(spec["representation"])),
      "metrics": metrics,
      "metric_params": {m: spec["metric_params"].get(m, {}) for m in metrics},
      "visualize": bool(spec["visualize"]),
  }


def model_complete(job: Dict[str, Any], spec: Dict[str, Any]) -> bool:
  """True if a previous session finished every step this study asks for."""
  model_dir = job["model_dir"]
  path = os.path.join(model_dir, MARKER)
  if not os.path.isfile(path) or not train_done(model_dir,
                                                job["train"]["steps"]):
    return False
  try:
    marker = io_utils.read_json(path)
  except ValueError:
    return False
  need = model_requirements(job, spec)
  have = marker.get("requirements", {})
  if list(representations_of(have.get("representation", "mean"))) != (
      need["representation"]):
    return False
  for metric in need["metrics"]:
    if metric not in have.get("metrics", []) or (
        have.get("metric_params", {}).get(metric) != need["metric_params"][
            metric]) or not all(os.path.isfile(
                metric_path(model_dir, rep, metric))
                                for rep in need["representation"]):
      return False
  if need["visualize"] and not os.path.isfile(
      os.path.join(model_dir, VISUALIZE_JSON)):
    return False
  return True


# ----------------------------------------------------------------- model ----
def train_config(job: Dict[str, Any]):
  """The TrainConfig of a study job (validated)."""
  from tfdis.training import TrainConfig

  fields = dict(job["train"])
  fields.update(model=job["model"], dataset=job["dataset"],
                dataset_options=dict(job["dataset_options"]),
                seed=int(job["seed"]), model_dir=job["model_dir"])
  return TrainConfig.from_dict(fields).validate()


def _run_model(job: Dict[str, Any], spec: Dict[str, Any], overwrite: bool
               ) -> Dict[str, Any]:
  model_dir = job["model_dir"]
  steps = int(job["train"]["steps"])
  timings: Dict[str, float] = {}
  ran: List[str] = []

  start = time.monotonic()
  if not train_done(model_dir, steps):
    from tfdis.training import train

    config = train_config(job)
    train(config)
    ran.append("train")
  timings["train"] = time.monotonic() - start

  start = time.monotonic()
  if not os.path.isfile(os.path.join(model_dir, SAVED_MODEL_PB)):
    from tfdis.training import export_from_checkpoint

    export_from_checkpoint(model_dir)
    ran.append("export")
  timings["export"] = time.monotonic() - start

  start = time.monotonic()
  metrics = list(spec["metrics"])
  if metrics:
    # tfdis.evaluate itself skips a metric whose JSON holds the same request
    # (parameters, seed, model fingerprint), so only missing or changed
    # metrics are computed.
    from tfdis.evaluate import evaluate_model_dirs

    for representation in representations_of(spec["representation"]):
      evaluate_model_dirs(
          [model_dir], metrics, representation=representation,
          dataset="auto", overwrite=overwrite,
          metric_params={m: dict(spec["metric_params"].get(m, {}))
                         for m in metrics})
    ran.append("evaluate")
  timings["evaluate"] = time.monotonic() - start

  start = time.monotonic()
  if spec["visualize"] and (overwrite or not os.path.isfile(
      os.path.join(model_dir, VISUALIZE_JSON))):
    from tfdis.visualize.model import visualize_model

    visualize_model(model_dir, **spec.get("visualize_params", {}))
    ran.append("visualize")
  timings["visualize"] = time.monotonic() - start

  io_utils.write_json(os.path.join(model_dir, MARKER), {
      "study": spec["name"], "model_id": job["model_id"],
      "requirements": model_requirements(job, spec),
      "steps_run": ran, "seconds": timings,
      # The numbers of these steps hold bit for bit at this thread count
      # (ExecutionConfig.cpus_per_task).
      "tf_threads": tf_threads() if ran else None,
      "finished": time.strftime("%Y-%m-%dT%H:%M:%S"),
  })
  return {"model_id": job["model_id"], "ran": ran, "seconds": timings}


def run_model_job(job: Dict[str, Any], spec: Dict[str, Any],
                  overwrite: bool = False) -> Dict[str, Any]:
  """train → export → evaluate → visualise one model; never raises."""
  start = time.monotonic()
  try:
    with _parallel_context():
      out = _run_model(job, spec, overwrite)
  except Exception:  # reported by the runner, which carries on with others
    out = {"model_id": job["model_id"], "error": traceback.format_exc()}
  out["wall_s"] = time.monotonic() - start
  return out


# ------------------------------------------------------------------- UDR ----
def udr_complete(output_dir: str, model_dirs: List[str],
                 settings: Dict[str, Any]) -> bool:
  """udr.json exists and was computed over exactly these models/settings."""
  path = os.path.join(output_dir, "udr.json")
  if not os.path.isfile(path):
    return False
  try:
    udr = io_utils.read_json(path)
  except ValueError:
    return False
  have = {os.path.realpath(d) for d in udr.get("model_dirs", [])}
  if have != {os.path.realpath(d) for d in model_dirs}:
    return False
  # The settings that change the scores, read through UDRSpec (udr.json of
  # any version; fields it lacks take today's defaults).
  from tfdis.udr.spec import UDRSpec

  try:
    recorded = UDRSpec.from_settings(udr.get("settings", {}))
  except (ValueError, UserError):   # an unreadable record: recompute
    return False
  if recorded.result_key() != UDRSpec.from_settings(settings).result_key():
    return False
  return True


def run_udr_job(model_dirs: List[str], output_dir: str,
                settings: Dict[str, Any]) -> Dict[str, Any]:
  """UDR over one (dataset, family) group; never raises."""
  start = time.monotonic()
  try:
    from tfdis.udr import run_udr_study
    from tfdis.udr.spec import UDRSpec

    with _parallel_context():
      result = run_udr_study(model_dirs, output_dir,
                             UDRSpec.from_settings(settings))
    out = {"output_dir": output_dir,
           "scores": {os.path.basename(os.path.normpath(k)): float(v)
                      for k, v in result["model_scores"].items()}}
  except Exception:
    out = {"output_dir": output_dir, "error": traceback.format_exc()}
  out["wall_s"] = time.monotonic() - start
  return out
