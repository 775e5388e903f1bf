"""Building blocks shared by the metrics: discretisation, discrete MI, sampling.

Conventions (spec metrics.md): rows are samples; ``codes`` are float
[N, num_codes]; ``factors`` are int factor indices [N, num_factors]. dlib keeps
the transpose internally; nothing here does.

Sampling helpers draw factor rows from a ``GroundTruthData``, render them and
call ``representation_fn(images) -> codes`` on chunks of ``encode_batch_size``
images (>= 256, so SavedModel encoders run full batches instead of dlib's 16).
"""

from __future__ import annotations

import contextlib
import importlib.metadata as _md
import os
import warnings
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np
import sklearn.metrics

from tfdis.errors import UserError

RepresentationFn = Callable[[np.ndarray], np.ndarray]

# Images per representation_fn call in the sampling wrappers. Large enough to
# keep an encoder busy, small enough for 64x64 float images (16 MB per chunk).
DEFAULT_ENCODE_BATCH_SIZE = 1024
MIN_ENCODE_BATCH_SIZE = 256


# ---------------------------------------------------------------------------
# input checks
# ---------------------------------------------------------------------------
def check_codes(codes, name: str = "codes") -> np.ndarray:
  """float64 [N, num_codes]; a clear error for anything else."""
  codes = np.asarray(codes)
  if codes.ndim == 1:
    raise ValueError(
        f"{name} must be 2-D [num_samples, num_codes] (rows are samples), got "
        f"shape {codes.shape}; use codes[:, None] for a single code.")
  if codes.ndim != 2:
    raise ValueError(
        f"{name} must be 2-D [num_samples, num_codes], got shape {codes.shape}")
  if codes.shape[0] < 2 or codes.shape[1] < 1:
    raise ValueError(
        f"{name} needs at least 2 samples and 1 code, got shape {codes.shape}")
  codes = codes.astype(np.float64)
  if not np.all(np.isfinite(codes)):
    raise ValueError(
        f"{name} contains NaN or infinite values; the representation diverged "
        "(check the model) or the input is not a representation.")
  return codes


FACTOR_TYPES = ("discrete", "continuous")


class FactorTypesError(UserError, ValueError):
  """``factor_types`` does not fit the factors; the message says how."""


def check_factor_types(factor_types, num_factors: int) -> Tuple[str, ...]:
  """None -> all "discrete"; else one of FACTOR_TYPES per factor column."""
  if factor_types is None:
    return ("discrete",) * int(num_factors)
  if isinstance(factor_types, str):
    factor_types = [factor_types] * int(num_factors)
  factor_types = tuple(factor_types)
  if len(factor_types) != num_factors:
    raise FactorTypesError(
        f"factor_types has {len(factor_types)} entries but there are "
        f"{num_factors} factors; give one of {', '.join(FACTOR_TYPES)} per "
        "factor column")
  bad = sorted({t for t in factor_types if t not in FACTOR_TYPES})
  if bad:
    raise FactorTypesError(
        f"factor_types must hold {' or '.join(FACTOR_TYPES)}, got {bad}")
  return factor_types


def continuous_mask(factor_types, num_factors: int) -> np.ndarray:
  """bool [K]: True where a factor is declared continuous."""
  return np.array([t == "continuous" for t in
                   check_factor_types(factor_types, num_factors)], dtype=bool)


def check_factors(factors, num_samples: Optional[int] = None,
                  name: str = "factors", factor_types=None) -> np.ndarray:
  """int64 [N, num_factors] factor indices; float64 when some factor is
  declared continuous in ``factor_types`` (its column holds values, the
  discrete columns still integer indices)."""
  factors = np.asarray(factors)
  if factors.ndim != 2:
    raise ValueError(
        f"{name} must be 2-D [num_samples, num_factors] of factor indices "
        f"(rows are samples), got shape {factors.shape}")
  continuous = continuous_mask(factor_types, factors.shape[1])
  if factors.dtype.kind not in "iubf":
    raise ValueError(f"{name} must be integer factor indices, got "
                     f"dtype {factors.dtype}")
  if factors.dtype.kind == "f":
    discrete = factors[:, ~continuous]
    if not np.all(discrete == np.round(discrete)):
      raise ValueError(
          f"{name} must hold integer factor indices in discrete columns; got "
          "non-integral values (declare continuous factors with "
          "factor_types=[..., 'continuous', ...], or discretize them, e.g. "
          "with tfdis.metrics.discretize).")
    if not np.all(np.isfinite(factors)):
      raise ValueError(f"{name} contains NaN or infinite values")
  if num_samples is not None and factors.shape[0] != num_samples:
    raise ValueError(
        f"{name} has {factors.shape[0]} rows but the codes have {num_samples}; "
        "rows are samples and must match.")
  if continuous.any():
    return factors.astype(np.float64)
  return factors.astype(np.int64)


def discretize_factors(factors, factor_types=None,
                       num_bins: int = 20) -> np.ndarray:
  """int64 factors: discrete columns as they are, continuous columns
  histogram-discretised into ``num_bins`` equal-width bins (``discretize``,
  dlib's discretisation of codes) — for metrics defined on discrete factors
  only (MIG, modularity)."""
  factors = check_factors(factors, factor_types=factor_types)
  continuous = continuous_mask(factor_types, factors.shape[1])
  out = factors.astype(np.int64)
  if continuous.any():
    out[:, continuous] = discretize(factors[:, continuous], num_bins)
  return out


def refuse_continuous(metric: str, factor_types, num_factors: int,
                      why: str) -> None:
  """Raises a UserError when a metric defined only for discrete factors is
  given continuous ones."""

  continuous = continuous_mask(factor_types, num_factors)
  if continuous.any():
    raise UserError(
        f"{metric} is defined for discrete factors only ({why}); factor "
        f"column(s) {np.flatnonzero(continuous).tolist()} are declared "
        "continuous. Score this metric without continuous factors, or "
        "choose a metric with a regression form (dci, sap_score, "
        "modularity_explicitness).")


def factor_type_parameters(factor_types, num_factors: int) -> Dict[str, Any]:
  """``{"factor_types": [...]}`` for a result's parameters when some factor
  is continuous; {} otherwise (all-discrete results keep dlib's parameters)."""
  types = check_factor_types(factor_types, num_factors)
  return {"factor_types": list(types)} if "continuous" in types else {}


def check_codes_factors(codes, factors, suffix: str = "", factor_types=None
                        ) -> Tuple[np.ndarray, np.ndarray]:
  codes = check_codes(codes, "codes" + suffix)
  factors = check_factors(factors, codes.shape[0], "factors" + suffix,
                          factor_types)
  return codes, factors


def check_train_test(codes_train, factors_train, codes_test, factors_test,
                     factor_types=None):
  codes_train, factors_train = check_codes_factors(codes_train, factors_train,
                                                   "_train", factor_types)
  codes_test, factors_test = check_codes_factors(codes_test, factors_test,
                                                 "_test", factor_types)
  if codes_test.shape[1] != codes_train.shape[1]:
    raise ValueError(f"codes_train has {codes_train.shape[1]} codes but "
                     f"codes_test has {codes_test.shape[1]}")
  if factors_test.shape[1] != factors_train.shape[1]:
    raise ValueError(f"factors_train has {factors_train.shape[1]} factors but "
                     f"factors_test has {factors_test.shape[1]}")
  return codes_train, factors_train, codes_test, factors_test


# ---------------------------------------------------------------------------
# discretisation and discrete information
# ---------------------------------------------------------------------------
def discretize(codes, num_bins: int = 20) -> np.ndarray:
  """Histogram-discretises each column into ``num_bins`` equal-width bins.

  dlib ``utils._histogram_discretize``: edges = ``np.histogram(column,
  num_bins)[1]``; value = ``np.digitize(column, edges[:-1])`` in
  1..num_bins. A constant column maps to a single bin. Returns int64 with the
  input's shape ([N, num_columns]).
  """
  if int(num_bins) < 1:
    raise ValueError(f"num_bins must be >= 1, got {num_bins}")
  codes = np.asarray(codes, dtype=np.float64)
  if codes.ndim != 2:
    raise ValueError(f"discretize expects [num_samples, num_columns], got "
                     f"shape {codes.shape}")
  out = np.empty(codes.shape, dtype=np.int64)
  for i in range(codes.shape[1]):  # per column: num_codes iterations, not N
    edges = np.histogram(codes[:, i], int(num_bins))[1]
    out[:, i] = np.digitize(codes[:, i], edges[:-1])
  return out


def discrete_mutual_info(codes_d, factors) -> np.ndarray:
  """MI (nats) between discrete codes and factors, shape [num_codes, num_factors].

  ``m[i, j] = sklearn.metrics.mutual_info_score(factors[:, j], codes_d[:, i])``
  (dlib ``utils.discrete_mutual_info``; rows are samples here).
  """
  codes_d = np.asarray(codes_d)
  factors = np.asarray(factors)
  if codes_d.ndim != 2 or factors.ndim != 2 or (
      codes_d.shape[0] != factors.shape[0]):
    raise ValueError(
        "discrete_mutual_info expects codes_d [N, num_codes] and factors "
        f"[N, num_factors] with equal N, got {codes_d.shape} and "
        f"{factors.shape}")
  m = np.zeros((codes_d.shape[1], factors.shape[1]))
  for i in range(codes_d.shape[1]):
    for j in range(factors.shape[1]):
      m[i, j] = sklearn.metrics.mutual_info_score(factors[:, j], codes_d[:, i])
  return m


def discrete_entropy(factors) -> np.ndarray:
  """Entropy (nats) of each discrete column: ``mutual_info_score(f_j, f_j)``."""
  factors = np.asarray(factors)
  if factors.ndim != 2:
    raise ValueError(f"discrete_entropy expects [N, num_factors], got "
                     f"shape {factors.shape}")
  return np.array([
      sklearn.metrics.mutual_info_score(factors[:, j], factors[:, j])
      for j in range(factors.shape[1])
  ])


def standardize(codes_train, codes_test):
  """z-scores with train mean/std; a constant code gets std 1 (not NaN)."""
  mean = codes_train.mean(axis=0)
  std = codes_train.std(axis=0)
  # dlib divides by 0 for a dead code and hands NaN to the classifier.
  std = np.where(std > 0, std, 1.0)
  return (codes_train - mean) / std, (codes_test - mean) / std


# ---------------------------------------------------------------------------
# parallel per-factor fits
# ---------------------------------------------------------------------------
def usable_cores() -> int:
  """Cores this process may use: the CPU count limited by its affinity mask
  and a cgroup (container) CPU quota, as joblib counts them."""
  import joblib
  return max(1, int(joblib.cpu_count()))


def resolve_n_jobs(n_jobs: Optional[int]) -> int:
  """None or -1 -> every usable core; a positive int is taken as is."""
  cores = usable_cores()
  if n_jobs is None or int(n_jobs) == -1:
    return cores
  n_jobs = int(n_jobs)
  if n_jobs == 0:
    raise ValueError("n_jobs must be a positive int, -1 or None (all cores)")
  return max(1, cores + 1 + n_jobs) if n_jobs < 0 else n_jobs


def classifier_cost(y_train) -> int:
  """Relative cost of fitting a classifier to ``y_train``: samples times
  outputs (a GBT grows one tree per class and stage, one for two classes;
  one-vs-rest and softmax fits scale alike). Only orders the fits."""
  num_classes = len(np.unique(y_train))
  return len(y_train) * (num_classes if num_classes > 2 else 1)


# A few unequal fits may run as up to this many processes per core, when
# their total ``classifier_cost`` reaches TIME_SHARED_MIN_COST (samples x
# classes: 10000 x 20 is about a minute of GBT fits on one core here; below,
# starting more processes costs more than the idle core).
MAX_PROCESSES_PER_CORE = 4
TIME_SHARED_MIN_COST = 200_000


def longest_first_makespan(costs: Sequence[float], workers: int) -> float:
  """Finish time of ``costs`` dealt largest first to the least-loaded of
  ``workers`` (each worker runs its fits one after the other)."""
  loads = [0.0] * max(1, int(workers))
  for cost in sorted((float(c) for c in costs), reverse=True):
    loads[loads.index(min(loads))] += cost
  return max(loads)


def _num_workers(n_jobs: Optional[int], costs, num_tasks: int) -> int:
  """Processes for ``num_tasks`` fits; see :func:`parallel_map`."""
  cores = resolve_n_jobs(n_jobs)
  workers = min(cores, num_tasks)
  if (n_jobs is None and costs is not None and workers > 1 and
      num_tasks <= MAX_PROCESSES_PER_CORE * cores and
      sum(costs) >= TIME_SHARED_MIN_COST):
    shared = max(sum(costs) / cores, max(costs))
    if longest_first_makespan(costs, cores) > 1.1 * shared:
      workers = num_tasks
  return workers


def parallel_map(fn: Callable, args_list: Sequence[tuple],
                 n_jobs: Optional[int] = None,
                 costs: Optional[Sequence[float]] = None) -> List[Any]:
  """``[fn(*args) for args in args_list]``, in parallel processes (joblib).

  The per-factor fits of DCI, SAP, explicitness, downstream and fairness are
  independent; scikit-learn's GBT holds the GIL between trees, so processes
  (loky) rather than threads. Results come back in input order, and every
  fit has its own fixed seed, so scores do not depend on ``n_jobs``.

  ``costs`` (one per task, any scale): the tasks start largest first. A
  handful of long fits on a few cores finish when the last long one does, so
  it must not wait behind short ones (the longest-processing-time-first
  rule; e.g. DCI on dSprites: fits of 3, 6, 40, 32, 32 classes). Each task is
  its own batch, so that order is the order in which workers pick them up.

  With ``n_jobs=None`` and a few long, unequal fits that cannot be dealt
  evenly to the cores (e.g. DCI's 40- and 32-class fits on 2 cores: one core
  idles while the last long fit runs), every fit gets its own process (at
  most ``MAX_PROCESSES_PER_CORE`` per core, only from ``TIME_SHARED_MIN_COST``
  of work on) and the operating system shares the cores among them, so the
  work ends at about max(total / cores, longest fit) instead of the
  longest-first schedule's finish time.
  """
  args_list = list(args_list)
  if costs is not None and len(costs) != len(args_list):
    raise ValueError(f"parallel_map: {len(costs)} costs for "
                     f"{len(args_list)} tasks")
  workers = _num_workers(n_jobs, costs, len(args_list))
  if workers <= 1:
    return [fn(*args) for args in args_list]
  import joblib
  order = list(range(len(args_list)))
  if costs is not None:
    order.sort(key=lambda t: -float(costs[t]))  # stable: ties keep order
  results = joblib.Parallel(n_jobs=workers, batch_size=1)(
      joblib.delayed(fn)(*args_list[t]) for t in order)
  out: List[Any] = [None] * len(args_list)
  for t, result in zip(order, results):
    out[t] = result
  return out


@contextlib.contextmanager
def quiet_sklearn():
  """Silences scikit-learn's convergence and API-transition warnings in fits.

  The published metrics fix the predictors (e.g. ``LogisticRegression()`` with
  its default 100 iterations); lbfgs often stops at that limit on separable
  codes and would print one multi-line warning per fit.
  """
  from sklearn.exceptions import ConvergenceWarning

  with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)
    warnings.simplefilter("ignore", FutureWarning)
    yield


class ConstantClassifier:
  """Predicts the single class seen in training (sklearn refuses to fit one)."""

  def __init__(self, label):
    self.classes_ = np.array([label])
    self.feature_importances_ = None

  def predict(self, x):
    return np.full(len(x), self.classes_[0])

  def predict_proba(self, x):
    return np.ones((len(x), 1))


# ---------------------------------------------------------------------------
# results
# ---------------------------------------------------------------------------
def sklearn_numpy_versions() -> Dict[str, str]:
  """The library versions that determine metric numbers."""
  versions = {}
  for dist in ("numpy", "scipy", "scikit-learn"):
    try:
      versions[dist] = _md.version(dist)
    except _md.PackageNotFoundError:
      pass
  return versions


def make_result(scores: Dict[str, Any], parameters: Dict[str, Any],
                notes: Iterable[str] = (), random_state=None) -> Dict[str, Any]:
  """A metric result: flat float scores plus what produced them.

  Score keys sit at the top level (``result["discrete_mig"]``); the reserved
  keys ``parameters`` (sample counts, bins, predictor, seed, ``rng_order``
  ...; the seed is recorded when ``random_state`` was given as an int),
  ``versions`` (numpy/scipy/scikit-learn) and ``notes`` (fixes of dlib bugs
  and other caveats, possibly empty) say how they were produced.
  """
  out: Dict[str, Any] = {}
  for key, value in scores.items():
    if key in RESERVED_KEYS:
      raise ValueError(f"score key {key!r} is reserved")
    out[key] = float(value)
  out["parameters"] = dict(parameters)
  out["parameters"].setdefault("rng_order", RNG_ORDER)
  if isinstance(random_state, (int, np.integer)):
    out["parameters"].setdefault("seed", int(random_state))
  out["versions"] = sklearn_numpy_versions()
  out["notes"] = list(notes)
  return out


RESERVED_KEYS = ("parameters", "versions", "notes")


def scores_of(result: Dict[str, Any]) -> Dict[str, float]:
  """The float scores of a result dict (reserved keys removed)."""
  return {k: v for k, v in result.items() if k not in RESERVED_KEYS}


# ---------------------------------------------------------------------------
# sampling (dlib's draw order, large encoder batches)
# ---------------------------------------------------------------------------
# Points per ``ground_truth_data.sample(...)`` call in dlib's
# ``utils.generate_batch_factor_code`` (its ``batch_size=16`` default, never
# overridden by the published configs). It fixes the ORDER of random draws
# (dSprites draws each factor per call: randint(size_0, 16), randint(size_1,
# 16), ...), so it is part of the result; the encoder batch is not.
DLIB_SAMPLING_BATCH_SIZE = 16

# Recorded as parameters["rng_order"] by every sampling wrapper: its random
# draws follow dlib's wrapper call for call, so the same seed gives dlib's
# samples (encoder calls are batched independently of the draws).
RNG_ORDER = "disentanglement_lib"


def as_random_state(random_state) -> np.random.RandomState:
  """An int seed, None, a RandomState or a Generator -> one RNG object.

  Wrappers call this once so that successive draws (train, then test) differ;
  passing an int to every ``sample_factors`` call would repeat the draw.
  """
  if isinstance(random_state, (np.random.RandomState, np.random.Generator)):
    return random_state
  return np.random.RandomState(random_state)


def randint(random_state, high: int) -> int:
  """One uniform integer in [0, high) from either numpy RNG flavour.

  ``RandomState.randint(high)`` exactly as dlib calls it, so the stream stays
  aligned with dlib's.
  """
  if isinstance(random_state, np.random.Generator):
    return int(random_state.integers(0, high))
  return int(random_state.randint(high))


def check_encode_batch_size(encode_batch_size: int) -> int:
  encode_batch_size = int(encode_batch_size)
  if encode_batch_size < 1:
    raise ValueError(f"encode_batch_size must be positive, got "
                     f"{encode_batch_size}")
  return encode_batch_size


def check_count(name: str, value, minimum: int = 1) -> int:
  if int(value) != value or int(value) < minimum:
    raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
  return int(value)


def encode(representation_fn: RepresentationFn, observations: np.ndarray,
           encode_batch_size: int = DEFAULT_ENCODE_BATCH_SIZE) -> np.ndarray:
  """Codes [N, d] of observations, ``encode_batch_size`` images per call."""
  encode_batch_size = check_encode_batch_size(encode_batch_size)
  chunks = []
  for start in range(0, len(observations), encode_batch_size):
    chunks.append(_call(representation_fn,
                        observations[start:start + encode_batch_size]))
  return np.concatenate(chunks, axis=0)


def _call(representation_fn: RepresentationFn, images: np.ndarray
          ) -> np.ndarray:
  codes = np.asarray(representation_fn(images))
  if codes.ndim != 2 or codes.shape[0] != len(images):
    raise ValueError(
        f"representation_fn must map {len(images)} images to codes of shape "
        f"[{len(images)}, num_codes]; it returned shape {codes.shape}")
  return codes


def looks_up_rows(ground_truth_data, representation_fn) -> bool:
  """True when codes can be looked up by factor row instead of rendered and
  encoded: the representation offers ``codes_of_factors`` (an encoding
  cache, ``tfdis.export.code_cache``) and the dataset's observations are a
  function of the factors alone, so its renderer draws nothing from the
  metric's random stream and skipping it leaves dlib's draw order intact."""
  return (hasattr(representation_fn, "codes_of_factors") and
          bool(getattr(ground_truth_data, "observations_are_deterministic",
                       False)))


class BatchedEncoder:
  """Collects observations in draw order and encodes them in large batches.

  The randomness of a metric is consumed in dlib's order, small call by small
  call (``add_factors``); images wait here until ``encode_batch_size`` of
  them are buffered and then go through the encoder in one call. ``codes()``
  returns the codes of everything added, in order. Only one batch of images
  is held. With a row-cached representation (``looks_up_rows``) nothing is
  rendered: the factor rows are kept and their codes looked up at the end.
  """

  def __init__(self, representation_fn: RepresentationFn,
               encode_batch_size: int = DEFAULT_ENCODE_BATCH_SIZE):
    self._fn = representation_fn
    self._batch = check_encode_batch_size(encode_batch_size)
    self._pending: List[np.ndarray] = []
    self._num_pending = 0
    self._codes: List[np.ndarray] = []
    self._rows: List[np.ndarray] = []

  def add_factors(self, ground_truth_data, factors: np.ndarray,
                  random_state) -> None:
    """Adds the observations of ``factors`` (rendered with ``random_state``
    unless their codes are looked up)."""
    if looks_up_rows(ground_truth_data, self._fn):
      self._rows.append(factors)  # checked by the lookup (factors_to_index)
      return
    self.add(ground_truth_data.sample_observations_from_factors(
        factors, random_state))

  def add(self, observations: np.ndarray) -> None:
    self._pending.append(np.asarray(observations))
    self._num_pending += len(observations)
    if self._num_pending >= self._batch:
      self._flush()

  def _flush(self) -> None:
    if not self._pending:
      return
    images = np.concatenate(self._pending, axis=0)
    self._pending, self._num_pending = [], 0
    self._codes.append(encode(self._fn, images, self._batch))

  def codes(self) -> np.ndarray:
    if self._rows:
      return np.asarray(self._fn.codes_of_factors(
          np.concatenate(self._rows, axis=0)))
    self._flush()
    return np.concatenate(self._codes, axis=0)


def encode_factors(ground_truth_data, representation_fn: RepresentationFn,
                   factors: np.ndarray, random_state,
                   encode_batch_size: int = DEFAULT_ENCODE_BATCH_SIZE
                   ) -> np.ndarray:
  """Renders factor rows in ONE ``sample_observations_from_factors`` call
  (dlib's granularity wherever it renders a given factor array) and encodes
  them in ``encode_batch_size`` chunks (codes [N, d]); looks them up instead
  with a row-cached representation (``looks_up_rows``)."""
  if looks_up_rows(ground_truth_data, representation_fn):
    return np.asarray(representation_fn.codes_of_factors(factors))
  obs = ground_truth_data.sample_observations_from_factors(factors,
                                                           random_state)
  return encode(representation_fn, obs, encode_batch_size)


def sample_codes_and_factors(ground_truth_data,
                             representation_fn: RepresentationFn,
                             num_points: int, random_state,
                             encode_batch_size: int = DEFAULT_ENCODE_BATCH_SIZE,
                             sampling_batch_size: int = (
                                 DLIB_SAMPLING_BATCH_SIZE)
                             ) -> Tuple[np.ndarray, np.ndarray]:
  """(codes [N, d], factors [N, K]) for N uniform factor rows.

  dlib ``utils.generate_batch_factor_code``: ``ground_truth_data.sample(n)``
  (factors, then their observations) for consecutive chunks of
  ``sampling_batch_size`` points, so the same seed gives dlib's samples; the
  observations are encoded ``encode_batch_size`` at a time. Factors are int
  indices; if the dataset declares continuous factors
  (``ground_truth_data.factor_types``) the array is float64 and those
  columns hold the factor VALUES (``values_of_factors``).
  """
  num_points = check_count("num_points", num_points, 1)
  sampling_batch_size = check_count("sampling_batch_size",
                                    sampling_batch_size, 1)
  encoder = BatchedEncoder(representation_fn, encode_batch_size)
  factors = []
  for start in range(0, num_points, sampling_batch_size):
    n = min(sampling_batch_size, num_points - start)
    f = ground_truth_data.sample_factors(n, random_state)
    encoder.add_factors(ground_truth_data, f, random_state)
    factors.append(f)
  return encoder.codes(), factor_values_where_continuous(
      ground_truth_data, np.concatenate(factors, axis=0))


def factor_types_of(ground_truth_data) -> Tuple[str, ...]:
  """The dataset's factor types (all "discrete" if it declares none)."""
  return check_factor_types(getattr(ground_truth_data, "factor_types", None),
                            len(ground_truth_data.factor_sizes))


def factor_values_where_continuous(ground_truth_data, factors) -> np.ndarray:
  """Index rows -> the same rows with continuous columns replaced by their
  values (float64); unchanged int64 rows if no factor is continuous."""
  continuous = continuous_mask(factor_types_of(ground_truth_data),
                               factors.shape[1])
  if not continuous.any():
    return factors
  out = factors.astype(np.float64)
  out[:, continuous] = ground_truth_data.values_of_factors(
      factors)[:, continuous]
  return out


def sample_train_test(ground_truth_data, representation_fn: RepresentationFn,
                      num_train: int, num_test: int, random_state,
                      encode_batch_size: int = DEFAULT_ENCODE_BATCH_SIZE,
                      sampling_batch_size: int = DLIB_SAMPLING_BATCH_SIZE):
  """(codes_train, factors_train, codes_test, factors_test), train drawn first."""
  train = sample_codes_and_factors(ground_truth_data, representation_fn,
                                   num_train, random_state, encode_batch_size,
                                   sampling_batch_size)
  test = sample_codes_and_factors(ground_truth_data, representation_fn,
                                  num_test, random_state, encode_batch_size,
                                  sampling_batch_size)
  return train + test


# ---------------------------------------------------------------------------
# scikit-learn compatibility: today's defaults or those dlib was run with
# ---------------------------------------------------------------------------
# "current": the estimators as dlib's code constructs them, run with the pinned
#   scikit-learn (LogisticRegression() = lbfgs, multinomial; LinearSVC
#   dual="auto"). Identical to running dlib's code with that scikit-learn.
# "dlib": the defaults of scikit-learn < 0.22, which produced dlib's published
#   numbers: LogisticRegression() = liblinear, one-vs-rest, C=1 (intercept
#   regularised); LogisticRegressionCV one-vs-rest; LinearSVC dual=True.
SKLEARN_COMPAT_MODES = ("current", "dlib")
DEFAULT_SKLEARN_COMPAT = "current"


def check_sklearn_compat(sklearn_compat: str) -> str:
  if sklearn_compat not in SKLEARN_COMPAT_MODES:
    raise ValueError(
        f"sklearn_compat must be one of {', '.join(SKLEARN_COMPAT_MODES)} "
        f"('current': today's scikit-learn defaults, as dlib's code runs now; "
        f"'dlib': the pre-0.22 defaults behind dlib's published numbers), got "
        f"{sklearn_compat!r}")
  return sklearn_compat


def logistic_regression(sklearn_compat: str = DEFAULT_SKLEARN_COMPAT,
                        random_state=None):
  """``LogisticRegression()`` as dlib wrote it, under ``sklearn_compat``.

  'dlib': scikit-learn 0.21's default — liblinear with one binary fit per
  class (one-vs-rest; today's scikit-learn only offers liblinear per class
  via ``OneVsRestClassifier``, which computes the same per-class problems and
  the same normalised one-vs-rest probabilities).
  """
  from sklearn.linear_model import LogisticRegression

  if check_sklearn_compat(sklearn_compat) == "dlib":
    from sklearn.multiclass import OneVsRestClassifier
    return OneVsRestClassifier(
        LogisticRegression(solver="liblinear", C=1.0,
                           random_state=random_state))
  return LogisticRegression(random_state=random_state)


def logistic_regression_predictor_name(sklearn_compat: str) -> str:
  if check_sklearn_compat(sklearn_compat) == "dlib":
    return ("OneVsRestClassifier(LogisticRegression(solver='liblinear', "
            "C=1.0)) [scikit-learn < 0.22 LogisticRegression()]")
  return "LogisticRegression() [lbfgs, multinomial]"


# ---------------------------------------------------------------------------
# seeding of the gradient-boosted trees (dlib left them unseeded)
# ---------------------------------------------------------------------------
# dlib's GradientBoostingClassifier() (DCI, downstream boosted trees, fairness)
# has no random_state, so each fit draws from NumPy's global RNG. Even with
# all features and no subsampling the trees use it: the features are visited
# in a random order and ties between equally good splits (common late in
# boosting) go to the first one visited. So dlib's GBT scores change from run
# to run unless the global RNG happens to be seeded.
#   "per_fit"    (default) every fit gets ``gbt_seed`` (drawn from the metric's
#                RandomState after all samples, unless given); fits run in
#                parallel. Same samples as dlib; scores differ from a dlib run
#                only through that tie-breaking.
#   "sequential" ONE RandomState(gbt_seed) is consumed by the fits one after
#                the other in dlib's fit order, exactly as dlib's fits consume
#                the global RNG after ``np.random.seed(gbt_seed)``; the fits
#                then run serially. Bit-identical to such a dlib run.
GBT_SEEDINGS = ("per_fit", "sequential")


def resolve_gbt_seed(gbt_seeding: str, gbt_seed, random_state) -> int:
  """Checks ``gbt_seeding``; returns ``gbt_seed`` or one drawn from the
  metric's RandomState (call after all samples: dlib's stream is untouched)."""
  if gbt_seeding not in GBT_SEEDINGS:
    raise ValueError(f"gbt_seeding must be one of {', '.join(GBT_SEEDINGS)}, "
                     f"got {gbt_seeding!r}")
  if gbt_seed is None:
    return randint(random_state, 2**31 - 1)
  return check_count("gbt_seed", gbt_seed, 0)


def run_fits(fn: Callable, args_list: Sequence[tuple], gbt_seeding: str,
             n_jobs: Optional[int] = None,
             costs: Optional[Sequence[float]] = None) -> List[Any]:
  """``parallel_map`` (largest ``costs`` first) for "per_fit"; in order, in
  this process, for "sequential" (the fits share one RandomState, which must
  not be copied into worker processes)."""
  if gbt_seeding == "sequential":
    return [fn(*args) for args in args_list]
  return parallel_map(fn, args_list, n_jobs, costs)


def gbt_random_states(gbt_seeding: str, gbt_seed: int, num: int) -> list:
  """The ``random_state`` of each of ``num`` fits, in dlib's fit order."""
  if gbt_seeding == "sequential":
    shared = np.random.RandomState(gbt_seed)
    return [shared] * num
  return [int(gbt_seed)] * num


# ---------------------------------------------------------------------------
# the gradient-boosted classifier of DCI, downstream_task and fairness
# ---------------------------------------------------------------------------
# "gbt"      (default) dlib's ``GradientBoostingClassifier()``: exact splits,
#            100 stages of depth-3 trees, learning rate 0.1.
# "hist_gbt" opt-in fast path: scikit-learn's HistGradientBoostingClassifier
#            with the same capacity (100 iterations, learning rate 0.1, depth
#            3, at most 8 leaves, leaves of any size, no early stopping) but
#            with the features binned into at most 255 quantile bins, so each
#            split is searched over 255 candidates instead of every sample.
#            Its scores are close to, not equal to, the exact path's (see
#            docs/python-api.md, "Fast classifier", for the measured agreement).
CLASSIFIERS = ("gbt", "hist_gbt")
DEFAULT_CLASSIFIER = "gbt"
CLASSIFIER_MODELS = {
    "gbt": "GradientBoostingClassifier()",
    "hist_gbt": ("HistGradientBoostingClassifier(max_iter=100, "
                 "learning_rate=0.1, max_depth=3, max_leaf_nodes=8, "
                 "min_samples_leaf=1, early_stopping=False)"),
}


def check_classifier(classifier: str) -> str:
  if classifier not in CLASSIFIERS:
    raise ValueError(
        f"classifier must be one of {', '.join(CLASSIFIERS)} ('gbt': dlib's "
        "exact GradientBoostingClassifier, the default; 'hist_gbt': the "
        f"faster histogram gradient boosting), got {classifier!r}")
  return classifier


def gradient_boosting(classifier: str = DEFAULT_CLASSIFIER, random_state=None):
  """A fresh gradient-boosted classifier of kind ``classifier`` (CLASSIFIERS)."""
  if check_classifier(classifier) == "hist_gbt":
    from sklearn.ensemble import HistGradientBoostingClassifier
    return HistGradientBoostingClassifier(
        max_iter=100, learning_rate=0.1, max_depth=3, max_leaf_nodes=8,
        min_samples_leaf=1, early_stopping=False, random_state=random_state)
  from sklearn.ensemble import GradientBoostingClassifier
  return GradientBoostingClassifier(random_state=random_state)


def gradient_boosting_importances(model, num_features: int) -> np.ndarray:
  """|feature importances| [num_features] of a fitted gradient-boosted model.

  ``GradientBoostingClassifier.feature_importances_`` is the (sample-
  weighted) impurity decrease of each feature's splits summed per tree,
  averaged over the trees that split and normalised to sum 1.
  HistGradientBoostingClassifier has no such attribute; the same quantity is
  computed from its trees with the split gain (the decrease of its loss) in
  place of the impurity decrease (scikit-learn's tree arrays
  ``_predictors[stage][k].nodes``, fields ``feature_idx``, ``gain``,
  ``is_leaf``).
  """
  if hasattr(model, "feature_importances_"):
    return np.abs(np.asarray(model.feature_importances_, dtype=np.float64))
  total = np.zeros(num_features)
  num_trees = 0
  for stage in model._predictors:  # pylint: disable=protected-access
    for tree in stage:
      nodes = tree.nodes
      split = nodes["is_leaf"] == 0
      per_tree = np.bincount(nodes["feature_idx"][split].astype(np.int64),
                             weights=np.maximum(nodes["gain"][split], 0.0),
                             minlength=num_features).astype(np.float64)
      if per_tree.sum() > 0:  # trees without splits are left out, as sklearn
        total += per_tree
        num_trees += 1
  if num_trees == 0 or total.sum() == 0:
    return np.zeros(num_features)
  return total / total.sum()


def gradient_boosting_regressor(classifier: str = DEFAULT_CLASSIFIER,
                                random_state=None):
  """The regression twin of ``gradient_boosting`` (squared error), for
  factors declared continuous: GradientBoostingRegressor() or the histogram
  regressor with the same capacity."""
  if check_classifier(classifier) == "hist_gbt":
    from sklearn.ensemble import HistGradientBoostingRegressor
    return HistGradientBoostingRegressor(
        max_iter=100, learning_rate=0.1, max_depth=3, max_leaf_nodes=8,
        min_samples_leaf=1, early_stopping=False, random_state=random_state)
  from sklearn.ensemble import GradientBoostingRegressor
  return GradientBoostingRegressor(random_state=random_state)


REGRESSOR_MODELS = {
    "gbt": "GradientBoostingRegressor()",
    "hist_gbt": CLASSIFIER_MODELS["hist_gbt"].replace("Classifier",
                                                      "Regressor"),
}


def nrmse(y_true, y_pred, scale) -> float:
  """Root-mean-square error divided by ``scale`` (the factor's standard
  deviation in the training sample; 0 -> 1): 0 is a perfect prediction,
  about 1 predicting the mean."""
  scale = float(scale) if scale > 0 else 1.0
  return float(np.sqrt(np.mean((np.asarray(y_true) - y_pred) ** 2)) / scale)


def one_openmp_thread():
  """A context in which OpenMP code (the histogram GBT's fit and predict)
  runs on one thread.

  The histogram GBT parallelises with OpenMP over all cores, while the
  metrics already run their per-factor fits in one process per core
  (``parallel_map``); both at once oversubscribe the cores, and OpenMP's
  busy-waiting threads then starve each other (measured on a loaded 2-core
  machine: one 10000-point fit took 74 s with the default threads, 0.7 s
  with one). The exact GBT is single-threaded anyway.
  """
  from threadpoolctl import threadpool_limits

  return threadpool_limits(limits=1, user_api="openmp")
