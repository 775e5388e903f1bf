"""Discretisation and discrete information: dlib's histogram binning, mutual
information and entropy (nats) between discrete columns, rows = samples."""

from __future__ import annotations

import numpy as np
import sklearn.metrics

from tfdis.checks import check_count
from tfdis.metrics.factor_types import continuous_mask
from tfdis.metrics.validation import check_factors


def discretize(codes, num_bins: int = 20) -> np.ndarray:
  """Histogram-discretises each column into ``num_bins`` equal-width bins.

  dlib ``utils._histogram_discretize``: edges = ``np.histogram(column,
  num_bins)[1]``; value = ``np.digitize(column, edges[:-1])`` in
  1..num_bins. A constant column maps to a single bin. Returns int64 with the
  input's shape ([N, num_columns]).
  """
  check_count("num_bins", num_bins)
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
