"""BetaVAE metric (Higgins et al. 2017, "beta-VAE: learning basic visual
concepts with a constrained variational framework", Sec. 3 and appendix A.4;
dlib ``beta_vae.py``).

One training point: pick a factor k uniformly; draw two batches of
``batch_size`` factor rows and copy column k of the first into the second;
the feature is the mean over the batch of |r(x₁) − r(x₂)|, the label is k. A
``LogisticRegression`` predicts k; the score is its accuracy.
"""

from __future__ import annotations

from typing import Dict, Tuple

import numpy as np
from tfdis.checks import check_count
from tfdis.metrics import classifiers, results, sampling, validation

DEFAULTS = dict(batch_size=64, num_train=10000, num_eval=5000)


def beta_vae_features(codes1, codes2) -> np.ndarray:
  """Features [P, d] = mean over the batch axis of |codes1 − codes2|.

  ``codes1``, ``codes2``: [P, batch_size, d], pair p sharing one factor.
  """
  codes1 = np.asarray(codes1, dtype=np.float64)
  codes2 = np.asarray(codes2, dtype=np.float64)
  if codes1.shape != codes2.shape or codes1.ndim != 3:
    raise ValueError(
        "beta_vae_features expects two arrays [num_points, batch_size, "
        f"num_codes] of equal shape, got {codes1.shape} and {codes2.shape}")
  return np.mean(np.abs(codes1 - codes2), axis=1)


def beta_vae_from_features(features_train, labels_train, features_eval,
                           labels_eval, random_state=None,
                           sklearn_compat: str = (
                               classifiers.DEFAULT_SKLEARN_COMPAT)
                           ) -> Dict[str, float]:
  """``train_accuracy`` and ``eval_accuracy`` of the linear classifier.

  ``sklearn_compat`` picks today's ``LogisticRegression()`` (lbfgs,
  multinomial) or scikit-learn < 0.22's (liblinear one-vs-rest); see
  ``classifiers.logistic_regression``. ``random_state`` only seeds liblinear.
  """
  x_train = validation.check_codes(features_train, "features_train")
  x_eval = validation.check_codes(features_eval, "features_eval")
  y_train = np.asarray(labels_train).reshape(-1)
  y_eval = np.asarray(labels_eval).reshape(-1)
  if len(y_train) != len(x_train) or len(y_eval) != len(x_eval):
    raise ValueError("features and labels must have the same number of rows")
  if len(np.unique(y_train)) < 2:
    model = classifiers.ConstantClassifier(y_train[0])
  else:
    model = classifiers.logistic_regression(sklearn_compat, random_state)
    with classifiers.quiet_sklearn():
      model.fit(x_train, y_train)
  return {
      "train_accuracy": float(np.mean(model.predict(x_train) == y_train)),
      "eval_accuracy": float(np.mean(model.predict(x_eval) == y_eval)),
  }


def sample_beta_vae_points(ground_truth_data, representation_fn, num_points,
                           batch_size, random_state,
                           encode_batch_size=sampling.DEFAULT_ENCODE_BATCH_SIZE
                           ) -> Tuple[np.ndarray, np.ndarray]:
  """(features [num_points, d], labels [num_points]) of the BetaVAE metric.

  Random draws in dlib's order (``beta_vae._generate_training_sample``), one
  point after the other: the factor k = randint(K), the two factor batches,
  then the observations of batch 1 and of batch 2. The images of many points
  are encoded together (``encode_batch_size``), not 2 × ``batch_size`` at a
  time as in dlib.
  """
  k = ground_truth_data.num_factors
  labels = np.zeros(num_points, dtype=np.int64)
  encoder = sampling.BatchedEncoder(representation_fn, encode_batch_size)
  for p in range(num_points):  # per point, not per image: dlib's draw order
    index = sampling.randint(random_state, k)
    f1 = ground_truth_data.sample_factors(batch_size, random_state)
    f2 = ground_truth_data.sample_factors(batch_size, random_state)
    f2[:, index] = f1[:, index]
    encoder.add_factors(ground_truth_data, f1, random_state)
    encoder.add_factors(ground_truth_data, f2, random_state)
    labels[p] = index
  codes = encoder.codes().reshape(num_points, 2, batch_size, -1)
  return beta_vae_features(codes[:, 0], codes[:, 1]), labels


def compute_beta_vae(ground_truth_data, representation_fn, random_state,
                     batch_size: int = DEFAULTS["batch_size"],
                     num_train: int = DEFAULTS["num_train"],
                     num_eval: int = DEFAULTS["num_eval"],
                     sklearn_compat: str = classifiers.DEFAULT_SKLEARN_COMPAT,
                     encode_batch_size: int = (
                         sampling.DEFAULT_ENCODE_BATCH_SIZE),
                     ) -> Dict:
  """BetaVAE score with dlib's defaults (batch 64, 10000 train, 5000 eval).

  Same seed, same samples as dlib's ``compute_beta_vae_sklearn``: training
  points, then the classifier fit, then evaluation points. dlib hands its
  RandomState to the classifier; lbfgs draws nothing from it, but
  scikit-learn < 0.22's liblinear drew one seed, so ``sklearn_compat='dlib'``
  draws it too (at the same place) and seeds liblinear with it.
  """
  batch_size = check_count("batch_size", batch_size, 1)
  num_train = check_count("num_train", num_train, 2)
  num_eval = check_count("num_eval", num_eval, 1)
  classifiers.check_sklearn_compat(sklearn_compat)
  rs = sampling.as_random_state(random_state)
  x_train, y_train = sample_beta_vae_points(
      ground_truth_data, representation_fn, num_train, batch_size, rs,
      encode_batch_size)
  liblinear_seed = None
  if sklearn_compat == "dlib" and len(np.unique(y_train)) > 1:
    # sklearn 0.21 _fit_liblinear: rnd.randint(np.iinfo('i').max).
    liblinear_seed = int(rs.randint(np.iinfo(np.int32).max))
  x_eval, y_eval = sample_beta_vae_points(
      ground_truth_data, representation_fn, num_eval, batch_size, rs,
      encode_batch_size)
  scores = beta_vae_from_features(x_train, y_train, x_eval, y_eval,
                                  liblinear_seed, sklearn_compat)
  params = dict(batch_size=batch_size, num_train=num_train,
                num_eval=num_eval, sklearn_compat=sklearn_compat,
                predictor=classifiers.logistic_regression_predictor_name(
                    sklearn_compat))
  if liblinear_seed is not None:
    params["liblinear_seed"] = liblinear_seed
  return results.make_result(scores, params, [], random_state)
