"""The scikit-learn predictors of the metrics and their compatibility modes.

``sklearn_compat`` picks today's scikit-learn defaults or those dlib's
published numbers were produced with; ``classifier`` picks dlib's exact
gradient-boosted trees or the opt-in histogram ones. Also the small pieces
every fitting metric shares: standardisation, a one-class predictor, quiet
fits and one OpenMP thread.
"""

from __future__ import annotations

import contextlib
import warnings

import numpy as np

from tfdis.registry import check_choice


def standardize(codes_train, codes_test):
  """z-scores with train mean/std; a constant code gets std 1 (not NaN)."""
  mean = codes_train.mean(axis=0)
  std = codes_train.std(axis=0)
  # dlib divides by 0 for a dead code and hands NaN to the classifier.
  std = np.where(std > 0, std, 1.0)
  return (codes_train - mean) / std, (codes_test - mean) / std


@contextlib.contextmanager
def quiet_sklearn():
  """Silences scikit-learn's convergence and API-transition warnings in fits.

  The published metrics fix the predictors (e.g. ``LogisticRegression()`` with
  its default 100 iterations); lbfgs often stops at that limit on separable
  codes and would print one multi-line warning per fit.
  """
  from sklearn.exceptions import ConvergenceWarning

  with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)
    warnings.simplefilter("ignore", FutureWarning)
    yield


class ConstantClassifier:
  """Predicts the single class seen in training (sklearn refuses to fit one)."""

  def __init__(self, label):
    self.classes_ = np.array([label])
    self.feature_importances_ = None

  def predict(self, x):
    return np.full(len(x), self.classes_[0])

  def predict_proba(self, x):
    return np.ones((len(x), 1))


# ---------------------------------------------------------------------------
# scikit-learn compatibility: today's defaults or those dlib was run with
# ---------------------------------------------------------------------------
# "current": the estimators as dlib's code constructs them, run with the pinned
#   scikit-learn (LogisticRegression() = lbfgs, multinomial; LinearSVC
#   dual="auto"). Identical to running dlib's code with that scikit-learn.
# "dlib": the defaults of scikit-learn < 0.22, which produced dlib's published
#   numbers: LogisticRegression() = liblinear, one-vs-rest, C=1 (intercept
#   regularised); LogisticRegressionCV one-vs-rest; LinearSVC dual=True.
SKLEARN_COMPAT_MODES = ("current", "dlib")
DEFAULT_SKLEARN_COMPAT = "current"


def check_sklearn_compat(sklearn_compat: str) -> str:
  """'current' (today's scikit-learn defaults, as dlib's code runs now) or
  'dlib' (the pre-0.22 defaults behind dlib's published numbers)."""
  return check_choice("sklearn_compat", sklearn_compat, SKLEARN_COMPAT_MODES)


def logistic_regression(sklearn_compat: str = DEFAULT_SKLEARN_COMPAT,
                        random_state=None):
  """``LogisticRegression()`` as dlib wrote it, under ``sklearn_compat``.

  'dlib': scikit-learn 0.21's default — liblinear with one binary fit per
  class (one-vs-rest; today's scikit-learn only offers liblinear per class
  via ``OneVsRestClassifier``, which computes the same per-class problems and
  the same normalised one-vs-rest probabilities).
  """
  from sklearn.linear_model import LogisticRegression

  if check_sklearn_compat(sklearn_compat) == "dlib":
    from sklearn.multiclass import OneVsRestClassifier
    return OneVsRestClassifier(
        LogisticRegression(solver="liblinear", C=1.0,
                           random_state=random_state))
  return LogisticRegression(random_state=random_state)


def logistic_regression_predictor_name(sklearn_compat: str) -> str:
  if check_sklearn_compat(sklearn_compat) == "dlib":
    return ("OneVsRestClassifier(LogisticRegression(solver='liblinear', "
            "C=1.0)) [scikit-learn < 0.22 LogisticRegression()]")
  return "LogisticRegression() [lbfgs, multinomial]"


# ---------------------------------------------------------------------------
# the gradient-boosted classifier of DCI, downstream_task and fairness
# ---------------------------------------------------------------------------
# "gbt"      (default) dlib's ``GradientBoostingClassifier()``: exact splits,
#            100 stages of depth-3 trees, learning rate 0.1.
# "hist_gbt" opt-in fast path: scikit-learn's HistGradientBoostingClassifier
#            with the same capacity (100 iterations, learning rate 0.1, depth
#            3, at most 8 leaves, leaves of any size, no early stopping) but
#            with the features binned into at most 255 quantile bins, so each
#            split is searched over 255 candidates instead of every sample.
#            Its scores are close to, not equal to, the exact path's (see
#            docs/python-api.md, "Fast classifier", for the measured agreement).
CLASSIFIERS = ("gbt", "hist_gbt")
DEFAULT_CLASSIFIER = "gbt"
CLASSIFIER_MODELS = {
    "gbt": "GradientBoostingClassifier()",
    "hist_gbt": ("HistGradientBoostingClassifier(max_iter=100, "
                 "learning_rate=0.1, max_depth=3, max_leaf_nodes=8, "
                 "min_samples_leaf=1, early_stopping=False)"),
}


def check_classifier(classifier: str) -> str:
  """'gbt' (dlib's exact GradientBoostingClassifier, the default) or
  'hist_gbt' (the faster histogram gradient boosting)."""
  return check_choice("classifier", classifier, CLASSIFIERS)


def gradient_boosting(classifier: str = DEFAULT_CLASSIFIER, random_state=None):
  """A fresh gradient-boosted classifier of kind ``classifier`` (CLASSIFIERS)."""
  if check_classifier(classifier) == "hist_gbt":
    from sklearn.ensemble import HistGradientBoostingClassifier
    return HistGradientBoostingClassifier(
        max_iter=100, learning_rate=0.1, max_depth=3, max_leaf_nodes=8,
        min_samples_leaf=1, early_stopping=False, random_state=random_state)
  from sklearn.ensemble import GradientBoostingClassifier
  return GradientBoostingClassifier(random_state=random_state)


def gradient_boosting_importances(model, num_features: int) -> np.ndarray:
  """|feature importances| [num_features] of a fitted gradient-boosted model.

  ``GradientBoostingClassifier.feature_importances_`` is the (sample-
  weighted) impurity decrease of each feature's splits summed per tree,
  averaged over the trees that split and normalised to sum 1.
  HistGradientBoostingClassifier has no such attribute; the same quantity is
  computed from its trees with the split gain (the decrease of its loss) in
  place of the impurity decrease (scikit-learn's tree arrays
  ``_predictors[stage][k].nodes``, fields ``feature_idx``, ``gain``,
  ``is_leaf``).
  """
  if hasattr(model, "feature_importances_"):
    return np.abs(np.asarray(model.feature_importances_, dtype=np.float64))
  total = np.zeros(num_features)
  num_trees = 0
  for stage in model._predictors:  # pylint: disable=protected-access
    for tree in stage:
      nodes = tree.nodes
      split = nodes["is_leaf"] == 0
      per_tree = np.bincount(nodes["feature_idx"][split].astype(np.int64),
                             weights=np.maximum(nodes["gain"][split], 0.0),
                             minlength=num_features).astype(np.float64)
      if per_tree.sum() > 0:  # trees without splits are left out, as sklearn
        total += per_tree
        num_trees += 1
  if num_trees == 0 or total.sum() == 0:
    return np.zeros(num_features)
  return total / total.sum()


def gradient_boosting_regressor(classifier: str = DEFAULT_CLASSIFIER,
                                random_state=None):
  """The regression twin of ``gradient_boosting`` (squared error), for
  factors declared continuous: GradientBoostingRegressor() or the histogram
  regressor with the same capacity."""
  if check_classifier(classifier) == "hist_gbt":
    from sklearn.ensemble import HistGradientBoostingRegressor
    return HistGradientBoostingRegressor(
        max_iter=100, learning_rate=0.1, max_depth=3, max_leaf_nodes=8,
        min_samples_leaf=1, early_stopping=False, random_state=random_state)
  from sklearn.ensemble import GradientBoostingRegressor
  return GradientBoostingRegressor(random_state=random_state)


REGRESSOR_MODELS = {
    "gbt": "GradientBoostingRegressor()",
    "hist_gbt": CLASSIFIER_MODELS["hist_gbt"].replace("Classifier",
                                                      "Regressor"),
}


def nrmse(y_true, y_pred, scale) -> float:
  """Root-mean-square error divided by ``scale`` (the factor's standard
  deviation in the training sample; 0 -> 1): 0 is a perfect prediction,
  about 1 predicting the mean."""
  scale = float(scale) if scale > 0 else 1.0
  return float(np.sqrt(np.mean((np.asarray(y_true) - y_pred) ** 2)) / scale)


def one_openmp_thread():
  """A context in which OpenMP code (the histogram GBT's fit and predict)
  runs on one thread.

  The histogram GBT parallelises with OpenMP over all cores, while the
  metrics already run their per-factor fits in one process per core
  (``parallel_map``); both at once oversubscribe the cores, and OpenMP's
  busy-waiting threads then starve each other (measured on a loaded 2-core
  machine: one 10000-point fit took 74 s with the default threads, 0.7 s
  with one). The exact GBT is single-threaded anyway.
  """
  from threadpoolctl import threadpool_limits

  return threadpool_limits(limits=1, user_api="openmp")
