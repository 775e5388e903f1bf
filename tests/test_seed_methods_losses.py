"""Known-answer tests of the InfoGAN, SCAN and DARLA losses (issue 18)."""

import math

import numpy as np
import pytest
import tensorflow as tf

from tfdis.models import build_model, losses
from tfdis.models import info_gan as ig
from tfdis.models import scan as scan_lib
from tfdis.models.scan_report import k_hot_symbols


def test_info_gan_bound_of_a_perfect_q():
  """A perfect Q gives L_I = H(c): log K for the categorical code; with σ = 1
  the continuous part is d·log 2 (entropy of U(−1, 1)^d) − d·½·log 2π."""
  k, d, b = 3, 4, 5
  rs = np.random.RandomState(0)
  onehot = tf.one_hot(rs.randint(0, k, b), k)
  codes = tf.constant(rs.uniform(-1, 1, (b, d)), tf.float32)
  nll_cat = ig.categorical_nll(onehot, 1e4 * onehot)  # Q certain and right
  np.testing.assert_allclose(nll_cat.numpy(), 0.0, atol=1e-6)
  np.testing.assert_allclose(
      ig.mutual_information_bound(tf.reduce_mean(nll_cat), k, 0).numpy(),
      math.log(k), rtol=1e-6)
  nll_cont = ig.continuous_nll(codes, codes, tf.zeros_like(codes))
  np.testing.assert_allclose(nll_cont.numpy(), d * 0.5 * math.log(2 * math.pi),
                             rtol=1e-6)
  bound = ig.mutual_information_bound(tf.reduce_mean(nll_cat + nll_cont), k, d)
  np.testing.assert_allclose(
      bound.numpy(),
      math.log(k) + d * (math.log(2.0) - 0.5 * math.log(2 * math.pi)),
      rtol=1e-5)
  # A Q that knows nothing about the categorical code (uniform) gives 0.
  flat = ig.categorical_nll(onehot, tf.zeros_like(onehot))
  np.testing.assert_allclose(
      ig.mutual_information_bound(tf.reduce_mean(flat), k, 0).numpy(), 0.0,
      atol=1e-6)


def test_scan_grounding_kl_closed_form():
  """KL(N(1, 1) ‖ N(0, 4)) = ½(log 4 + (1 + 1)/4 − 1) per latent; KL to
  itself is 0; against N(0, 1) it is the VAE prior KL."""
  mean_p = tf.constant([[1.0, 1.0]])
  logvar_p = tf.zeros([1, 2])
  mean_q = tf.zeros([1, 2])
  logvar_q = tf.fill([1, 2], math.log(4.0))
  kl = scan_lib.gaussian_kl_between(mean_p, logvar_p, mean_q, logvar_q)
  np.testing.assert_allclose(kl.numpy(),
                             [2 * 0.5 * (math.log(4.0) + 0.5 - 1.0)],
                             rtol=1e-6)
  np.testing.assert_allclose(scan_lib.gaussian_kl_between(
      mean_q, logvar_q, mean_q, logvar_q).numpy(), [0.0], atol=1e-7)
  rs = np.random.RandomState(1)
  m = tf.constant(rs.randn(3, 4), tf.float32)
  lv = tf.constant(rs.randn(3, 4), tf.float32)
  np.testing.assert_allclose(
      scan_lib.gaussian_kl_between(m, lv, tf.zeros_like(m),
                                   tf.zeros_like(lv)).numpy(),
      losses.gaussian_kl(m, lv).numpy(), rtol=1e-5)


def test_symbol_rule_on_small_dsprites(small_dsprites):
  data = small_dsprites  # sizes (3, 3, 4, 8, 8)
  names, groups, _ = scan_lib.symbol_vocabulary(data.factor_names,
                                                data.factor_sizes)
  assert names[:3] == ["shape=0", "shape=1", "shape=2"]
  assert names[3:6] == ["scale=0", "scale=1", "scale=2"]  # 3 values: kept
  assert names[6:9] == ["orientation=low", "orientation=mid",
                        "orientation=high"]
  assert len(names) == 15 and [g for g, _ in groups] == list(
      data.factor_names)
  factors = np.array([[2, 1, 3, 0, 7], [0, 0, 0, 3, 2]])
  y = k_hot_symbols(factors, data.factor_names, data.factor_sizes, 3)
  # pos bins: ⌊v·3/8⌋ -> 0 -> low, 7 -> high, 3 -> mid, 2 -> low.
  expected = [["shape=2", "scale=1", "orientation=high", "pos_x=low",
               "pos_y=high"],
              ["shape=0", "scale=0", "orientation=low", "pos_x=mid",
               "pos_y=low"]]
  for row, want in zip(y, expected):
    assert [names[j] for j in np.flatnonzero(row)] == want
  model = build_model("scan", data.observation_shape, latent_dim=2,
                      architecture="fc", dataset_info=data.info())
  np.testing.assert_array_equal(model.symbols(tf.constant(factors)).numpy(),
                                y)


def test_scan_needs_the_dataset_and_a_valid_visual_dir(small_dsprites):
  with pytest.raises(ValueError, match="dataset_info"):
    build_model("scan", (64, 64, 1))
  with pytest.raises(ValueError, match="visual_steps must be 0"):
    scan_lib.SCAN.validate_hyperparameters(
        {"visual_model_dir": "/x", "visual_steps": 5})
  with pytest.raises(FileNotFoundError, match="config.json"):
    build_model("scan", (64, 64, 1), dataset_info=small_dsprites.info(),
                hyperparameters={"visual_model_dir": "/nonexistent"})


def test_darla_with_identity_features_is_the_pixel_l2_loss():
  """feature_depth = 0 (J = identity): DARLA's loss terms equal those of a
  β-VAE with the pixel L2 loss and the same weights and noise."""
  shape = (64, 64, 1)
  darla = build_model("darla", shape, latent_dim=3, seed=3,
                      hyperparameters={"beta": 2.0, "dae_steps": 0,
                                       "feature_depth": 0})
  bvae = build_model("beta_vae", shape, latent_dim=3, seed=3,
                     reconstruction_loss="l2", hyperparameters={"beta": 2.0})
  bvae.encoder.set_weights(darla.encoder.get_weights())
  bvae.decoder.set_weights(darla.decoder.get_weights())
  x = tf.constant(np.random.RandomState(0).uniform(size=(4,) + shape),
                  tf.float32)
  logits = tf.constant(np.random.RandomState(1).randn(4, *shape), tf.float32)
  np.testing.assert_allclose(
      darla.feature_reconstruction_loss(x, logits).numpy(),
      losses.l2_reconstruction(x, logits).numpy(), rtol=1e-5)
  _, t_darla = darla.compute_losses(x)
  _, t_bvae = bvae.compute_losses(x)
  for key in ("loss", "reconstruction_loss", "kl_loss"):
    np.testing.assert_allclose(t_darla[key].numpy(), t_bvae[key].numpy(),
                               rtol=1e-5)
  # Deeper J: a distance in feature space, 0 only for equal images.
  deep = build_model("darla", shape, latent_dim=3,
                     hyperparameters={"feature_depth": 3})
  assert tuple(deep.features(x).shape) == (4, 8, 8, 64)
  same = deep.feature_reconstruction_loss(x, tf.math.log(x / (1 - x + 1e-6)
                                                         + 1e-6))
  np.testing.assert_allclose(same.numpy(), 0.0, atol=1e-3)


def test_masking_noise_zeroes_one_rectangle():
  from tfdis.models.darla import masking_noise

  x = tf.ones([6, 64, 64, 1])
  noisy = masking_noise(x, tf.random.Generator.from_seed(0)).numpy()[..., 0]
  for img in noisy:
    rows, cols = np.nonzero(img == 0)
    assert 8 * 8 <= len(rows) <= 32 * 32 + 64
    # Exactly the bounding box is zero: a rectangle.
    assert len(rows) == (rows.max() - rows.min() + 1) * (
        cols.max() - cols.min() + 1)


def test_fixed_hyperparameters_cannot_change():
  model = build_model("info_gan", (64, 64, 1), latent_dim=2,
                      hyperparameters={"noise_dim": 4})
  model.set_hyperparameters({"lambda_info": 0.5, "generator_lr": 5e-4})
  assert float(model.generator_optimizer.learning_rate.numpy()) == \
      pytest.approx(5e-4)
  with pytest.raises(ValueError, match="categories"):
    model.set_hyperparameters({"categories": 5})


def test_seed_methods_preset(tmp_path):
  from tfdis.models import validate_hyperparameters
  from tfdis.study import get_study

  spec = get_study("seed_methods")
  jobs = spec.resolve(str(tmp_path))
  assert sorted({j.model for j in jobs}) == ["beta_vae", "darla", "info_gan",
                                             "scan"]
  assert len(jobs) == 8 and spec.datasets == ("procedural_dsprites_small",)
  steps = spec.train["steps"]
  for job in jobs:
    hps = validate_hyperparameters(job.model, job.train["hyperparameters"])
    # Both stages of the two-stage models run within the budget.
    assert hps.get("visual_steps", 0) < steps
    assert hps.get("dae_steps", 0) < steps
  scan = next(j for j in jobs if j.model == "scan")
  assert scan.train["hyperparameters"]["visual_steps"] == 1200
  assert scan.model_id == "scan-beta=1-seed=0"
