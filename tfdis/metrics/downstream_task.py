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

from tfdis.metrics import utils

DEFAULTS = dict(num_train=(10, 100, 1000, 10000), num_test=5000,
                predictors=("logistic_regression", "boosted_trees"))

PREDICTORS = {
    "logistic_regression": ("LogisticRegressionCV(Cs=10, cv=KFold(n_splits=5), "
                            "scoring='accuracy')"),
    "boosted_trees": "GradientBoostingClassifier()",
}


def make_predictor(name: str, seed: Optional[int] = None):
  """A fresh scikit-learn classifier of the dlib predictor ``name``."""
  if name == "logistic_regression":
    from sklearn.linear_model import LogisticRegressionCV
    from sklearn.model_selection import KFold
    # scoring pinned to accuracy (dlib's; sklearn 1.11 changes the default).
    return LogisticRegressionCV(Cs=10, cv=KFold(n_splits=5),
                                scoring="accuracy")
  if name == "boosted_trees":
    from sklearn.ensemble import GradientBoostingClassifier
    return GradientBoostingClassifier(random_state=seed)
  raise ValueError(f"Unknown predictor {name!r}; known: {sorted(PREDICTORS)}")


def check_predictor(name: str) -> str:
  if name not in PREDICTORS:
    raise ValueError(f"Unknown predictor {name!r}; known: {sorted(PREDICTORS)}")
  return name


def fit_predictor(name: str, x, y, seed: Optional[int] = None):
  """Fits ``name`` on (x, y); a single-class y gets a constant predictor."""
  if len(np.unique(y)) < 2:
    return utils.ConstantClassifier(y[0])
  model = make_predictor(name, seed)
  with utils.quiet_sklearn():
    model.fit(x, y)
  return model


def _fit_factor(name, x_train, y_train, x_test, y_test, seed):
  model = fit_predictor(name, x_train, y_train, seed)
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
                               n_jobs: Optional[int] = None
                               ) -> Dict[str, float]:
  """Per-factor accuracies of ``predictor`` trained on the train split.

  Keys: ``mean_train_accuracy``, ``mean_test_accuracy``,
  ``min_train_accuracy``, ``min_test_accuracy``,
  ``train_accuracy_factor_<j>``, ``test_accuracy_factor_<j>``. The K factor
  fits run in parallel (``n_jobs``).
  """
  check_predictor(predictor)
  x_train, y_train, x_test, y_test = utils.check_train_test(
      codes_train, factors_train, codes_test, factors_test)
  if predictor == "logistic_regression" and len(x_train) < 5:
    raise ValueError("logistic_regression uses 5-fold CV and needs at least "
                     f"5 training points, got {len(x_train)}")
  fits = utils.parallel_map(
      _fit_factor,
      [(predictor, x_train, y_train[:, j], x_test, y_test[:, j], random_state)
       for j in range(y_train.shape[1])], n_jobs)
  return _accuracy_dict([f[0] for f in fits], [f[1] for f in fits])


def compute_downstream_task(ground_truth_data, representation_fn,
                            random_state,
                            num_train: Sequence[int] = DEFAULTS["num_train"],
                            num_test: int = DEFAULTS["num_test"],
                            predictors: Sequence[str] = DEFAULTS["predictors"],
                            n_jobs: Optional[int] = None,
                            encode_batch_size: int = (
                                utils.DEFAULT_ENCODE_BATCH_SIZE)) -> Dict:
  """Downstream accuracies for every train size and predictor.

  dlib ran the two predictors as two metrics (``downstream_task_logistic_
  regression`` and ``downstream_task_boosted_trees``) with keys
  ``"{n}:mean_test_accuracy"``; tfdis runs both in one metric and prefixes
  the predictor: ``"{predictor}:{n}:mean_test_accuracy"`` etc. As in dlib,
  each train size gets its own train and test sample. All (size, predictor,
  factor) fits run in parallel.
  """
  if isinstance(num_train, (int, np.integer)):
    num_train = [int(num_train)]
  sizes = [utils.check_count("num_train", n, 2) for n in num_train]
  num_test = utils.check_count("num_test", num_test, 1)
  if isinstance(predictors, str):
    predictors = [predictors]
  predictors = [check_predictor(p) for p in predictors]
  if "logistic_regression" in predictors and min(sizes) < 5:
    raise ValueError("logistic_regression uses 5-fold CV: every num_train "
                     f"must be >= 5, got {sizes}")
  rs = utils.as_random_state(random_state)
  tasks, keys = [], []
  for n in sizes:
    x_train, y_train = utils.sample_codes_and_factors(
        ground_truth_data, representation_fn, n, rs, encode_batch_size)
    x_test, y_test = utils.sample_codes_and_factors(
        ground_truth_data, representation_fn, num_test, rs, encode_batch_size)
    for name in predictors:
      seed = utils.randint(rs, 2**31 - 1)
      for j in range(y_train.shape[1]):
        tasks.append((name, x_train, y_train[:, j], x_test, y_test[:, j],
                      seed))
        keys.append((name, n))
  fits = utils.parallel_map(_fit_factor, tasks, n_jobs)
  scores: Dict[str, float] = {}
  for name in predictors:
    for n in sizes:
      chosen = [f for f, key in zip(fits, keys) if key == (name, n)]
      for key, value in _accuracy_dict([f[0] for f in chosen],
                                       [f[1] for f in chosen]).items():
        scores[f"{name}:{n}:{key}"] = value
  return utils.make_result(
      scores, dict(num_train=sizes, num_test=num_test,
                   predictors=list(predictors),
                   predictor_models={p: PREDICTORS[p] for p in predictors}),
      ["both dlib predictors in one metric; keys are prefixed with the "
       "predictor name", "boosted trees are seeded from random_state"],
      random_state)
