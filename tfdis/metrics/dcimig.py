"""DCIMIG (Sepliarskaia, Kiseleva & de Rijke 2019, "Evaluating disentangled
representations", arXiv:1910.05587, Sec. 4), as implemented in the review of
Carbonneau et al. (IEEE TNNLS 2022; reference:
ubisoft/ubisoft-laforge-disentanglement-metrics ``src/metrics/dcimig.py``).

Combines MIG's gap with DCI's view from the codes: for each code z_j, the gap
between the two factors it shares most information with,
R_j = I(v_{k(1)}; z_j) − I(v_{k(2)}; z_j), is credited to its best factor
k(1) only; each factor keeps the largest gap credited to it,
S_k = max_{j: k(1)=k} R_j (0 if none), and

  DCIMIG = Σ_k S_k / Σ_k H(v_k).

Mutual information is unnormalised, in bits, on codes (and continuous
factors) binned into ``num_bins`` equal-width bins after min-max scaling
(``binned_information``); ties between factors go to the first, as the
reference's ``np.argmax``. A dead (constant) code has zero MI with every
factor and credits a gap of 0, so unlike MIG-sup the reference needs no fix
for it. With a single factor the second-largest MI is 0 (the reference
fails); factors that are all constant in the sample (0/0 in the reference)
score 0 with a note.
"""

from __future__ import annotations

from typing import Dict

import numpy as np

from tfdis.metrics import binned_information as bi
from tfdis.metrics import results, sampling

DEFAULTS = dict(num_train=10000, num_bins=bi.DEFAULT_NUM_BINS)


def dcimig_from_matrix(mutual_info: np.ndarray,
                       factor_entropy: np.ndarray) -> float:
  """DCIMIG from MI [num_factors, num_codes] and factor entropies (bits)."""
  mi = np.array(mutual_info, dtype=np.float64)  # a copy: columns are replaced
  num_factors, num_codes = mi.shape
  for c in range(num_codes):
    mi_c = np.sort(mi[:, c])
    max_idx = np.argmax(mi[:, c])
    gap = mi_c[-1] - bi.second_largest(mi_c)
    mi[:, c] = mi[:, c] * 0
    mi[max_idx, c] = gap
  gap_sum = 0
  for f in range(num_factors):  # the reference's order of summation
    gap_sum += np.max(mi[f, :])
  entropy_sum = 0
  for f in range(num_factors):
    entropy_sum += factor_entropy[f]
  if entropy_sum == 0:
    return 0.0
  return float(gap_sum / entropy_sum)


def dcimig_from_codes(codes, factors, *, factor_types=None,
                      num_bins: int = DEFAULTS["num_bins"]
                      ) -> Dict[str, float]:
  """``{"dcimig": DCIMIG}`` of codes [N, L] vs factors [N, K].

  ``factor_types``: "discrete"/"continuous" per factor column (None: all
  discrete). Equal to the reference ``dcimig(factors, codes,
  continuous_factors, nb_bins)`` with ``continuous_factors`` False (all
  discrete) or True (all continuous).
  """
  info, _, _ = bi.information(codes, factors, factor_types, num_bins)
  return {"dcimig": dcimig_from_matrix(info.mutual_info, info.factor_entropy)}


def compute_dcimig(ground_truth_data, representation_fn, random_state,
                   num_train: int = DEFAULTS["num_train"],
                   num_bins: int = DEFAULTS["num_bins"],
                   sampling_batch_size: int = sampling.DLIB_SAMPLING_BATCH_SIZE,
                   encode_batch_size: int = sampling.DEFAULT_ENCODE_BATCH_SIZE,
                   ) -> Dict:
  """DCIMIG on ``num_train`` sampled points (10000, as dlib's MIG; 10 bins).

  Sampled as dlib's MIG samples (the encode-once cache supplies the codes
  when the representation has one); continuous factor columns
  (``ground_truth_data.factor_types``) are binned as the codes are.
  """
  info, parameters = bi.sample_information(
      ground_truth_data, representation_fn, random_state, num_train,
      num_bins, sampling_batch_size, encode_batch_size)
  notes = []
  if not np.any(info.factor_entropy > 0):
    notes.append("every factor is constant in the sample: DCIMIG is 0/0 "
                 "(NaN in the reference) and reported as 0")
  scores = {"dcimig": dcimig_from_matrix(info.mutual_info,
                                         info.factor_entropy)}
  return results.make_result(scores, parameters, notes, random_state)
