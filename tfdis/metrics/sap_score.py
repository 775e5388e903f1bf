"""Separated Attribute Predictability (Kumar et al. 2018, "Variational
inference of disentangled latent concepts from unlabeled observations",
Sec. 3; dlib ``sap_score.py``).

Score matrix S[i, j] = how well code i alone predicts factor j: for discrete
factors the test accuracy of ``LinearSVC(C=0.01, class_weight="balanced")``
trained on code i; for continuous factors the squared correlation
cov(c_i, f_j)² / (var c_i · var f_j). SAP = mean_j (top1 − top2 of S[:, j]).

dlib switches all factors at once (``continuous_factors``); with
``factor_types`` each factor declared continuous gets the squared
correlation (the R² of a one-code linear regression, Kumar et al.'s
continuous form) and each discrete one the classifier accuracy.
"""

from __future__ import annotations

from typing import Dict, Optional

import numpy as np
from sklearn.svm import LinearSVC

from tfdis.checks import check_count
from tfdis.metrics import classifiers, parallel, results, sampling, validation
from tfdis.metrics.factor_types import (continuous_mask, factor_type_parameters,
                                        factor_types_of)

DEFAULTS = dict(num_train=10000, num_test=5000, continuous_factors=False)


def _svc_accuracy(x_train, y_train, x_test, y_test,
                  sklearn_compat=classifiers.DEFAULT_SKLEARN_COMPAT) -> float:
  """Test accuracy of a LinearSVC on one code (one feature) for one factor."""
  if len(np.unique(y_train)) < 2:
    model = classifiers.ConstantClassifier(y_train[0])
  else:
    extra = {"dual": True} if sklearn_compat == "dlib" else {}
    model = LinearSVC(C=0.01, class_weight="balanced", **extra)
    with classifiers.quiet_sklearn():
      model.fit(x_train[:, None], y_train)
  return float(np.mean(model.predict(x_test[:, None]) == y_test))


def _svc_column(x_train, y_train, x_test, y_test,
                sklearn_compat=classifiers.DEFAULT_SKLEARN_COMPAT
                ) -> np.ndarray:
  """S[:, j] for one factor: one SVC per code (one parallel task per factor)."""
  return np.array([
      _svc_accuracy(x_train[:, i], y_train, x_test[:, i], y_test,
                    sklearn_compat)
      for i in range(x_train.shape[1])
  ])


def sap_score_matrix(codes_train, factors_train, codes_test, factors_test,
                     continuous_factors: bool = False,
                     n_jobs: Optional[int] = None,
                     sklearn_compat: str = classifiers.DEFAULT_SKLEARN_COMPAT,
                     *, factor_types=None) -> np.ndarray:
  """S [num_codes, num_factors] (see module docstring).

  ``continuous_factors=True`` treats every factor as continuous (dlib);
  ``factor_types`` marks single factors continuous.

  Continuous: a code with variance ≤ 1e-12 scores 0 (dlib); so does a factor
  with zero variance in the sample (dlib divided by 0 and produced NaN).
  """
  if continuous_factors:
    factor_types = "continuous"  # dlib: every factor, values as given
  x_train, y_train, x_test, y_test = validation.check_train_test(
      codes_train, factors_train, codes_test, factors_test, factor_types)
  num_codes, num_factors = x_train.shape[1], y_train.shape[1]
  continuous = continuous_mask(factor_types, num_factors)
  if continuous.any() and not continuous_factors:
    out = np.zeros((num_codes, num_factors))
    out[:, continuous] = sap_score_matrix(
        x_train, y_train[:, continuous], x_test, y_test[:, continuous], True,
        factor_types="continuous")
    if (~continuous).any():
      out[:, ~continuous] = sap_score_matrix(
          x_train, y_train[:, ~continuous].astype(np.int64), x_test,
          y_test[:, ~continuous].astype(np.int64), False, n_jobs,
          sklearn_compat)
    return out
  if continuous_factors:
    y = y_train.astype(np.float64)
    xc = x_train - x_train.mean(axis=0)
    yc = y - y.mean(axis=0)
    n = x_train.shape[0]
    cov = xc.T @ yc / (n - 1)  # [num_codes, num_factors], ddof 1 as np.cov
    var_x = (xc**2).sum(axis=0) / (n - 1)
    var_y = (yc**2).sum(axis=0) / (n - 1)
    denom = var_x[:, None] * var_y[None, :]
    ok = (var_x[:, None] > 1e-12) & (var_y[None, :] > 0)
    return np.where(ok, cov**2 / np.where(ok, denom, 1.0), 0.0)
  columns = parallel.parallel_map(
      _svc_column,
      [(x_train, y_train[:, j], x_test, y_test[:, j],
        classifiers.check_sklearn_compat(sklearn_compat))
       for j in range(num_factors)], n_jobs,
      [parallel.classifier_cost(y_train[:, j]) for j in range(num_factors)])
  return np.stack(columns, axis=1).reshape(num_codes, num_factors)


def sap_from_matrix(score_matrix) -> float:
  """Mean over factors of the gap between the two best codes."""
  s = np.sort(np.asarray(score_matrix, dtype=np.float64), axis=0)
  if s.shape[0] < 2:
    return float(np.mean(s[-1]))
  return float(np.mean(s[-1] - s[-2]))


def sap_from_codes(codes_train, factors_train, codes_test, factors_test,
                   continuous_factors: bool = False,
                   n_jobs: Optional[int] = None,
                   sklearn_compat: str = classifiers.DEFAULT_SKLEARN_COMPAT,
                   *, factor_types=None) -> Dict[str, float]:
  """``{"SAP_score": ...}``; the test split is unused for continuous factors."""
  matrix = sap_score_matrix(codes_train, factors_train, codes_test,
                            factors_test, continuous_factors, n_jobs,
                            sklearn_compat, factor_types=factor_types)
  return {"SAP_score": sap_from_matrix(matrix)}


def compute_sap_score(ground_truth_data, representation_fn, random_state,
                      num_train: int = DEFAULTS["num_train"],
                      num_test: int = DEFAULTS["num_test"],
                      continuous_factors: bool = DEFAULTS[
                          "continuous_factors"],
                      sklearn_compat: str = classifiers.DEFAULT_SKLEARN_COMPAT,
                      sampling_batch_size: int = (
                          sampling.DLIB_SAMPLING_BATCH_SIZE),
                      n_jobs: Optional[int] = None,
                      encode_batch_size: int = (
                          sampling.DEFAULT_ENCODE_BATCH_SIZE),
                      ) -> Dict:
  """SAP with dlib's defaults (10000 train, 5000 test, discrete factors).

  Train then test sample, drawn as dlib does (chunks of
  ``sampling_batch_size``). ``sklearn_compat='dlib'`` solves the LinearSVC in
  the dual as scikit-learn < 1.5 did by default (today: ``dual='auto'``, the
  primal for these one-feature problems).
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
  scores = sap_from_codes(codes_train, factors_train, codes_test, factors_test,
                          bool(continuous_factors), n_jobs, sklearn_compat,
                          factor_types=factor_types)
  if continuous_factors:
    predictor = "squared correlation"
  else:
    predictor = "LinearSVC(C=0.01, class_weight='balanced'{})".format(
        ", dual=True" if sklearn_compat == "dlib" else "")
  return results.make_result(
      scores, dict(num_train=num_train, num_test=num_test,
                   continuous_factors=bool(continuous_factors),
                   sampling_batch_size=int(sampling_batch_size),
                   sklearn_compat=sklearn_compat, predictor=predictor,
                   **factor_type_parameters(factor_types,
                                            len(factor_types))), [],
      random_state)
