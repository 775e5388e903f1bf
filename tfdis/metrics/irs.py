"""Interventional Robustness Score (Suter et al. 2019, "Robustly disentangled
causal mechanisms: validating deep representations for interventional
robustness", Sec. 4 / Alg. 1; dlib ``irs.py``).

For factor i and each of its values v: e = E[z | f_i = v]; the deviation of
each code within that group is the ``diff_quantile`` quantile of |z − e|;
averaged over the values -> cum_dev[code, i]. IRS matrix = 1 − cum_dev /
max_dev with max_dev[code] = max |z − E[z]|; per-code score = row max; IRS =
average of the per-code scores weighted by max_dev.
"""

from __future__ import annotations

from typing import Dict

import numpy as np

from tfdis.checks import check_count
from tfdis.metrics import information, results, sampling, validation
from tfdis.metrics.factor_types import factor_type_parameters, factor_types_of

DEFAULTS = dict(num_train=10000, diff_quantile=0.99, num_bins=20)

NUM_ACTIVE_DIMS_FIX = (
    "num_active_dims counts the non-constant codes (dlib summed the code "
    "values of the active dimensions instead)")


def irs_matrix(factors_d: np.ndarray, codes: np.ndarray,
               diff_quantile: float = 0.99):
  """(IRS matrix [num_codes, num_factors], max_dev [num_codes]).

  ``factors_d``: discrete factors [N, K]; ``codes``: active codes [N, d].
  """
  max_dev = np.max(np.abs(codes - codes.mean(axis=0)), axis=0)
  cum_dev = np.zeros((codes.shape[1], factors_d.shape[1]))
  for i in range(factors_d.shape[1]):
    values = np.unique(factors_d[:, i])
    for v in values:  # loops over factor values, not samples
      group = codes[factors_d[:, i] == v]
      diffs = np.abs(group - group.mean(axis=0))
      cum_dev[:, i] += np.percentile(diffs, q=diff_quantile * 100, axis=0)
    cum_dev[:, i] /= len(values)
  # Active codes have max_dev > 0 (they are not constant).
  return 1.0 - cum_dev / max_dev[:, None], max_dev


def irs_from_codes(codes, factors, diff_quantile: float = 0.99,
                   num_bins: int = 20, *, factor_types=None
                   ) -> Dict[str, float]:
  """``IRS`` and ``num_active_dims`` (the number of non-constant codes).

  Factors are histogram-discretised into ``num_bins`` bins (dlib), constant
  codes dropped; no active code -> IRS 0. Continuous factors
  (``factor_types``) are given as values and discretised the same way.
  """
  codes, factors = validation.check_codes_factors(codes, factors,
                                                  factor_types=factor_types)
  if not 0.0 <= float(diff_quantile) <= 1.0:
    raise ValueError(f"diff_quantile must be in [0, 1], got {diff_quantile}")
  factors_d = information.discretize(factors, num_bins)
  active = codes.var(axis=0) > 0.0
  num_active = int(active.sum())
  if num_active == 0:
    return {"IRS": 0.0, "num_active_dims": 0.0}
  matrix, max_dev = irs_matrix(factors_d, codes[:, active], diff_quantile)
  per_code = matrix.max(axis=1)
  if max_dev.sum() > 0.0:
    score = np.average(per_code, weights=max_dev)
  else:
    score = np.mean(per_code)
  return {"IRS": float(score), "num_active_dims": float(num_active)}


def compute_irs(ground_truth_data, representation_fn, random_state,
                num_train: int = DEFAULTS["num_train"],
                diff_quantile: float = DEFAULTS["diff_quantile"],
                num_bins: int = DEFAULTS["num_bins"],
                sampling_batch_size: int = sampling.DLIB_SAMPLING_BATCH_SIZE,
                encode_batch_size: int = sampling.DEFAULT_ENCODE_BATCH_SIZE,
                ) -> Dict:
  """IRS with dlib's defaults (10000 points, 0.99 quantile, 20 factor bins,
  sampled as dlib does in chunks of ``sampling_batch_size``).

  Fixes dlib's ``num_active_dims`` (see ``NUM_ACTIVE_DIMS_FIX``); the fix is
  recorded in the result's ``notes``.
  """
  num_train = check_count("num_train", num_train, 2)
  rs = sampling.as_random_state(random_state)
  codes, factors = sampling.sample_codes_and_factors(
      ground_truth_data, representation_fn, num_train, rs, encode_batch_size,
      sampling_batch_size)
  factor_types = factor_types_of(ground_truth_data)
  scores = irs_from_codes(codes, factors, diff_quantile, num_bins,
                          factor_types=factor_types)
  return results.make_result(
      scores, dict(num_train=num_train, diff_quantile=float(diff_quantile),
                   num_bins=int(num_bins),
                   sampling_batch_size=int(sampling_batch_size),
                   **factor_type_parameters(factor_types,
                                            factors.shape[1])),
      [NUM_ACTIVE_DIMS_FIX], random_state)
