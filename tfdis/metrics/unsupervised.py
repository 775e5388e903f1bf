"""Unsupervised scores of a representation (Locatello et al. 2019, Sec. 5 /
appendix; dlib ``unsupervised_metrics.py``): Gaussian total correlation,
Gaussian Wasserstein dependency and the mean pairwise discrete MI of codes.

With C = cov(codes):
- gaussian_total_correlation = ½ (Σ_i log C_ii − log det C) — the KL between
  N(0, C) and N(0, diag C);
- gaussian_wasserstein_correlation = 2 tr C − 2 tr sqrtm(C ⊙ c), c[i, j] = C_ii
  — the squared 2-Wasserstein distance between the same two Gaussians;
  ``_norm`` divides it by tr C;
- mutual_info_score = Σ_{i≠j} I(c_i; c_j) / (d² − d) on 20-bin codes.
"""

from __future__ import annotations

from typing import Dict

import numpy as np
import scipy.linalg

from tfdis.checks import check_count
from tfdis.metrics import information, results, sampling, validation

DEFAULTS = dict(num_train=10000, num_bins=20)

CONSTANT_CODES_FIX = (
    "constant codes are left out of the Gaussian scores (their log-variance "
    "is -inf and made dlib's scores NaN); an independent constant contributes "
    "nothing to either score")


def gaussian_total_correlation(cov) -> float:
  """½ (Σ log diag C − log det C); +inf for a singular C of non-zero variances."""
  cov = np.asarray(cov, dtype=np.float64)
  sign, logdet = np.linalg.slogdet(cov)
  if sign <= 0:
    return float("inf")
  return float(0.5 * (np.sum(np.log(np.diag(cov))) - logdet))


def gaussian_wasserstein_correlation(cov) -> float:
  """2 tr C − 2 tr sqrtm(C ⊙ c) with c[i, j] = C_ii (dlib's expression)."""
  cov = np.asarray(cov, dtype=np.float64)
  root = scipy.linalg.sqrtm(cov * np.diag(cov)[:, None])
  # sqrtm of a PSD product may carry round-off imaginary parts.
  return float(2.0 * np.trace(cov) - 2.0 * np.real(np.trace(root)))


def unsupervised_from_codes(codes, num_bins: int = 20) -> Dict[str, float]:
  """The four unsupervised scores of codes [N, num_codes] (see module doc)."""
  codes = validation.check_codes(codes)
  d = codes.shape[1]
  active = codes.var(axis=0) > 0.0
  scores = {}
  if active.any():
    cov = np.atleast_2d(np.cov(codes[:, active], rowvar=False))
    scores["gaussian_total_correlation"] = gaussian_total_correlation(cov)
    wasserstein = gaussian_wasserstein_correlation(cov)
    scores["gaussian_wasserstein_correlation"] = wasserstein
    trace = np.trace(cov)
    scores["gaussian_wasserstein_correlation_norm"] = (
        wasserstein / trace if trace > 0 else 0.0)
  else:
    scores["gaussian_total_correlation"] = 0.0
    scores["gaussian_wasserstein_correlation"] = 0.0
    scores["gaussian_wasserstein_correlation_norm"] = 0.0
  codes_d = information.discretize(codes, num_bins)
  mi = information.discrete_mutual_info(codes_d, codes_d)
  np.fill_diagonal(mi, 0.0)
  scores["mutual_info_score"] = float(mi.sum() / (d * d - d)) if d > 1 else 0.0
  return scores


def compute_unsupervised(ground_truth_data, representation_fn, random_state,
                         num_train: int = DEFAULTS["num_train"],
                         num_bins: int = DEFAULTS["num_bins"],
                         sampling_batch_size: int = (
                             sampling.DLIB_SAMPLING_BATCH_SIZE),
                         encode_batch_size: int = (
                             sampling.DEFAULT_ENCODE_BATCH_SIZE)) -> Dict:
  """Unsupervised scores on ``num_train`` points (dlib: 10000, 20 bins),
  sampled as dlib does (chunks of ``sampling_batch_size``)."""
  num_train = check_count("num_train", num_train, 2)
  rs = sampling.as_random_state(random_state)
  codes, _ = sampling.sample_codes_and_factors(
      ground_truth_data, representation_fn, num_train, rs, encode_batch_size,
      sampling_batch_size)
  scores = unsupervised_from_codes(codes, num_bins)
  return results.make_result(
      scores, dict(num_train=num_train, num_bins=int(num_bins),
                   sampling_batch_size=int(sampling_batch_size)),
      [CONSTANT_CODES_FIX], random_state)
