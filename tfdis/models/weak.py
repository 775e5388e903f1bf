"""Weakly-supervised VAEs on pairs: Ada-GVAE and Ada-ML-VAE.

Locatello et al. 2020, "Weakly-supervised disentanglement without
compromises" (Sec. 4, Eq. 3–5), as dlib ``methods/weak/weak_vae.py``
implements them (``group_vae_argmax`` and ``mlvae_argmax``).

A training example is a pair (x₁, x₂) whose factors agree except for k
(``tfdis.data.structured.pair_dataset``). Both are encoded; per latent j

  δ_j = KL(q(z_j|x₁) ‖ q(z_j|x₂))                          (Eq. 5)

and, per pair, the adaptive threshold τ = ½(max_j δ_j + min_j δ_j) splits the
latents: δ_j < τ are shared, the others keep their own posteriors (dlib bins
δ into two equal-width bins over [min, max]; bin 0 is shared). When all δ_j
are equal there is nothing to split and every latent counts as shared
(dlib's histogram divides 0 by 0 there; on x86 that also averages all).
Shared latents of both examples get one aggregate posterior:

* ``ada_gvae``: the arithmetic mean of the means and of the variances
  (μ = ½(μ₁ + μ₂), σ² = ½(σ₁² + σ₂²): variances averaged in linear, not
  log, space; Hosoya 2019).
* ``ml_vae``: dlib's product-of-experts aggregate (Bouchacourt et al. 2018):
  the precision-weighted mean μ = (μ₁/σ₁² + μ₂/σ₂²)/(1/σ₁² + 1/σ₂²) with the
  averaged precision 1/σ² = ½(1/σ₁² + 1/σ₂²) — the normalised geometric
  mean √(q₁q₂) of the two Gaussians. Its variance is twice that of the
  plain product q₁q₂ (1/σ² = 1/σ₁² + 1/σ₂²); dlib's ``new_var = 2 v₁v₂ /
  (v₁ + v₂)`` is reproduced.

Both examples are then decoded from samples of their (partly aggregated)
posteriors and the loss is the β-VAE ELBO of each, averaged over the pair as
dlib does (reconstruction ½(r₁ + r₂), KL ½(KL₁ + KL₂)); the paper's Eq. 3
sums the two, i.e. twice this loss, which Adam's scale invariance makes the
same up to ε. ``kl_loss``/``per_latent_kl`` are those of the aggregated
posteriors (what the loss regularises).

Hyperparameters: β (dlib's sweep 1, 2, 4, 6, 8, 16) and k, the number of
factors a pair's second image resamples (an integer ≥ 1, or -1 for a k drawn
per pair, dlib's ``dynamics.k = -1``). k is not used by the loss (the
threshold is adaptive); :meth:`training_data` builds the pairs with it and
every batch carries it, so a run whose data and model disagree on k fails
on its first step instead of training on the wrong pairs.
"""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional, Tuple

import tensorflow as tf

from tfdis.data import structured
from tfdis import kl
from tfdis.models import losses
from tfdis.models.base import ACTIVE_KL_THRESHOLD, GaussianVAE
from tfdis.registry import MODELS

_LOG_2 = 0.6931471805599453


def pair_kl(mean_1, logvar_1, mean_2, logvar_2) -> tf.Tensor:
  """KL(N(μ₁, σ₁²) ‖ N(μ₂, σ₂²)) per latent, [B, d].

  dlib's ``compute_kl`` omits the factor ½; the threshold is invariant to
  the scale, so the split is the same.
  """
  return 0.5 * (tf.exp(logvar_1 - logvar_2) +
                tf.square(mean_2 - mean_1) * tf.exp(-logvar_2) - 1.0 +
                logvar_2 - logvar_1)


def adaptive_shared_mask(delta) -> tf.Tensor:
  """bool [B, d]: δ_j < ½(max δ + min δ) per row; all True on a tie."""
  hi = tf.reduce_max(delta, axis=1, keepdims=True)
  lo = tf.reduce_min(delta, axis=1, keepdims=True)
  return tf.logical_or(delta < 0.5 * (hi + lo), tf.equal(hi, lo))


def arithmetic_mean_posterior(mean_1, logvar_1, mean_2, logvar_2
                              ) -> Tuple[tf.Tensor, tf.Tensor]:
  """Ada-GVAE: (½(μ₁ + μ₂), log ½(σ₁² + σ₂²)), computed in log space."""
  logvar = tf.reduce_logsumexp(tf.stack([logvar_1, logvar_2]), axis=0) - _LOG_2
  return 0.5 * (mean_1 + mean_2), logvar


def product_of_experts_posterior(mean_1, logvar_1, mean_2, logvar_2
                                 ) -> Tuple[tf.Tensor, tf.Tensor]:
  """ML-VAE as dlib: precision-weighted mean, averaged precision."""
  # Weight of μ₁: (1/σ₁²)/(1/σ₁² + 1/σ₂²) = sigmoid(ℓ₂ − ℓ₁), overflow-free.
  w = tf.sigmoid(logvar_2 - logvar_1)
  logvar = -(tf.reduce_logsumexp(tf.stack([-logvar_1, -logvar_2]), axis=0)
             - _LOG_2)
  return w * mean_1 + (1.0 - w) * mean_2, logvar


class _PairVAE(GaussianVAE):
  """Shared machinery of the adaptive group VAEs (subclasses: aggregate)."""

  HYPERPARAMETERS = {"beta": (1.0, 0.0), "k": (1, structured.RANDOM_K)}
  INTEGER_HYPERPARAMETERS = ("k",)

  @staticmethod
  def aggregate(mean_1, logvar_1, mean_2, logvar_2):
    raise NotImplementedError

  @classmethod
  def validate_hyperparameters(cls, hyperparameters):
    out = super().validate_hyperparameters(hyperparameters)
    if out["k"] == 0:
      raise ValueError(f"{cls.family}: k must be >= 1 (factors resampled per "
                       f"pair) or {structured.RANDOM_K} for random, got 0")
    return out

  @classmethod
  def training_data(cls, data, batch_size: int, seed: int, indices=None,
                    labels=None,
                    hyperparameters: Optional[Mapping[str, Any]] = None
                    ) -> tf.data.Dataset:
    """Global batches of pairs with the model's k (``hyperparameters['k']``;
    the trainer passes the run's hyperparameters)."""
    if labels is not None:
      raise ValueError(f"{cls.family} learns from pairs and takes no factor "
                       "labels: drop supervision/labels/num_labels")
    k = cls.validate_hyperparameters(hyperparameters)["k"]
    return structured.pair_dataset(data, batch_size, k=k, seed=seed,
                                   indices=indices)

  def _build_extra(self, hparams) -> None:
    if self.supervision is not None:
      raise ValueError(f"{self.family} takes no supervision= (it is "
                       "weakly supervised by pairs)")

  def _unpack_pairs(self, batch):
    if not isinstance(batch, Mapping) or "images" not in batch:
      raise ValueError(
          f"{self.family} trains on pairs {{'images': [B, 2, H, W, C], 'k': "
          f"[B]}} from {type(self).__name__}.training_data, got "
          f"{type(batch).__name__}")
    images = tf.convert_to_tensor(batch["images"])
    if images.shape.rank != 5 or images.shape[1] != 2:
      raise ValueError(f"{self.family}: pair images must have shape "
                       f"[B, 2, H, W, C], got {images.shape}")
    return images[:, 0], images[:, 1], batch.get("k")

  def compute_losses(self, batch, training: bool = True):
    """Loss terms on a batch of pairs (module docstring)."""
    x1, x2, k = self._unpack_pairs(batch)
    if k is not None:
      tf.debugging.assert_equal(
          tf.cast(k, tf.float32), self.hyperparameter_variables["k"],
          message=f"{self.family}: the pairs were sampled with another k "
                  "than the model's hyperparameter k")
    # One encoder call on both halves (batch statistics see both).
    mean, logvar = self.encoder(tf.concat([x1, x2], axis=0),
                                training=training)
    mean_1, mean_2 = tf.split(mean, 2, axis=0)
    logvar_1, logvar_2 = tf.split(logvar, 2, axis=0)
    delta = pair_kl(mean_1, logvar_1, mean_2, logvar_2)
    shared = adaptive_shared_mask(delta)
    agg_mean, agg_logvar = self.aggregate(mean_1, logvar_1, mean_2, logvar_2)
    mean_1 = tf.where(shared, agg_mean, mean_1)
    mean_2 = tf.where(shared, agg_mean, mean_2)
    logvar_1 = tf.where(shared, agg_logvar, logvar_1)
    logvar_2 = tf.where(shared, agg_logvar, logvar_2)
    means = tf.concat([mean_1, mean_2], axis=0)
    logvars = tf.concat([logvar_1, logvar_2], axis=0)
    z = losses.sample_gaussian(means, logvars, self.rng)
    logits = self.decoder(z, training=training)
    # Mean over all 2B images = ½(r₁ + r₂) for equal halves (dlib).
    reconstruction_loss = tf.reduce_mean(
        self._reconstruction_fn(tf.concat([x1, x2], axis=0), logits))
    kl_per_latent = kl.per_latent_kl_tf(means, logvars)
    kl_loss = tf.reduce_sum(kl_per_latent)
    regularizer = self.hyperparameter_variables["beta"] * kl_loss
    loss = reconstruction_loss + regularizer
    terms: Dict[str, tf.Tensor] = dict(
        loss=loss, reconstruction_loss=reconstruction_loss, kl_loss=kl_loss,
        regularizer=regularizer, elbo=-(reconstruction_loss + kl_loss),
        per_latent_kl=kl_per_latent,
        num_active_latents=tf.reduce_sum(tf.cast(
            kl_per_latent > ACTIVE_KL_THRESHOLD, tf.float32)),
        num_shared_latents=tf.reduce_mean(tf.reduce_sum(
            tf.cast(shared, tf.float32), axis=1)),
        pair_kl=tf.reduce_mean(tf.reduce_sum(delta, axis=1)))
    return loss, terms


@MODELS.register("ada_gvae")
class AdaGVAE(_PairVAE):
  """Ada-GVAE (Locatello et al. 2020; dlib ``group_vae_argmax``)."""

  family = "ada_gvae"
  aggregate = staticmethod(arithmetic_mean_posterior)


@MODELS.register("ml_vae")
class AdaMLVAE(_PairVAE):
  """Ada-ML-VAE (Locatello et al. 2020; dlib ``mlvae_argmax``)."""

  family = "ml_vae"
  aggregate = staticmethod(product_of_experts_posterior)
