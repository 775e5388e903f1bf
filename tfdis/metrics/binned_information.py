"""Histogram information estimates of the Carbonneau et al. review (bits).

Shared by MIG-sup, DCIMIG and JEMMIG (``mig_sup.py``, ``dcimig.py``,
``jemmig.py``), which follow the reference implementations collected by
Carbonneau et al., "Measuring Disentanglement: A Review of Metrics" (IEEE
TNNLS 2022; code: ubisoft/ubisoft-laforge-disentanglement-metrics,
``src/metrics/`` and ``src/utils.py``). Those compute, per pair of columns,
plug-in (maximum-likelihood) entropies in bits with ``pyitlib``; this module
computes the same quantities with NumPy alone, in the same arithmetic order,
so that the scores agree to the last bit or nearly so (tested against the
reference to 1e-12) and the argmax/argsort choices among equal mutual
informations are the reference's.

Discretisation (``bin_index``): each column is min-max scaled to [0, 1] by
``sklearn.preprocessing.minmax_scale`` and cut into ``num_bins`` equal-width
bins, ``np.digitize(x, linspace(0, 1, num_bins + 1)[:-1])`` -> 1 .. num_bins
(the maximum lands in the last bin, a constant column in bin 1). dlib's
``utils._histogram_discretize`` (``tfdis.metrics.discretize``, used by MIG,
modularity and IRS) cuts the same equal-width bins from ``np.histogram``'s
edges over the raw values instead; the two agree except for points within
rounding of a bin edge, so the three metrics here use the reference's form.
Their default is 10 bins (the review's ``config.py``), dlib's MIG uses 20.
Codes are scaled in float64 (the reference scales float32 codes in float32,
which can move a point lying within float32 rounding of a bin edge).

Information estimates: the review reports bits (``pyitlib``'s base 2), and
JEMMIG adds ``log2(num_bins)`` to an entropy, so the unit matters there.
``tfdis.metrics.discrete_mutual_info`` / ``discrete_entropy`` compute the
same plug-in estimates in nats with ``sklearn.metrics.mutual_info_score``;
they are not reused because their rounding differs from pyitlib's
``H(X) - (H(X, Y) - H(Y))`` and so can break ties differently.

Factors: a column declared ``"continuous"`` in ``factor_types`` is discretised
like the codes (the reference's ``continuous_factors=True``, which it applies
to every column); a ``"discrete"`` column (the default for all; tfdis
datasets give factor indices) is used as it is (``continuous_factors=False``).
pyitlib would treat the value -1 of a discrete factor as a missing
observation; here every value is an ordinary symbol (tfdis factor indices
are never negative, so the results agree).
"""

from __future__ import annotations

from typing import Optional, Sequence, Tuple

import numpy as np

from tfdis.checks import check_count
from tfdis.errors import UserError
from tfdis.metrics import sampling, validation
from tfdis.metrics.factor_types import check_factor_types, factor_types_of

# The review's default (src/experiments/config.py: nb_bins=10 for all three).
DEFAULT_NUM_BINS = 10


class MetricInputError(UserError, ValueError):
  """Arrays or options a metric cannot score; the message says how to fix it."""


def check_num_bins(num_bins) -> int:
  """The number of equal-width bins each code is cut into (the review's
  default: DEFAULT_NUM_BINS), at least 2."""
  return check_count("num_bins", num_bins, 2, error=MetricInputError)


def check_arrays(codes, factors, factor_types
                 ) -> Tuple[np.ndarray, np.ndarray, Tuple[str, ...]]:
  """(codes float64 [N, L], factors [N, K], factor types) after checks.

  Discrete factor columns must hold integers (factor indices or labels);
  continuous ones any finite values.
  """
  try:
    codes = validation.check_codes(codes)
  except ValueError as e:
    raise MetricInputError(str(e)) from None
  factors = np.asarray(factors)
  if factors.ndim != 2 or factors.shape[0] != codes.shape[0]:
    raise MetricInputError(
        f"factors must be 2-D [num_samples, num_factors] with one row per "
        f"row of codes ({codes.shape[0]}), got shape {factors.shape}")
  types = check_factor_types(factor_types, factors.shape[1])
  discrete = [j for j, t in enumerate(types) if t == "discrete"]
  if discrete:
    try:
      validation.check_factors(factors[:, discrete], codes.shape[0])
    except ValueError as e:
      raise MetricInputError(
          f"{e} (columns declared 'discrete' in factor_types; declare "
          "real-valued factors 'continuous' to have them binned)") from None
  if len(discrete) < len(types):
    if factors.dtype.kind not in "iufb" or not np.all(
        np.isfinite(factors.astype(np.float64))):
      raise MetricInputError(
          "continuous factor columns must hold finite numbers")
  return codes, factors, types


def bin_index(x: np.ndarray, num_bins: int) -> np.ndarray:
  """Equal-width bin (1 .. num_bins) of each value after per-column min-max
  scaling; the reference's ``get_bin_index(minmax_scale(x), nb_bins)``."""
  from sklearn.preprocessing import minmax_scale

  edges = np.linspace(0, 1, num_bins + 1)
  return np.digitize(minmax_scale(x), edges[:-1], right=False).astype(int)


def discretize_factors(factors: np.ndarray, factor_types: Sequence[str],
                       num_bins: int) -> np.ndarray:
  """Integer factor columns: continuous ones binned, discrete ones kept."""
  out = np.empty(factors.shape, dtype=np.int64)
  continuous = [j for j, t in enumerate(factor_types) if t == "continuous"]
  discrete = [j for j, t in enumerate(factor_types) if t == "discrete"]
  if continuous:
    out[:, continuous] = bin_index(
        factors[:, continuous].astype(np.float64), num_bins)
  if discrete:
    out[:, discrete] = np.round(factors[:, discrete]).astype(np.int64)
  return out


def _dense(column: np.ndarray) -> Tuple[np.ndarray, int]:
  """Values -> 0 .. n-1 in sorted order (pyitlib sorts symbols the same way)."""
  values, inverse = np.unique(column, return_inverse=True)
  return inverse.reshape(-1), len(values)


def _entropy_of_counts(counts: np.ndarray) -> float:
  """pyitlib's ML entropy in bits: P = counts / N (symbols in sorted order),
  H = -sum(P log2(P + spacing(0))) / log2(2)."""
  p = counts / (1.0 * np.sum(counts))
  return float(-np.sum(p * np.log2(p + np.spacing(0)), axis=-1) / np.log2(2))


def entropy_bits(column: np.ndarray) -> float:
  """Plug-in entropy (bits) of one discrete column."""
  return _entropy_of_counts(np.unique(column, return_counts=True)[1])


class BinnedInformation:
  """Entropies, joint entropies and mutual informations (bits) between
  discrete factor columns and discrete code columns, computed once.

  ``mutual_info[f, c] = H(f) - (H(f, c) - H(c))`` (pyitlib's
  ``information_mutual``), ``joint_entropy[f, c] = H(f, c)``; matrices are
  [num_factors, num_codes] as in the reference.
  """

  def __init__(self, factors_d: np.ndarray, codes_d: np.ndarray):
    num_factors, num_codes = factors_d.shape[1], codes_d.shape[1]
    dense_f = [_dense(factors_d[:, f]) for f in range(num_factors)]
    dense_c = [_dense(codes_d[:, c]) for c in range(num_codes)]
    self.factor_entropy = np.array(
        [_entropy_of_counts(np.bincount(v)) for v, _ in dense_f])
    self.code_entropy = np.array(
        [_entropy_of_counts(np.bincount(v)) for v, _ in dense_c])
    self.joint_entropy = np.zeros((num_factors, num_codes))
    for f, (fv, nf) in enumerate(dense_f):
      for c, (cv, _) in enumerate(dense_c):
        # pyitlib orders joint symbols by the code first, then the factor;
        # a bincount over code * nf + factor visits them in that order.
        counts = np.bincount(cv * nf + fv)
        self.joint_entropy[f, c] = _entropy_of_counts(counts[counts > 0])
    self.mutual_info = self.factor_entropy[:, None] - (
        self.joint_entropy - self.code_entropy[None, :])


def information(codes, factors, factor_types, num_bins
                ) -> Tuple[BinnedInformation, Tuple[str, ...], int]:
  """Checks the inputs, discretises them and returns their information."""
  codes, factors, types = check_arrays(codes, factors, factor_types)
  num_bins = check_num_bins(num_bins)
  factors_d = discretize_factors(factors, types, num_bins)
  codes_d = bin_index(codes, num_bins)
  return BinnedInformation(factors_d, codes_d), types, num_bins


def second_largest(sorted_values: np.ndarray) -> float:
  """The second entry from the end of an ascending array; 0 when there is
  only one (the reference indexes [-2] and fails on a single column)."""
  return float(sorted_values[-2]) if len(sorted_values) > 1 else 0.0


def sample_information(ground_truth_data, representation_fn, random_state,
                       num_train: int, num_bins: int,
                       sampling_batch_size: int, encode_batch_size: int):
  """The sampling half of MIG-sup, DCIMIG and JEMMIG's wrappers.

  ``num_train`` points drawn as dlib's MIG draws them (the encode-once cache
  supplies the codes when the representation has one), binned with the
  dataset's factor types. Returns (``BinnedInformation``, the result's
  parameters).
  """
  num_train = check_count("num_train", num_train, 2)
  check_num_bins(num_bins)  # bad options fail before any sampling
  rs = sampling.as_random_state(random_state)
  codes, factors = sampling.sample_codes_and_factors(
      ground_truth_data, representation_fn, num_train, rs, encode_batch_size,
      sampling_batch_size)
  info, types, num_bins = information(
      codes, factors, factor_types_of(ground_truth_data), num_bins)
  return info, dict(num_train=num_train, num_bins=num_bins,
                    factor_types=list(types),
                    sampling_batch_size=int(sampling_batch_size))
