"""The vectorised K-VAE ensemble equals K independent tfdis VAEs."""

import numpy as np
import pytest
import tensorflow as tf

from tfdis.models import build_model, losses
from tfdis.pbt.ensemble import EnsembleVAE

K = 3


def _standalone_step(model, images, eps):
  """One Adam step of a standalone VAE with given reparameterisation noise."""
  variables = model.vae_variables
  with tf.GradientTape() as tape:
    mean, logvar = model.encoder(images, training=True)
    z = mean + tf.exp(0.5 * logvar) * eps
    logits = model.decoder(z, training=True)
    rec = tf.reduce_mean(model._reconstruction_fn(images, logits))
    kl = tf.reduce_sum(losses.per_latent_kl(mean, logvar))
    reg, _ = model.regularizer(kl, mean, logvar, z, True)
    loss = rec + reg
  grads = tape.gradient(loss, variables)
  model.vae_optimizer.apply_gradients(zip(grads, variables))
  return float(loss)


@pytest.mark.parametrize("architecture", ["conv_bn", "fc"])
def test_ensemble_matches_independent_vaes(architecture):
  shape, d = (64, 64, 1), 4
  hp = {"beta": 3.0}
  ens = EnsembleVAE("beta_tc_vae", shape, num_models=K, latent_dim=d,
                    architecture=architecture, hyperparameters=hp,
                    learning_rate=1e-3, seed=1, initialize=False)
  singles = [build_model("beta_tc_vae", shape, latent_dim=d,
                         architecture=architecture, hyperparameters=hp,
                         learning_rate=1e-3, seed=k) for k in range(K)]
  ens.net.pack([m.encoder for m in singles], [m.decoder for m in singles])
  rs = np.random.RandomState(0)
  images = tf.constant((rs.rand(8, *shape) > 0.7).astype(np.float32))
  eps = rs.randn(8, K, d).astype(np.float32)

  # Forward pass (inference mode) per model.
  mean, logvar = ens.encode(images)
  for k, m in enumerate(singles):
    ref_mean, ref_logvar = m.encoder(images, training=False)
    np.testing.assert_allclose(mean[:, k], ref_mean, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(logvar[:, k], ref_logvar, rtol=1e-4,
                               atol=1e-5)
  total, terms = ens.compute_losses(images, training=False, noise=eps)
  assert terms["loss"].shape == (K,)

  # One training step: ensemble vs K standalone steps with the same noise.
  step = tf.function(ens.train_step)
  terms = step(images, tf.constant(eps))
  ref_losses = [_standalone_step(m, images, eps[:, k])
                for k, m in enumerate(singles)]
  np.testing.assert_allclose(terms["loss"].numpy(), ref_losses, rtol=1e-4)
  for k, m in enumerate(singles):
    extracted = ens.extract(k)
    for a, b in zip(extracted.encoder.weights + extracted.decoder.weights,
                    m.encoder.weights + m.decoder.weights):
      # Adam's first step is lr·g/(|g| + eps) ≈ ±lr: a gradient that is zero
      # up to rounding (biases before BatchNorm, dead units) can flip sign.
      # Everything must agree within 2·lr and almost everything tightly.
      diff = np.abs(a.numpy() - b.numpy())
      assert diff.max() <= 2.1e-3, (k, b.path, diff.max())
      before_bn = (architecture == "conv_bn" and b.path.endswith("bias")
                   and b.path.split("/")[-2] not in ("means", "log_var", "d6"))
      if not before_bn:
        off = int(np.sum(diff > 2e-5))
        assert off <= max(2, diff.size // 100), (k, b.path, off, diff.size)
  assert int(ens.step.numpy()) == 1
