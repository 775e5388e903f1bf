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


def check_factors(factors, num_samples: Optional[int] = None,
                  name: str = "factors") -> np.ndarray:
  """int64 [N, num_factors] factor indices."""
  factors = np.asarray(factors)
  if factors.ndim != 2:
    raise ValueError(
        f"{name} must be 2-D [num_samples, num_factors] of factor indices "
        f"(rows are samples), got shape {factors.shape}")
  if factors.dtype.kind == "f":
    if not np.all(factors == np.round(factors)):
      raise ValueError(
          f"{name} must hold integer factor indices; got non-integral values "
          "(discretize continuous factors first, e.g. with "
          "tfdis.metrics.discretize).")
  elif factors.dtype.kind not in "iub":
    raise ValueError(f"{name} must be integer factor indices, got "
                     f"dtype {factors.dtype}")
  factors = factors.astype(np.int64)
  if num_samples is not None and factors.shape[0] != num_samples:
    raise ValueError(
        f"{name} has {factors.shape[0]} rows but the codes have {num_samples}; "
        "rows are samples and must match.")
  return factors


def check_codes_factors(codes, factors, suffix: str = ""
                        ) -> Tuple[np.ndarray, np.ndarray]:
  codes = check_codes(codes, "codes" + suffix)
  factors = check_factors(factors, codes.shape[0], "factors" + suffix)
  return codes, factors


def check_train_test(codes_train, factors_train, codes_test, factors_test):
  codes_train, factors_train = check_codes_factors(codes_train, factors_train,
                                                   "_train")
  codes_test, factors_test = check_codes_factors(codes_test, factors_test,
                                                 "_test")
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
def resolve_n_jobs(n_jobs: Optional[int]) -> int:
  """None or -1 -> every core; a positive int is taken as is."""
  cores = os.cpu_count() or 1
  if n_jobs is None or int(n_jobs) == -1:
    return cores
  n_jobs = int(n_jobs)
  if n_jobs == 0:
    raise ValueError("n_jobs must be a positive int, -1 or None (all cores)")
  return max(1, cores + 1 + n_jobs) if n_jobs < 0 else n_jobs


def parallel_map(fn: Callable, args_list: Sequence[tuple],
                 n_jobs: Optional[int] = None) -> List[Any]:
  """``[fn(*args) for args in args_list]``, in parallel processes (joblib).

  The per-factor fits of DCI, SAP, explicitness, downstream and fairness are
  independent; scikit-learn's GBT holds the GIL between trees, so processes
  (loky) rather than threads. Results come back in input order, and every
  fit has its own fixed seed, so scores do not depend on ``n_jobs``.
  """
  workers = min(resolve_n_jobs(n_jobs), len(args_list))
  if workers <= 1:
    return [fn(*args) for args in args_list]
  import joblib
  return joblib.Parallel(n_jobs=workers)(
      joblib.delayed(fn)(*args) for args in args_list)


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
  keys ``parameters`` (sample counts, bins, predictor, seed, ...; the seed is
  recorded when ``random_state`` was given as an int),
  ``versions`` (numpy/scipy/scikit-learn) and ``notes`` (fixes of dlib bugs
  and other caveats, possibly empty) say how they were produced.
  """
  out: Dict[str, Any] = {}
  for key, value in scores.items():
    if key in RESERVED_KEYS:
      raise ValueError(f"score key {key!r} is reserved")
    out[key] = float(value)
  out["parameters"] = dict(parameters)
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
# sampling
# ---------------------------------------------------------------------------
def as_random_state(random_state) -> np.random.RandomState:
  """An int seed, None, a RandomState or a Generator -> one RNG object.

  Wrappers call this once so that successive draws (train, then test) differ;
  passing an int to every ``sample_factors`` call would repeat the draw.
  """
  if isinstance(random_state, (np.random.RandomState, np.random.Generator)):
    return random_state
  return np.random.RandomState(random_state)


def randint(random_state, high: int) -> int:
  """One uniform integer in [0, high) from either numpy RNG flavour."""
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


def encode_factors(ground_truth_data, representation_fn: RepresentationFn,
                   factors: np.ndarray, random_state,
                   encode_batch_size: int = DEFAULT_ENCODE_BATCH_SIZE
                   ) -> np.ndarray:
  """Renders factor rows chunk by chunk and encodes them (codes [N, d]).

  Only one chunk of images is in memory at a time.
  """
  encode_batch_size = check_encode_batch_size(encode_batch_size)
  chunks = []
  for start in range(0, len(factors), encode_batch_size):
    obs = ground_truth_data.sample_observations_from_factors(
        factors[start:start + encode_batch_size], random_state)
    chunks.append(_call(representation_fn, obs))
  return np.concatenate(chunks, axis=0)


def sample_codes_and_factors(ground_truth_data,
                             representation_fn: RepresentationFn,
                             num_points: int, random_state,
                             encode_batch_size: int = DEFAULT_ENCODE_BATCH_SIZE
                             ) -> Tuple[np.ndarray, np.ndarray]:
  """(codes [N, d], factors [N, K]) for N uniform factor rows.

  dlib ``utils.generate_batch_factor_code`` with rows = samples and large
  encoder batches.
  """
  num_points = check_count("num_points", num_points, 1)
  factors = ground_truth_data.sample_factors(num_points, random_state)
  codes = encode_factors(ground_truth_data, representation_fn, factors,
                         random_state, encode_batch_size)
  return codes, factors


def points_per_chunk(group_size: int, encode_batch_size: int) -> int:
  """How many groups of ``group_size`` images go into one encoder call."""
  return max(1, int(encode_batch_size) // int(group_size))


def sample_train_test(ground_truth_data, representation_fn: RepresentationFn,
                      num_train: int, num_test: int, random_state,
                      encode_batch_size: int = DEFAULT_ENCODE_BATCH_SIZE):
  """(codes_train, factors_train, codes_test, factors_test), train drawn first."""
  train = sample_codes_and_factors(ground_truth_data, representation_fn,
                                   num_train, random_state, encode_batch_size)
  test = sample_codes_and_factors(ground_truth_data, representation_fn,
                                  num_test, random_state, encode_batch_size)
  return train + test
