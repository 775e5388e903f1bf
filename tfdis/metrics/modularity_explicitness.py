"""Modularity and explicitness (Ridgeway & Mozer 2018, "Learning deep
disentangled embeddings with the F-statistic loss", Sec. 3; dlib
``modularity_explicitness.py``).

Modularity of code i, from its MI row m_i· (squared): 1 − (Σ_j m_ij² −
max_j m_ij²) / (max_j m_ij² · (K − 1)), 0 if the code carries no information;
averaged over codes. Explicitness of factor j: ROC-AUC of a one-vs-rest
``LogisticRegression()`` on z-scored codes; averaged over factors.
"""

from __future__ import annotations

from typing import Dict, Optional, Tuple

import numpy as np
from sklearn.metrics import roc_auc_score

from tfdis.checks import check_count
from tfdis.metrics import (classifiers, information, parallel, results,
                           sampling, validation)
from tfdis.metrics.factor_types import (continuous_mask, factor_type_parameters,
                                        factor_types_of)

DEFAULTS = dict(num_train=10000, num_test=5000, num_bins=20)


def modularity_from_mutual_info(mutual_info) -> float:
  """Mean modularity over codes of an MI matrix [num_codes, num_factors].

  A code that carries exactly two factors equally scores 1 − 1/(K − 1). With a
  single factor every informative code is trivially modular (1).
  """
  sq = np.square(np.asarray(mutual_info, dtype=np.float64))
  max_sq = sq.max(axis=1)
  k = sq.shape[1]
  safe = np.where(max_sq > 0, max_sq, 1.0)
  if k > 1:
    delta = (sq.sum(axis=1) - max_sq) / (safe * (k - 1.0))
  else:
    delta = np.zeros_like(max_sq)
  score = np.where(max_sq > 0, 1.0 - delta, 0.0)
  return float(np.mean(score))


def _macro_auc(y, proba, classes) -> float:
  """Macro ROC-AUC over the classes the classifier knows.

  dlib binarised train and test labels separately, so a class missing from
  one split shifted the columns or crashed; here columns are the classifier's
  classes and a class absent from (or the only one in) ``y`` is skipped,
  because its AUC is undefined.
  """
  aucs = []
  for c, cls in enumerate(classes):
    truth = (y == cls)
    if truth.all() or not truth.any():
      continue
    aucs.append(roc_auc_score(truth, proba[:, c]))
  return float(np.mean(aucs)) if aucs else float("nan")


def _explicitness_factor(x_train, y_train, x_test, y_test,
                         sklearn_compat=classifiers.DEFAULT_SKLEARN_COMPAT,
                         continuous: bool = False) -> Tuple[float, float]:
  if continuous:
    # Explicitness by regression: R² of a linear regression on the codes
    # (the linear-probe analogue of the logistic AUC for a continuous factor).
    from sklearn.linear_model import LinearRegression
    if np.std(y_train) == 0.0:
      return float("nan"), float("nan")
    model = LinearRegression().fit(x_train, y_train)
    return (float(model.score(x_train, y_train)),
            float(model.score(x_test, y_test)))
  if len(np.unique(y_train)) < 2:
    return float("nan"), float("nan")  # undefined; dropped from the mean
  with classifiers.quiet_sklearn():
    model = classifiers.logistic_regression(sklearn_compat).fit(x_train,
                                                                 y_train)
  return (_macro_auc(y_train, model.predict_proba(x_train), model.classes_),
          _macro_auc(y_test, model.predict_proba(x_test), model.classes_))


def _nanmean_or_zero(values) -> float:
  values = np.asarray(values, dtype=np.float64)
  values = values[np.isfinite(values)]
  return float(values.mean()) if values.size else 0.0


def modularity_explicitness_from_codes(codes_train, factors_train, codes_test,
                                       factors_test, num_bins: int = 20,
                                       n_jobs: Optional[int] = None,
                                       sklearn_compat: str = (
                                           classifiers.DEFAULT_SKLEARN_COMPAT),
                                       *, factor_types=None
                                       ) -> Dict[str, float]:
  """``modularity_score``, ``explicitness_score_train/_test``.

  Continuous factors (``factor_types``): modularity's mutual information
  uses them histogram-discretised into ``num_bins`` (Ridgeway & Zemel
  define it on discrete factors); their explicitness is the R² of a linear
  regression on the z-scored codes, reported apart as
  ``explicitness_r2_train/_test`` (mean over continuous factors), while
  ``explicitness_score_*`` stay the mean AUC over the discrete factors
  (absent when every factor is continuous).

  Codes are z-scored with the train mean and std; a constant code keeps std 1
  (dlib divided by zero and fed NaN to the classifier). Factors constant in
  the training sample have no defined AUC and are left out of the mean.
  ``sklearn_compat`` picks the ``LogisticRegression()`` defaults (see
  ``classifiers.logistic_regression``).
  """
  classifiers.check_sklearn_compat(sklearn_compat)
  x_train, y_train, x_test, y_test = validation.check_train_test(
      codes_train, factors_train, codes_test, factors_test, factor_types)
  k = y_train.shape[1]
  continuous = continuous_mask(factor_types, k)
  mi = information.discrete_mutual_info(
      information.discretize(x_train, num_bins),
      information.discretize_factors(y_train, factor_types, num_bins))
  z_train, z_test = classifiers.standardize(x_train, x_test)
  per_factor = parallel.parallel_map(
      _explicitness_factor,
      [(z_train, y_train[:, j], z_test, y_test[:, j], sklearn_compat,
        bool(continuous[j])) for j in range(k)], n_jobs,
      [len(y_train) if continuous[j] else
       parallel.classifier_cost(y_train[:, j]) for j in range(k)])
  scores = {"modularity_score": modularity_from_mutual_info(mi)}
  for prefix, mask in (("explicitness_score", ~continuous),
                       ("explicitness_r2", continuous)):
    if mask.any():
      chosen = [p for p, m in zip(per_factor, mask) if m]
      scores[prefix + "_train"] = _nanmean_or_zero([p[0] for p in chosen])
      scores[prefix + "_test"] = _nanmean_or_zero([p[1] for p in chosen])
  return scores


def compute_modularity_explicitness(
    ground_truth_data, representation_fn, random_state,
    num_train: int = DEFAULTS["num_train"],
    num_test: int = DEFAULTS["num_test"],
    num_bins: int = DEFAULTS["num_bins"],
    sklearn_compat: str = classifiers.DEFAULT_SKLEARN_COMPAT,
    sampling_batch_size: int = sampling.DLIB_SAMPLING_BATCH_SIZE,
    n_jobs: Optional[int] = None,
    encode_batch_size: int = sampling.DEFAULT_ENCODE_BATCH_SIZE) -> Dict:
  """Modularity/explicitness with dlib's defaults (10000/5000 points, 20 bins).

  Train then test sample, drawn as dlib does (chunks of
  ``sampling_batch_size``); ``sklearn_compat`` as in
  ``modularity_explicitness_from_codes``.
  """
  num_train = check_count("num_train", num_train, 2)
  num_test = check_count("num_test", num_test, 1)
  classifiers.check_sklearn_compat(sklearn_compat)
  rs = sampling.as_random_state(random_state)
  codes_train, factors_train, codes_test, factors_test = (
      sampling.sample_train_test(ground_truth_data, representation_fn,
                                 num_train, num_test, rs, encode_batch_size,
                                 sampling_batch_size))
  factor_types = factor_types_of(ground_truth_data)
  scores = modularity_explicitness_from_codes(
      codes_train, factors_train, codes_test, factors_test, num_bins, n_jobs,
      sklearn_compat, factor_types=factor_types)
  return results.make_result(
      scores, dict(num_train=num_train, num_test=num_test,
                   num_bins=int(num_bins),
                   sampling_batch_size=int(sampling_batch_size),
                   sklearn_compat=sklearn_compat,
                   predictor=classifiers.logistic_regression_predictor_name(
                       sklearn_compat),
                   **factor_type_parameters(factor_types,
                                            len(factor_types))),
      ["constant codes are z-scored with std 1 instead of 0 (no NaN)",
       "test AUC uses the classifier's classes; classes absent from a split "
       "are skipped instead of misaligning the one-hot columns"],
      random_state)
