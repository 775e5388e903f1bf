"""Loss terms of the VAE families as pure tensor functions.

Everything here is a plain TensorFlow function of tensors (no variables, no
Keras state), usable inside ``tf.function``, ``jit_compile`` and
``strategy.run``. Conventions (spec ``models.md``): images ``x`` in [0, 1],
encoder output mean ``μ`` and log-variance ``ℓ = log σ²`` of shape [B, d],
decoder output logits. Per-sample functions return [B]; the caller takes the
batch mean (so the value the user sees is the batch mean of a per-sample sum,
which is the scale the published β, γ and C values assume).

References:
  Kingma & Welling 2014 (VAE ELBO, reparameterisation);
  Higgins et al. 2017 (β-VAE); Burgess et al. 2018 (annealed capacity, CCI-VAE);
  Kim & Mnih 2018 (FactorVAE, permute_dims, Alg. 1);
  Chen et al. 2018 (β-TCVAE, minibatch-weighted sampling, Eq. 5 / App. C.1);
  Kumar et al. 2018 (DIP-VAE, Eq. 6 / 7);
  Locatello et al. 2019b, "Disentangling factors of variation using few
  labels" (semi-supervised losses and γ_sup schedules).
"""

from __future__ import annotations

import math
from typing import Optional, Sequence, Union

import tensorflow as tf

from tfdis import kl
from tfdis.registry import check_choice

_LOG_2PI = math.log(2.0 * math.pi)

SUPERVISED_LOSSES = ("xent", "l2", "cov")
SUPERVISION_SCHEDULES = ("fixed", "anneal", "fine_tune")


def _flatten_sum(t: tf.Tensor) -> tf.Tensor:
  """Sums every axis but the batch axis: [B, ...] -> [B]."""
  return tf.reduce_sum(tf.reshape(t, [tf.shape(t)[0], -1]), axis=1)


# ---------------------------------------------------------------------------
# Reconstruction
# ---------------------------------------------------------------------------
def bernoulli_reconstruction(x: tf.Tensor, logits: tf.Tensor) -> tf.Tensor:
  """Per-sample Bernoulli negative log-likelihood, summed over pixels: [B].

  Σ_pixels sigmoid_cross_entropy(logits, x) (dlib ``bernoulli_loss`` with
  ``activation='logits'``). ``x`` may be any value in [0, 1] (the cross
  entropy of a soft target), as dlib allows.
  """
  x = tf.cast(x, logits.dtype)
  return _flatten_sum(
      tf.nn.sigmoid_cross_entropy_with_logits(labels=x, logits=logits))


def l2_reconstruction(x: tf.Tensor, logits: tf.Tensor) -> tf.Tensor:
  """Per-sample Σ_pixels (x − sigmoid(logits))²: [B] (dlib ``l2_loss``)."""
  x = tf.cast(x, logits.dtype)
  return _flatten_sum(tf.square(x - tf.sigmoid(logits)))


RECONSTRUCTION_LOSSES = {
    "bernoulli": bernoulli_reconstruction,
    "l2": l2_reconstruction,
}


def reconstruction_loss_fn(name: str):
  """The per-sample reconstruction function registered under ``name``."""
  return RECONSTRUCTION_LOSSES[check_choice(
      "reconstruction_loss", name, sorted(RECONSTRUCTION_LOSSES))]


# ---------------------------------------------------------------------------
# Gaussian posterior terms
# ---------------------------------------------------------------------------
def gaussian_kl(mean: tf.Tensor, logvar: tf.Tensor) -> tf.Tensor:
  """Per-sample KL to the standard normal prior, summed over latents: [B]."""
  # The per-latent KL has one definition for every caller: tfdis.kl.
  return tf.reduce_sum(kl.gaussian_kl_per_latent_tf(mean, logvar), axis=1)


def sample_gaussian(mean: tf.Tensor, logvar: tf.Tensor,
                    rng: Union[tf.random.Generator, tf.Tensor, None] = None
                    ) -> tf.Tensor:
  """Reparameterised sample z = μ + exp(ℓ/2)·ε, ε ~ N(0, I).

  ``rng`` is a ``tf.random.Generator`` (stateful, checkpointable), a stateless
  seed (int tensor of shape [2]) or None (global RNG; not reproducible).
  """
  shape = tf.shape(mean)
  if isinstance(rng, tf.random.Generator):
    eps = rng.normal(shape, dtype=mean.dtype)
  elif rng is None:
    eps = tf.random.normal(shape, dtype=mean.dtype)
  else:
    eps = tf.random.stateless_normal(shape, seed=rng, dtype=mean.dtype)
  return mean + tf.exp(0.5 * logvar) * eps


def gaussian_log_density(samples: tf.Tensor, mean: tf.Tensor,
                         logvar: tf.Tensor) -> tf.Tensor:
  """Elementwise log N(samples; μ, e^ℓ) (broadcasting)."""
  inv_sigma = tf.exp(-logvar)
  tmp = samples - mean
  return -0.5 * (tf.square(tmp) * inv_sigma + logvar + _LOG_2PI)


def total_correlation(z: tf.Tensor, mean: tf.Tensor, logvar: tf.Tensor,
                      dataset_size: Optional[float] = None) -> tf.Tensor:
  """Minibatch-weighted-sampling estimate of TC(z) (Chen et al. 2018, Eq. 5).

  With the [B, B, d] tensor ``L[j, i, l] = log q(z_jl | x_i)``:
  log q(z_j) ≈ logsumexp_i Σ_l L[j, i, l] and
  log Π_l q(z_jl) ≈ Σ_l logsumexp_i L[j, i, l]; TC = mean_j of the difference.

  The exact estimator subtracts log(B·N) inside each of the 1 + d log-sums, i.e.
  adds the constant (d − 1)·log(B·N) to the difference. dlib drops it (it does
  not change gradients). With ``dataset_size=None`` this returns dlib's value
  (constant dropped; the value used in the β-TCVAE loss); with the dataset
  size N it returns the constant-included estimate that tfdis *reports*, which
  is not negative by construction.
  """
  log_qz_prob = gaussian_log_density(z[:, None, :], mean[None, :, :],
                                     logvar[None, :, :])  # [B, B, d]
  log_qz_product = tf.reduce_sum(
      tf.reduce_logsumexp(log_qz_prob, axis=1), axis=1)  # [B]
  log_qz = tf.reduce_logsumexp(tf.reduce_sum(log_qz_prob, axis=2), axis=1)
  tc = tf.reduce_mean(log_qz - log_qz_product)
  if dataset_size is not None:
    batch = tf.cast(tf.shape(z)[0], tc.dtype)
    d = tf.cast(tf.shape(z)[1], tc.dtype)
    tc = tc + (d - 1.0) * tf.math.log(batch * tf.cast(dataset_size, tc.dtype))
  return tc


def chen_elbo_terms(z: tf.Tensor, mean: tf.Tensor, logvar: tf.Tensor,
                    dataset_size: float) -> dict:
  """Monte-Carlo terms of Chen et al.'s ELBO decomposition (2018, Eq. 2).

  As ``VAE.elbo`` of their ``beta-tcvae/vae_quant.py`` (used by the rPU-VAE
  code) with minibatch-weighted sampling (``mss=False``, App. C.1), for the
  reparameterised sample ``z`` [B, d] of q(z|x) and N = ``dataset_size``
  (the size of the set being trained on, e.g. rPU's current subset d).
  With ``L[b, j, l] = log q(z_bl | x_j)``, every term [B]:

  * ``logpz`` = Σ_l log N(z_bl; 0, 1);
  * ``logqz_condx`` = Σ_l L[b, b, l];
  * ``logqz`` = logsumexp_j Σ_l L[b, j, l] − log(B·N);
  * ``logqz_prodmarginals`` = Σ_l (logsumexp_j L[b, j, l] − log(B·N)).

  MI = logqz_condx − logqz, TC = logqz − logqz_prodmarginals and
  dimension-wise KL = logqz_prodmarginals − logpz sum to the Monte-Carlo KL
  logqz_condx − logpz.
  """
  log_qz_prob = gaussian_log_density(z[:, None, :], mean[None, :, :],
                                     logvar[None, :, :])      # [B, B, d]
  batch = tf.cast(tf.shape(z)[0], z.dtype)
  log_bn = tf.math.log(batch * tf.cast(dataset_size, z.dtype))
  zeros = tf.zeros_like(z)
  return {
      "logpz": tf.reduce_sum(gaussian_log_density(z, zeros, zeros), axis=1),
      "logqz_condx": tf.reduce_sum(gaussian_log_density(z, mean, logvar),
                                   axis=1),
      "logqz": tf.reduce_logsumexp(tf.reduce_sum(log_qz_prob, axis=2),
                                   axis=1) - log_bn,
      "logqz_prodmarginals": tf.reduce_sum(
          tf.reduce_logsumexp(log_qz_prob, axis=1) - log_bn, axis=1),
  }


def chen_tc_regularizer(z: tf.Tensor, mean: tf.Tensor, logvar: tf.Tensor,
                        beta, dataset_size: float):
  """β-TCVAE regularizer as Chen et al.'s code: (batch mean, terms).

  Their ``tcvae=True, include_mutinfo=True`` objective with λ = 0 (α = γ = 1,
  β on TC only), as the rPU-VAE configs run it: loss = −(log p(x|z) − MI −
  β·TC − dimension-wise KL); this returns mean_b(MI + β·TC + DWKL), the part
  besides the reconstruction. At β = 1 it is their plain ELBO's Monte-Carlo
  KL, logqz_condx − logpz. The terms are batch means (``total_correlation``
  includes the log(B·N) constants).
  """
  t = chen_elbo_terms(z, mean, logvar, dataset_size)
  mi = t["logqz_condx"] - t["logqz"]
  tc = t["logqz"] - t["logqz_prodmarginals"]
  dwkl = t["logqz_prodmarginals"] - t["logpz"]
  reg = tf.reduce_mean(mi + tf.cast(beta, tc.dtype) * tc + dwkl)
  return reg, {"mutual_information": tf.reduce_mean(mi),
               "total_correlation": tf.reduce_mean(tc),
               "dimension_wise_kl": tf.reduce_mean(dwkl)}


def covariance(x: tf.Tensor) -> tf.Tensor:
  """Batch covariance E[xxᵀ] − E[x]E[x]ᵀ (biased, as dlib): [d, d]."""
  mean_x = tf.reduce_mean(x, axis=0, keepdims=True)
  e_xx = tf.matmul(x, x, transpose_a=True) / tf.cast(tf.shape(x)[0], x.dtype)
  return e_xx - tf.matmul(mean_x, mean_x, transpose_a=True)


def dip_covariance(mean: tf.Tensor, logvar: Optional[tf.Tensor] = None,
                   dip_type: str = "i") -> tf.Tensor:
  """The covariance DIP-VAE regularises (Kumar et al. 2018, Eq. 6 / 7): [d, d].

  ``dip_type='i'``: Cov_batch(μ); ``'ii'``: Cov_batch(μ) + mean_batch(diag(e^ℓ))
  (the covariance of the aggregate posterior q(z)).
  """
  cov = covariance(mean)
  if dip_type == "i":
    return cov
  if dip_type == "ii":
    if logvar is None:
      raise ValueError("dip_covariance(dip_type='ii') needs logvar")
    return cov + tf.linalg.diag(tf.reduce_mean(tf.exp(logvar), axis=0))
  raise ValueError(f"dip_type must be 'i' or 'ii', got {dip_type!r}")


def dip_regularizer(cov: tf.Tensor, lambda_od, lambda_d) -> tf.Tensor:
  """λ_od Σ_{i≠j} C_ij² + λ_d Σ_i (C_ii − 1)² (Kumar et al. 2018, Eq. 6)."""
  diag = tf.linalg.diag_part(cov)
  off = cov - tf.linalg.diag(diag)
  return (lambda_od * tf.reduce_sum(tf.square(off)) +
          lambda_d * tf.reduce_sum(tf.square(diag - 1.0)))


def permute_dims(z: tf.Tensor,
                 seed: Union[tf.random.Generator, tf.Tensor, None] = None
                 ) -> tf.Tensor:
  """Permutes each latent column independently across the batch.

  Kim & Mnih 2018, Alg. 1 (``permute_dims``): samples from Π_j q(z_j). Each
  column keeps exactly its values, only their order changes. Vectorised: one
  argsort of uniform noise per column. ``seed`` as in :func:`sample_gaussian`.
  """
  shape = tf.shape(z)
  if isinstance(seed, tf.random.Generator):
    noise = seed.uniform(shape)
  elif seed is None:
    noise = tf.random.uniform(shape)
  else:
    noise = tf.random.stateless_uniform(shape, seed=seed)
  perm = tf.argsort(noise, axis=0)  # [B, d]: row order of each column
  # Gather per column: transpose to [d, B] so batch_dims=1 walks the columns.
  permuted = tf.gather(tf.transpose(z), tf.transpose(perm), batch_dims=1)
  return tf.transpose(permuted)


def annealed_capacity(step, c_max, iteration_threshold) -> tf.Tensor:
  """C(step) = min(c_max, c_max·step / iteration_threshold) (Burgess 2018)."""
  step = tf.cast(step, tf.float32)
  c_max = tf.cast(c_max, tf.float32)
  return tf.minimum(c_max, c_max * step / tf.cast(iteration_threshold,
                                                  tf.float32))


def annealed_regularizer(kl_loss, step, gamma, c_max,
                         iteration_threshold) -> tf.Tensor:
  """γ·|KL − C(step)| (Burgess et al. 2018, Eq. 8)."""
  c = annealed_capacity(step, c_max, iteration_threshold)
  return gamma * tf.abs(kl_loss - c)


def discriminator_probabilities(logits: tf.Tensor) -> tf.Tensor:
  """Softmax of the FactorVAE discriminator, clipped to [1e-6, 1 − 1e-6]."""
  return tf.clip_by_value(tf.nn.softmax(logits), 1e-6, 1.0 - 1e-6)


def factor_vae_tc(logits_z: tf.Tensor) -> tf.Tensor:
  """Density-ratio TC estimate mean_batch(D(z)₀ − D(z)₁) (Kim & Mnih, Eq. 3)."""
  return tf.reduce_mean(logits_z[:, 0] - logits_z[:, 1])


def factor_vae_discriminator_loss(logits_z: tf.Tensor,
                                  logits_z_perm: tf.Tensor) -> tf.Tensor:
  """−[½ mean log p(z)₀ + ½ mean log p(z_perm)₁] (dlib ``discr_vae_loss``)."""
  p = discriminator_probabilities(logits_z)
  p_perm = discriminator_probabilities(logits_z_perm)
  return -(0.5 * tf.reduce_mean(tf.math.log(p[:, 0])) +
           0.5 * tf.reduce_mean(tf.math.log(p_perm[:, 1])))


# ---------------------------------------------------------------------------
# Semi-supervised (Locatello et al. 2019b, Sec. 3)
# ---------------------------------------------------------------------------
def _mask(labels: tf.Tensor, mask: Optional[tf.Tensor]) -> tf.Tensor:
  if mask is None:
    return tf.ones_like(labels)
  return tf.cast(mask, labels.dtype)


def supervised_xent(mean: tf.Tensor, labels: tf.Tensor,
                    mask: Optional[tf.Tensor] = None) -> tf.Tensor:
  """Per-sample Σ_k mask·sigmoid_CE(logits=μ[:, k], labels[:, k]): [B].

  ``labels`` must already be normalised to [0, 1] (dlib divides factor
  indices by the factor size). Unlabelled entries (mask 0) contribute 0.
  """
  k = labels.shape[-1]
  xent = tf.nn.sigmoid_cross_entropy_with_logits(labels=labels,
                                                 logits=mean[:, :k])
  return tf.reduce_sum(xent * _mask(labels, mask), axis=1)


def supervised_l2(mean: tf.Tensor, labels: tf.Tensor,
                  mask: Optional[tf.Tensor] = None,
                  scale: Union[tf.Tensor, float] = 1.0) -> tf.Tensor:
  """Per-sample 2·½ Σ_k mask·(μ[:, k]·b − labels[:, k])²: [B] (b learned)."""
  k = labels.shape[-1]
  err = tf.square(mean[:, :k] * scale - labels)
  return tf.reduce_sum(err * _mask(labels, mask), axis=1)


def supervised_cov(mean: tf.Tensor, labels: tf.Tensor,
                   mask: Optional[tf.Tensor] = None) -> tf.Tensor:
  """Σ_jk (Cov(μ[:, :K], labels)_jk − I_jk)² over the labelled rows: scalar.

  Entry (j, k) uses the rows where factor k is labelled (masked means), so
  partial labels work. Returns 0 when nothing is labelled.
  """
  k = labels.shape[-1]
  m = _mask(labels, mask)  # [B, K]
  mu = mean[:, :k]
  count = tf.reduce_sum(m, axis=0)  # [K] labelled rows per factor
  safe = tf.maximum(count, 1.0)
  # Means of μ_j over the rows where factor k is labelled: [K(j), K(k)].
  mu_mean = tf.matmul(mu, m, transpose_a=True) / safe[None, :]
  lab_mean = tf.reduce_sum(labels * m, axis=0) / safe  # [K]
  e_mu_lab = tf.matmul(mu, labels * m, transpose_a=True) / safe[None, :]
  cov = e_mu_lab - mu_mean * lab_mean[None, :]
  has = tf.cast(count > 1.0, mu.dtype)[None, :]
  return tf.reduce_sum(tf.square((cov - tf.eye(k, dtype=mu.dtype)) * has))


def supervised_loss(name: str, mean: tf.Tensor, labels: tf.Tensor,
                    mask: Optional[tf.Tensor] = None,
                    scale: Union[tf.Tensor, float] = 1.0) -> tf.Tensor:
  """Batch value of the supervised loss ``name`` (xent / l2 / cov): scalar.

  xent and l2 are sums over the labelled entries divided by the batch size
  (unlabelled rows count as 0), which is additive over replicas and on the
  per-sample scale of the reconstruction term. dlib summed over a separate
  labelled batch, so its γ_sup values are larger by that batch's size.
  """
  check_choice("supervised loss", name, SUPERVISED_LOSSES)
  labels = tf.cast(labels, mean.dtype)
  if name == "xent":
    return tf.reduce_mean(supervised_xent(mean, labels, mask))
  if name == "l2":
    return tf.reduce_mean(supervised_l2(mean, labels, mask, scale))
  return supervised_cov(mean, labels, mask)


def supervision_weight(schedule: str, step, gamma_sup,
                       threshold) -> tf.Tensor:
  """γ_sup(step) for the schedules of Locatello et al. 2019b.

  ``fixed``: γ; ``anneal``: min(γ, γ·step/threshold); ``fine_tune``: 0 before
  ``threshold`` and γ from it on.
  """
  check_choice("supervision schedule", schedule, SUPERVISION_SCHEDULES)
  step = tf.cast(step, tf.float32)
  gamma_sup = tf.cast(gamma_sup, tf.float32)
  threshold = tf.cast(threshold, tf.float32)
  if schedule == "fixed":
    return gamma_sup
  if schedule == "anneal":
    return tf.minimum(gamma_sup, gamma_sup * step / threshold)
  return tf.where(step < threshold, tf.zeros_like(gamma_sup), gamma_sup)


def normalize_labels(labels, factor_sizes: Optional[Sequence[int]] = None):
  """Labels to [0, 1]: factor indices / factor size (dlib), or min–max.

  numpy in, numpy out (done once when the labels are loaded, not per step).
  Without ``factor_sizes`` (continuous surrogate labels) each column is
  min–max scaled over its rows.
  """
  import numpy as np

  labels = np.asarray(labels, dtype=np.float32)
  if factor_sizes is not None:
    return labels / np.asarray(factor_sizes, dtype=np.float32)[None, :]
  lo = labels.min(axis=0, keepdims=True)
  span = labels.max(axis=0, keepdims=True) - lo
  return (labels - lo) / np.where(span > 0, span, 1.0)
