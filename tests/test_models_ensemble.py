"""The vectorised K-member ensemble equals K independent tfdis VAEs.

Both sides run the real training step (``GaussianVAE.train_step``) with the
same reparameterisation noise (passed in the batch), for every architecture
of the table, and must agree in losses and in the weights after two Adam
steps.
"""

import numpy as np
import pytest
import tensorflow as tf

from tfdis.models import architectures, build_model

K = 2
D = 4


def _models(architecture, family="beta_tc_vae", hp=None):
  shape = (64, 64, 1)
  hp = hp or {"beta": 3.0}
  ens = build_model(family, shape, latent_dim=D, architecture=architecture,
                    hyperparameters=hp, learning_rate=1e-3, seed=1,
                    ensemble_size=K)
  singles = [build_model(family, shape, latent_dim=D,
                         architecture=architecture, hyperparameters=hp,
                         learning_rate=1e-3, seed=k) for k in range(K)]
  ens.net.pack([m.encoder for m in singles], [m.decoder for m in singles])
  return ens, singles


# Every architecture of the table; the families' regularizers vary too.
FAMILIES = {"conv": ("beta_vae", {"beta": 4.0}),
            "conv_4x4": ("annealed_vae", {"c_max": 5.0}),
            "fc": ("dip_vae_ii", {"lambda_od": 2.0}),
            "conv_bn": ("beta_tc_vae", {"beta": 3.0})}


def test_every_architecture_is_covered():
  assert set(FAMILIES) == set(architectures.ARCHITECTURE_PAIRS)


@pytest.mark.parametrize("architecture", sorted(FAMILIES))
def test_ensemble_step_matches_single_model_steps(architecture):
  ens, singles = _models(architecture, *FAMILIES[architecture])
  rs = np.random.RandomState(0)
  ens_step = tf.function(ens.train_step)
  single_steps = [tf.function(m.train_step) for m in singles]
  for _ in range(2):
    images = (rs.rand(4, 64, 64, 1) > 0.7).astype(np.float32)
    noise = rs.randn(4, K, D).astype(np.float32)
    terms = ens_step({"images": images, "noise": noise})
    for k, model in enumerate(singles):
      single = single_steps[k]({"images": images, "noise": noise[:, k]})
      np.testing.assert_allclose(terms["loss"].numpy()[k],
                                 single["loss"].numpy(), rtol=2e-5)
      np.testing.assert_allclose(terms["per_latent_kl"].numpy()[k],
                                 single["per_latent_kl"].numpy(), rtol=2e-4,
                                 atol=1e-6)
  # A bias right before BatchNorm has gradient 0 in exact arithmetic (BN
  # removes the mean), so both sides move it by Adam-amplified rounding noise.
  arch = architectures.resolve_architecture(architecture)
  ops = (architectures.encoder_ops(arch["encoder"], (64, 64, 1), D) +
         architectures.decoder_ops(arch["decoder"], (64, 64, 1), D))
  # The BN's moving mean carries that bias too (its variance does not).
  before_bn = {f"{a.name}/bias" for a, b in zip(ops, ops[1:])
               if b.kind == "bn"} | {f"{b.name}/moving_mean"
                                     for a, b in zip(ops, ops[1:])
                                     if b.kind == "bn"}
  for k, model in enumerate(singles):
    extracted = ens.extract(k)
    for a, b in zip(extracted.encoder.weights + extracted.decoder.weights,
                    model.encoder.weights + model.decoder.weights):
      if b.path.split("/", 1)[-1] in before_bn or b.path in before_bn:
        continue
      diff = np.abs(a.numpy() - b.numpy())
      # Adam moves a weight by up to lr per step whatever the gradient's
      # size, so where a gradient is ~0 float rounding (another summation
      # order) can show at the scale of lr: bound those, and require all but
      # a few percent of weights to agree to 1e-5 (AVX2: < 1 %; oneDNN's
      # AVX-512 kernels: 1.9 % of the conv decoder's first kernel).
      msg = f"{architecture} member {k} {b.path}"
      assert diff.max() <= 2 * 2 * 1e-3, msg
      assert np.mean(diff > 1e-5) < 3e-2, msg


def test_ensemble_inference_matches_and_members_differ():
  ens = build_model("beta_vae", (64, 64, 1), latent_dim=D,
                    architecture="conv_bn", seed=7, ensemble_size=2)
  images = np.random.RandomState(1).rand(4, 64, 64, 1).astype(np.float32)
  mean, logvar = ens.encode(images)
  assert mean.shape == (4, 2, D) and logvar.shape == (4, 2, D)
  assert not np.allclose(mean[:, 0], mean[:, 1])  # independent inits
  single = ens.extract(1)
  m1, lv1 = single.encode(images)
  np.testing.assert_allclose(m1, mean[:, 1], rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(lv1, logvar[:, 1], rtol=1e-5, atol=1e-6)
  logits = ens.decode(mean)
  np.testing.assert_allclose(single.decode(m1), logits[1], rtol=1e-4,
                             atol=1e-5)


def test_factor_vae_is_refused_as_ensemble():
  with pytest.raises(ValueError, match="vectorised ensemble"):
    build_model("factor_vae", (64, 64, 1), ensemble_size=2)
