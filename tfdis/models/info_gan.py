"""InfoGAN (Chen et al. 2016, "InfoGAN: Interpretable Representation Learning
by Information Maximizing Generative Adversarial Nets").

Objective (paper Eq. 6): min_{G,Q} max_D V(D, G) − λ·L_I(G, Q), with the
variational lower bound of the mutual information (Eq. 5 / Lemma 5.1)

  L_I(G, Q) = E_{c∼P(c), x∼G(z,c)}[log Q(c|x)] + H(c) ≤ I(c; G(z, c)).

Latent input of the generator: noise z ∼ U(−1, 1)^noise_dim (incompressible),
one categorical code c_cat ∼ Cat(K = ``categories``, uniform) and d =
``latent_dim`` continuous codes c_cont ∼ U(−1, 1)^d. Q shares D's trunk and
outputs categorical logits (log Q(c_cat|x) = log softmax) and a diagonal
Gaussian over c_cont (paper Sec. 6: "we simply treat Q(c_i|x) as a factored
Gaussian"); ``fixed_std = 1`` (default) fixes σ = 1 as the reference code
does for its continuous codes (``Uniform(1, fix_std=True)``), 0 learns log σ².

Networks ("dlib-sized"): D/Q trunk = dlib's ``conv`` encoder shape (Conv 32-4-2,
32-4-2, 64-2-2, 64-2-2, Dense 256) with leaky ReLU (0.2) and no batch norm
(so Q's code estimate of a real image does not depend on its batch); heads
Dense(1) real/fake logit, Dense(K) categorical logits, Dense(d) means and
Dense(d) log-variances. G = dlib's ``deconv`` decoder shape (Dense 256,
1024, ConvT 64/32/32/C) with batch norm + ReLU (DCGAN practice); it outputs
logits and D sees sigmoid(logits), images in [0, 1] like the data.

Training (reference code ``InfoGANTrainer``): one step = one update of D and
one of G from the same forward pass (like FactorVAE here), each with its own
Adam (β₁ = 0.5): D/Q lr 2e-4 (``discriminator_lr``), G lr 1e-3
(``generator_lr``). D and Q (its head) minimise
  BCE(D(x), 1) + BCE(D(G(z,c)), 0) + λ·NLL_Q,
G minimises the non-saturating −log D(G(z, c)) + λ·NLL_Q, with NLL_Q =
−E[log Q(c|G(z,c))] = H(c) − L_I. λ = 1 (``lambda_info``; the paper uses λ = 1
for discrete codes and notes a smaller λ may suit continuous ones).
The learning rates are hyperparameters (assigned to the optimisers'
learning-rate variables); the run-level ``learning_rate`` is ignored.

SavedModel contract mapping (for the metrics, UDR and visualisations):
  * ``gaussian_encoder`` / ``mean_encoder``: Q's Gaussian over the d
    continuous codes of an image (mean; log-variance, 0 when ``fixed_std``).
  * ``decoder``: ``latents`` [None, d] = the continuous codes c_cont; the
    generator is run with the noise fixed at z = 0 (the mean of its uniform
    prior) and the categorical code fixed at category 0 (one-hot e₀).
    ``latent_dim`` = d, the size of the representation.
  * ``reconstructions``: G(0, e₀, Q-means(x)) — not a reconstruction of x in
    the VAE sense (the categorical code and the noise are not inferred).
  * extra signatures: ``categorical_probabilities`` images -> {probabilities
    [None, K]} (Q's softmax); ``generator`` {noise [None, noise_dim],
    categorical [None, K] one-hot, continuous [None, d]} -> {images} logits.

Logged terms (the trainer's progress line reads the VAE names; for a GAN they
mean): ``loss`` = discriminator_loss + generator_loss; ``reconstruction_loss``
= NLL_Q, how badly Q recovers the codes of generated images (the "code
reconstruction" error); ``regularizer`` = λ·NLL_Q; ``kl_loss`` = Σ_j of
``per_latent_kl``, the batch-mean KL(Q(c_j|x) ‖ N(0, 1)) on REAL images (not
part of the objective: it is what the UDR KL filter sees, so
``num_active_latents`` counts the codes Q reads from real data);
``mutual_information_bound`` = L_I (nats; H(c) uses log K for the categorical
code and the differential entropy d·log 2 of U(−1, 1)^d).
"""

from __future__ import annotations

import math
from typing import Any, Dict

import keras
import tensorflow as tf
from keras import layers

from tfdis import kl
from tfdis.models import losses, staged
from tfdis.models.base import ACTIVE_KL_THRESHOLD, GaussianVAE
from tfdis.registry import MODELS

_LOG_2PI = math.log(2.0 * math.pi)
# Adam of the reference InfoGAN trainer (β₁ = 0.5; β₂, ε TF defaults).
GAN_ADAM = dict(beta_1=0.5, beta_2=0.999, epsilon=1e-8)
LEAKY_SLOPE = 0.2


def categorical_nll(codes_onehot: tf.Tensor, logits: tf.Tensor) -> tf.Tensor:
  """−log Q(c_cat|x) per sample: [B]."""
  return tf.nn.softmax_cross_entropy_with_logits(labels=codes_onehot,
                                                 logits=logits)


def continuous_nll(codes: tf.Tensor, mean: tf.Tensor,
                   logvar: tf.Tensor) -> tf.Tensor:
  """−Σ_j log N(c_j; μ_j, e^{ℓ_j}) per sample: [B]."""
  return 0.5 * tf.reduce_sum(
      _LOG_2PI + logvar + tf.square(codes - mean) * tf.exp(-logvar), axis=1)


def code_entropy(categories: int, continuous_dim: int) -> float:
  """H(c) of the code prior: log K (uniform categorical) + d·log 2
  (differential entropy of U(−1, 1)^d), in nats."""
  cat = math.log(categories) if categories > 1 else 0.0
  return cat + continuous_dim * math.log(2.0)


def mutual_information_bound(nll: tf.Tensor, categories: int,
                             continuous_dim: int) -> tf.Tensor:
  """L_I = H(c) − E[NLL_Q] (Chen et al. 2016, Eq. 5)."""
  return code_entropy(categories, continuous_dim) - nll


def _trunk(observation_shape) -> keras.Model:
  """D/Q trunk: dlib conv encoder sizes, leaky ReLU, no batch norm."""
  x = keras.Input(observation_shape, name="images")
  h = x
  for i, (filters, kernel) in enumerate(((32, 4), (32, 4), (64, 2), (64, 2)),
                                        start=1):
    h = layers.Conv2D(filters, kernel, strides=2, padding="same",
                      name=f"discriminator_e{i}")(h)
    h = layers.LeakyReLU(negative_slope=LEAKY_SLOPE,
                         name=f"discriminator_e{i}_lrelu")(h)
  h = layers.Flatten(name="discriminator_flatten")(h)
  h = layers.Dense(256, name="discriminator_e5")(h)
  h = layers.LeakyReLU(negative_slope=LEAKY_SLOPE,
                       name="discriminator_e5_lrelu")(h)
  return keras.Model(x, h, name="discriminator_trunk")


def _generator(observation_shape, input_dim: int) -> keras.Model:
  """G: dlib deconv decoder sizes with batch norm + ReLU; outputs logits."""
  z = keras.Input((input_dim,), name="generator_input")
  h = z
  for name, units in (("g1", 256), ("g2", 1024)):
    h = layers.Dense(units, name=name)(h)
    h = layers.BatchNormalization(name=f"{name}_bn")(h)
    h = layers.ReLU(name=f"{name}_relu")(h)
  h = layers.Reshape((4, 4, 64), name="generator_reshape")(h)
  for name, filters in (("g3", 64), ("g4", 32), ("g5", 32)):
    h = layers.Conv2DTranspose(filters, 4, strides=2, padding="same",
                               name=name)(h)
    h = layers.BatchNormalization(name=f"{name}_bn")(h)
    h = layers.ReLU(name=f"{name}_relu")(h)
  logits = layers.Conv2DTranspose(observation_shape[2], 4, strides=2,
                                  padding="same", name="g6")(h)
  return keras.Model(z, logits, name="generator")


@MODELS.register("info_gan")
class InfoGAN(GaussianVAE):
  """InfoGAN with a categorical code, d uniform continuous codes and noise."""

  family = "info_gan"
  HYPERPARAMETERS = {
      "lambda_info": (1.0, 0.0),
      "categories": (3, 0),        # K of the categorical code; 0 = none
      "noise_dim": (62, 0),        # the reference MNIST setting
      "fixed_std": (1, 0),         # 1: Q's continuous σ = 1; 0: learned
      "discriminator_lr": (2e-4, 1e-12),
      "generator_lr": (1e-3, 1e-12),
  }
  INTEGER_HYPERPARAMETERS = ("categories", "noise_dim", "fixed_std")
  # Structural hyperparameters: they size networks, so PBT must not move them.
  STRUCTURAL = ("categories", "noise_dim", "fixed_std")

  def _build_extra(self, hparams) -> None:
    if self.architecture["encoder"] not in ("conv", "conv_4x4"):
      raise ValueError(
          "info_gan builds its own dlib-sized conv networks for 64×64 images; "
          f"architecture {self.architecture} is not supported (use 'conv')")
    if int(hparams["fixed_std"]) not in (0, 1):
      raise ValueError(f"info_gan: fixed_std must be 0 or 1, got "
                       f"{hparams['fixed_std']}")
    self.categories = int(hparams["categories"])
    self.noise_dim = int(hparams["noise_dim"])
    self.fixed_std = bool(hparams["fixed_std"])
    d, k = self.latent_dim, self.categories
    self.trunk = _trunk(self.observation_shape)
    features = keras.Input((256,), name="features")
    self.d_head = keras.Model(
        features, layers.Dense(1, name="d_logit")(features), name="d_head")
    q_out = [layers.Dense(d, name="q_means")(features)]
    if not self.fixed_std:
      q_out.append(layers.Dense(d, name="q_log_var")(features))
    if k > 1:
      q_out.append(layers.Dense(k, name="q_categorical")(features))
    self.q_head = keras.Model(features, q_out, name="q_head")
    self.generator = _generator(self.observation_shape,
                                self.noise_dim + (k if k > 1 else 0) + d)
    # The contract's encoder/decoder are views of Q and G (shared weights).
    images = keras.Input(self.observation_shape, name="images")
    mean, logvar, _ = self._q(self.trunk(images))
    self.encoder = keras.Model(images, [mean, logvar], name="encoder")
    latents = keras.Input((d,), name="latents")
    self.decoder = keras.Model(latents, self.generator(
        self._generator_input(latents)), name="decoder")
    self.discriminator_optimizer = keras.optimizers.Adam(
        learning_rate=hparams["discriminator_lr"],
        name="discriminator_adam", **GAN_ADAM)
    self.generator_optimizer = keras.optimizers.Adam(
        learning_rate=hparams["generator_lr"], name="generator_adam",
        **GAN_ADAM)

  # ---- pieces --------------------------------------------------------------
  def _q(self, features):
    """(continuous means, log-variances, categorical logits or None)."""
    out = self.q_head(features)
    out = out if isinstance(out, (list, tuple)) else [out]
    mean = out[0]
    logvar = keras.ops.zeros_like(mean) if self.fixed_std else out[1]
    cat = out[-1] if self.categories > 1 else None
    return mean, logvar, cat

  def _generator_input(self, continuous, noise=None, categorical=None):
    """[noise, one-hot, continuous]; defaults: noise 0, category 0."""
    batch_zeros = keras.ops.zeros_like(continuous[:, :1])
    parts = []
    if self.noise_dim:
      parts.append(noise if noise is not None else keras.ops.repeat(
          batch_zeros, self.noise_dim, axis=1))
    if self.categories > 1:
      if categorical is None:
        first = keras.ops.ones_like(batch_zeros)
        rest = keras.ops.repeat(batch_zeros, self.categories - 1, axis=1)
        categorical = keras.ops.concatenate([first, rest], axis=1)
      parts.append(categorical)
    parts.append(continuous)
    return keras.ops.concatenate(parts, axis=1)

  def sample_codes(self, batch_size):
    """(noise, one-hot categorical or None, continuous) from the priors."""
    noise = self.rng.uniform(tf.stack([batch_size, self.noise_dim]), -1.0,
                             1.0)
    continuous = self.rng.uniform(tf.stack([batch_size, self.latent_dim]),
                                  -1.0, 1.0)
    categorical = None
    if self.categories > 1:
      index = self.rng.uniform(tf.reshape(batch_size, [1]), 0,
                               self.categories, dtype=tf.int32)
      categorical = tf.one_hot(index, self.categories)
    return noise, categorical, continuous

  def code_nll(self, features, categorical, continuous):
    """NLL_Q per sample [B] of the codes given D-trunk features."""
    mean, logvar, cat_logits = self._q(features)
    nll = continuous_nll(continuous, mean, logvar)
    if self.categories > 1:
      nll = nll + categorical_nll(categorical, cat_logits)
    return nll

  # ---- configuration -------------------------------------------------------
  @property
  def discriminator_variables(self):
    return (self.trunk.trainable_variables + self.d_head.trainable_variables
            + self.q_head.trainable_variables)

  @property
  def vae_variables(self):  # the G update's variables
    return self.generator.trainable_variables

  @property
  def optimizers(self) -> Dict[str, keras.optimizers.Optimizer]:
    return {"generator_optimizer": self.generator_optimizer,
            "discriminator_optimizer": self.discriminator_optimizer}

  def build_optimizers(self) -> None:
    self.generator_optimizer.build(self.vae_variables)
    self.discriminator_optimizer.build(self.discriminator_variables)

  def set_hyperparameters(self, hyperparameters) -> None:
    merged = self.validate_hyperparameters(
        dict(self.hyperparameters(), **dict(hyperparameters)))
    staged.check_fixed_hyperparameters(self.family, self.STRUCTURAL,
                                       self.hyperparameters(), merged)
    super().set_hyperparameters(merged)
    self.discriminator_optimizer.learning_rate.assign(
        merged["discriminator_lr"])
    self.generator_optimizer.learning_rate.assign(merged["generator_lr"])

  @property
  def learning_rate(self) -> float:
    return float(keras.ops.convert_to_numpy(
        self.generator_optimizer.learning_rate))

  def set_learning_rate(self, learning_rate: float) -> None:
    """Ignored: InfoGAN's two learning rates are the hyperparameters
    ``generator_lr`` and ``discriminator_lr`` (paper: 1e-3 and 2e-4)."""
    del learning_rate

  def model_config(self) -> Dict[str, Any]:
    cfg = super().model_config()
    cfg["reconstruction_loss"] = "none (GAN)"
    cfg["contract"] = {
        "representation": "Q's means of the continuous codes",
        "decoder_latents": ("continuous codes; noise fixed at 0, categorical "
                            "code fixed at category 0"),
        "extra_signatures": ["categorical_probabilities", "generator"],
    }
    return cfg

  def checkpoint_objects(self):
    objs = super().checkpoint_objects()
    objs.pop("encoder")
    objs.pop("decoder")
    objs.update(trunk=self.trunk, d_head=self.d_head, q_head=self.q_head,
                generator=self.generator)
    return objs

  # ---- export --------------------------------------------------------------
  def export_networks(self):
    return [self.trunk, self.q_head, self.generator]

  def extra_signatures(self):
    image_spec = tf.TensorSpec([None, *self.observation_shape], tf.float32,
                               name="images")

    def categorical_probabilities(images):
      _, _, logits = self._q(self.trunk(images, training=False))
      if logits is None:  # no categorical code: one certain category
        return {"probabilities": tf.ones([tf.shape(images)[0], 1])}
      return {"probabilities": tf.nn.softmax(logits)}

    def generator(noise, categorical, continuous):
      inputs = self._generator_input(continuous, noise, categorical)
      return {"images": self.generator(inputs, training=False)}

    specs = [tf.TensorSpec([None, self.noise_dim], tf.float32, name="noise"),
             tf.TensorSpec([None, max(self.categories, 1)], tf.float32,
                           name="categorical"),
             tf.TensorSpec([None, self.latent_dim], tf.float32,
                           name="continuous")]
    return {"categorical_probabilities": (categorical_probabilities,
                                          [image_spec]),
            "generator": (generator, specs)}

  # ---- training ------------------------------------------------------------
  def compute_losses(self, batch, training: bool = True):
    images = self._unpack(batch)[0]
    batch_size = tf.shape(images)[0]
    noise, categorical, continuous = self.sample_codes(batch_size)
    fake_logits = self.generator(
        self._generator_input(continuous, noise, categorical),
        training=training)
    fake = tf.sigmoid(fake_logits)
    real_features = self.trunk(images, training=training)
    fake_features = self.trunk(fake, training=training)
    d_real = self.d_head(real_features, training=training)
    d_fake = self.d_head(fake_features, training=training)
    # BCE with logits: −log σ(a) = softplus(−a), −log(1 − σ(a)) = softplus(a).
    d_adv = (tf.reduce_mean(tf.nn.softplus(-d_real)) +
             tf.reduce_mean(tf.nn.softplus(d_fake)))
    g_adv = tf.reduce_mean(tf.nn.softplus(-d_fake))  # non-saturating
    nll = tf.reduce_mean(self.code_nll(fake_features, categorical,
                                       continuous))
    lam = self.hyperparameter_variables["lambda_info"]
    discriminator_loss = d_adv + lam * nll
    generator_loss = g_adv + lam * nll
    real_mean, real_logvar, _ = self._q(real_features)
    kl_per_latent = kl.per_latent_kl_tf(real_mean, real_logvar)
    terms = {
        "loss": discriminator_loss + generator_loss,
        "discriminator_loss": discriminator_loss,
        "generator_loss": generator_loss,
        "discriminator_adversarial_loss": d_adv,
        "generator_adversarial_loss": g_adv,
        "reconstruction_loss": nll,
        "regularizer": lam * nll,
        "mutual_information_bound": mutual_information_bound(
            nll, self.categories, self.latent_dim),
        "kl_loss": tf.reduce_sum(kl_per_latent),
        "per_latent_kl": kl_per_latent,
        "num_active_latents": tf.reduce_sum(tf.cast(
            kl_per_latent > ACTIVE_KL_THRESHOLD, tf.float32)),
        "real_probability": tf.reduce_mean(tf.sigmoid(d_real)),
        "fake_probability": tf.reduce_mean(tf.sigmoid(d_fake)),
    }
    return terms["loss"], terms

  def objectives(self, loss, terms):
    """One D/Q update and one G update from the same forward pass (both
    gradients taken before either update; ``GaussianVAE.minimize``)."""
    return [(terms["discriminator_loss"], self.discriminator_variables,
             self.discriminator_optimizer),
            (terms["generator_loss"], self.vae_variables,
             self.generator_optimizer)]
