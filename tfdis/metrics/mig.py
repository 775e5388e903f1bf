"""Mutual Information Gap (Chen et al. 2018, "Isolating sources of
disentanglement in VAEs", Eq. 6; dlib ``mig.py``).

MIG = 1/K Σ_j (I(c_{j(1)}; f_j) − I(c_{j(2)}; f_j)) / H(f_j), with the mutual
information estimated on histogram-discretised codes (20 bins) and j(1), j(2)
the codes with the largest and second-largest MI with factor j.

MIG is defined on discrete factors (Chen et al. estimate H(f_j) and
I(c; f_j) over the factor's values): a factor declared continuous is
histogram-discretised like the codes (``num_bins`` equal-width bins).
"""

from __future__ import annotations

from typing import Dict

import numpy as np

from tfdis.checks import check_count
from tfdis.metrics import information, results, sampling, validation
from tfdis.metrics.factor_types import factor_type_parameters, factor_types_of

DEFAULTS = dict(num_train=10000, num_bins=20)


def mig_from_mutual_info(mutual_info: np.ndarray,
                         entropy: np.ndarray) -> float:
  """MIG from an MI matrix [num_codes, num_factors] and factor entropies.

  A factor with zero entropy in the sample (constant) has an undefined gap
  (0/0 in dlib, giving NaN); it is left out of the mean. With a single code the
  second-largest MI is 0.
  """
  m = np.asarray(mutual_info, dtype=np.float64)
  entropy = np.asarray(entropy, dtype=np.float64)
  sorted_m = np.sort(m, axis=0)[::-1]
  second = sorted_m[1] if m.shape[0] > 1 else np.zeros(m.shape[1])
  valid = entropy > 0
  if not valid.any():
    return 0.0
  return float(np.mean((sorted_m[0][valid] - second[valid]) / entropy[valid]))


def mig_from_codes(codes, factors, num_bins: int = 20, *,
                   factor_types=None) -> Dict[str, float]:
  """``{"discrete_mig": MIG}`` of codes [N, num_codes] vs factors [N, K].

  ``factor_types``: "discrete"/"continuous" per factor (None: all
  discrete); continuous columns (values) are discretised into ``num_bins``.
  """
  codes, factors = validation.check_codes_factors(codes, factors,
                                                  factor_types=factor_types)
  factors = information.discretize_factors(factors, factor_types, num_bins)
  m = information.discrete_mutual_info(information.discretize(codes, num_bins),
                                       factors)
  entropy = information.discrete_entropy(factors)
  return {"discrete_mig": mig_from_mutual_info(m, entropy)}


def compute_mig(ground_truth_data, representation_fn, random_state,
                num_train: int = DEFAULTS["num_train"],
                num_bins: int = DEFAULTS["num_bins"],
                sampling_batch_size: int = sampling.DLIB_SAMPLING_BATCH_SIZE,
                encode_batch_size: int = sampling.DEFAULT_ENCODE_BATCH_SIZE,
                ) -> Dict:
  """MIG on ``num_train`` sampled points (dlib defaults: 10000 points, 20 bins).

  Points are drawn as dlib draws them (``sampling_batch_size`` per
  ``sample`` call, dlib's ``batch_size=16``), so the same seed gives dlib's
  sample; ``encode_batch_size`` images go into each encoder call (the score
  does not depend on it).
  """
  num_train = check_count("num_train", num_train, 2)
  rs = sampling.as_random_state(random_state)
  codes, factors = sampling.sample_codes_and_factors(
      ground_truth_data, representation_fn, num_train, rs, encode_batch_size,
      sampling_batch_size)
  factor_types = factor_types_of(ground_truth_data)
  scores = mig_from_codes(codes, factors, num_bins, factor_types=factor_types)
  notes = []
  if (information.discrete_entropy(information.discretize_factors(
      factors, factor_types, num_bins)) == 0).any():
    notes.append("factors constant in the sample were left out of the mean")
  if "continuous" in factor_types:
    notes.append("continuous factors were histogram-discretised into "
                 "num_bins bins (MIG is defined on discrete factors)")
  return results.make_result(
      scores, dict(num_train=num_train, num_bins=int(num_bins),
                   sampling_batch_size=int(sampling_batch_size),
                   **factor_type_parameters(factor_types,
                                            factors.shape[1])), notes,
      random_state)
