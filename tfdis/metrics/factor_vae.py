"""FactorVAE metric (Kim & Mnih 2018, "Disentangling by factorising", Sec. 4;
dlib ``factor_vae.py``).

Codes are scaled by their global standard deviation; dimensions with
sqrt(global variance) < 0.05 are pruned. One vote: pick a factor k; fix it
(to the value of the first row) in a batch of ``batch_size`` factor rows; the
active code with the smallest local_var / global_var votes for k. A majority
vote classifier maps each code to the factor it voted for most; accuracy =
Σ_codes max_k votes / total votes.
"""

from __future__ import annotations

from typing import Dict, Tuple

import numpy as np

from tfdis.checks import check_count
from tfdis.metrics import results, sampling

DEFAULTS = dict(batch_size=64, num_train=10000, num_eval=5000,
                num_variance_estimate=10000, prune_threshold=0.05)

NUM_ACTIVE_DIMS_FIX = (
    "num_active_dims counts the active (unpruned) codes (dlib reported the "
    "total number of codes: len of the boolean mask)")


def active_dims(global_variances, threshold: float = 0.05) -> np.ndarray:
  """Boolean mask of codes with sqrt(variance) >= threshold."""
  return np.sqrt(np.asarray(global_variances, dtype=np.float64)) >= threshold


def factor_vae_votes(local_codes, labels, global_variances, active,
                     num_factors: int) -> np.ndarray:
  """Vote matrix [num_factors, num_codes] from groups of codes.

  ``local_codes`` [P, batch_size, d]: group p had factor ``labels[p]`` fixed.
  Votes are indexed by the real code index (dlib indexed by the position among
  the active codes, which permutes columns but leaves the accuracy unchanged).
  """
  local_codes = np.asarray(local_codes, dtype=np.float64)
  labels = np.asarray(labels, dtype=np.int64).reshape(-1)
  active = np.asarray(active, dtype=bool)
  global_variances = np.asarray(global_variances, dtype=np.float64)
  if local_codes.ndim != 3 or local_codes.shape[0] != len(labels):
    raise ValueError("local_codes must be [num_points, batch_size, num_codes] "
                     "with one label per point")
  votes = np.zeros((num_factors, local_codes.shape[2]), dtype=np.int64)
  if not active.any():
    return votes
  local_var = np.var(local_codes, axis=1, ddof=1)  # [P, d]
  ratio = local_var[:, active] / global_variances[active]
  argmin = np.flatnonzero(active)[np.argmin(ratio, axis=1)]
  np.add.at(votes, (labels, argmin), 1)
  return votes


def factor_vae_from_votes(train_votes, eval_votes) -> Dict[str, float]:
  """``train_accuracy`` and ``eval_accuracy`` of the majority-vote classifier.

  The classifier (code -> argmax_k train votes) is fitted on ``train_votes``
  and applied to both vote matrices [num_factors, num_codes].
  """
  train_votes = np.asarray(train_votes)
  eval_votes = np.asarray(eval_votes)
  classifier = np.argmax(train_votes, axis=0)
  columns = np.arange(train_votes.shape[1])

  def accuracy(votes):
    total = votes.sum()
    return float(votes[classifier, columns].sum() / total) if total else 0.0

  return {"train_accuracy": accuracy(train_votes),
          "eval_accuracy": accuracy(eval_votes)}


def sample_factor_vae_groups(ground_truth_data, representation_fn,
                             num_points, batch_size, random_state,
                             encode_batch_size=(
                                 sampling.DEFAULT_ENCODE_BATCH_SIZE)
                             ) -> Tuple[np.ndarray, np.ndarray]:
  """(local codes [P, batch_size, d], labels [P]) of ``num_points`` groups.

  Draws in dlib's order (``factor_vae._generate_training_sample``), group
  after group: the factor k = randint(K), a batch of factor rows (f_k then
  set to the first row's value), its observations. Images of many groups are
  encoded together (``encode_batch_size``).
  """
  k = ground_truth_data.num_factors
  labels = np.zeros(num_points, dtype=np.int64)
  encoder = sampling.BatchedEncoder(representation_fn, encode_batch_size)
  for p in range(num_points):  # per group, not per image: dlib's draw order
    index = sampling.randint(random_state, k)
    factors = ground_truth_data.sample_factors(batch_size, random_state)
    factors[:, index] = factors[0, index]
    encoder.add_factors(ground_truth_data, factors, random_state)
    labels[p] = index
  return encoder.codes().reshape(num_points, batch_size, -1), labels


def _votes(ground_truth_data, representation_fn, num_points, batch_size, rs,
           global_variances, active, encode_batch_size):
  codes, labels = sample_factor_vae_groups(
      ground_truth_data, representation_fn, num_points, batch_size, rs,
      encode_batch_size)
  return factor_vae_votes(codes, labels, global_variances, active,
                          ground_truth_data.num_factors)


def compute_factor_vae(ground_truth_data, representation_fn, random_state,
                       batch_size: int = DEFAULTS["batch_size"],
                       num_train: int = DEFAULTS["num_train"],
                       num_eval: int = DEFAULTS["num_eval"],
                       num_variance_estimate: int = DEFAULTS[
                           "num_variance_estimate"],
                       prune_threshold: float = DEFAULTS["prune_threshold"],
                       encode_batch_size: int = (
                           sampling.DEFAULT_ENCODE_BATCH_SIZE),
                       ) -> Dict:
  """FactorVAE score with dlib's defaults (batch 64, 10000 train, 5000 eval,
  10000 points for the global variance, prune threshold 0.05).

  ``num_active_dims`` is the real number of active codes (dlib bug fixed; see
  ``NUM_ACTIVE_DIMS_FIX``, recorded in ``notes``). No active code -> all 0.
  """
  batch_size = check_count("batch_size", batch_size, 2)
  num_train = check_count("num_train", num_train, 1)
  num_eval = check_count("num_eval", num_eval, 1)
  num_variance_estimate = check_count("num_variance_estimate",
                                      num_variance_estimate, 2)
  rs = sampling.as_random_state(random_state)
  # dlib _compute_variances: ONE sample_observations(num_variance_estimate)
  # call, i.e. all factor rows drawn at once, then their observations.
  codes = sampling.encode_factors(
      ground_truth_data, representation_fn,
      ground_truth_data.sample_factors(num_variance_estimate, rs), rs,
      encode_batch_size)
  global_variances = np.var(codes, axis=0, ddof=1)
  active = active_dims(global_variances, prune_threshold)
  params = dict(batch_size=batch_size, num_train=num_train, num_eval=num_eval,
                num_variance_estimate=num_variance_estimate,
                prune_threshold=float(prune_threshold))
  if not active.any():
    scores = {"train_accuracy": 0.0, "eval_accuracy": 0.0}
  else:
    train_votes = _votes(ground_truth_data, representation_fn, num_train,
                         batch_size, rs, global_variances, active,
                         encode_batch_size)
    eval_votes = _votes(ground_truth_data, representation_fn, num_eval,
                        batch_size, rs, global_variances, active,
                        encode_batch_size)
    scores = factor_vae_from_votes(train_votes, eval_votes)
  scores["num_active_dims"] = int(active.sum())
  return results.make_result(scores, params, [NUM_ACTIVE_DIMS_FIX],
                             random_state)
