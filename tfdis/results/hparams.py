"""TensorBoard HParams summaries: each model's hyperparameters and scores.

``tensorboard --logdir=<study>`` then lists every model in the HParams
dashboard (table, parallel coordinates, scatter plots of hyperparameters
against metric scores), beside the per-model training scalars that
``tfdis_train`` writes to ``<model_dir>/tensorboard``.

Layout (the HParams plugin's): the experiment summary
(``hparams_config``: every hyperparameter with its values, every metric) is
an event file in the root; each model is a *session* whose run is its own
directory: an event file in ``<model_dir>`` holds the session's
hyperparameters (``hparams``) and one scalar per metric score (tag = the
results column, e.g. ``dci.disentanglement``), so the session's training
scalars are its sub-run ``<model_dir>/tensorboard``.

The protocol buffers come from ``tensorboard.plugins.hparams`` (the
``summary_v2`` functions behind ``hparams.api``) and are written with
TensorBoard's own record writer, so no TensorFlow import is needed. Every
file is written under a temporary name and renamed into place; the file
of an earlier call (suffixes ``HPARAMS_SUFFIX``, ``EXPERIMENT_SUFFIX``) is
replaced, not added to.
"""

from __future__ import annotations

import glob
import math
import os
import socket
import time
from typing import Any, Dict, Iterable, List, Mapping, Optional

HPARAMS_SUFFIX = ".tfdis_hparams"
EXPERIMENT_SUFFIX = ".tfdis_hparams_experiment"

# Results columns that describe a model rather than score it.
HPARAM_COLUMNS = ("model", "dataset", "seed", "steps", "batch_size",
                  "learning_rate", "latent_dim", "architecture",
                  "reconstruction_loss")


def _plain(value) -> Optional[Any]:
  """A value the HParams protos accept (bool, float, str) or None."""
  if value is None:
    return None
  if hasattr(value, "item"):  # numpy scalars
    value = value.item()
  if isinstance(value, bool):
    return value
  if isinstance(value, (int, float)):
    return None if math.isnan(float(value)) else float(value)
  return str(value)


def _write_events(run_dir: str, summaries: Iterable[Any], step: int = 0,
                  suffix: str = HPARAMS_SUFFIX) -> str:
  """One event file with ``summaries`` in ``run_dir``, replacing the one an
  earlier call wrote there; written in a temporary directory, then renamed."""
  from tensorboard.compat.proto import event_pb2
  # RecordWriter writes TFRecords in plain Python; TensorBoard's
  # EventFileWriter would import TensorFlow for its file system layer.
  from tensorboard.summary.writer.record_writer import RecordWriter

  from tfdis import io_utils

  os.makedirs(run_dir, exist_ok=True)
  name = "events.out.tfevents.%010d.%s.%d%s" % (
      int(time.time()), socket.gethostname(), os.getpid(), suffix)
  target = os.path.join(run_dir, name)
  now = time.time()
  with io_utils.atomic_path(target) as tmp:
    with open(tmp, "wb") as f:
      writer = RecordWriter(f)
      writer.write(event_pb2.Event(wall_time=now, file_version="brain.Event:2"
                                   ).SerializeToString())
      for summary in summaries:
        writer.write(event_pb2.Event(wall_time=now, step=int(step),
                                     summary=summary).SerializeToString())
  for old in glob.glob(os.path.join(run_dir, "*" + suffix)):
    if old != target:
      os.remove(old)
  return target


def _scalar(tag: str, value: float):
  from tensorboard.compat.proto import summary_pb2
  from tensorboard.plugins.scalar import metadata as scalar_metadata
  from tensorboard.util import tensor_util

  return summary_pb2.Summary(value=[summary_pb2.Summary.Value(
      tag=tag, metadata=scalar_metadata.create_summary_metadata(
          display_name=tag, description=""),
      tensor=tensor_util.make_tensor_proto(float(value)))])


def write_hparams(root: str, sessions: List[Mapping[str, Any]],
                  description: str = "", experiment: bool = True
                  ) -> Dict[str, Any]:
  """Writes the experiment summary in ``root`` and one session per model.

  Args:
    root: the TensorBoard log directory (a study's output directory).
    sessions: ``{"run_dir": <model directory>, "hparams": {name: value},
      "metrics": {tag: float}}`` per model; None / NaN values are left out.
    description: shown in the dashboard.
    experiment: write the experiment summary (else TensorBoard infers the
      hyperparameters and metrics from the sessions).

  Returns:
    ``{"experiment": <event file>, "sessions": <number written>,
    "metrics": [tags], "hparams": [names]}``.
  """
  from tensorboard.plugins.hparams import summary_v2 as hp

  values: Dict[str, set] = {}
  metric_tags: set = set()
  cleaned = []
  for session in sessions:
    hps = {k: _plain(v) for k, v in session.get("hparams", {}).items()}
    hps = {k: v for k, v in hps.items() if v is not None}
    metrics = {k: float(v) for k, v in session.get("metrics", {}).items()
               if _plain(v) is not None and not isinstance(v, (bool, str))}
    metrics = {k: v for k, v in metrics.items() if math.isfinite(v)}
    for k, v in hps.items():
      values.setdefault(k, set()).add(v)
    metric_tags.update(metrics)
    cleaned.append((os.fspath(session["run_dir"]), hps, metrics))
  hparams = {}
  for name, vals in sorted(values.items()):
    kinds = {type(v) for v in vals}
    if len(kinds) > 1:  # mixed types: compare as text
      vals = {str(v) for v in vals}
    hparams[name] = hp.HParam(name, hp.Discrete(sorted(vals)))
  metrics_cfg = [hp.Metric(tag, display_name=tag)
                 for tag in sorted(metric_tags)]
  experiment_file = None
  if experiment:
    experiment_file = _write_events(root, [hp.hparams_config_pb(
        hparams=list(hparams.values()), metrics=metrics_cfg)],
        suffix=EXPERIMENT_SUFFIX)
  root_abs = os.path.abspath(root)
  for run_dir, hps, metrics in cleaned:
    trial = os.path.relpath(os.path.abspath(run_dir), root_abs)
    hps = {hparams[k]: (str(v) if isinstance(
        next(iter(hparams[k].domain.values)), str) else v)
           for k, v in hps.items()}
    summaries = [hp.hparams_pb(hps, trial_id=trial)]
    summaries += [_scalar(tag, value) for tag, value in sorted(
        metrics.items())]
    _write_events(run_dir, summaries)
  return {"experiment": experiment_file, "root": root,
          "sessions": len(cleaned),
          "metrics": sorted(metric_tags), "hparams": sorted(hparams),
          "description": description}


# ---------------------------------------------------------------------------
# sessions from the tfdis results
# ---------------------------------------------------------------------------
def _metric_column(column: str, metric_names) -> bool:
  head = column.split(".", 1)[0].split("[", 1)[0]
  return ("." in column and head in metric_names and
          not column.endswith(".elapsed_s")) or column == "udr" or (
              column.startswith("udr."))


def sessions_from_frame(root: str, frame) -> List[Dict[str, Any]]:
  """Sessions of a results table (``tfdis.results.collect_results``): the
  configuration and ``hp.*`` columns as hyperparameters, the metric and UDR
  score columns as metrics."""
  from tfdis.registry import METRICS
  import tfdis.metrics  # noqa: F401  (registers the metric names)

  names = set(METRICS.names())
  hp_columns = [c for c in frame.columns
                if c in HPARAM_COLUMNS or c.startswith("hp.")]
  metric_columns = [c for c in frame.columns if _metric_column(c, names)]
  sessions = []
  for _, row in frame.iterrows():
    sessions.append({
        "run_dir": os.path.join(root, row["model_dir"]),
        "hparams": {c: row[c] for c in hp_columns},
        "metrics": {c: row[c] for c in metric_columns},
    })
  return sessions


def write_results_hparams(root: str, frame=None) -> Dict[str, Any]:
  """HParams summaries of every model under ``root`` (a study, a set of
  evaluated models); ``frame`` = its results table if already collected."""
  from tfdis.results.collect import collect_results

  root = os.path.abspath(os.fspath(root))
  if frame is None:
    frame = collect_results(root)
  return write_hparams(root, sessions_from_frame(root, frame),
                       f"tfdis models under {root}")


def write_model_dirs_hparams(model_dirs: List[str]) -> Optional[Dict[str, Any]]:
  """HParams summaries of ``model_dirs`` (what ``tfdis_evaluate`` scored):
  one session per model, the experiment summary in their common parent
  (left out if that is the file-system root; TensorBoard then infers it
  from the sessions). None without models."""
  import pandas as pd

  from tfdis.results.collect import _model_row

  dirs = sorted({os.path.abspath(d) for d in model_dirs})
  if not dirs:
    return None
  root = os.path.commonpath(dirs)
  frame = pd.DataFrame([_model_row(root, d) for d in dirs])
  return write_hparams(root, sessions_from_frame(root, frame),
                       f"tfdis models under {root}",
                       experiment=os.path.dirname(root) != root)


def write_pbt_hparams(output_dir: str, state: Mapping[str, Any]
                      ) -> Dict[str, Any]:
  """HParams summaries of a PBT population (its controller ``state``): one
  session per member with its current hyperparameters and seed, its score
  in the last generation that scored it and that generation, beside the
  member's training scalars in ``members/<id>/tensorboard``."""
  scored: Dict[str, tuple] = {}
  for g, scores in sorted((state.get("scores") or {}).items(),
                          key=lambda item: int(item[0])):
    for mid, score in (scores or {}).items():
      if _plain(score) is not None:
        scored[mid] = (int(g), float(score))
  sessions = []
  # Members dropped by the big initial population are no longer active and
  # their folders are gone: no session for them.
  active = set(state.get("active") or state.get("members") or {})
  for mid, member in sorted((state.get("members") or {}).items()):
    if mid not in active:
      continue
    hps = {f"hp.{k}": v for k, v in
           (member.get("hyperparameters") or {}).items()}
    hps["seed"] = member.get("seed")
    metrics = {}
    if mid in scored:
      metrics = {"pbt/final_score": scored[mid][1],
                 "pbt/final_generation": float(scored[mid][0])}
    sessions.append({"run_dir": os.path.join(output_dir, "members", mid),
                     "hparams": hps, "metrics": metrics})
  return write_hparams(output_dir, sessions,
                       f"PBT population in {output_dir}")
