"""Score exported SavedModels with the disentanglement metrics.

``evaluate_model_dirs`` loads each model by its signatures alone
(``tfdis.export.load.load_saved_model``: no tfdis model classes, so models
exported elsewhere with the same signatures work), rebuilds its dataset from
the SavedModel metadata (``dataset.name`` + ``dataset.options``) unless one is
given, and writes one JSON per metric::

  <model_dir>/metrics/<representation>/<metric>.json
  {"metric": ..., "scores": {flat floats}, "parameters": {...},
   "versions": {...}, "notes": [...], "request": {...}, "dataset": {...},
   "representation": ..., "compatibility": {...}, "model_dir": ...,
   "elapsed_s": ..., "created": ...}

``compatibility`` says how the numbers relate to disentanglement_lib's:
``rng_order`` (the random draws follow dlib's wrapper, so the same seed
gives dlib's samples), ``sklearn_compat`` ('current' or 'dlib' classifier
defaults, see ``tfdis.metrics.classifiers.SKLEARN_COMPAT_MODES``) and whether
the metric fits such a classifier at all (``sklearn_compat_applies``).

``request`` holds what determines the numbers (the metric's effective
parameters after defaults, seed, representation, dataset and a fingerprint of
the SavedModel files); a metric whose JSON has the same ``request`` is skipped
unless ``overwrite``. Files are written atomically (``tfdis.io_utils``).
"""

from __future__ import annotations

import contextlib
import inspect
import json
import os
import time
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from absl import logging

from tfdis import io_utils
from tfdis.errors import UserError
from tfdis.export import code_cache
from tfdis.export.code_cache import model_fingerprint
from tfdis.export.load import check_observation_shape, expand_model_dirs
from tfdis.registry import METRICS, check_choice

REPRESENTATIONS = ("mean", "sampled")
# Wrapper arguments that do not change the numbers (not part of ``request``).
_RUNTIME_ARGS = ("ground_truth_data", "representation_fn", "random_state",
                 "n_jobs", "encode_batch_size")


def _ensure_metrics_registered() -> None:
  import tfdis.metrics  # noqa: F401  (registers the compute_ wrappers)


def resolve_metrics(metrics: Union[str, Sequence[str]]) -> List[str]:
  """'all', 'every', a comma list or a sequence -> validated metric names.

  'all' is the default suite, dlib's ten metrics (what it meant before newer
  metrics were registered, so studies and their run time stay as they
  were); 'every' is every registered metric.
  """
  _ensure_metrics_registered()
  from tfdis.metrics import default_metric_names

  if isinstance(metrics, str):
    metrics = [m.strip() for m in metrics.split(",") if m.strip()]
  metrics = list(metrics)
  if metrics == ["all"]:
    return default_metric_names()
  if metrics == ["every"]:
    return METRICS.names()
  if not metrics:
    raise ValueError("No metrics given; choose from: "
                     + ", ".join(METRICS.names())
                     + " (or 'all': dlib's ten; 'every': all of them).")
  for name in metrics:
    METRICS.validate(name)  # raises UnknownNameError listing the known ones
  return list(dict.fromkeys(metrics))


def metric_arguments(name: str) -> Dict[str, Any]:
  """Tunable parameters of a metric wrapper and their defaults."""
  fn = METRICS.get(name)
  out = {}
  for pname, p in inspect.signature(fn).parameters.items():
    if pname in ("ground_truth_data", "representation_fn", "random_state"):
      continue
    out[pname] = p.default
  return out


def resolve_metric_params(metrics: Sequence[str],
                          metric_params: Optional[Mapping[str, Any]]
                          ) -> Dict[str, Dict[str, Any]]:
  """Per-metric keyword overrides from ``metric_params``.

  Keys that are metric names hold that metric's overrides
  (``{"dci": {"num_train": 500}}``); any other key applies to every selected
  metric that takes such a parameter (``{"num_train": 500}``). A parameter no
  selected metric takes is an error that lists what each metric accepts.
  """
  _ensure_metrics_registered()
  metric_params = dict(metric_params or {})
  per_metric: Dict[str, Dict[str, Any]] = {m: {} for m in metrics}
  known = set(METRICS.names())
  shared = {k: v for k, v in metric_params.items() if k not in known}
  for key, value in shared.items():
    takers = [m for m in metrics if key in metric_arguments(m)]
    if not takers:
      accepted = "; ".join(f"{m}: {', '.join(metric_arguments(m))}"
                           for m in metrics)
      raise ValueError(f"metric parameter {key!r} is taken by none of the "
                       f"selected metrics. Accepted parameters: {accepted}")
    for m in takers:
      per_metric[m][key] = value
  for name, overrides in metric_params.items():
    if name not in known:
      continue
    if name not in per_metric:
      continue  # parameters of a metric that is not run are ignored
    if not isinstance(overrides, Mapping):
      raise ValueError(f"metric_params[{name!r}] must be a dict of parameter "
                       f"overrides, got {overrides!r}")
    accepted = metric_arguments(name)
    bad = sorted(set(overrides) - set(accepted))
    if bad:
      raise ValueError(f"metric {name!r} has no parameter(s) {bad}; it "
                       f"accepts {', '.join(accepted)}")
    per_metric[name].update(overrides)
  for name, overrides in per_metric.items():
    # Metrics that can check their option values without data do so here,
    # before any model is loaded (``compute_<metric>.validate_params``).
    validate = getattr(METRICS.get(name), "validate_params", None)
    if validate is not None:
      try:
        validate(**overrides)
      except ValueError as e:
        raise ValueError(f"metric {name!r}: {e}") from None
  return per_metric


def _effective_parameters(name: str, overrides: Mapping[str, Any]
                          ) -> Dict[str, Any]:
  params = {k: v for k, v in metric_arguments(name).items()
            if k not in _RUNTIME_ARGS}
  params.update({k: v for k, v in overrides.items() if k not in _RUNTIME_ARGS})
  return io_utils.to_jsonable(params)


def metric_json_path(model_dir: str, representation: str, metric: str) -> str:
  return os.path.join(model_dir, "metrics", representation, f"{metric}.json")


def _dataset_spec(loaded, dataset: str,
                  dataset_options: Optional[Mapping[str, Any]]
                  ) -> Tuple[str, Dict[str, Any]]:
  if dataset != "auto":
    return dataset, dict(dataset_options or {})
  info = (loaded.metadata or {}).get("dataset") or {}
  name = info.get("name") if isinstance(info, dict) else None
  if not name:
    raise UserError(
        f"{loaded.path}: the SavedModel metadata names no dataset "
        "(assets/tfdis_metadata.json lacks dataset.name), so --dataset=auto "
        "cannot work; pass the dataset explicitly, e.g. "
        "--dataset=procedural_dsprites.")
  return name, dict(info.get("options") or {})


class _DatasetCache:
  """Builds each (name, options) dataset once for all models that share it."""

  def __init__(self):
    self._cache: Dict[str, Any] = {}

  def get(self, name: str, options: Dict[str, Any]):
    from tfdis.data import get_dataset

    key = json.dumps([name, io_utils.to_jsonable(options)], sort_keys=True)
    if key not in self._cache:
      start = time.monotonic()
      self._cache[key] = get_dataset(name, **options)
      logging.info("dataset %s %s ready in %.1f s", name, options or "",
                   time.monotonic() - start)
    return self._cache[key]


def _read_existing(path: str) -> Optional[Dict[str, Any]]:
  if not os.path.isfile(path):
    return None
  try:
    return io_utils.read_json(path)
  except (OSError, ValueError):
    return None  # unreadable: recompute


def apply_sklearn_compat(per_metric: Dict[str, Dict[str, Any]],
                         sklearn_compat: str) -> Dict[str, Dict[str, Any]]:
  """Sets ``sklearn_compat`` for every metric that takes it, unless its
  ``metric_params`` already do."""
  from tfdis.metrics.classifiers import check_sklearn_compat

  check_sklearn_compat(sklearn_compat)
  for metric, overrides in per_metric.items():
    if "sklearn_compat" in metric_arguments(metric):
      overrides.setdefault("sklearn_compat", sklearn_compat)
  return per_metric


def _compatibility(metric: str, overrides: Mapping[str, Any],
                   sklearn_compat: str) -> Dict[str, Any]:
  from tfdis.metrics.sampling import RNG_ORDER

  applies = "sklearn_compat" in metric_arguments(metric)
  return {"rng_order": RNG_ORDER,
          "sklearn_compat": overrides.get("sklearn_compat", sklearn_compat),
          "sklearn_compat_applies": applies}


def evaluate_model(model_dir: str, metrics: Sequence[str],
                   representation: str = "mean", dataset: str = "auto",
                   overwrite: bool = False,
                   metric_params: Optional[Mapping[str, Any]] = None,
                   seed: int = 0,
                   dataset_options: Optional[Mapping[str, Any]] = None,
                   _datasets: Optional[_DatasetCache] = None,
                   sklearn_compat: str = "current",
                   cache_encodings: str = "disk"
                   ) -> Dict[str, Any]:
  """Scores one model directory; returns one DataFrame row as a dict.

  With ``cache_encodings`` 'disk' (default) or 'memory' and a dataset whose
  observations are a function of the factors, every grid row is encoded at
  most once for all metrics ('disk': and for later runs and UDR):
  ``tfdis.export.code_cache``. The scores are bit for bit
  those of the uncached path (``cache_encodings='off'``).
  """
  from tfdis.export.load import load_saved_model

  metrics = resolve_metrics(metrics)
  per_metric = apply_sklearn_compat(
      resolve_metric_params(metrics, metric_params), sklearn_compat)
  datasets = _datasets or _DatasetCache()
  loaded = load_saved_model(model_dir)
  name, options = _dataset_spec(loaded, dataset, dataset_options)
  data = datasets.get(name, options)
  check_observation_shape(loaded, data)
  fingerprint = model_fingerprint(loaded.path)
  dataset_info = {"name": name, "options": io_utils.to_jsonable(options)}
  row: Dict[str, Any] = {"model_dir": os.fspath(model_dir),
                         "dataset": name, "representation": representation}
  cache = code_cache.open_cache(loaded, data, cache_encodings)
  for metric in metrics:
    path = metric_json_path(model_dir, representation, metric)
    request = {
        "metric": metric, "representation": representation,
        "dataset": dataset_info, "seed": int(seed),
        "parameters": _effective_parameters(metric, per_metric[metric]),
        "model_fingerprint": fingerprint,
    }
    existing = None if overwrite else _read_existing(path)
    if existing is not None and existing.get("request") == request:
      logging.info("%s: %s (%s) already scored with these parameters; "
                   "skipped (use --overwrite to recompute)", model_dir, metric,
                   representation)
      record = existing
    else:
      record = _run_metric(loaded, data, metric, representation, seed,
                           per_metric[metric], request, model_dir, cache)
      record["compatibility"] = _compatibility(metric, per_metric[metric],
                                               sklearn_compat)
      io_utils.write_json(path, record)
      logging.info("%s: %s (%s) done in %.1f s -> %s", model_dir, metric,
                   representation, record["elapsed_s"], path)
    for key, value in record.get("scores", {}).items():
      row[f"{metric}.{key}"] = value
    row[f"{metric}.elapsed_s"] = record.get("elapsed_s")
  return row


def _run_metric(loaded, data, metric: str, representation: str, seed: int,
                overrides: Mapping[str, Any], request: Dict[str, Any],
                model_dir: str, cache=None) -> Dict[str, Any]:
  import numpy as np

  from tfdis.metrics.results import scores_of

  fn = METRICS.get(metric)
  # The sampled representation draws its noise from its own stream, so the
  # factor samples are the same as for the mean representation.
  noise = np.random.RandomState(seed + 1)
  if cache is not None:
    rep_fn = code_cache.CachedRepresentation(cache, representation, noise)
    before = dict(cache.stats)
  else:
    rep_fn = loaded.representation_fn(representation, random_state=noise)
  logging.info("%s: computing %s (%s) on %s ...", model_dir, metric,
               representation, data.name)
  start = time.monotonic()
  result = fn(data, rep_fn, int(seed), **dict(overrides))
  encoding = {"cache": None, "batch_size": loaded.batch_size}
  if cache is not None:
    cache.flush()
    encoding = {"cache": (os.path.relpath(cache.path, model_dir)
                          if cache.path else "memory"),
                "context": cache.header["context"]}
    encoding.update({k: cache.stats[k] - before[k]
                     for k in ("rows_encoded", "rows_looked_up", "encode_s")})
  elapsed = time.monotonic() - start
  versions = io_utils.library_versions()
  versions.update(result.get("versions", {}))
  record = {
      "metric": metric,
      "scores": scores_of(result),
      "parameters": result.get("parameters", {}),
      "notes": result.get("notes", []),
      "versions": versions,
      "request": request,
      "dataset": request["dataset"],
      "representation": representation,
      "model_dir": os.path.abspath(model_dir),
      "saved_model": os.path.abspath(loaded.path),
      "elapsed_s": elapsed,
      "encoding": encoding,
      "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
  }
  return record


def evaluate_model_dirs(model_dirs: Union[str, Sequence[str]],
                        metrics: Union[str, Sequence[str]],
                        representation: str = "mean", dataset: str = "auto",
                        overwrite: bool = False,
                        metric_params: Optional[Mapping[str, Any]] = None,
                        seed: int = 0,
                        dataset_options: Optional[Mapping[str, Any]] = None,
                        sklearn_compat: str = "current",
                        cache_encodings: str = "disk",
                        keep_going: bool = False):
  """Scores every model with every metric; returns a pandas DataFrame.

  Args:
    model_dirs: model directories (holding ``saved_model/``) or SavedModel
      directories; a comma-separated string and glob patterns work too.
    metrics: metric names (``tfdis.registry.METRICS``), ``"all"`` (the
      default suite: dlib's ten) or ``"every"`` (every registered metric).
    representation: ``"mean"`` (the encoder mean) or ``"sampled"`` (a draw
      from the encoder's Gaussian).
    dataset: ``"auto"`` (from the SavedModel metadata) or a dataset name.
    overwrite: recompute metrics whose JSON already holds the same request.
    metric_params: overrides, per metric (``{"mig": {"num_train": 500}}``) or
      shared (``{"num_train": 500}``); see ``resolve_metric_params``.
    seed: seed of every metric's sampling (each metric starts from it).
    dataset_options: options of an explicitly named ``dataset``.
    sklearn_compat: 'current' or 'dlib' classifier defaults for every metric
      that fits a logistic regression / linear SVM (beta_vae,
      modularity_explicitness, sap_score, downstream_task); recorded in each
      JSON's ``compatibility``.
    cache_encodings: 'disk', 'memory' or 'off': encode each grid row once
      per model for all metrics (datasets whose observations are a function
      of the factors), keeping the codes in ``<model_dir>/encodings/`` for
      later runs ('disk'); identical scores.
    keep_going: a model that cannot be loaded or scored is logged and
      skipped and the others are scored (tfdis_evaluate); without it the
      first such error is raised. Errors of the request as a whole (an
      explicit ``dataset`` whose images do not fit the model) are raised
      either way.

  Returns:
    One row per model: ``model_dir``, ``dataset``, ``representation`` and
    ``<metric>.<score>`` / ``<metric>.elapsed_s`` columns;
    ``frame.attrs["failures"]`` maps each model skipped by ``keep_going``
    to its reason ({} if none).
  """
  import pandas as pd

  from tfdis.failures import ModelFailures

  check_choice("representation", representation, REPRESENTATIONS)
  code_cache.check_mode(cache_encodings)
  metrics = resolve_metrics(metrics)
  # fail before loading models
  apply_sklearn_compat(resolve_metric_params(metrics, metric_params),
                       sklearn_compat)
  dirs = expand_model_dirs(model_dirs)
  datasets = _DatasetCache()
  rows = []
  failures = ModelFailures("models")
  from tfdis.export.load import ObservationShapeError

  request_errors = ((ObservationShapeError,) if dataset != "auto" else ())
  start = time.monotonic()
  for i, model_dir in enumerate(dirs):
    logging.info("[%d/%d] evaluating %s (%s): %s", i + 1, len(dirs), model_dir,
                 representation, ", ".join(metrics))
    t0 = time.monotonic()
    # One model that cannot be loaded or scored must not cost the others.
    with (failures.guard(model_dir, reraise=request_errors) if keep_going
          else contextlib.nullcontext()):
      rows.append(evaluate_model(model_dir, metrics, representation, dataset,
                                 overwrite, metric_params, seed,
                                 dataset_options, _datasets=datasets,
                                 sklearn_compat=sklearn_compat,
                                 cache_encodings=cache_encodings))
    done = time.monotonic() - start
    eta = done / (i + 1) * (len(dirs) - i - 1)
    logging.info("[%d/%d] %s finished in %.1f s (elapsed %.0f s, ETA %.0f s)",
                 i + 1, len(dirs), model_dir, time.monotonic() - t0, done, eta)
  frame = pd.DataFrame(rows)
  frame.attrs["failures"] = dict(failures.failed)
  frame.attrs["num_models"] = len(dirs)
  return frame
