"""Downstream-task accuracy of a representation (Locatello et al. 2019,
Sec. 5 "Are disentangled representations useful for downstream tasks?";
dlib ``downstream_task.py`` and ``utils.make_predictor_fn``).

For each training-set size n (dlib: 10, 100, 1000, 10000) and each predictor,
fit one classifier per factor on n points and report its accuracy on the n
training points and on ``num_test`` fresh points.
"""

from __future__ import annotations

from typing import Dict, Optional, Sequence

import numpy as np

from tfdis.checks import check_count
from tfdis.metrics import (classifiers, parallel, results, sampling, seeding,
                           validation)
from tfdis.metrics.factor_types import factor_types_of, refuse_continuous
from tfdis.registry import check_choice

DEFAULTS = dict(num_train=(10, 100, 1000, 10000), num_test=5000,
                predictors=("logistic_regression", "boosted_trees"))

REFUSAL = ("the downstream task of Locatello et al. 2019 is classifying "
           "each factor's values, which a continuous factor does not have")

PREDICTORS = {
    "logistic_regression": ("LogisticRegressionCV(Cs=10, cv=KFold(n_splits=5), "
                            "scoring='accuracy')"),
    "boosted_trees": "GradientBoostingClassifier()",
}


def make_predictor(name: str, seed: Optional[int] = None,
                   sklearn_compat: str = classifiers.DEFAULT_SKLEARN_COMPAT,
                   classifier: str = classifiers.DEFAULT_CLASSIFIER):
  """A fresh scikit-learn classifier of the dlib predictor ``name``.

  ``sklearn_compat='dlib'``: scikit-learn 0.21's ``LogisticRegressionCV``
  fitted one-vs-rest (its ``multi_class`` default then), i.e. one CV'd binary
  fit per class, each choosing its own C. ``classifier`` picks the boosted
  trees: dlib's exact 'gbt' (default) or the opt-in 'hist_gbt'
  (``classifiers.CLASSIFIERS``).
  """
  if check_predictor(name) == "boosted_trees":
    return classifiers.gradient_boosting(classifier, seed)
  from sklearn.linear_model import LogisticRegressionCV
  from sklearn.model_selection import KFold
  # scoring pinned to accuracy (dlib's; sklearn 1.11 changes the default).
  model = LogisticRegressionCV(Cs=10, cv=KFold(n_splits=5),
                               scoring="accuracy")
  if classifiers.check_sklearn_compat(sklearn_compat) == "dlib":
    from sklearn.multiclass import OneVsRestClassifier
    return OneVsRestClassifier(model)
  return model


def check_predictor(name: str) -> str:
  return check_choice("predictor", name, sorted(PREDICTORS))


def fit_predictor(name: str, x, y, seed: Optional[int] = None,
                  sklearn_compat: str = classifiers.DEFAULT_SKLEARN_COMPAT,
                  classifier: str = classifiers.DEFAULT_CLASSIFIER):
  """Fits ``name`` on (x, y); a single-class y gets a constant predictor."""
  if len(np.unique(y)) < 2:
    return classifiers.ConstantClassifier(y[0])
  model = make_predictor(name, seed, sklearn_compat, classifier)
  with classifiers.quiet_sklearn():
    model.fit(x, y)
  return model


def _fit_factor(name, x_train, y_train, x_test, y_test, seed,
                sklearn_compat=classifiers.DEFAULT_SKLEARN_COMPAT,
                classifier=classifiers.DEFAULT_CLASSIFIER):
  with classifiers.one_openmp_thread():
    model = fit_predictor(name, x_train, y_train, seed, sklearn_compat,
                          classifier)
    return (float(np.mean(model.predict(x_train) == y_train)),
            float(np.mean(model.predict(x_test) == y_test)))


def _accuracy_dict(train_acc, test_acc) -> Dict[str, float]:
  out = {
      "mean_train_accuracy": float(np.mean(train_acc)),
      "mean_test_accuracy": float(np.mean(test_acc)),
      "min_train_accuracy": float(np.min(train_acc)),
      "min_test_accuracy": float(np.min(test_acc)),
  }
  for i, (a, b) in enumerate(zip(train_acc, test_acc)):
    out[f"train_accuracy_factor_{i}"] = float(a)
    out[f"test_accuracy_factor_{i}"] = float(b)
  return out


def downstream_task_from_codes(codes_train, factors_train, codes_test,
                               factors_test,
                               predictor: str = "logistic_regression",
                               random_state=0,
                               n_jobs: Optional[int] = None,
                               sklearn_compat: str = (
                                   classifiers.DEFAULT_SKLEARN_COMPAT),
                               classifier: str = classifiers.DEFAULT_CLASSIFIER,
                               *, factor_types=None
                               ) -> Dict[str, float]:
  """Per-factor accuracies of ``predictor`` trained on the train split.

  Keys: ``mean_train_accuracy``, ``mean_test_accuracy``,
  ``min_train_accuracy``, ``min_test_accuracy``,
  ``train_accuracy_factor_<j>``, ``test_accuracy_factor_<j>``. The K factor
  fits run in parallel (``n_jobs``). ``classifier`` ('gbt' default, or the
  opt-in 'hist_gbt') is the boosted-trees predictor.
  """
  check_predictor(predictor)
  classifiers.check_classifier(classifier)
  refuse_continuous("downstream_task", factor_types,
                    np.shape(factors_train)[1], REFUSAL)
  x_train, y_train, x_test, y_test = validation.check_train_test(
      codes_train, factors_train, codes_test, factors_test)
  if predictor == "logistic_regression" and len(x_train) < 5:
    raise ValueError("logistic_regression uses 5-fold CV and needs at least "
                     f"5 training points, got {len(x_train)}")
  fits = parallel.parallel_map(
      _fit_factor,
      [(predictor, x_train, y_train[:, j], x_test, y_test[:, j], random_state,
        classifiers.check_sklearn_compat(sklearn_compat), classifier)
       for j in range(y_train.shape[1])], n_jobs,
      [parallel.classifier_cost(y_train[:, j])
       for j in range(y_train.shape[1])])
  return _accuracy_dict([f[0] for f in fits], [f[1] for f in fits])


def compute_downstream_task(ground_truth_data, representation_fn,
                            random_state,
                            num_train: Sequence[int] = DEFAULTS["num_train"],
                            num_test: int = DEFAULTS["num_test"],
                            predictors: Sequence[str] = DEFAULTS["predictors"],
                            sklearn_compat: str = (
                                classifiers.DEFAULT_SKLEARN_COMPAT),
                            sampling_batch_size: int = (
                                sampling.DLIB_SAMPLING_BATCH_SIZE),
                            gbt_seeding: str = "per_fit",
                            gbt_seed: Optional[int] = None,
                            n_jobs: Optional[int] = None,
                            encode_batch_size: int = (
                                sampling.DEFAULT_ENCODE_BATCH_SIZE),
                            classifier: str = classifiers.DEFAULT_CLASSIFIER
                            ) -> Dict:
  """Downstream accuracies for every train size and predictor.

  dlib ran the two predictors as two metrics (``downstream_task_logistic_
  regression`` and ``downstream_task_boosted_trees``) with keys
  ``"{n}:mean_test_accuracy"``; tfdis runs both in one metric and prefixes
  the predictor: ``"{predictor}:{n}:mean_test_accuracy"`` etc. Each dlib run
  started from the same seed and drew, per train size in order, a train and
  a test sample (chunks of ``sampling_batch_size``); tfdis draws exactly
  those samples once and fits both predictors on them, so each predictor
  sees dlib's samples. The GBTs are seeded with ``gbt_seed`` (default: drawn
  after all samples; dlib's GBTs were unseeded) and ``gbt_seeding`` as in
  ``seeding.GBT_SEEDINGS`` ('sequential': the boosted-tree fits share one
  RandomState in dlib's order, size by size, factor by factor). With
  'per_fit' all fits run in parallel. ``classifier='hist_gbt'`` replaces
  the boosted trees by the opt-in histogram GBT (``classifiers.CLASSIFIERS``;
  never the default, recorded in ``parameters``). Factors declared
  continuous are refused (``REFUSAL``).
  """
  classifiers.check_classifier(classifier)
  refuse_continuous("downstream_task",
                    factor_types_of(ground_truth_data),
                    len(ground_truth_data.factor_sizes), REFUSAL)
  if isinstance(num_train, (int, np.integer)):
    num_train = [int(num_train)]
  sizes = [check_count("num_train", n, 2) for n in num_train]
  num_test = check_count("num_test", num_test, 1)
  if isinstance(predictors, str):
    predictors = [predictors]
  predictors = [check_predictor(p) for p in predictors]
  classifiers.check_sklearn_compat(sklearn_compat)
  if "logistic_regression" in predictors and min(sizes) < 5:
    raise ValueError("logistic_regression uses 5-fold CV: every num_train "
                     f"must be >= 5, got {sizes}")
  rs = sampling.as_random_state(random_state)
  samples = [sampling.sample_train_test(ground_truth_data, representation_fn, n,
                                        num_test, rs, encode_batch_size,
                                        sampling_batch_size) for n in sizes]
  seed = seeding.resolve_gbt_seed(gbt_seeding, gbt_seed, rs)
  k = samples[0][1].shape[1]
  gbt_states = iter(seeding.gbt_random_states(gbt_seeding, seed,
                                              len(sizes) * k))
  tasks, keys = [], []
  for name in predictors:  # dlib: one metric run per predictor
    for n, (x_train, y_train, x_test, y_test) in zip(sizes, samples):
      for j in range(k):
        state = next(gbt_states) if name == "boosted_trees" else seed
        tasks.append((name, x_train, y_train[:, j], x_test, y_test[:, j],
                      state, sklearn_compat, classifier))
        keys.append((name, n))
  # Measured: a CV'd logistic regression and a GBT cost about the same per
  # sample and class (~1 ms on one core of this kind of machine).
  fits = seeding.run_fits(_fit_factor, tasks, gbt_seeding, n_jobs,
                          [parallel.classifier_cost(task[2]) for task in tasks])
  scores: Dict[str, float] = {}
  for name in predictors:
    for n in sizes:
      chosen = [f for f, key in zip(fits, keys) if key == (name, n)]
      for key, value in _accuracy_dict([f[0] for f in chosen],
                                       [f[1] for f in chosen]).items():
        scores[f"{name}:{n}:{key}"] = value
  models = {p: PREDICTORS[p] for p in predictors}
  if "boosted_trees" in models:
    models["boosted_trees"] = classifiers.CLASSIFIER_MODELS[classifier]
  if sklearn_compat == "dlib" and "logistic_regression" in models:
    models["logistic_regression"] = (
        "OneVsRestClassifier(" + models["logistic_regression"] + ")")
  return results.make_result(
      scores, dict(num_train=sizes, num_test=num_test,
                   predictors=list(predictors), predictor_models=models,
                   sampling_batch_size=int(sampling_batch_size),
                   sklearn_compat=sklearn_compat, classifier=classifier,
                   gbt_seeding=gbt_seeding, gbt_seed=seed),
      ["both dlib predictors in one metric; keys are prefixed with the "
       "predictor name", "boosted trees are seeded (gbt_seed, drawn after the "
       "samples); dlib left them unseeded"],
      random_state)
