"""Ada-GVAE, Ada-ML-VAE and DC-IGN losses: closed forms and known answers.

Reference values are dlib's formulas (``methods/weak/weak_vae.py``: the
un-halved ``compute_kl``, ``histogram_fixed_width_bins`` thresholding, the
GVAE and ML-VAE aggregates) written out in numpy here, and the DC-IGN rule
of Kulkarni et al. 2015 (clamped forward, deviation-from-mean gradient).
"""

import numpy as np
import pytest
import tensorflow as tf

from tfdis.models import build_model, dc_ign, weak

RS = np.random.RandomState(0)
M1, M2, L1, L2 = (RS.randn(6, 5).astype(np.float32) for _ in range(4))


def test_pair_kl_and_aggregates_match_dlib_formulas():
  v1, v2 = np.exp(L1), np.exp(L2)
  dlib_kl = v1 / v2 + (M2 - M1) ** 2 / v2 - 1 + L2 - L1  # = 2 · KL
  np.testing.assert_allclose(2 * weak.pair_kl(M1, L1, M2, L2), dlib_kl,
                             rtol=1e-5, atol=1e-5)
  mean, logvar = weak.arithmetic_mean_posterior(M1, L1, M2, L2)
  np.testing.assert_allclose(mean, 0.5 * (M1 + M2), rtol=1e-6)
  np.testing.assert_allclose(logvar, np.log(0.5 * v1 + 0.5 * v2), rtol=1e-5,
                             atol=1e-6)
  new_var = 2 * v1 * v2 / (v1 + v2)
  mean, logvar = weak.product_of_experts_posterior(M1, L1, M2, L2)
  np.testing.assert_allclose(mean, (M1 / v1 + M2 / v2) * new_var * 0.5,
                             rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(logvar, np.log(new_var), rtol=1e-5, atol=1e-6)
  # Extreme log-variances stay finite (log-space forms).
  big = np.full((1, 5), 80.0, np.float32)
  for agg in (weak.arithmetic_mean_posterior,
              weak.product_of_experts_posterior):
    m, lv = agg(M1[:1], big, M2[:1], -big)
    assert np.all(np.isfinite(m)) and np.all(np.isfinite(lv))


def test_adaptive_threshold_is_dlib_binning():
  delta = np.array([[0.0, 1.0, 4.0, 1.99, 2.01],
                    [3.0, 3.0, 3.0, 3.0, 3.0]], np.float32)
  shared = weak.adaptive_shared_mask(delta).numpy()
  # τ = ½(4 + 0) = 2: below is shared; a constant row is all shared.
  np.testing.assert_array_equal(shared[0], [True, True, False, True, False])
  assert shared[1].all()
  dlib_kl = 2 * weak.pair_kl(M1, L1, M2, L2)
  bins = tf.map_fn(lambda x: tf.histogram_fixed_width_bins(
      x, [tf.reduce_min(x), tf.reduce_max(x)], nbins=2), dlib_kl,
                   fn_output_signature=tf.int32).numpy()
  np.testing.assert_array_equal(weak.adaptive_shared_mask(dlib_kl).numpy(),
                                bins == 0)


@pytest.mark.parametrize("family", ["ada_gvae", "ml_vae"])
def test_pair_losses_known_answer(family, small_dsprites):
  model = build_model(family, (64, 64, 1), latent_dim=5, architecture="fc",
                      hyperparameters={"beta": 3.0, "k": 1}, seed=1)
  x = small_dsprites.sample_observations(8, np.random.RandomState(0))
  images = np.stack([x[:4], x[4:]], axis=1)
  loss, terms = model.compute_losses({"images": images, "k": np.ones(4)})
  mean, logvar = (t.numpy() for t in model.encode(np.concatenate(
      [x[:4], x[4:]])))
  m1, m2, l1, l2 = mean[:4], mean[4:], logvar[:4], logvar[4:]
  shared = weak.adaptive_shared_mask(weak.pair_kl(m1, l1, m2, l2)).numpy()
  agg = (weak.arithmetic_mean_posterior if family == "ada_gvae" else
         weak.product_of_experts_posterior)(m1, l1, m2, l2)
  kl = 0.0
  for m, lv in ((m1, l1), (m2, l2)):
    m = np.where(shared, agg[0], m)
    lv = np.where(shared, agg[1], lv)
    kl += 0.5 * np.mean(np.sum(0.5 * (m ** 2 + np.exp(lv) - lv - 1), 1))
  np.testing.assert_allclose(terms["kl_loss"], kl, rtol=1e-4)
  np.testing.assert_allclose(terms["regularizer"], 3.0 * kl, rtol=1e-4)
  np.testing.assert_allclose(loss, terms["reconstruction_loss"] + 3.0 * kl,
                             rtol=1e-5)
  np.testing.assert_allclose(terms["num_shared_latents"], shared.sum(1).mean())
  assert terms["per_latent_kl"].shape == (5,)
  # Data sampled with another k than the model's: a loud failure.
  with pytest.raises(tf.errors.InvalidArgumentError, match="another k"):
    model.compute_losses({"images": images, "k": -np.ones(4)})
  with pytest.raises(ValueError, match=r"\[B, 2, H, W, C\]"):
    model.compute_losses(x)


def test_weak_hyperparameters_and_errors():
  cls = weak.AdaGVAE
  assert cls.validate_hyperparameters({"k": -1}) == {"beta": 1.0, "k": -1}
  with pytest.raises(ValueError, match="k must be >= 1"):
    cls.validate_hyperparameters({"k": 0})
  with pytest.raises(ValueError, match="no factor labels"):
    cls.training_data(None, 4, 0, labels=(1, 2, 3))
  with pytest.raises(ValueError, match="takes no supervision"):
    build_model("ml_vae", (64, 64, 1), architecture="fc", supervision={})


def test_dc_ign_clamp_forward_and_gradient():
  z = tf.Variable(RS.randn(6, 4).astype(np.float32))
  onehot = np.zeros((6, 3), np.float32)
  onehot[:, 1] = 1.0  # factor 1 varies
  assignment = dc_ign.assignment_matrix(3, 4)  # latents 0,1,2 <-> factors
  mask = dc_ign.clamp_mask(onehot, assignment).numpy()
  np.testing.assert_array_equal(mask, [[1, 0, 1, 0]] * 6)  # latent 3 free
  upstream = RS.randn(6, 4).astype(np.float32)
  with tf.GradientTape() as tape:
    z_dec, invariance = dc_ign.clamp_to_batch_mean(z, mask)
    objective = tf.reduce_sum(upstream * z_dec) + invariance
  grad = tape.gradient(objective, z).numpy()
  zn = z.numpy()
  deviation = zn - zn.mean(axis=0)
  # Forward: clamped latents are the batch mean; others pass through.
  np.testing.assert_allclose(z_dec.numpy(),
                             mask * zn.mean(0) + (1 - mask) * zn, rtol=1e-6)
  np.testing.assert_allclose(
      invariance, 0.5 * np.mean(np.sum(mask * deviation ** 2, 1)), rtol=1e-5)
  # Backward: deviation from the mean (÷ B, the batch-mean loss) for clamped
  # latents, the upstream gradient unchanged for the others.
  np.testing.assert_allclose(grad, mask * deviation / 6 +
                             (1 - mask) * upstream, rtol=1e-5, atol=1e-6)


def test_dc_ign_assignment_and_model(small_dsprites):
  a = dc_ign.assignment_matrix(2, 5, latents_per_factor=2)
  np.testing.assert_array_equal(a, [[1, 1, 0, 0, 0], [0, 0, 1, 1, 0]])
  a = dc_ign.assignment_matrix(3, 4, factor_latents=[[3], [], [0, 1]])
  np.testing.assert_array_equal(a, [[0, 0, 0, 1], [0] * 4, [1, 1, 0, 0]])
  with pytest.raises(ValueError, match="latent_dim is 4"):
    dc_ign.assignment_matrix(5, 4)
  with pytest.raises(ValueError, match="two factors"):
    dc_ign.assignment_matrix(2, 4, factor_latents=[[0], [0]])
  with pytest.raises(ValueError, match="cycle_factors must be 0"):
    dc_ign.DCIGN.validate_hyperparameters({"cycle_factors": 2})
  model = build_model("dc_ign", (64, 64, 1), latent_dim=7, architecture="fc",
                      hyperparameters={"beta": 2.0, "invariance_weight": 3.0})
  x = small_dsprites.sample_observations(4, np.random.RandomState(0))
  onehot = np.tile(np.eye(5, dtype=np.float32)[2], (4, 1))
  loss, terms = model.compute_losses({"images": x, "varying_factor": onehot})
  assert float(terms["num_clamped_latents"]) == 4.0  # 5 assigned, 1 varies
  np.testing.assert_allclose(
      terms["regularizer"], 2.0 * terms["kl_loss"] +
      3.0 * terms["invariance_loss"], rtol=1e-5)
  np.testing.assert_allclose(loss, terms["reconstruction_loss"] +
                             terms["regularizer"], rtol=1e-6)
  with pytest.raises(ValueError, match="single-factor batches"):
    model.compute_losses(x)
