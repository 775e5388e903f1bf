"""DARLA's β-VAE_DAE (Higgins et al. 2017, "DARLA: Improving Zero-Shot
Transfer in Reinforcement Learning"; also SCAN, Higgins et al. 2018, Sec. 3).

Stage 1 — a denoising autoencoder (DAE) learns to restore images from
corrupted copies. Stage 2 — a β-VAE whose reconstruction term is measured in
the DAE's feature space instead of pixel space (DARLA Eq. 2):

  loss = E_q[‖J(x̂) − J(x)‖²] + β·KL(q(z|x) ‖ N(0, I)),  x̂ = sigmoid(logits),

with J the DAE's encoder layers up to ``feature_depth`` (a hyperparameter:
0 = the identity, i.e. the pixel L2 loss; 1–4 = the four convolutions; 5 =
the Dense(256) layer). ‖·‖² sums over features, the loss is its batch mean.
The DAE is frozen in stage 2 (only the VAE's variables are updated; the
gradient flows through J(x̂) into the decoder).

One command trains both stages (``tfdis.models.staged``): steps 0 …
``dae_steps`` − 1 update the DAE (its own Adam, the run's learning rate),
later steps the β-VAE. The stage follows from the step counter in the
checkpoint, so an interrupted run resumes in the right stage; ``steps`` of a
run is the total (DAE + β-VAE).

DAE: dlib-sized networks (encoder Conv 32-4-2, 32-4-2, 64-2-2, 64-2-2, Dense
256, ReLU; decoder mirroring dlib's deconv from the 256 features), Bernoulli
loss on the clean image. Corruption: masking noise — each image gets one
random axis-aligned rectangle (sides uniform in [H/8, H/2]) set to 0 (DARLA
trains its DAE with occlusion-style masking; the exact patch distribution is
ours). Not from the papers (not in the slides): the DAE sizes and the default
depth 3 (J(x) = the 8×8×64 third-layer feature map).

Logged terms: stage 1 logs ``dae_loss`` (also as ``loss`` and
``reconstruction_loss``; VAE terms 0); stage 2 the β-VAE terms with
``reconstruction_loss`` = the feature-space loss; ``stage`` is 0 or 1.
"""

from __future__ import annotations

from typing import Any, Dict

import keras
import tensorflow as tf
from keras import layers

from tfdis.models import losses, staged
from tfdis.models.base import ADAM_DEFAULTS, GaussianVAE
from tfdis.registry import MODELS

DAE_FEATURES = 256
MAX_FEATURE_DEPTH = 5


def feature_distance(features_x: tf.Tensor, features_recon: tf.Tensor
                     ) -> tf.Tensor:
  """Per-sample ‖J(x̂) − J(x)‖², summed over every feature: [B]."""
  diff = tf.reshape(features_recon - features_x,
                    [tf.shape(features_x)[0], -1])
  return tf.reduce_sum(tf.square(diff), axis=1)


def masking_noise(images: tf.Tensor, rng: tf.random.Generator) -> tf.Tensor:
  """Zeroes one random rectangle per image (sides in [H/8, H/2])."""
  shape = tf.shape(images)
  batch, height, width = shape[0], shape[1], shape[2]
  h = tf.cast(height, tf.float32)
  w = tf.cast(width, tf.float32)
  u = rng.uniform(tf.stack([batch, 4]))
  box_h = h / 8 + u[:, 0] * (h / 2 - h / 8)
  box_w = w / 8 + u[:, 1] * (w / 2 - w / 8)
  top = u[:, 2] * (h - box_h)
  left = u[:, 3] * (w - box_w)
  rows = tf.cast(tf.range(height), tf.float32)[None, :]
  cols = tf.cast(tf.range(width), tf.float32)[None, :]
  in_rows = (rows >= top[:, None]) & (rows < (top + box_h)[:, None])
  in_cols = (cols >= left[:, None]) & (cols < (left + box_w)[:, None])
  mask = tf.cast(in_rows[:, :, None] & in_cols[:, None, :], images.dtype)
  return images * (1.0 - mask[..., None])


def _dae_layers():
  """The DAE encoder as a list of layers; J = the first ``depth`` of them."""
  convs = [layers.Conv2D(f, k, strides=2, padding="same", activation="relu",
                         name=f"dae_e{i}")
           for i, (f, k) in enumerate(((32, 4), (32, 4), (64, 2), (64, 2)),
                                      start=1)]
  dense = keras.Sequential([layers.Flatten(name="dae_flatten"),
                            layers.Dense(DAE_FEATURES, activation="relu",
                                         name="dae_e5")], name="dae_e5_block")
  return convs + [dense]


def _dae_decoder(observation_shape) -> keras.Model:
  z = keras.Input((DAE_FEATURES,), name="features")
  h = layers.Dense(1024, activation="relu", name="dae_d1")(z)
  h = layers.Reshape((4, 4, 64), name="dae_reshape")(h)
  for i, filters in zip((2, 3, 4), (64, 32, 32)):
    h = layers.Conv2DTranspose(filters, 4, strides=2, activation="relu",
                               padding="same", name=f"dae_d{i}")(h)
  logits = layers.Conv2DTranspose(observation_shape[2], 4, strides=2,
                                  padding="same", name="dae_d5")(h)
  return keras.Model(z, logits, name="dae_decoder")


@MODELS.register("darla")
class DARLA(GaussianVAE):
  """β-VAE_DAE: a DAE (stage 1), then a β-VAE with a DAE-feature loss."""

  family = "darla"
  HYPERPARAMETERS = {"beta": (1.0, 0.0), "dae_steps": (100000, 0),
                     "feature_depth": (3, 0)}
  INTEGER_HYPERPARAMETERS = ("dae_steps", "feature_depth")
  STRUCTURAL = ("dae_steps", "feature_depth")

  def _build_extra(self, hparams) -> None:
    depth = int(hparams["feature_depth"])
    if depth > MAX_FEATURE_DEPTH:
      raise ValueError(f"darla: feature_depth must be in 0..{MAX_FEATURE_DEPTH}"
                       f" (0 = pixels, 1-4 = DAE convolutions, 5 = its Dense "
                       f"layer), got {depth}")
    if self.observation_shape[:2] != (64, 64):
      raise ValueError("darla's DAE needs 64×64 images, got "
                       f"{self.observation_shape}")
    self.feature_depth = depth
    self.dae_steps = int(hparams["dae_steps"])
    self.dae_encoder_layers = _dae_layers()
    images = keras.Input(self.observation_shape, name="images")
    h = images
    for layer in self.dae_encoder_layers:
      h = layer(h)
    self.dae_encoder = keras.Model(images, h, name="dae_encoder")
    self.dae_decoder = _dae_decoder(self.observation_shape)
    self.dae_optimizer = keras.optimizers.Adam(
        learning_rate=self.learning_rate,
        name="dae_adam", **ADAM_DEFAULTS)
    # Stage 2's reconstruction term: distance in the DAE's feature space.
    self._reconstruction_fn = self.feature_reconstruction_loss

  # ---- losses --------------------------------------------------------------
  def features(self, images: tf.Tensor) -> tf.Tensor:
    """J(images): the DAE encoder up to ``feature_depth`` (0 = identity)."""
    h = images
    for layer in self.dae_encoder_layers[:self.feature_depth]:
      h = layer(h, training=False)
    return h

  def feature_reconstruction_loss(self, images, logits) -> tf.Tensor:
    """Per-sample ‖J(sigmoid(logits)) − J(x)‖²: [B]."""
    return feature_distance(self.features(images),
                            self.features(tf.sigmoid(logits)))

  def dae_loss(self, images, training: bool = True) -> tf.Tensor:
    """Bernoulli NLL of the clean images from the masked ones (batch mean)."""
    noisy = masking_noise(images, self.rng)
    logits = self.dae_decoder(self.dae_encoder(noisy, training=training),
                              training=training)
    return tf.reduce_mean(losses.bernoulli_reconstruction(images, logits))

  def regularizer(self, kl_loss, mean, logvar, z, training):
    return self.hyperparameter_variables["beta"] * kl_loss, {}

  # ---- configuration -------------------------------------------------------
  @property
  def dae_variables(self):
    return (self.dae_encoder.trainable_variables +
            self.dae_decoder.trainable_variables)

  @property
  def optimizers(self) -> Dict[str, keras.optimizers.Optimizer]:
    return {"vae_optimizer": self.vae_optimizer,
            "dae_optimizer": self.dae_optimizer}

  def build_optimizers(self) -> None:
    super().build_optimizers()
    self.dae_optimizer.build(self.dae_variables)

  def set_learning_rate(self, learning_rate: float) -> None:
    super().set_learning_rate(learning_rate)
    self.dae_optimizer.learning_rate.assign(float(learning_rate))

  def set_hyperparameters(self, hyperparameters) -> None:
    merged = self.validate_hyperparameters(
        dict(self.hyperparameters(), **dict(hyperparameters)))
    staged.check_fixed_hyperparameters(self.family, self.STRUCTURAL,
                                       self.hyperparameters(), merged)
    super().set_hyperparameters(merged)

  def checkpoint_objects(self):
    objs = super().checkpoint_objects()
    objs.update(dae_encoder=self.dae_encoder, dae_decoder=self.dae_decoder)
    return objs

  def model_config(self) -> Dict[str, Any]:
    cfg = super().model_config()
    cfg["reconstruction_loss"] = (
        f"dae_features(depth={self.feature_depth})")
    cfg["stages"] = {"dae": [0, self.dae_steps],
                     "beta_vae": [self.dae_steps, None]}
    return cfg

  # ---- training ------------------------------------------------------------
  def train_step(self, batch):
    """Steps < dae_steps: one DAE update; afterwards one β-VAE update."""
    images = self._unpack(batch)[0]
    names = staged.COMMON_TERMS + ("dae_loss",)

    def dae_stage():
      def loss_fn():
        loss = self.dae_loss(images)
        return loss, {"loss": loss, "reconstruction_loss": loss,
                      "dae_loss": loss}
      terms = staged.apply_update(self, loss_fn, self.dae_variables,
                                  self.dae_optimizer)
      return staged.complete_terms(terms, names, self.latent_dim, 0)

    def vae_stage():
      terms = staged.apply_update(
          self, lambda: self.compute_losses(batch, training=True),
          self.vae_variables, self.vae_optimizer)
      return staged.complete_terms(terms, names, self.latent_dim, 1)

    return staged.two_stage_step(self, self.dae_steps, dae_stage, vae_stage)
