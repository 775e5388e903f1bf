"""MIG-sup (Li, Murkute, Gyawali & Wang 2020, "Progressive learning and
disentanglement of hierarchical representations", ICLR, Sec. 4), as
implemented in the review of Carbonneau et al. (IEEE TNNLS 2022; reference:
ubisoft/ubisoft-laforge-disentanglement-metrics ``src/metrics/mig_sup.py``).

MIG measures, per factor, the gap between the two codes most informative
about it (compactness); MIG-sup turns it around and measures, per code, the
gap between the two factors it is most informative about (modularity):

  MIG-sup = 1/L Σ_j (I_n(v_{k(1)}; z_j) − I_n(v_{k(2)}; z_j)),

where I_n is the mutual information normalised by an entropy and k(1), k(2)
are the factors with the largest and second-largest I_n for code z_j. Codes
and continuous factors are discretised into ``num_bins`` equal-width bins
after min-max scaling (see ``binned_information``); information is in bits.

Normalisation (``normalization``): the reference divides I(v_k; z_j) by the
entropy of the CODE, H(z_j) (pyitlib ``information_mutual_normalised`` with
``norm_factor='Y'``, Y = the code) — the default here, for equality with the
reference. Li et al.'s own code (Zhiyuan1991/proVLAE ``metric_MIG.py``)
divides by the entropy of the FACTOR, as MIG does (the log of its number of
values: its entropy over the full dataset), and averages over the active
codes only; ``normalization="factor"`` divides by the factor's entropy in
the sample (and still averages over all codes).

Reference bug fixed: a constant code (a dead latent, common in VAEs) has
H(z_j) = 0, the reference computes 0/0 = NaN for its normalised MIs, and
the whole score becomes NaN. A constant code carries no information about any
factor, so here its normalised MIs are 0 and it adds a gap of 0 to the mean
over all codes (``dead_codes="zero"``, the default, recorded in the result's
notes); ``dead_codes="nan"`` reproduces the reference. A factor constant in
the sample under ``normalization="factor"`` likewise has normalised MI 0.
With a single factor, the second-largest MI is taken as 0 (the reference
fails).
"""

from __future__ import annotations

from typing import Dict

import numpy as np

from tfdis.metrics import binned_information as bi
from tfdis.metrics import results, sampling
from tfdis.registry import check_choice

DEFAULTS = dict(num_train=10000, num_bins=bi.DEFAULT_NUM_BINS,
                normalization="code", dead_codes="zero")
NORMALIZATIONS = ("code", "factor")
DEAD_CODES = ("zero", "nan")


def check_options(normalization: str, dead_codes: str) -> None:
  """``normalization``: 'code' divides by H(code), the reference; 'factor'
  by H(factor), Li et al.'s code. ``dead_codes``: 'zero', a constant code
  scores a gap of 0; 'nan', the reference's NaN."""
  check_choice("normalization", normalization, NORMALIZATIONS,
               error=bi.MetricInputError)
  check_choice("dead_codes", dead_codes, DEAD_CODES,
               error=bi.MetricInputError)


def mig_sup_from_matrix(mutual_info: np.ndarray, factor_entropy: np.ndarray,
                        code_entropy: np.ndarray, normalization: str = "code",
                        dead_codes: str = "zero") -> float:
  """MIG-sup from MI [num_factors, num_codes] (bits) and the entropies."""
  check_options(normalization, dead_codes)
  mi = np.asarray(mutual_info, dtype=np.float64)
  if normalization == "code":
    denominator = np.broadcast_to(np.asarray(code_entropy)[None, :], mi.shape)
  else:
    denominator = np.broadcast_to(np.asarray(factor_entropy)[:, None],
                                  mi.shape)
  with np.errstate(divide="ignore", invalid="ignore"):
    normalized = mi / denominator
  if dead_codes == "zero":
    # 0/0 of a constant variable: it carries no information.
    normalized = np.where(denominator > 0, normalized, 0.0)
  sum_gap = 0
  for c in range(mi.shape[1]):  # the reference's order of summation
    mi_c = np.sort(normalized[:, c])
    sum_gap += mi_c[-1] - bi.second_largest(mi_c)
  return float(sum_gap / mi.shape[1])


def mig_sup_from_codes(codes, factors, *, factor_types=None,
                       num_bins: int = DEFAULTS["num_bins"],
                       normalization: str = DEFAULTS["normalization"],
                       dead_codes: str = DEFAULTS["dead_codes"]
                       ) -> Dict[str, float]:
  """``{"mig_sup": MIG-sup}`` of codes [N, L] vs factors [N, K].

  ``factor_types``: "discrete"/"continuous" per factor column (None: all
  discrete); continuous columns are binned like the codes. Equal to the
  reference ``mig_sup(factors, codes, continuous_factors, nb_bins)`` with
  ``continuous_factors`` False (all discrete) or True (all continuous) when
  no code is constant (or with ``dead_codes="nan"``).
  """
  info, _, _ = bi.information(codes, factors, factor_types, num_bins)
  return {"mig_sup": mig_sup_from_matrix(
      info.mutual_info, info.factor_entropy, info.code_entropy,
      normalization, dead_codes)}


def compute_mig_sup(ground_truth_data, representation_fn, random_state,
                    num_train: int = DEFAULTS["num_train"],
                    num_bins: int = DEFAULTS["num_bins"],
                    normalization: str = DEFAULTS["normalization"],
                    dead_codes: str = DEFAULTS["dead_codes"],
                    sampling_batch_size: int = (
                        sampling.DLIB_SAMPLING_BATCH_SIZE),
                    encode_batch_size: int = sampling.DEFAULT_ENCODE_BATCH_SIZE,
                    ) -> Dict:
  """MIG-sup on ``num_train`` sampled points (10000, as dlib's MIG; 10 bins).

  Points are drawn as dlib's MIG draws them (``sampling_batch_size`` per
  ``sample`` call) and their codes come through the encode-once cache when
  the representation has one. Continuous factor columns
  (``ground_truth_data.factor_types``) are binned as the codes are.
  """
  check_options(normalization, dead_codes)  # before any sampling
  info, parameters = bi.sample_information(
      ground_truth_data, representation_fn, random_state, num_train,
      num_bins, sampling_batch_size, encode_batch_size)
  scores = {"mig_sup": mig_sup_from_matrix(
      info.mutual_info, info.factor_entropy, info.code_entropy,
      normalization, dead_codes)}
  parameters.update(normalization=normalization, dead_codes=dead_codes)
  return results.make_result(scores, parameters,
                             notes_for(info, normalization, dead_codes),
                             random_state)


def notes_for(info: bi.BinnedInformation, normalization: str,
              dead_codes: str) -> list:
  notes = []
  dead = int(np.sum(info.code_entropy == 0))
  if dead and dead_codes == "zero":
    notes.append(
        f"{dead} constant code(s) scored a gap of 0 (the reference "
        "implementation gives NaN for the whole score: 0/0 in its "
        "normalisation by the code's entropy; dead_codes='nan' reproduces it)")
  if normalization == "factor":
    notes.append("mutual information normalised by the factor's entropy "
                 "(Li et al.'s code), not the code's (the reference review's)")
  return notes
