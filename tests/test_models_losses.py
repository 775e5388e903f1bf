"""Closed-form checks of tfdis.models.losses and the architectures."""

import math

import numpy as np
import pytest
import tensorflow as tf

from tfdis import kl
from tfdis.models import architectures, build_model, losses


def test_gaussian_kl_closed_forms():
  zero = tf.zeros((3, 4))
  np.testing.assert_allclose(losses.gaussian_kl(zero, zero).numpy(), 0.0)
  # μ = 1, ℓ = 0: ½ per latent; μ = 0, σ² = 2: ½ (2 − log 2 − 1).
  mean = tf.constant([[1.0, 0.0]])
  logvar = tf.constant([[0.0, math.log(2.0)]])
  expected = 0.5 + 0.5 * (2.0 - math.log(2.0) - 1.0)
  np.testing.assert_allclose(losses.gaussian_kl(mean, logvar).numpy(),
                             [expected], rtol=1e-6)
  per = kl.per_latent_kl_tf(tf.constant([[1.0, 0.0], [3.0, 0.0]]),
                            tf.zeros((2, 2))).numpy()
  np.testing.assert_allclose(per, [(0.5 + 4.5) / 2, 0.0], rtol=1e-6)
  # The NumPy variant (UDR, PBT, rPU-VAE) is the same function.
  np.testing.assert_allclose(
      kl.per_latent_kl(np.array([[1.0, 0.0], [3.0, 0.0]]), np.zeros((2, 2))),
      per, rtol=1e-6)


def test_reconstruction_losses_sum_over_pixels():
  rs = np.random.RandomState(0)
  x = (rs.rand(2, 4, 4, 1) > 0.5).astype(np.float32)
  logits = rs.randn(2, 4, 4, 1).astype(np.float32)
  p = 1 / (1 + np.exp(-logits))
  bern = -(x * np.log(p) + (1 - x) * np.log(1 - p)).reshape(2, -1).sum(1)
  np.testing.assert_allclose(
      losses.bernoulli_reconstruction(x, logits).numpy(), bern, rtol=1e-5)
  l2 = ((x - p) ** 2).reshape(2, -1).sum(1)
  np.testing.assert_allclose(losses.l2_reconstruction(x, logits).numpy(), l2,
                             rtol=1e-5)


def test_dip_covariance_known_batch():
  mean = tf.constant([[1.0, 0.0], [-1.0, 0.0], [0.0, 2.0], [0.0, -2.0]])
  cov = losses.dip_covariance(mean, dip_type="i").numpy()
  np.testing.assert_allclose(cov, [[0.5, 0.0], [0.0, 2.0]], atol=1e-6)
  logvar = tf.math.log(tf.fill((4, 2), 3.0))
  cov2 = losses.dip_covariance(mean, logvar, dip_type="ii").numpy()
  np.testing.assert_allclose(cov2, [[3.5, 0.0], [0.0, 5.0]], rtol=1e-6)
  # λ_od Σ off² + λ_d Σ (diag − 1)² on a matrix with off-diagonals.
  c = tf.constant([[2.0, 0.5], [0.5, 1.0]])
  np.testing.assert_allclose(
      losses.dip_regularizer(c, 2.0, 10.0).numpy(), 2 * 0.5 + 10 * 1.0)


def test_total_correlation_independent_vs_dependent():
  rs = np.random.RandomState(0)
  n, d, var = 256, 3, 0.1
  logvar = np.full((n, d), math.log(var), np.float32)

  def tc(mean, **kw):
    z = (mean + math.sqrt(var) * rs.randn(n, d)).astype(np.float32)
    return losses.total_correlation(z, mean, logvar, **kw).numpy(), z

  mean_ind = rs.randn(n, d).astype(np.float32)
  mean_dep = np.repeat(rs.randn(n, 1), d, axis=1).astype(np.float32)
  tc_ind, z_ind = tc(mean_ind)
  tc_dep, _ = tc(mean_dep)
  assert tc_dep > tc_ind + 1.0
  # The reported TC adds exactly (d − 1)·log(B·N) and is not negative.
  full = losses.total_correlation(z_ind, mean_ind, logvar,
                                  dataset_size=1000).numpy()
  np.testing.assert_allclose(full - tc_ind, (d - 1) * math.log(n * 1000),
                             rtol=1e-5)
  assert full > 0


def test_permute_dims_keeps_column_values():
  z = tf.constant(np.random.RandomState(1).randn(64, 5).astype(np.float32))
  perm = losses.permute_dims(z, tf.constant([1, 2])).numpy()
  np.testing.assert_array_equal(np.sort(perm, axis=0),
                                np.sort(z.numpy(), axis=0))
  assert not np.array_equal(perm, z.numpy())
  gen = tf.random.Generator.from_seed(0)
  perm2 = losses.permute_dims(z, gen).numpy()
  np.testing.assert_array_equal(np.sort(perm2, axis=0),
                                np.sort(z.numpy(), axis=0))


def test_annealed_capacity_schedule():
  caps = [float(losses.annealed_capacity(s, 25.0, 100)) for s in
          (0, 50, 100, 1000)]
  assert caps == [0.0, 12.5, 25.0, 25.0]
  reg = losses.annealed_regularizer(tf.constant(10.0), 50, 1000.0, 25.0, 100)
  np.testing.assert_allclose(reg.numpy(), 1000 * 2.5)


def test_semi_supervised_losses_and_masks():
  mean = tf.constant([[0.0, 1.0, 5.0], [2.0, -1.0, 5.0]])
  labels = tf.constant([[0.5, 1.0], [0.0, 0.25]])
  none = tf.zeros((2, 2))
  for name in ("xent", "l2", "cov"):
    assert float(losses.supervised_loss(name, mean, labels, none)) == 0.0
  # Masked xent = only the unmasked entry; logits μ[:, :2] (3rd latent free).
  mask = tf.constant([[1.0, 0.0], [0.0, 0.0]])
  val = float(losses.supervised_loss("xent", mean, labels, mask))
  expected = (math.log(2.0)) / 2  # CE(logit 0, label .5), batch mean over 2
  np.testing.assert_allclose(val, expected, rtol=1e-6)
  l2 = float(losses.supervised_loss("l2", mean, labels, mask, scale=2.0))
  np.testing.assert_allclose(l2, (0.0 * 2 - 0.5) ** 2 / 2, rtol=1e-6)
  # cov: perfectly matched unit-variance codes and labels -> 0.
  codes = np.array([[1.0, 1.0], [-1.0, 1.0], [1.0, -1.0], [-1.0, -1.0]],
                   np.float32)
  assert float(losses.supervised_cov(codes, codes, None)) < 1e-10
  assert float(losses.supervision_weight("fixed", 5, 2.0, 10)) == 2.0
  assert float(losses.supervision_weight("anneal", 5, 2.0, 10)) == 1.0
  assert float(losses.supervision_weight("fine_tune", 5, 2.0, 10)) == 0.0
  assert float(losses.supervision_weight("fine_tune", 10, 2.0, 10)) == 2.0


@pytest.mark.parametrize("arch,shape", [("conv", (64, 64, 1)),
                                        ("conv_4x4", (64, 64, 3)),
                                        ("fc", (32, 32, 3)),
                                        ("conv_bn", (64, 64, 1))])
def test_architectures_shapes(arch, shape):
  names = architectures.resolve_architecture(arch)
  enc = architectures.make_encoder(names["encoder"], shape, 7)
  dec = architectures.make_decoder(names["decoder"], shape, 7)
  mean, logvar = enc(np.zeros((2,) + shape, np.float32))
  assert mean.shape == (2, 7) and logvar.shape == (2, 7)
  assert tuple(dec(np.zeros((2, 7), np.float32)).shape[1:]) == shape
  names = {layer.name for layer in enc.layers}
  if arch == "conv_bn":
    # Chen et al.'s all-convolutional network: 4×4 valid conv to 1×1×512,
    # then one 1×1 conv to 2d channels read as (μ, log σ) pairs.
    assert enc.get_layer("e5").output.shape[1:] == (1, 1, 512)
    assert enc.get_layer("e6").output.shape[1:] == (1, 1, 14)
    assert dec.get_layer("d2").output.shape[1:] == (4, 4, 64)
    h = np.arange(14, dtype=np.float32).reshape(1, 1, 1, 14)
    mu, lv = architectures.split_conv_head(h, 7)
    np.testing.assert_array_equal(mu, [np.arange(0, 14, 2)])
    np.testing.assert_array_equal(lv, [2 * np.arange(1, 14, 2)])
  else:
    assert {"means", "log_var"} <= names


def test_torch_batch_norm_semantics():
  """PyTorch BatchNorm: normalise with the biased batch variance, update the
  running variance with the unbiased one, momentum 0.1, eps 1e-5."""
  bn = architectures.TorchBatchNorm()
  x = np.array([[1.0], [2.0], [4.0], [9.0]], np.float32)
  y = bn(x, training=True).numpy()
  mean, var = x.mean(), x.var()
  np.testing.assert_allclose(y, (x - mean) / np.sqrt(var + 1e-5), rtol=1e-5)
  np.testing.assert_allclose(bn.moving_mean.numpy(), [0.1 * mean], rtol=1e-6)
  np.testing.assert_allclose(bn.moving_variance.numpy(),
                             [0.9 + 0.1 * x.var(ddof=1)], rtol=1e-6)
  np.testing.assert_allclose(bn(x, training=False).numpy(),
                             (x - 0.1 * mean) / np.sqrt(
                                 0.9 + 0.1 * x.var(ddof=1) + 1e-5),
                             rtol=1e-5)


def test_conv_kernel_sizes_and_errors():
  enc = architectures.make_encoder("conv", (64, 64, 1), 10)
  assert enc.get_layer("e3").kernel_size == (2, 2)
  enc4 = architectures.make_encoder("conv_4x4", (64, 64, 1), 10)
  assert enc4.get_layer("e3").kernel_size == (4, 4)
  with pytest.raises(ValueError, match="needs 64×64"):
    architectures.make_encoder("conv", (32, 32, 1), 10)
  with pytest.raises(ValueError, match="Unknown encoder"):
    architectures.make_encoder("resnet", (64, 64, 1), 10)


def test_build_model_validation():
  with pytest.raises(KeyError, match="Known models: .*beta_vae"):
    build_model("beta_vea", (64, 64, 1))
  with pytest.raises(ValueError, match="beta must be >= 0"):
    build_model("beta_vae", (64, 64, 1), hyperparameters={"beta": -1})
  with pytest.raises(ValueError, match="does not take"):
    build_model("beta_vae", (64, 64, 1), hyperparameters={"gamma": 3})
  m = build_model("dip_vae_ii", (64, 64, 1), architecture="fc", latent_dim=4)
  assert m.hyperparameters() == {"lambda_od": 10.0, "lambda_d_factor": 1.0}
  m.set_hyperparameters({"lambda_od": 2.0})
  assert m.hyperparameters()["lambda_od"] == 2.0
  m.set_learning_rate(3e-4)
  np.testing.assert_allclose(m.learning_rate, 3e-4, rtol=1e-6)


def _chen_terms_by_loops(z, mean, logvar, n):
  """Chen et al.'s terms written out with Python loops (float64)."""
  def log_normal(x, mu, lv):
    return -0.5 * ((x - mu) ** 2 / math.exp(lv) + lv + math.log(2 * math.pi))

  b, d = z.shape
  out = {k: np.zeros(b) for k in ("logpz", "logqz_condx", "logqz",
                                  "logqz_prodmarginals")}
  for i in range(b):
    joint = [sum(log_normal(z[i, l], mean[j, l], logvar[j, l])
                 for l in range(d)) for j in range(b)]
    out["logpz"][i] = sum(log_normal(z[i, l], 0.0, 0.0) for l in range(d))
    out["logqz_condx"][i] = joint[i]
    out["logqz"][i] = math.log(sum(math.exp(v) for v in joint)) - math.log(
        b * n)
    out["logqz_prodmarginals"][i] = sum(
        math.log(sum(math.exp(log_normal(z[i, l], mean[j, l], logvar[j, l]))
                     for j in range(b))) - math.log(b * n) for l in range(d))
  return out


def test_chen_decomposition_against_loops():
  # A batch of B = 3 with fixed samples z, d = 2, N = 1000.
  mean = np.array([[0.0, 1.0], [0.5, -1.0], [-1.0, 0.2]])
  logvar = np.array([[0.0, -1.0], [-0.5, 0.3], [0.2, -2.0]])
  z = np.array([[0.1, 0.8], [0.4, -1.5], [-0.7, 0.0]])
  want = _chen_terms_by_loops(z, mean, logvar, 1000)
  got = losses.chen_elbo_terms(tf.constant(z), tf.constant(mean),
                               tf.constant(logvar), 1000)
  for k, v in want.items():
    np.testing.assert_allclose(got[k].numpy(), v, rtol=1e-12, err_msg=k)
  # MI + β·TC + DWKL with β = 4; at β = 1 the Monte-Carlo KL.
  mi = want["logqz_condx"] - want["logqz"]
  tc = want["logqz"] - want["logqz_prodmarginals"]
  dwkl = want["logqz_prodmarginals"] - want["logpz"]
  reg, terms = losses.chen_tc_regularizer(
      tf.constant(z), tf.constant(mean), tf.constant(logvar), 4.0, 1000)
  np.testing.assert_allclose(reg.numpy(), np.mean(mi + 4 * tc + dwkl),
                             rtol=1e-12)
  np.testing.assert_allclose(terms["total_correlation"].numpy(), tc.mean(),
                             rtol=1e-12)
  reg1, _ = losses.chen_tc_regularizer(
      tf.constant(z), tf.constant(mean), tf.constant(logvar), 1.0, 1000)
  np.testing.assert_allclose(
      reg1.numpy(), np.mean(want["logqz_condx"] - want["logpz"]), rtol=1e-12)


def test_beta_tc_vae_estimator_option():
  m = build_model("beta_tc_vae", (64, 64, 1), architecture="fc", latent_dim=2,
                  hyperparameters={"beta": 4.0}, dataset_size=1000)
  assert m.tc_estimator == "dlib" and "tc_estimator" not in m.model_config()
  from tfdis.models.families import BetaTCVAE
  chen = BetaTCVAE((64, 64, 1), architecture="fc", latent_dim=2,
                   hyperparameters={"beta": 4.0}, dataset_size=1000,
                   tc_estimator="chen")
  assert chen.model_config()["tc_estimator"] == "chen"
  rs = np.random.RandomState(0)
  mean, logvar, z = (tf.constant(rs.normal(size=(3, 2)), tf.float32)
                     for _ in range(3))
  reg, terms = chen.regularizer(None, mean, logvar, z, True)
  want, _ = losses.chen_tc_regularizer(z, mean, logvar, 4.0, 1000)
  np.testing.assert_allclose(reg.numpy(), want.numpy(), rtol=1e-6)
  assert set(terms) == {"mutual_information", "total_correlation",
                        "dimension_wise_kl"}
  loss, _ = chen.compute_losses(tf.zeros((4, 64, 64, 1)))
  assert np.isfinite(loss.numpy())
  with pytest.raises(ValueError, match="dataset_size"):
    BetaTCVAE((64, 64, 1), architecture="fc", tc_estimator="chen")
  with pytest.raises(ValueError, match="tc_estimator"):
    BetaTCVAE((64, 64, 1), architecture="fc", tc_estimator="kim")
