"""Collect every model under a root into one table (one row per model).

Reads only files (no TensorFlow): ``config.json`` (the resolved training
configuration), ``saved_model/assets/tfdis_metadata.json`` (fallback for the
same fields), ``results/train.json`` (training statistics),
``metrics/<representation>/<metric>.json`` (scores) and every ``udr.json``
under the root (UDR scores of the models it lists). Missing files leave NaN
cells: a study without UDR or with unevaluated models still aggregates.
"""

from __future__ import annotations

import glob
import math
import os
from typing import Any, Dict, Iterable, Iterator, List, Optional, Tuple

import numpy as np
import pandas as pd
from absl import logging

from tfdis.io_utils import read_json
from tfdis.results import columns as C

# Sub-directories of a model directory that never hold other models.
_MODEL_SUBDIRS = {"checkpoints", "tensorboard", "saved_model", "metrics",
                  "results", "visualizations", "variables", "assets"}
# Keys of metric JSONs that describe how a score was computed, not the score.
_PARAMETER_KEYS = {"seed", "random_state", "num_train", "num_test", "num_eval",
                   "num_bins", "batch_size", "num_variance_estimate",
                   "prune_threshold", "diff_quantile", "num_points",
                   "continuous_factors", "elapsed_seconds", "wall_time",
                   "wall_time_s", "num_data_points"}
_PARAMETER_CONTAINERS = {"params", "parameters", "settings", "config",
                         "versions", "metadata", "info", "fixes", "notes",
                         "dataset"}


def is_model_dir(path: str) -> bool:
  """A directory written by tfdis training (trained, exporting or exported)."""
  return (os.path.isfile(os.path.join(path, "results", "train.json"))
          or os.path.isfile(os.path.join(path, "saved_model", "saved_model.pb"))
          or (os.path.isfile(os.path.join(path, "config.json"))
              and os.path.isdir(os.path.join(path, "checkpoints"))))


def find_model_dirs(root: str) -> List[str]:
  """All model directories under ``root`` (sorted; ``root`` itself included)."""
  root = os.fspath(root)
  if not os.path.isdir(root):
    raise FileNotFoundError(
        f"{root!r} is not a directory: pass the output directory of a study "
        "or of tfdis_train runs (e.g. --root=runs/quickstart).")
  found = []
  for dirpath, dirnames, _ in os.walk(root):
    dirnames[:] = sorted(d for d in dirnames
                         if not d.startswith(".") and d not in _MODEL_SUBDIRS)
    if is_model_dir(dirpath):
      found.append(dirpath)
  return sorted(found)


def _read_json_or_none(path: str) -> Optional[Any]:
  if not os.path.isfile(path):
    return None
  try:
    return read_json(path)
  except (ValueError, OSError) as e:  # unreadable files must not stop a report
    logging.warning("Skipping unreadable %s: %s", path, e)
    return None


def _is_number(value: Any) -> bool:
  return (isinstance(value, (int, float, np.integer, np.floating))
          and not isinstance(value, bool))


def numeric_leaves(obj: Any, prefix: str = "",
                   skip_keys: Iterable[str] = (),
                   skip_containers: Iterable[str] = ()) -> Dict[str, float]:
  """Flattens nested dicts to ``{"a.b": number}`` keeping numbers only."""
  skip_keys, skip_containers = set(skip_keys), set(skip_containers)
  out: Dict[str, float] = {}
  if not isinstance(obj, dict):
    return out
  for key, value in obj.items():
    name = f"{prefix}{key}"
    if isinstance(value, dict):
      if key not in skip_containers:
        out.update(numeric_leaves(value, name + ".", skip_keys,
                                  skip_containers))
    elif _is_number(value) and key not in skip_keys:
      out[name] = float(value)
  return out


def metric_scores(obj: Any) -> Dict[str, float]:
  """The scores of one metric JSON (parameters and versions left out).

  Accepts ``{"scores": {...}, ...}`` as well as flat dicts in which scores sit
  beside their parameters (dlib's layout).
  """
  if not isinstance(obj, dict):
    return {}
  for key in ("scores", "score", "results"):
    if isinstance(obj.get(key), dict):
      return numeric_leaves(obj[key], skip_keys=_PARAMETER_KEYS,
                            skip_containers=_PARAMETER_CONTAINERS)
  return numeric_leaves(obj, skip_keys=_PARAMETER_KEYS,
                        skip_containers=_PARAMETER_CONTAINERS)


def _config_fields(model_dir: str) -> Dict[str, Any]:
  """Family, dataset, seed, hyperparameters, ... from config.json + metadata."""
  config = _read_json_or_none(os.path.join(model_dir, "config.json")) or {}
  meta = _read_json_or_none(os.path.join(
      model_dir, "saved_model", "assets", "tfdis_metadata.json")) or {}
  row: Dict[str, Any] = {}

  def pick(*keys):
    for source in (config, meta):
      for key in keys:
        if source.get(key) is not None:
          return source[key]
    return None

  row["model"] = pick("model", "model_name", "family")
  dataset = pick("dataset", "dataset_name")
  if isinstance(dataset, dict):  # metadata keeps {"name", "options", ...}
    dataset = dataset.get("name")
  row["dataset"] = dataset
  row["seed"] = pick("seed")
  for key in ("steps", "batch_size", "learning_rate", "latent_dim",
              "reconstruction_loss"):
    row[key] = pick(key)
  arch = pick("architecture")
  if isinstance(arch, dict):
    arch = "/".join(str(v) for v in arch.values())
  row["architecture"] = arch
  hps = pick("hyperparameters") or {}
  for key, value in sorted(hps.items()):
    row[f"hp.{key}"] = float(value) if _is_number(value) else value
  return row


def _model_row(root: str, model_dir: str) -> Dict[str, Any]:
  row: Dict[str, Any] = {
      "model_id": os.path.basename(os.path.normpath(model_dir)),
      "model_dir": os.path.relpath(model_dir, root),
  }
  row.update(_config_fields(model_dir))
  train = _read_json_or_none(os.path.join(model_dir, "results", "train.json"))
  row.update(numeric_leaves(train or {}, prefix="train.",
                            skip_containers=("versions", "config",
                                             "hyperparameters")))
  for path in sorted(glob.glob(os.path.join(model_dir, "metrics", "*",
                                            "*.json"))):
    representation = os.path.basename(os.path.dirname(path))
    metric = os.path.splitext(os.path.basename(path))[0]
    for key, value in metric_scores(_read_json_or_none(path)).items():
      row[C.metric_column(metric, key, representation)] = value
  return row


# ---------------------------------------------------------------- UDR ------
def _udr_entries(udr: Any) -> Iterator[Tuple[Dict[str, Any], Dict[str, Any]]]:
  """Yields (identifiers, numbers) per model of a udr.json.

  identifiers may hold ``model_dir`` and/or ``model_id``; numbers are the
  per-model scalars (``udr`` first).
  """
  if not isinstance(udr, dict):
    return
  models = None
  for key in ("models", "per_model", "model_scores"):
    if isinstance(udr.get(key), (list, dict)):
      models = udr[key]
      break
  if models is None:
    return
  if isinstance(models, dict):  # {model_dir: {...}} or {model_dir: score}
    models = [dict(v, model_dir=k) if isinstance(v, dict)
              else {"model_dir": k, "udr": v} for k, v in models.items()]
  for entry in models:
    if not isinstance(entry, dict):
      continue
    ident = {k: entry[k] for k in ("model_dir", "model_id", "path", "name")
             if isinstance(entry.get(k), str)}
    numbers = {}
    for key, value in entry.items():
      if key in ("udr", "score", "udr_score", "model_score") and _is_number(value):
        numbers["udr"] = float(value)
      elif _is_number(value) and key not in ("index", "seed"):
        numbers[key] = float(value)
      elif isinstance(value, list) and key in ("pair_scores", "pairwise_scores"):
        finite = [v for v in value if _is_number(v) and math.isfinite(v)]
        numbers["num_pairs"] = float(len(finite))
    if "udr" in numbers:
      yield ident, numbers


def _match_model(ident: Dict[str, Any], udr_dir: str, root: str,
                 by_dir: Dict[str, int], by_id: Dict[str, List[int]]
                 ) -> Optional[int]:
  """Index of the model a udr.json entry refers to (None if not under root).

  Paths are tried as written, relative to the UDR directory and the root, and
  finally by their trailing components under the root, so a study directory
  that was moved or copied after UDR ran still matches.
  """
  for key in ("model_dir", "path"):
    if key not in ident:
      continue
    path = os.path.normpath(ident[key])
    if os.path.basename(path) == "saved_model":  # the SavedModel itself
      path = os.path.dirname(path)
    candidates = [path] if os.path.isabs(path) else [
        os.path.join(udr_dir, path), os.path.join(root, path), path]
    parts = [p for p in path.split(os.sep) if p]
    candidates += [os.path.join(root, *parts[-k:])
                   for k in range(1, len(parts) + 1)]
    for cand in candidates:
      real = os.path.realpath(cand)
      if real in by_dir:
        return by_dir[real]
  for key in ("model_id", "name"):
    if key in ident:
      hits = by_id.get(os.path.basename(os.path.normpath(ident[key])), [])
      if len(hits) == 1:
        return hits[0]
  return None


def _add_udr(frame: pd.DataFrame, root: str, model_dirs: List[str]) -> None:
  by_dir = {os.path.realpath(d): i for i, d in enumerate(model_dirs)}
  by_id: Dict[str, List[int]] = {}
  for i, d in enumerate(model_dirs):
    by_id.setdefault(os.path.basename(os.path.normpath(d)), []).append(i)
  udr_files = glob.glob(os.path.join(root, "**", "udr.json"), recursive=True)
  loaded = [(path, _read_json_or_none(path)) for path in udr_files]

  def primary_first(item):
    # The paper's main variant (UDR_L, hyper mode) fills the ``udr`` column
    # when a model was scored several ways; the others get ``udr[<run>]``.
    settings = (item[1] or {}).get("settings", {}) if isinstance(
        item[1], dict) else {}
    return (settings.get("mode", "hyper") != "hyper",
            settings.get("correlation", "lasso") != "lasso", item[0])

  for path, udr in sorted(loaded, key=primary_first):
    udr_dir = os.path.dirname(path)
    run = os.path.relpath(udr_dir, root)
    matched = 0
    for ident, numbers in _udr_entries(udr):
      i = _match_model(ident, udr_dir, root, by_dir, by_id)
      if i is None:
        continue
      matched += 1
      # The first UDR run that scores a model fills ``udr``; further runs over
      # the same model (another mode or correlation) get ``udr[<run dir>]``.
      base = "udr" if pd.isna(frame.at[i, "udr"]) else f"udr[{run}]"
      for key, value in numbers.items():
        column = base if key == "udr" else f"{base}.{key}"
        if column not in frame.columns:
          frame[column] = np.nan
        frame.at[i, column] = value
      if base == "udr":
        frame.at[i, "udr_run"] = run
    if udr is not None and not matched:
      logging.warning("UDR results %s match no model under %s.", path, root)


def hyperparameter_labels(frame: pd.DataFrame) -> pd.Series:
  """A readable label per row from the hyperparameters that vary in its family.

  E.g. annealed_vae rows all share gamma=1000 and iteration_threshold=1e5 but
  differ in c_max: their label is ``c_max=25``. Families with one setting get
  the label of all their hyperparameters (or ``default``).
  """
  hp_cols = [c for c in frame.columns if c.startswith("hp.")]
  labels = pd.Series("default", index=frame.index, dtype=object)
  families = frame["model"].fillna("?") if "model" in frame else pd.Series(
      "?", index=frame.index)
  for _, idx in frame.groupby(families, dropna=False).groups.items():
    sub = frame.loc[idx, hp_cols].dropna(axis=1, how="all")
    varying = [c for c in sub.columns if sub[c].astype(str).nunique() > 1]
    use = varying or list(sub.columns)
    for i in idx:
      parts = [f"{c[3:]}={_fmt(frame.at[i, c])}" for c in use
               if not _isnan(frame.at[i, c])]
      labels.at[i] = ",".join(parts) or "default"
  return labels


def _isnan(value: Any) -> bool:
  return value is None or (isinstance(value, float) and math.isnan(value))


def _fmt(value: Any) -> str:
  if _is_number(value) and float(value) == int(value) and abs(value) < 1e15:
    return str(int(value))
  return f"{value:g}" if _is_number(value) else str(value)


def collect_results(root: str) -> pd.DataFrame:
  """One row per model under ``root``; see :mod:`tfdis.results.columns`.

  A model whose row cannot be built is left out after logging why;
  ``frame.attrs["failures"]`` maps it to the reason (unreadable JSON files
  alone do not count: their columns stay empty)."""
  from tfdis.failures import ModelFailures

  root = os.path.abspath(os.fspath(root))
  found = find_model_dirs(root)
  failures = ModelFailures("models")
  rows, model_dirs = [], []
  for d in found:
    with failures.guard(d):
      rows.append(_model_row(root, d))
      model_dirs.append(d)
  frame = pd.DataFrame(rows)
  for column in C.IDENTITY_COLUMNS:
    if column not in frame.columns:
      frame[column] = pd.Series(dtype=object)
  frame["udr"] = np.nan
  frame["udr_run"] = pd.Series([None] * len(frame), dtype=object)
  if len(frame):
    _add_udr(frame, root, model_dirs)
    frame["hyperparameters"] = hyperparameter_labels(frame)
  if frame["udr"].isna().all():
    frame = frame.drop(columns=["udr", "udr_run"])
  # Identity first, then configuration, then everything else in a stable order.
  first = [c for c in C.IDENTITY_COLUMNS + C.CONFIG_COLUMNS if c in frame]
  hps = sorted(c for c in frame.columns if c.startswith("hp."))
  udr = sorted(c for c in frame.columns if c.startswith("udr"))
  train = sorted(c for c in frame.columns if c.startswith("train."))
  rest = sorted(c for c in frame.columns
                if c not in set(first + hps + udr + train))
  frame = frame[first + hps + udr + rest + train]
  if len(frame):
    keys = ([c for c in ("dataset", "model") if c in frame] + hps
            + [c for c in ("seed", "model_id") if c in frame])
    frame = frame.sort_values(keys, kind="stable",
                              na_position="last").reset_index(drop=True)
  frame.attrs["failures"] = dict(failures.failed)
  frame.attrs["num_models"] = len(found)
  return frame
