"""JEMMIG (Do & Tran 2020, "Theory and evaluation metrics for learning
disentangled representations", ICLR, Sec. 4.2), as implemented in the review
of Carbonneau et al. (IEEE TNNLS 2022; reference:
ubisoft/ubisoft-laforge-disentanglement-metrics ``src/metrics/jemmig.py``).

Joint-Entropy-Minus-Mutual-Information Gap, per factor v_k with z_{j(1)},
z_{j(2)} the codes sharing the most and second-most information with it:

  JEMMIG(v_k) = H(v_k, z_{j(1)}) − I(v_k; z_{j(1)}) + I(v_k; z_{j(2)}),

0 for a perfect one-code-per-factor representation and at most
H(v_k) + log2(num_bins). As in the reference (and the paper's normalised
form), each is divided by H(v_k) + log2(num_bins) and the score is

  JEMMIG = 1 − 1/K Σ_k JEMMIG(v_k) / (H(v_k) + log2(num_bins)),

so that 1 is best. Entropies and MI are in bits on codes (and continuous
factors) binned into ``num_bins`` equal-width bins after min-max scaling
(``binned_information``); the best code is the reference's
``np.argsort(MI)[-1]`` (the last of equal MIs; so when two codes are
exactly equally informative about a factor — e.g. a copy of it and a finer
code that holds it and more — the order of the codes decides which joint
entropy is charged, as in the reference). Unlike MIG it also penalises
the best code for carrying information beyond the factor (the joint entropy
term), so a constant code or factor needs no special case. With a single
code the second-largest MI is 0 (the reference fails).
"""

from __future__ import annotations

from typing import Dict

import numpy as np

from tfdis.metrics import binned_information as bi
from tfdis.metrics import results, sampling

DEFAULTS = dict(num_train=10000, num_bins=bi.DEFAULT_NUM_BINS)


def jemmig_from_matrices(mutual_info: np.ndarray, joint_entropy: np.ndarray,
                         factor_entropy: np.ndarray, num_bins: int) -> float:
  """JEMMIG from MI and joint entropies [num_factors, num_codes] and factor
  entropies (bits), with codes binned into ``num_bins`` bins."""
  mi = np.asarray(mutual_info, dtype=np.float64)
  je = np.asarray(joint_entropy, dtype=np.float64)
  sum_gap = 0
  for f in range(mi.shape[0]):  # the reference's order of summation
    mi_f = np.sort(mi[f, :])
    best = np.argsort(mi[f, :])[-1]
    unnormalized = je[f, best] - mi_f[-1] + bi.second_largest(mi_f)
    sum_gap += 1 - unnormalized / (factor_entropy[f] + np.log2(num_bins))
  return float(sum_gap / mi.shape[0])


def jemmig_from_codes(codes, factors, *, factor_types=None,
                      num_bins: int = DEFAULTS["num_bins"]
                      ) -> Dict[str, float]:
  """``{"jemmig": JEMMIG}`` of codes [N, L] vs factors [N, K].

  ``factor_types``: "discrete"/"continuous" per factor column (None: all
  discrete). Equal to the reference ``jemmig(factors, codes,
  continuous_factors, nb_bins)`` with ``continuous_factors`` False (all
  discrete) or True (all continuous).
  """
  info, _, num_bins = bi.information(codes, factors, factor_types, num_bins)
  return {"jemmig": jemmig_from_matrices(info.mutual_info, info.joint_entropy,
                                         info.factor_entropy, num_bins)}


def compute_jemmig(ground_truth_data, representation_fn, random_state,
                   num_train: int = DEFAULTS["num_train"],
                   num_bins: int = DEFAULTS["num_bins"],
                   sampling_batch_size: int = sampling.DLIB_SAMPLING_BATCH_SIZE,
                   encode_batch_size: int = sampling.DEFAULT_ENCODE_BATCH_SIZE,
                   ) -> Dict:
  """JEMMIG on ``num_train`` sampled points (10000, as dlib's MIG; 10 bins).

  Sampled as dlib's MIG samples (the encode-once cache supplies the codes
  when the representation has one); continuous factor columns
  (``ground_truth_data.factor_types``) are binned as the codes are.
  """
  info, parameters = bi.sample_information(
      ground_truth_data, representation_fn, random_state, num_train,
      num_bins, sampling_batch_size, encode_batch_size)
  scores = {"jemmig": jemmig_from_matrices(
      info.mutual_info, info.joint_entropy, info.factor_entropy,
      parameters["num_bins"])}
  return results.make_result(scores, parameters, [], random_state)
