"""Fairness of downstream predictions (Locatello et al. 2019, "On the
fairness of disentangled representations", NeurIPS 2019; dlib
``fairness.py``).

A GBT predicts target factor i from the codes. For each other (sensitive)
factor j, a sample of factor rows is copied once per value c of j with f_j
set to c (an intervention); the predictions of i are counted per c. The
unfairness of (i, j) is the total-variation distance between the prediction
distribution given f_j = c and the overall one: mean over c (weighted by
counts) and max over c.
"""

from __future__ import annotations

from typing import Dict, Optional, Tuple

import numpy as np

from tfdis.metrics import utils
from tfdis.metrics.downstream_task import fit_predictor

DEFAULTS = dict(num_train=10000, num_test_points_per_class=100)


def inter_group_fairness(counts) -> Tuple[float, float]:
  """(mean, max) total-variation unfairness of a counts matrix.

  ``counts`` [num_predicted_classes, num_sensitive_classes]: how often each
  class was predicted under each sensitive value. TV of a column's prediction
  distribution to the overall one, averaged with the column counts as weights
  (mean) and maximised (max).
  """
  counts = np.asarray(counts, dtype=np.float64)
  overall = counts.sum(axis=1)
  overall = overall / overall.sum()
  per_class = counts.sum(axis=0)
  normalized = counts / np.where(per_class > 0, per_class, 1.0)[None, :]
  tv = np.abs(normalized - overall[:, None]).sum(axis=0) / 2.0
  mean = float(np.sum(tv * per_class) / per_class.sum())
  return mean, float(np.max(tv))


def fairness_scores_dict(matrix, prefix: str) -> Dict[str, float]:
  """dlib's summary of a [K_pred, K_sens] unfairness matrix (diagonal unused).

  Keys: ``{prefix}:pred{i}:sens{j}``, per predictor ``:pred{i}:mean_sens`` /
  ``max_sens``, per sensitive factor ``:sens{j}:mean_pred`` / ``max_pred`` and
  the eight overall combinations such as ``{prefix}:mean_sens:mean_pred``.
  """
  matrix = np.asarray(matrix, dtype=np.float64)
  k = matrix.shape[0]
  out = {}
  if k < 2:
    return out
  for i in range(k):
    for j in range(k):
      if i != j:
        out[f"{prefix}:pred{i}:sens{j}"] = matrix[i, j]
  off = ~np.eye(k, dtype=bool)
  row_means = np.array([matrix[i, off[i]].mean() for i in range(k)])
  row_maxs = np.array([matrix[i, off[i]].max() for i in range(k)])
  col_means = np.array([matrix[off[:, j], j].mean() for j in range(k)])
  col_maxs = np.array([matrix[off[:, j], j].max() for j in range(k)])
  for i in range(k):
    out[f"{prefix}:pred{i}:mean_sens"] = row_means[i]
    out[f"{prefix}:pred{i}:max_sens"] = row_maxs[i]
  for j in range(k):
    out[f"{prefix}:sens{j}:mean_pred"] = col_means[j]
    out[f"{prefix}:sens{j}:max_pred"] = col_maxs[j]
  out[f"{prefix}:mean_sens:mean_pred"] = col_means.mean()
  out[f"{prefix}:mean_sens:max_pred"] = col_maxs.mean()
  out[f"{prefix}:max_sens:mean_pred"] = col_means.max()
  out[f"{prefix}:max_sens:max_pred"] = col_maxs.max()
  out[f"{prefix}:mean_pred:mean_sens"] = row_means.mean()
  out[f"{prefix}:mean_pred:max_sens"] = row_maxs.mean()
  out[f"{prefix}:max_pred:mean_sens"] = row_means.max()
  out[f"{prefix}:max_pred:max_sens"] = row_maxs.max()
  return {key: float(v) for key, v in out.items()}


def fairness_from_predictions(predictions, sensitive_values,
                              factor_sizes) -> Dict[str, float]:
  """Fairness scores from predictions on intervened samples.

  ``predictions[i][j]``: int predictions of target factor i on the samples
  where sensitive factor j was intervened on (i != j; entries with i == j are
  ignored); ``sensitive_values[j]``: the value of f_j of each of those
  samples; ``factor_sizes``: number of values of each factor.
  """
  k = len(factor_sizes)
  mean_fairness = np.zeros((k, k))
  max_fairness = np.zeros((k, k))
  for i in range(k):
    for j in range(k):
      if i == j:
        continue
      pred = np.asarray(predictions[i][j], dtype=np.int64)
      sens = np.asarray(sensitive_values[j], dtype=np.int64)
      counts = np.zeros((factor_sizes[i], factor_sizes[j]), dtype=np.int64)
      np.add.at(counts, (pred, sens), 1)
      mean_fairness[i, j], max_fairness[i, j] = inter_group_fairness(counts)
  scores = fairness_scores_dict(mean_fairness, "mean_fairness")
  scores.update(fairness_scores_dict(max_fairness, "max_fairness"))
  return scores


def _fit(x, y, seed):
  return fit_predictor("boosted_trees", x, y, seed)


def compute_fairness(ground_truth_data, representation_fn, random_state,
                     num_train: int = DEFAULTS["num_train"],
                     num_test_points_per_class: int = DEFAULTS[
                         "num_test_points_per_class"],
                     n_jobs: Optional[int] = None,
                     encode_batch_size: int = utils.DEFAULT_ENCODE_BATCH_SIZE,
                     ) -> Dict:
  """Fairness with dlib's defaults (GBT, 10000 train, 100 points per class).

  One intervened sample per sensitive factor is shared by all target
  predictors (dlib drew a fresh one per (target, sensitive) pair: same
  distribution, K − 1 times the encoder work).
  """
  num_train = utils.check_count("num_train", num_train, 2)
  per_class = utils.check_count("num_test_points_per_class",
                                num_test_points_per_class, 1)
  sizes = [int(s) for s in ground_truth_data.factor_sizes]
  k = len(sizes)
  if k < 2:
    raise ValueError("fairness needs at least two factors (a target and a "
                     "sensitive one)")
  rs = utils.as_random_state(random_state)
  x_train, y_train = utils.sample_codes_and_factors(
      ground_truth_data, representation_fn, num_train, rs, encode_batch_size)
  seed = utils.randint(rs, 2**31 - 1)
  models = utils.parallel_map(_fit, [(x_train, y_train[:, i], seed)
                                     for i in range(k)], n_jobs)
  predictions = [[None] * k for _ in range(k)]
  sensitive_values = []
  for j in range(k):
    original = ground_truth_data.sample_factors(per_class, rs)
    intervened = np.repeat(original[None], sizes[j], axis=0)  # [size_j, n, K]
    intervened[:, :, j] = np.arange(sizes[j])[:, None]
    intervened = intervened.reshape(-1, k)
    codes = utils.encode_factors(ground_truth_data, representation_fn,
                                 intervened, rs, encode_batch_size)
    sensitive_values.append(intervened[:, j])
    for i in range(k):
      if i != j:
        predictions[i][j] = models[i].predict(codes)
  scores = fairness_from_predictions(predictions, sensitive_values, sizes)
  return utils.make_result(
      scores, dict(num_train=num_train, num_test_points_per_class=per_class,
                   predictor="GradientBoostingClassifier()", gbt_seed=seed),
      ["one intervened sample per sensitive factor is shared by all target "
       "predictors (dlib drew one per pair)"], random_state)
