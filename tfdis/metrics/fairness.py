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

from tfdis.checks import check_count
from tfdis.metrics import classifiers, parallel, results, sampling, seeding
from tfdis.metrics.factor_types import factor_types_of, refuse_continuous
from tfdis.metrics.downstream_task import fit_predictor

DEFAULTS = dict(num_train=10000, num_test_points_per_class=100)


def inter_group_fairness(counts) -> Tuple[float, float]:
  """(mean, max) total-variation unfairness of a counts matrix.

  ``counts`` [num_predicted_classes, num_sensitive_classes]: how often each
  class was predicted under each sensitive value. TV of a column's prediction
  distribution to the overall one, averaged with the column counts as weights
  (mean) and maximised (max).

  The arithmetic follows dlib's operation for operation, distributions in
  float32, so the scores are bit-identical to dlib's (float32 round-off,
  ~1e-7, is far below the sampling noise). A sensitive value that was never
  sampled has no distribution: weight 0 (dlib produced NaN).
  """
  counts = np.asarray(counts)
  overall = np.sum(counts, axis=1, dtype=np.float32)
  overall /= overall.sum()
  normalized = np.array(counts, dtype=np.float32)
  per_class = np.sum(counts, axis=0)
  normalized /= np.where(per_class > 0, per_class, 1)[None, :]
  tv = np.sum(np.abs(normalized - overall[:, None]), axis=0) / 2.0
  mean = tv * per_class
  mean /= per_class.sum()
  return float(np.sum(mean)), float(np.max(tv))


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
  ignored); ``sensitive_values[i][j]``: the value of f_j of each of those
  samples (dlib draws one intervened sample per pair); ``factor_sizes``:
  number of values of each factor.
  """
  k = len(factor_sizes)
  mean_fairness = np.zeros((k, k))
  max_fairness = np.zeros((k, k))
  for i in range(k):
    for j in range(k):
      if i == j:
        continue
      pred = np.asarray(predictions[i][j], dtype=np.int64)
      sens = np.asarray(sensitive_values[i][j], dtype=np.int64)
      counts = np.zeros((factor_sizes[i], factor_sizes[j]), dtype=np.int64)
      np.add.at(counts, (pred, sens), 1)
      mean_fairness[i, j], max_fairness[i, j] = inter_group_fairness(counts)
  scores = fairness_scores_dict(mean_fairness, "mean_fairness")
  scores.update(fairness_scores_dict(max_fairness, "max_fairness"))
  return scores


def _fit(x, y, seed, classifier=classifiers.DEFAULT_CLASSIFIER):
  with classifiers.one_openmp_thread():
    return fit_predictor("boosted_trees", x, y, seed, classifier=classifier)


def sample_interventions(ground_truth_data, representation_fn, sizes,
                         per_class: int, random_state,
                         encode_batch_size=sampling.DEFAULT_ENCODE_BATCH_SIZE):
  """Codes of the intervened samples, in dlib's draw order.

  dlib (``fairness.compute_fairness``) draws, for each target i and each
  sensitive j != i, ``per_class`` factor rows, then renders them once per
  value c of f_j (with f_j := c). Returns ``{(i, j): (codes [size_j *
  per_class, d], sensitive values [size_j * per_class])}``; all images are
  encoded in large batches after the draws.
  """
  k = len(sizes)
  encoder = sampling.BatchedEncoder(representation_fn, encode_batch_size)
  blocks = []
  for i in range(k):
    for j in range(k):
      if i == j:
        continue
      original = ground_truth_data.sample_factors(per_class, random_state)
      for c in range(sizes[j]):  # per sensitive value, as dlib renders
        intervened = np.copy(original)
        intervened[:, j] = c
        encoder.add_factors(ground_truth_data, intervened, random_state)
      blocks.append((i, j, np.repeat(np.arange(sizes[j]), per_class)))
  codes = encoder.codes()
  out, start = {}, 0
  for i, j, sensitive in blocks:
    out[(i, j)] = (codes[start:start + len(sensitive)], sensitive)
    start += len(sensitive)
  return out


def compute_fairness(ground_truth_data, representation_fn, random_state,
                     num_train: int = DEFAULTS["num_train"],
                     num_test_points_per_class: int = DEFAULTS[
                         "num_test_points_per_class"],
                     sampling_batch_size: int = (
                         sampling.DLIB_SAMPLING_BATCH_SIZE),
                     gbt_seeding: str = "per_fit",
                     gbt_seed: Optional[int] = None,
                     n_jobs: Optional[int] = None,
                     encode_batch_size: int = (
                         sampling.DEFAULT_ENCODE_BATCH_SIZE),
                     classifier: str = classifiers.DEFAULT_CLASSIFIER,
                     ) -> Dict:
  """Fairness with dlib's defaults (GBT, 10000 train, 100 points per class).

  Same draws as dlib: the training sample (chunks of
  ``sampling_batch_size``), then one intervened sample per (target,
  sensitive) pair (``sample_interventions``). The GBTs are seeded with
  ``gbt_seed`` (default: drawn after all samples; dlib's were unseeded) and
  ``gbt_seeding`` as in ``seeding.GBT_SEEDINGS`` ('sequential': the K target
  fits share one RandomState, in factor order).

  dlib computes the total-variation distances in float32
  (``inter_group_fairness``); so does tfdis, for bit-identical scores.
  ``classifier='hist_gbt'``: the opt-in histogram GBT instead of dlib's
  exact one (``classifiers.CLASSIFIERS``; recorded in ``parameters``).
  """
  classifiers.check_classifier(classifier)
  refuse_continuous(
      "fairness", factor_types_of(ground_truth_data),
      len(ground_truth_data.factor_sizes),
      "Locatello et al. 2019 intervene on each value of a sensitive factor "
      "and compare the predicted classes of a target factor")
  num_train = check_count("num_train", num_train, 2)
  per_class = check_count("num_test_points_per_class",
                          num_test_points_per_class, 1)
  sizes = [int(s) for s in ground_truth_data.factor_sizes]
  k = len(sizes)
  if k < 2:
    raise ValueError("fairness needs at least two factors (a target and a "
                     "sensitive one)")
  rs = sampling.as_random_state(random_state)
  x_train, y_train = sampling.sample_codes_and_factors(
      ground_truth_data, representation_fn, num_train, rs, encode_batch_size,
      sampling_batch_size)
  intervened = sample_interventions(ground_truth_data, representation_fn,
                                    sizes, per_class, rs, encode_batch_size)
  seed = seeding.resolve_gbt_seed(gbt_seeding, gbt_seed, rs)
  states = seeding.gbt_random_states(gbt_seeding, seed, k)
  models = seeding.run_fits(
      _fit, [(x_train, y_train[:, i], states[i], classifier)
             for i in range(k)],
      gbt_seeding, n_jobs,
      [parallel.classifier_cost(y_train[:, i]) for i in range(k)])
  predictions = [[None] * k for _ in range(k)]
  sensitive_values = [[None] * k for _ in range(k)]
  for (i, j), (codes, sensitive) in intervened.items():
    with classifiers.one_openmp_thread():
      predictions[i][j] = models[i].predict(codes)
    sensitive_values[i][j] = sensitive
  scores = fairness_from_predictions(predictions, sensitive_values, sizes)
  return results.make_result(
      scores, dict(num_train=num_train, num_test_points_per_class=per_class,
                   sampling_batch_size=int(sampling_batch_size),
                   predictor=classifiers.CLASSIFIER_MODELS[classifier],
                   classifier=classifier,
                   gbt_seeding=gbt_seeding, gbt_seed=seed),
      ["boosted trees are seeded (gbt_seed, drawn after the samples); dlib "
       "left them unseeded"], random_state)
