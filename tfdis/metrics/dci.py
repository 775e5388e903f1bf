"""DCI disentanglement, completeness, informativeness (Eastwood & Williams
2018, "A framework for the quantitative evaluation of disentangled
representations", Sec. 3; dlib ``dci.py``).

Per factor j a ``GradientBoostingClassifier()`` (scikit-learn defaults)
predicts f_j from all codes; R[:, j] = |feature_importances_|. With
P_ij = R_ij / Σ_j R_ij: D = Σ_i ρ_i (1 − H_K(P_i·)), ρ_i = Σ_j R_ij / Σ R;
completeness C is the same on Rᵀ (entropy base = number of codes);
informativeness = mean prediction accuracy over factors (train / test).

Continuous factors (``factor_types``; Eastwood & Williams defined DCI for
continuous factors with regressors — lasso and random forests): the
factor's predictor is the regression twin of the classifier
(``GradientBoostingRegressor()``, or the histogram regressor with
``classifier='hist_gbt'``), its importances fill R's column, and its
informativeness is the paper's prediction error, here the normalised RMSE
(RMSE / the factor's training standard deviation), reported as
``informativeness_nrmse_train/_test`` (mean over continuous factors; lower
is better); ``informativeness_train/_test`` stay the mean accuracy over the
discrete factors (absent when every factor is continuous).
"""

from __future__ import annotations

from typing import Dict, Optional, Tuple

import numpy as np
import scipy.stats
from tfdis.checks import check_count
from tfdis.metrics import (classifiers, parallel, results, sampling, seeding,
                           validation)
from tfdis.metrics.factor_types import (continuous_mask, factor_type_parameters,
                                        factor_types_of)

DEFAULTS = dict(num_train=10000, num_test=5000)

GBT_SEED_NOTE = (
    "GBTs are seeded (gbt_seed, drawn after the samples) so scores are "
    "reproducible; dlib left them unseeded, which matters only for exact "
    "ties between splits")


def _entropy_rows(p: np.ndarray, base: int) -> np.ndarray:
  """Normalised entropy of each row of non-negative weights (base ``base``).

  dlib: ``scipy.stats.entropy(row + 1e-11, base)`` — the 1e-11 keeps an
  all-zero row (a dead code) finite: it becomes uniform, H = 1, and gets
  weight 0 anyway. With one category (base 1) the entropy is 0 by definition
  (dlib divided by log 1 = 0).
  """
  if base <= 1:
    return np.zeros(p.shape[0])
  return scipy.stats.entropy((p + 1e-11).T, base=base)


def dci_disentanglement(importance_matrix) -> float:
  """D from an importance matrix [num_codes, num_factors] (Eq. 2 of the paper)."""
  r = np.abs(np.asarray(importance_matrix, dtype=np.float64))
  per_code = 1.0 - _entropy_rows(r, r.shape[1])
  if r.sum() == 0.0:
    r = np.ones_like(r)
  code_importance = r.sum(axis=1) / r.sum()
  return float(np.sum(per_code * code_importance))


def dci_completeness(importance_matrix) -> float:
  """C from an importance matrix [num_codes, num_factors] (Eq. 3 of the paper)."""
  r = np.abs(np.asarray(importance_matrix, dtype=np.float64))
  per_factor = 1.0 - _entropy_rows(r.T, r.shape[0])
  if r.sum() == 0.0:
    r = np.ones_like(r)
  factor_importance = r.sum(axis=0) / r.sum()
  return float(np.sum(per_factor * factor_importance))


def _fit_factor(x_train, y_train, x_test, y_test, seed,
                classifier: str = classifiers.DEFAULT_CLASSIFIER,
                continuous: bool = False
                ) -> Tuple[np.ndarray, float, float]:
  """One factor's GBT: (|importances|, train accuracy, test accuracy);
  for a continuous factor a GBT regressor and (train, test) NRMSE."""
  with classifiers.one_openmp_thread():
    if continuous:
      scale = float(np.std(y_train))
      if scale == 0.0:
        model = classifiers.ConstantClassifier(y_train[0])
        importance = np.zeros(x_train.shape[1])
      else:
        model = classifiers.gradient_boosting_regressor(classifier, seed)
        model.fit(x_train, y_train)
        importance = classifiers.gradient_boosting_importances(model,
                                                               x_train.shape[1])
      return (importance,
              classifiers.nrmse(y_train, model.predict(x_train), scale),
              classifiers.nrmse(y_test, model.predict(x_test), scale))
    if len(np.unique(y_train)) < 2:
      # A factor constant in the sample: nothing to learn, no code matters.
      model = classifiers.ConstantClassifier(y_train[0])
      importance = np.zeros(x_train.shape[1])
    else:
      model = classifiers.gradient_boosting(classifier, seed)
      model.fit(x_train, y_train)
      importance = classifiers.gradient_boosting_importances(model,
                                                             x_train.shape[1])
    return (importance, float(np.mean(model.predict(x_train) == y_train)),
            float(np.mean(model.predict(x_test) == y_test)))


def _seeds(random_state, num: int) -> list:
  if random_state is None or isinstance(random_state, (int, np.integer)):
    return [None if random_state is None else int(random_state)] * num
  rs = sampling.as_random_state(random_state)
  return [sampling.randint(rs, 2**31 - 1) for _ in range(num)]


def dci_importance_matrix(codes_train, factors_train, codes_test, factors_test,
                          random_state=0, n_jobs: Optional[int] = None,
                          gbt_seeding: str = "per_fit",
                          classifier: str = classifiers.DEFAULT_CLASSIFIER,
                          *, factor_types=None
                          ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
  """(R [num_codes, num_factors], train accuracies [K], test accuracies [K]).

  For factors declared continuous in ``factor_types`` the accuracies are
  NRMSEs of a GBT regressor (see the module docstring).

  The K factor fits are independent and run in parallel (``n_jobs``; None =
  all cores). ``random_state`` (int) seeds every GBT, so the result does not
  depend on ``n_jobs``. ``gbt_seeding='sequential'``: the fits share one
  RandomState(random_state), in factor order (see ``seeding.GBT_SEEDINGS``).
  ``classifier``: 'gbt' (dlib's, default) or the opt-in 'hist_gbt'
  (``classifiers.CLASSIFIERS``).
  """
  classifiers.check_classifier(classifier)
  x_train, y_train, x_test, y_test = validation.check_train_test(
      codes_train, factors_train, codes_test, factors_test, factor_types)
  k = y_train.shape[1]
  continuous = continuous_mask(factor_types, k)
  if gbt_seeding == "sequential":
    seeds = seeding.gbt_random_states(gbt_seeding, random_state, k)
  else:
    seeds = _seeds(random_state, k)
  fits = seeding.run_fits(
      _fit_factor,
      [(x_train, y_train[:, j], x_test, y_test[:, j], seeds[j], classifier,
        bool(continuous[j])) for j in range(k)], gbt_seeding, n_jobs,
      [parallel.classifier_cost(y_train[:, j]) for j in range(k)])
  importance = np.stack([f[0] for f in fits], axis=1)
  return (importance, np.array([f[1] for f in fits]),
          np.array([f[2] for f in fits]))


def dci_from_codes(codes_train, factors_train, codes_test, factors_test,
                   random_state=0, n_jobs: Optional[int] = None,
                   gbt_seeding: str = "per_fit",
                   classifier: str = classifiers.DEFAULT_CLASSIFIER, *,
                   factor_types=None) -> Dict[str, float]:
  """``disentanglement``, ``completeness``, ``informativeness_train/_test``
  (mean accuracy over discrete factors) and, with continuous factors,
  ``informativeness_nrmse_train/_test`` (mean NRMSE over them)."""
  importance, train_acc, test_acc = dci_importance_matrix(
      codes_train, factors_train, codes_test, factors_test, random_state,
      n_jobs, gbt_seeding, classifier, factor_types=factor_types)
  continuous = continuous_mask(factor_types, importance.shape[1])
  scores = {
      "disentanglement": dci_disentanglement(importance),
      "completeness": dci_completeness(importance),
  }
  if (~continuous).any():
    scores["informativeness_train"] = float(np.mean(train_acc[~continuous]))
    scores["informativeness_test"] = float(np.mean(test_acc[~continuous]))
  if continuous.any():
    scores["informativeness_nrmse_train"] = float(
        np.mean(train_acc[continuous]))
    scores["informativeness_nrmse_test"] = float(
        np.mean(test_acc[continuous]))
  return scores


def compute_dci(ground_truth_data, representation_fn, random_state,
                num_train: int = DEFAULTS["num_train"],
                num_test: int = DEFAULTS["num_test"],
                sampling_batch_size: int = sampling.DLIB_SAMPLING_BATCH_SIZE,
                gbt_seeding: str = "per_fit",
                gbt_seed: Optional[int] = None,
                n_jobs: Optional[int] = None,
                encode_batch_size: int = sampling.DEFAULT_ENCODE_BATCH_SIZE,
                classifier: str = classifiers.DEFAULT_CLASSIFIER,
                ) -> Dict:
  """DCI with dlib's defaults (10000 train, 5000 test points, default GBT).

  Train then test sample, drawn as dlib does (chunks of
  ``sampling_batch_size``). dlib left its GBTs unseeded (they drew from
  NumPy's global RNG), so its scores were not reproducible; here the GBTs
  are seeded with ``gbt_seed`` (default: drawn from ``random_state`` AFTER
  all the samples, so dlib's sample stream is untouched), recorded in the
  result. The seed only orders the features and so breaks ties between
  equally good splits; ``gbt_seeding='sequential'`` reproduces a dlib run
  made right after ``np.random.seed(gbt_seed)`` bit for bit (see
  ``seeding.GBT_SEEDINGS``). ``classifier='hist_gbt'`` swaps the exact GBT
  for the opt-in histogram GBT (faster, close but not equal scores; never
  the default; recorded in ``parameters``).
  """
  classifiers.check_classifier(classifier)
  num_train = check_count("num_train", num_train, 2)
  num_test = check_count("num_test", num_test, 1)
  rs = sampling.as_random_state(random_state)
  codes_train, factors_train, codes_test, factors_test = (
      sampling.sample_train_test(ground_truth_data, representation_fn,
                                 num_train, num_test, rs, encode_batch_size,
                                 sampling_batch_size))
  gbt_seed = seeding.resolve_gbt_seed(gbt_seeding, gbt_seed, rs)
  factor_types = factor_types_of(ground_truth_data)
  scores = dci_from_codes(codes_train, factors_train, codes_test, factors_test,
                          gbt_seed, n_jobs, gbt_seeding, classifier,
                          factor_types=factor_types)
  extra = factor_type_parameters(factor_types, len(factor_types))
  if extra:
    extra["regressor"] = classifiers.REGRESSOR_MODELS[classifier]
  return results.make_result(
      scores, dict(num_train=num_train, num_test=num_test,
                   sampling_batch_size=int(sampling_batch_size),
                   predictor=classifiers.CLASSIFIER_MODELS[classifier],
                   classifier=classifier,
                   gbt_seeding=gbt_seeding, gbt_seed=gbt_seed, **extra),
      [GBT_SEED_NOTE], random_state)
