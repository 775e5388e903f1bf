"""FactorVAE (Kim & Mnih 2018, Alg. 2; dlib ``FactorVAE``).

regularizer = KL + γ·mean_batch(D(z)₀ − D(z)₁), the density-ratio estimate of
the total correlation by a discriminator D (6 × Dense(1000, leaky ReLU) -> 2
logits) trained to tell q(z) from the column-permuted Π_j q(z_j).

One :meth:`FactorVAE.train_step` = one update of the VAE (its Adam: lr 1e-4,
β₁ 0.9, β₂ 0.999, ε 1e-8) and one of the discriminator (its own Adam: lr
1e-4, β₁ 0.5, β₂ 0.9), both from gradients of the same forward pass, as dlib
does (``tf.group`` of both minimise ops). The step counter advances by ONE.
dlib advanced it twice per step (both ``minimize`` calls received the
global step), so dlib's "300,000 steps" of FactorVAE were 150,000 updates of
each network; to reproduce those models train for 150,000 tfdis steps.
"""

from __future__ import annotations

from typing import Dict

import keras
import tensorflow as tf

from tfdis.models import architectures, losses
from tfdis.models.base import GaussianVAE
from tfdis.registry import MODELS

DISCRIMINATOR_ADAM = dict(learning_rate=1e-4, beta_1=0.5, beta_2=0.9,
                          epsilon=1e-8)
# Recorded in train.json / metadata: the dlib step-counter deviation.
STEP_COUNTER_NOTE = (
    "one tfdis step = one VAE update + one discriminator update; dlib counted "
    "two steps per such update, so dlib's N steps = N/2 tfdis steps")


@MODELS.register("factor_vae")
class FactorVAE(GaussianVAE):
  """FactorVAE with its discriminator and second optimiser."""

  family = "factor_vae"
  VECTORISABLE = False  # its discriminator is not part of the ensemble
  HYPERPARAMETERS = {"gamma": (10.0, 0.0)}

  def _build_extra(self, hparams) -> None:
    self.discriminator = architectures.make_discriminator(self.latent_dim)
    self.discriminator_optimizer = keras.optimizers.Adam(
        name="discriminator_adam", **DISCRIMINATOR_ADAM)

  @property
  def optimizers(self) -> Dict[str, keras.optimizers.Optimizer]:
    return {"vae_optimizer": self.vae_optimizer,
            "discriminator_optimizer": self.discriminator_optimizer}

  def build_optimizers(self) -> None:
    super().build_optimizers()
    self.discriminator_optimizer.build(
        self.discriminator.trainable_variables)

  def fresh_networks(self):
    nets = super().fresh_networks()
    nets["discriminator"] = architectures.make_discriminator(self.latent_dim)
    return nets

  def checkpoint_objects(self):
    objs = super().checkpoint_objects()
    objs["discriminator"] = self.discriminator
    return objs

  def regularizer(self, kl_loss, mean, logvar, z, training):
    logits_z = self.discriminator(z, training=training)
    tc = losses.factor_vae_tc(logits_z)
    # The discriminator sees z held fixed: its loss must not move the VAE.
    z_fixed = tf.stop_gradient(z)
    z_perm = losses.permute_dims(z_fixed, self.rng)
    disc_loss = losses.factor_vae_discriminator_loss(
        self.discriminator(z_fixed, training=training),
        self.discriminator(z_perm, training=training))
    reg = kl_loss + self.hyperparameter_variables["gamma"] * tc
    return reg, {"total_correlation": tc, "discriminator_loss": disc_loss}

  def objectives(self, loss, terms):
    """The VAE's loss and the discriminator's, from one forward pass."""
    return super().objectives(loss, terms) + [
        (terms["discriminator_loss"], self.discriminator.trainable_variables,
         self.discriminator_optimizer)]
