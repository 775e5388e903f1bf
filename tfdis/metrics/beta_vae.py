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
from sklearn.linear_model import LogisticRegression

from tfdis.data.ground_truth import randint as _randint_array
from tfdis.metrics import utils

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
                           labels_eval, random_state=0) -> Dict[str, float]:
  """``train_accuracy`` and ``eval_accuracy`` of the linear classifier."""
  x_train = utils.check_codes(features_train, "features_train")
  x_eval = utils.check_codes(features_eval, "features_eval")
  y_train = np.asarray(labels_train).reshape(-1)
  y_eval = np.asarray(labels_eval).reshape(-1)
  if len(y_train) != len(x_train) or len(y_eval) != len(x_eval):
    raise ValueError("features and labels must have the same number of rows")
  if len(np.unique(y_train)) < 2:
    model = utils.ConstantClassifier(y_train[0])
  else:
    model = LogisticRegression(random_state=random_state)
    with utils.quiet_sklearn():
      model.fit(x_train, y_train)
  return {
      "train_accuracy": float(np.mean(model.predict(x_train) == y_train)),
      "eval_accuracy": float(np.mean(model.predict(x_eval) == y_eval)),
  }


def sample_beta_vae_points(ground_truth_data, representation_fn, num_points,
                           batch_size, random_state,
                           encode_batch_size=utils.DEFAULT_ENCODE_BATCH_SIZE
                           ) -> Tuple[np.ndarray, np.ndarray]:
  """(features [num_points, d], labels [num_points]) of the BetaVAE metric.

  Points are generated in chunks so each encoder call sees about
  ``encode_batch_size`` images (dlib made two calls of ``batch_size`` per
  point).
  """
  k = ground_truth_data.num_factors
  chunk = utils.points_per_chunk(2 * batch_size, encode_batch_size)
  features, labels = [], []
  for start in range(0, num_points, chunk):
    p = min(chunk, num_points - start)
    index = _randint_array(random_state, k, p).astype(np.int64)
    f1 = ground_truth_data.sample_factors(p * batch_size, random_state)
    f2 = ground_truth_data.sample_factors(p * batch_size, random_state)
    f1 = f1.reshape(p, batch_size, k)
    f2 = f2.reshape(p, batch_size, k)
    rows = np.arange(p)
    f2[rows, :, index] = f1[rows, :, index]
    both = np.concatenate([f1.reshape(-1, k), f2.reshape(-1, k)])
    obs = ground_truth_data.sample_observations_from_factors(both,
                                                             random_state)
    codes = utils.encode(representation_fn, obs, max(len(obs), 1))
    codes = codes.reshape(2, p, batch_size, -1)
    features.append(beta_vae_features(codes[0], codes[1]))
    labels.append(index)
  return np.concatenate(features), np.concatenate(labels)


def compute_beta_vae(ground_truth_data, representation_fn, random_state,
                     batch_size: int = DEFAULTS["batch_size"],
                     num_train: int = DEFAULTS["num_train"],
                     num_eval: int = DEFAULTS["num_eval"],
                     encode_batch_size: int = utils.DEFAULT_ENCODE_BATCH_SIZE,
                     ) -> Dict:
  """BetaVAE score with dlib's defaults (batch 64, 10000 train, 5000 eval)."""
  batch_size = utils.check_count("batch_size", batch_size, 1)
  num_train = utils.check_count("num_train", num_train, 2)
  num_eval = utils.check_count("num_eval", num_eval, 1)
  rs = utils.as_random_state(random_state)
  x_train, y_train = sample_beta_vae_points(
      ground_truth_data, representation_fn, num_train, batch_size, rs,
      encode_batch_size)
  x_eval, y_eval = sample_beta_vae_points(
      ground_truth_data, representation_fn, num_eval, batch_size, rs,
      encode_batch_size)
  seed = utils.randint(rs, 2**31 - 1)
  scores = beta_vae_from_features(x_train, y_train, x_eval, y_eval, seed)
  return utils.make_result(
      scores, dict(batch_size=batch_size, num_train=num_train,
                   num_eval=num_eval, predictor="LogisticRegression()",
                   classifier_seed=seed), [], random_state)
