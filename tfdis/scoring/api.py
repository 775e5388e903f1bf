"""Score any encoder, or precomputed arrays, with tfdis's metrics.

Two entry points (documented in docs/python-api.md; the names are stable):

* :func:`score_encoder` — an encoder given as a Python callable (a batch of
  images as NumPy, float32 [N, H, W, C] in [0, 1], the dataset's layout ->
  NumPy codes [N, d]) on a tfdis dataset, with any list of registered
  metrics. Each metric samples exactly as ``tfdis_evaluate`` does (dlib's
  draw order, the same seed gives the same samples), the per-factor fits run
  in parallel processes as there, and each grid row is encoded at most once
  for all metrics (:mod:`tfdis.scoring.row_cache`).
* :func:`score_arrays` — codes and factors already computed (codes [N, L],
  factors [N, K], ``factor_types``), scored with the metrics' array-level
  functions (``<metric>_from_codes``).

Neither imports TensorFlow: the metrics are NumPy / scikit-learn / SciPy and
the procedural datasets are NumPy renderers (``tests/test_scoring_api.py``
checks it in a fresh interpreter). Only the official datasets, which load
TFDS builds, import TensorFlow, when they are built.
"""

from __future__ import annotations

import inspect
import os
import time
from typing import Any, Callable, Dict, Mapping, Optional, Sequence, Union

import numpy as np

from tfdis.checks import check_count
from tfdis.errors import UserError
from tfdis.metrics import results, sampling
from tfdis.metrics.factor_types import check_factor_types
from tfdis.registry import check_choice
from tfdis.scoring.row_cache import (CachedEncoder, CallableRowCache,
                                     cache_file)

CACHE_MODES = ("memory", "disk", "off")
Encoder = Callable[[np.ndarray], np.ndarray]


class ScoringError(UserError, ValueError):
  """Bad input to the scoring API (the message says what to change)."""


# ---------------------------------------------------------------------------
# discovery
# ---------------------------------------------------------------------------
def metric_names() -> list:
  """Every registered metric (the names ``score_encoder`` accepts)."""
  import tfdis.metrics  # noqa: F401  (registers the wrappers)
  from tfdis.registry import METRICS
  return METRICS.names()


def dataset_names() -> list:
  """Every registered dataset (the names ``score_encoder`` accepts)."""
  from tfdis.data import dataset_names as names
  return names()


def load_dataset(name: str, **options):
  """The ``GroundTruthData`` ``name`` with ``options`` (built once per
  process), e.g. ``load_dataset("procedural_dsprites", continuous_factors=
  ["scale", "orientation", "pos_x", "pos_y"])``."""
  from tfdis.data import get_dataset
  return get_dataset(name, **options)


# Array-level function of each metric whose definition needs only i.i.d.
# samples (codes, factors). The others (beta_vae, factor_vae: batches with a
# factor held fixed; fairness: interventions) need the dataset.
_ARRAY_FUNCTIONS = {
    "mig": ("tfdis.metrics.mig", "mig_from_codes"),
    "dci": ("tfdis.metrics.dci", "dci_from_codes"),
    "sap_score": ("tfdis.metrics.sap_score", "sap_from_codes"),
    "modularity_explicitness": ("tfdis.metrics.modularity_explicitness",
                                "modularity_explicitness_from_codes"),
    "irs": ("tfdis.metrics.irs", "irs_from_codes"),
    "unsupervised": ("tfdis.metrics.unsupervised", "unsupervised_from_codes"),
    "downstream_task": ("tfdis.metrics.downstream_task",
                        "downstream_task_from_codes"),
}
_NEEDS_DATASET = {
    "beta_vae": "it scores pairs of batches that share one factor's value",
    "factor_vae": "it scores batches in which one factor is held fixed",
    "fairness": "it intervenes on each value of each sensitive factor",
}


def array_function(name: str) -> Callable:
  """The array-level function of metric ``name``: the table above, or
  ``tfdis.metrics.<name>.<name>_from_codes`` (the convention of every metric
  added since)."""
  import importlib

  module, attr = _ARRAY_FUNCTIONS.get(
      name, (f"tfdis.metrics.{name}", f"{name}_from_codes"))
  if name in _NEEDS_DATASET:
    raise ScoringError(
        f"metric {name!r} cannot be computed from (codes, factors) arrays: "
        f"{_NEEDS_DATASET[name]}. Score an encoder on a dataset with "
        "score_encoder, or drop it from metrics.")
  try:
    return getattr(importlib.import_module(module), attr)
  except (ImportError, AttributeError):
    raise ScoringError(
        f"metric {name!r} has no array-level function ({module}.{attr}); "
        f"array metrics: {', '.join(array_metric_names())}") from None


def array_metric_names() -> list:
  """The registered metrics that :func:`score_arrays` can compute."""
  out = []
  for name in metric_names():
    if name in _NEEDS_DATASET:
      continue
    try:
      array_function(name)
    except ScoringError:
      continue
    out.append(name)
  return out


def _resolve(metrics, allowed: Optional[Sequence[str]] = None) -> list:
  from tfdis.evaluate import resolve_metrics

  if metrics is None:
    metrics = list(allowed) if allowed is not None else "all"
  try:
    return resolve_metrics(metrics)
  except ValueError as e:
    raise ScoringError(str(e)) from None


# ---------------------------------------------------------------------------
# score_encoder
# ---------------------------------------------------------------------------
def _check_encoder(encoder) -> None:
  if not callable(encoder):
    raise ScoringError(
        f"encoder must be a callable mapping a batch of images (NumPy float32 "
        f"[N, H, W, C] in [0, 1]) to NumPy codes [N, d]; got "
        f"{type(encoder).__name__}")


def _open_cache(encoder, data, cache: str, cache_dir, cache_key,
                encode_batch_size: int) -> Optional[CallableRowCache]:
  check_choice("cache", cache, CACHE_MODES, error=ScoringError)
  if cache == "off" or not getattr(data, "observations_are_deterministic",
                                   False):
    return None
  path = None
  if cache == "disk":
    if not cache_dir or not cache_key:
      raise ScoringError(
          "cache='disk' needs cache_dir (where to keep the codes) and "
          "cache_key (a name that changes whenever the encoder's weights do, "
          "e.g. a checkpoint hash); or use cache='memory' (this call only)")
    try:
      path = cache_file(os.fspath(cache_dir), str(cache_key), data)
    except ValueError as e:
      raise ScoringError(str(e)) from None
  return CallableRowCache(encoder, data, encode_batch_size, path,
                          None if cache_key is None else str(cache_key))


def _call_metric(fn, data, rep_fn, seed: int, overrides: Mapping[str, Any],
                 runtime: Mapping[str, Any]) -> Dict[str, Any]:
  params = inspect.signature(fn).parameters
  kwargs = {k: v for k, v in runtime.items()
            if k in params and k not in overrides and v is not None}
  kwargs.update(overrides)
  return fn(data, rep_fn, int(seed), **kwargs)


def score_encoder(encoder: Encoder, dataset: Union[str, Any],
                  metrics: Union[str, Sequence[str]] = "all", *,
                  dataset_options: Optional[Mapping[str, Any]] = None,
                  seed: int = 0,
                  metric_params: Optional[Mapping[str, Any]] = None,
                  sklearn_compat: str = "current",
                  cache: str = "memory", cache_dir: Optional[str] = None,
                  cache_key: Optional[str] = None,
                  encode_batch_size: int = (
                      sampling.DEFAULT_ENCODE_BATCH_SIZE),
                  n_jobs: Optional[int] = None) -> Dict[str, Dict[str, Any]]:
  """Scores ``encoder`` on ``dataset`` with ``metrics``.

  Args:
    encoder: any callable, images float32 [N, H, W, C] in [0, 1] (the
      dataset's ``observation_shape``, channels last) -> codes [N, d] (NumPy
      or anything ``np.asarray`` accepts). Called with up to
      ``encode_batch_size`` images at a time.
    dataset: a registered dataset name (``dataset_names()``) or a
      ``GroundTruthData`` object.
    metrics: "all", a comma list or a sequence of metric names
      (``metric_names()``).
    dataset_options: options of a named dataset (e.g. ``{"config":
      "small"}`` or ``{"continuous_factors": ["scale", "orientation"]}``).
    seed: every metric's sampling seed (as ``tfdis_evaluate --seed``).
    metric_params: overrides, per metric (``{"dci": {"num_train": 1000}}``)
      or shared by every metric that takes them (``{"num_train": 1000}``),
      as ``tfdis_evaluate --metric_params``.
    sklearn_compat: 'current' or 'dlib' classifier defaults
      (``tfdis.metrics.classifiers.SKLEARN_COMPAT_MODES``).
    cache: 'memory' (default: each grid row encoded at most once for all
      metrics of this call), 'disk' (kept in ``cache_dir`` under
      ``cache_key`` for later calls; the key must change when the weights
      do — a probe of the first rows guards against stale files) or 'off'
      (every sampled image encoded). Datasets with random nuisance (the
      colour/noisy/scream dSprites) are never cached. Same scores either way
      up to the encoder's own batch dependence.
    encode_batch_size: images per encoder call.
    n_jobs: processes for the per-factor fits (None: every core).

  Returns:
    ``{metric: {"scores": {name: float}, "parameters": {...}, "notes":
    [...], "versions": {...}, "elapsed_s": float, "encoding": {...}}}`` —
    the fields of ``tfdis_evaluate``'s metric JSON.
  """
  from tfdis.evaluate import apply_sklearn_compat, resolve_metric_params

  _check_encoder(encoder)
  names = _resolve(metrics)
  try:
    per_metric = apply_sklearn_compat(
        resolve_metric_params(names, metric_params), sklearn_compat)
  except ValueError as e:
    raise ScoringError(str(e)) from None
  if isinstance(dataset, str):
    data = load_dataset(dataset, **dict(dataset_options or {}))
  else:
    if dataset_options:
      raise ScoringError("dataset_options apply to a dataset given by name; "
                         "this dataset object is already built")
    data = dataset
  encode_batch_size = check_count("encode_batch_size", encode_batch_size)
  row_cache = _open_cache(encoder, data, cache, cache_dir, cache_key,
                          encode_batch_size)
  rep_fn = CachedEncoder(row_cache) if row_cache is not None else (
      lambda images: _checked(encoder, images))
  runtime = {"n_jobs": n_jobs, "encode_batch_size": encode_batch_size}
  from tfdis.registry import METRICS

  out: Dict[str, Dict[str, Any]] = {}
  for name in names:
    before = dict(row_cache.stats) if row_cache is not None else None
    start = time.monotonic()
    result = _call_metric(METRICS.get(name), data, rep_fn, seed,
                          per_metric[name], runtime)
    elapsed = time.monotonic() - start
    encoding: Dict[str, Any] = {"cache": None}
    if row_cache is not None:
      row_cache.flush()
      encoding = {"cache": row_cache.path or "memory"}
      encoding.update({k: row_cache.stats[k] - before[k]
                       for k in ("rows_encoded", "rows_looked_up")})
    out[name] = {
        "scores": results.scores_of(result),
        "parameters": result.get("parameters", {}),
        "notes": result.get("notes", []),
        "versions": result.get("versions", {}),
        "elapsed_s": elapsed,
        "encoding": encoding,
        "dataset": {"name": data.info()["name"],
                    "options": data.info().get("options", {})},
        "seed": int(seed),
    }
  return out


def _checked(encoder, images):
  from tfdis.scoring.row_cache import _check_codes
  return _check_codes(encoder(images), len(images))


# ---------------------------------------------------------------------------
# score_arrays
# ---------------------------------------------------------------------------
def _split(codes, factors, codes_test, factors_test, train_fraction: float):
  if (codes_test is None) != (factors_test is None):
    raise ScoringError("give both codes_test and factors_test, or neither")
  if codes_test is not None:
    return codes, factors, codes_test, factors_test
  if not 0.0 < float(train_fraction) < 1.0:
    raise ScoringError(f"train_fraction must be in (0, 1), got "
                       f"{train_fraction}")
  n = len(codes)
  n_train = int(round(float(train_fraction) * n))
  if n_train < 2 or n - n_train < 1:
    raise ScoringError(f"{n} samples are too few to split into train and "
                       f"test (train_fraction={train_fraction})")
  return codes[:n_train], factors[:n_train], codes[n_train:], factors[n_train:]


def score_arrays(codes, factors, metrics: Union[None, str, Sequence[str]] = None,
                 *, factor_types: Optional[Sequence[str]] = None,
                 codes_test=None, factors_test=None,
                 train_fraction: float = 2.0 / 3.0, seed: int = 0,
                 metric_params: Optional[Mapping[str, Any]] = None,
                 n_jobs: Optional[int] = None
                 ) -> Dict[str, Dict[str, float]]:
  """Scores precomputed codes against their factors.

  Args:
    codes: float [N, L], one row per sample.
    factors: [N, K] — integer indices in discrete columns, values in the
      columns ``factor_types`` declares "continuous".
    metrics: metric names (default: every metric computable from arrays,
      ``array_metric_names()``); beta_vae, factor_vae and fairness need a
      dataset and are refused with the reason.
    factor_types: "discrete" / "continuous" per factor column (None: all
      discrete).
    codes_test, factors_test: a held-out split for the metrics that fit
      predictors (dci, sap_score, modularity_explicitness, downstream_task
      and any metric whose function takes ``codes_train``). Without them
      the first ``train_fraction`` of the rows train and the rest test
      (rows must then be in random order).
    seed: seed of the metrics' own randomness (tree seeds).
    metric_params: keyword overrides of the array functions, per metric or
      shared (as in :func:`score_encoder`).
    n_jobs: processes for the per-factor fits.

  Returns:
    ``{metric: {score name: float}}``.
  """
  codes = np.asarray(codes)
  factors = np.asarray(factors)
  names = _resolve(metrics, None if metrics is not None
                   else array_metric_names())
  if factors.ndim == 2:
    try:
      factor_types = check_factor_types(factor_types,
                                        factors.shape[1])
    except ValueError as e:
      raise ScoringError(str(e)) from None
  functions = {name: array_function(name) for name in names}
  metric_params = dict(metric_params or {})
  known = set(metric_names())
  shared = {k: v for k, v in metric_params.items() if k not in known}
  for key in shared:
    if not any(key in inspect.signature(fn).parameters
               for fn in functions.values()):
      raise ScoringError(
          f"metric parameter {key!r} is taken by none of the array functions "
          f"of {', '.join(functions)}; see help(tfdis.scoring.array_function("
          "name)) for each one's parameters")
  out: Dict[str, Dict[str, float]] = {}
  for name, fn in functions.items():
    params = inspect.signature(fn).parameters
    overrides = {k: v for k, v in shared.items() if k in params}
    own = metric_params.get(name) or {}
    bad = sorted(set(own) - set(params))
    if bad:
      raise ScoringError(f"{name}'s array function {fn.__name__} has no "
                         f"parameter(s) {bad}; it takes "
                         f"{', '.join(params)}")
    overrides.update(own)
    kwargs = {}
    if "factor_types" in params:
      kwargs["factor_types"] = factor_types
    elif "continuous" in (factor_types or ()):
      raise ScoringError(
          f"metric {name!r} does not support continuous factors; score it "
          "with factor_types all 'discrete' or leave it out")
    if "random_state" in params:
      kwargs["random_state"] = int(seed)
    if "n_jobs" in params and n_jobs is not None:
      kwargs["n_jobs"] = n_jobs
    kwargs.update(overrides)
    first = list(params)[0]
    if "codes_train" in params:
      split = _split(codes, factors, codes_test, factors_test, train_fraction)
      result = fn(*split, **kwargs)
    elif first == "codes" and "factors" in params:
      result = fn(codes, factors, **kwargs)
    else:  # unsupervised: codes alone
      result = fn(codes, **kwargs)
    out[name] = {k: float(v) for k, v in
                 results.scores_of(dict(result)).items()}
  return out
