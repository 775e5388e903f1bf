"""The Gaussian-encoder VAE base class every family derives from.

A family is a :class:`GaussianVAE` subclass that declares its hyperparameters
(``HYPERPARAMETERS``: name -> default) and implements :meth:`regularizer`.
The base class owns the encoder/decoder networks, the hyperparameter
variables, the step counter, the RNG, the optimiser(s) and a
``tf.function``/``strategy.run``-friendly :meth:`train_step`.

Loss (spec ``models.md``): loss = reconstruction_loss + regularizer
[+ γ_sup(step)·L_sup for semi-supervised training], with
reconstruction_loss and kl_loss batch means of per-sample sums and
elbo = −(reconstruction_loss + kl_loss).

Hyperparameters and the learning rate live in non-trainable variables
(``model.hyperparameter_variables``, ``optimizer.learning_rate``), so PBT can
change them between intervals with :meth:`set_hyperparameters` /
:meth:`set_learning_rate` without retracing the step function.
"""

from __future__ import annotations

import math
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple

import keras
import tensorflow as tf

from tfdis import kl
from tfdis.checks import is_number
from tfdis.models import architectures, losses
from tfdis.models import precision as precision_lib
from tfdis.registry import check_choice

# A latent is "active"/"informative" when its batch-mean KL exceeds this
# (Locatello et al. 2019; the UDR KL filter uses the same 0.01).
ACTIVE_KL_THRESHOLD = 0.01

# Adam of dlib's unsupervised_study_v1 (Locatello et al. 2019, Table 2).
ADAM_DEFAULTS = dict(beta_1=0.9, beta_2=0.999, epsilon=1e-8)

SUPERVISION_DEFAULTS = {
    "loss": "xent",           # xent | l2 | cov
    "schedule": "fixed",      # fixed | anneal | fine_tune
    "gamma_sup": 1.0,
    "threshold": 100000,      # steps (anneal / fine_tune)
}


def validate_supervision(supervision: Optional[Mapping[str, Any]]
                         ) -> Optional[Dict[str, Any]]:
  """Fills defaults and checks a semi-supervision config (or returns None)."""
  if supervision is None or supervision is False:
    return None
  if supervision is True:
    supervision = {}
  unknown = set(supervision) - set(SUPERVISION_DEFAULTS)
  if unknown:
    raise ValueError(f"Unknown supervision option(s) {sorted(unknown)}; "
                     f"known: {sorted(SUPERVISION_DEFAULTS)}")
  sup = dict(SUPERVISION_DEFAULTS, **supervision)
  check_choice("supervision loss", sup["loss"], losses.SUPERVISED_LOSSES)
  check_choice("supervision schedule", sup["schedule"],
               losses.SUPERVISION_SCHEDULES)
  sup["gamma_sup"] = float(sup["gamma_sup"])
  if not math.isfinite(sup["gamma_sup"]) or sup["gamma_sup"] < 0:
    raise ValueError(f"gamma_sup must be a finite number >= 0, got "
                     f"{sup['gamma_sup']}")
  if float(sup["threshold"]) <= 0:
    raise ValueError(f"supervision threshold must be > 0 steps, got "
                     f"{sup['threshold']}")
  sup["threshold"] = int(sup["threshold"])
  return sup


class GaussianVAE(keras.Model):
  """Base VAE with a diagonal Gaussian encoder (Kingma & Welling 2014).

  Args:
    observation_shape: (H, W, C) of the images.
    latent_dim: d.
    architecture: 'conv' (dlib default), 'conv_4x4', 'fc', 'conv_bn' or a
      dict {'encoder': ..., 'decoder': ...}.
    hyperparameters: family hyperparameters (defaults in ``HYPERPARAMETERS``).
    reconstruction_loss: 'bernoulli' (default) or 'l2'.
    supervision: None, or a dict (``SUPERVISION_DEFAULTS``) that adds the
      masked semi-supervised loss of Locatello et al. 2019b.
    learning_rate: Adam learning rate of the VAE optimiser.
    seed: seeds the RNG of the reparameterisation (and FactorVAE permutation).
    dataset_size: N, used only to report β-TCVAE's TC with its constant.
    precision: 'float32' (default, the published models),
      'mixed_bfloat16': layers compute in bfloat16, variables, network
      outputs, BatchNorm and losses stay float32, or 'auto_mixed_bfloat16':
      a float32 model whose training step oneDNN's graph pass runs in
      bfloat16 (tfdis.models.precision).
  """

  family = "vae"
  # name -> (default, minimum allowed or None). Subclasses override.
  HYPERPARAMETERS: Dict[str, Tuple[float, Optional[float]]] = {}
  # Integer-valued hyperparameters.
  INTEGER_HYPERPARAMETERS: Tuple[str, ...] = ()

  def __init__(self, observation_shape: Sequence[int], latent_dim: int = 10,
               architecture: Any = "conv",
               hyperparameters: Optional[Mapping[str, Any]] = None,
               reconstruction_loss: str = "bernoulli",
               supervision: Optional[Mapping[str, Any]] = None,
               learning_rate: float = 1e-4, seed: int = 0,
               dataset_size: Optional[int] = None, name: Optional[str] = None,
               precision: str = precision_lib.DEFAULT_PRECISION, **kwargs):
    super().__init__(name=name or self.family, **kwargs)
    self.observation_shape = tuple(int(s) for s in observation_shape)
    self.latent_dim = int(latent_dim)
    self.architecture = architectures.check_architecture(
        architecture, self.observation_shape)
    self.reconstruction_loss_name = reconstruction_loss
    self._reconstruction_fn = losses.reconstruction_loss_fn(
        reconstruction_loss)
    self.supervision = validate_supervision(supervision)
    self.dataset_size = None if dataset_size is None else int(dataset_size)
    self.seed = int(seed)
    hparams = self.validate_hyperparameters(hyperparameters)
    self.precision = precision_lib.check_precision(precision, self.family)

    with precision_lib.precision_scope(self.precision):
      self._build_networks()
    self.hyperparameter_variables = {
        k: self.add_weight(name=k, shape=(),
                           initializer=keras.initializers.Constant(float(v)),
                           trainable=False, aggregation="only_first_replica")
        for k, v in hparams.items()}
    if self.supervision is not None:
      self.gamma_sup = self.add_weight(
          name="gamma_sup", shape=(), trainable=False,
          initializer=keras.initializers.Constant(
              self.supervision["gamma_sup"]),
          aggregation="only_first_replica")
      # Learned scale b of the l2 supervised loss (dlib: a scalar variable).
      self.supervised_scale = self.add_weight(
          name="supervised_scale", shape=(), trainable=True,
          initializer="ones")
    # Training step counter (one per call of train_step, whatever the family).
    self.step = self.add_weight(
        name="global_step", shape=(), dtype="int64", initializer="zeros",
        trainable=False, aggregation="only_first_replica")
    self.rng = tf.random.Generator.from_seed(self.seed)
    self.vae_optimizer = keras.optimizers.Adam(
        learning_rate=learning_rate, name="vae_adam", **ADAM_DEFAULTS)
    with precision_lib.precision_scope(self.precision):
      self._build_extra(hparams)
    self.build_optimizers()

  # ---- configuration -------------------------------------------------------
  @classmethod
  def default_hyperparameters(cls) -> Dict[str, float]:
    return {k: v[0] for k, v in cls.HYPERPARAMETERS.items()}

  @classmethod
  def validate_hyperparameters(cls, hyperparameters: Optional[Mapping[str, Any]]
                               ) -> Dict[str, float]:
    """Defaults filled in; unknown names and out-of-range values raise."""
    hyperparameters = dict(hyperparameters or {})
    unknown = set(hyperparameters) - set(cls.HYPERPARAMETERS)
    if unknown:
      known = sorted(cls.HYPERPARAMETERS) or "none"
      raise ValueError(
          f"{cls.family} does not take hyperparameter(s) {sorted(unknown)}; "
          f"its hyperparameters are: {known}")
    out = {}
    for k, (default, minimum) in cls.HYPERPARAMETERS.items():
      v = hyperparameters.get(k, default)
      try:
        v = float(v)
      except (TypeError, ValueError):
        raise ValueError(f"{cls.family}: hyperparameter {k} must be a "
                         f"number, got {v!r}") from None
      if not math.isfinite(v):
        raise ValueError(f"{cls.family}: hyperparameter {k} must be finite, "
                         f"got {v}")
      if minimum is not None and v < minimum:
        raise ValueError(f"{cls.family}: hyperparameter {k} must be >= "
                         f"{minimum}, got {v}")
      out[k] = int(v) if k in cls.INTEGER_HYPERPARAMETERS else v
    return out

  def _build_extra(self, hparams: Dict[str, float]) -> None:
    """Hook for families with extra networks (FactorVAE's discriminator)."""

  def _build_networks(self) -> None:
    """The encoder and decoder from the architecture table (the K-member
    ensemble overrides this, see tfdis.models.ensemble)."""
    self.encoder = architectures.make_encoder(
        self.architecture["encoder"], self.observation_shape, self.latent_dim)
    self.decoder = architectures.make_decoder(
        self.architecture["decoder"], self.observation_shape, self.latent_dim)

  def fresh_networks(self) -> Dict[str, Any]:
    """Newly initialised copies of the trainable networks (same structure),
    from Keras' global seed: name of the attribute -> network."""
    return {"encoder": architectures.make_encoder(
                self.architecture["encoder"], self.observation_shape,
                self.latent_dim),
            "decoder": architectures.make_decoder(
                self.architecture["decoder"], self.observation_shape,
                self.latent_dim)}

  def reinitialize(self, seed: int) -> None:
    """Fresh weights exactly as a model newly built after
    ``keras.utils.set_random_seed(seed)`` (same draws in the same order),
    zero optimiser state and step 0; the learning rate is kept. Lets one
    built model (and its traced step) serve many PBT members."""
    keras.utils.set_random_seed(int(seed) % 2 ** 32)
    with precision_lib.precision_scope(self.precision):
      fresh = self.fresh_networks()
    for name, net in fresh.items():
      getattr(self, name).set_weights(net.get_weights())
    learning_rates = {k: float(keras.ops.convert_to_numpy(o.learning_rate))
                      for k, o in self.optimizers.items()}
    for key, opt in self.optimizers.items():
      for v in opt.variables:
        v.assign(tf.zeros(v.shape, v.dtype))
      opt.learning_rate.assign(learning_rates[key])
    self.step.assign(0)

  @property
  def network_variables(self):
    return (self.encoder.trainable_variables +
            self.decoder.trainable_variables)

  def network_objects(self) -> Dict[str, Any]:
    """The networks as checkpoint entries (names fixed: checkpoints of
    earlier versions restore)."""
    return {"encoder": self.encoder, "decoder": self.decoder}

  @property
  def vae_variables(self):
    variables = list(self.network_variables)
    if self.supervision is not None and self.supervision["loss"] == "l2":
      variables = variables + [self.supervised_scale]
    return variables

  @property
  def optimizers(self) -> Dict[str, keras.optimizers.Optimizer]:
    return {"vae_optimizer": self.vae_optimizer}

  def build_optimizers(self) -> None:
    """Creates the optimiser slots now (needed before the first step under
    MirroredStrategy with Keras 3, see environment.md)."""
    self.vae_optimizer.build(self.vae_variables)

  def hyperparameters(self) -> Dict[str, float]:
    """Current hyperparameter values (read from the variables)."""
    return {k: (int(round(float(v.numpy())))
                if k in self.INTEGER_HYPERPARAMETERS else float(v.numpy()))
            for k, v in self.hyperparameter_variables.items()}

  def set_hyperparameters(self, hyperparameters: Mapping[str, Any]) -> None:
    """Assigns new values (validated) without retracing the step function."""
    merged = dict(self.hyperparameters(), **dict(hyperparameters))
    checked = self.validate_hyperparameters(merged)
    for k, v in checked.items():
      self.hyperparameter_variables[k].assign(float(v))

  @property
  def learning_rate(self) -> float:
    return float(keras.ops.convert_to_numpy(self.vae_optimizer.learning_rate))

  def set_learning_rate(self, learning_rate: float) -> None:
    lr = float(learning_rate)
    if not (is_number(lr) and lr > 0):
      raise ValueError(f"learning_rate must be a positive number, got {lr}")
    self.vae_optimizer.learning_rate.assign(lr)

  def set_step(self, step: int) -> None:
    self.step.assign(int(step))

  def model_options(self) -> Dict[str, Any]:
    """The family's non-numeric constructor options (build_model kwargs)."""
    return {}

  def model_config(self) -> Dict[str, Any]:
    """What SavedModel metadata records about the model."""
    cfg = {
        "model": self.family,
        "hyperparameters": self.hyperparameters(),
        "architecture": dict(self.architecture),
        "latent_dim": self.latent_dim,
        "reconstruction_loss": self.reconstruction_loss_name,
        "observation_shape": list(self.observation_shape),
        "precision": self.precision,
    }
    if self.supervision is not None:
      sup = dict(self.supervision)
      sup["gamma_sup"] = float(self.gamma_sup.numpy())
      cfg["supervision"] = sup
    return cfg

  def checkpoint_objects(self) -> Dict[str, Any]:
    """Everything a checkpoint must hold: weights, optimiser state, step,
    RNG state and hyperparameter variables (tf.train.Checkpoint kwargs)."""
    objs = dict(self.network_objects(), step=self.step, rng=self.rng)
    objs.update(self.optimizers)
    for k, v in self.hyperparameter_variables.items():
      objs[f"hyperparameter_{k}"] = v
    if self.supervision is not None:
      objs["gamma_sup"] = self.gamma_sup
      objs["supervised_scale"] = self.supervised_scale
    return objs

  # ---- forward -------------------------------------------------------------
  def encode(self, images, training: bool = False):
    """images -> (mean, logvar)."""
    mean, logvar = self.encoder(images, training=training)
    return mean, logvar

  def decode(self, latents, training: bool = False):
    """latents -> logits."""
    return self.decoder(latents, training=training)

  def call(self, images, training: bool = False):
    """Reconstruction logits decoded from the mean."""
    mean, _ = self.encode(images, training=training)
    return self.decode(mean, training=training)

  # ---- losses --------------------------------------------------------------
  def regularizer(self, kl_loss, mean, logvar, z, training: bool
                  ) -> Tuple[tf.Tensor, Dict[str, tf.Tensor]]:
    """The family's regularizer and its extra logged terms."""
    raise NotImplementedError

  def _unpack(self, batch):
    """(images, labels, mask, noise) of a batch: images alone, a tuple, or a
    dict with 'images' and optionally 'labels', 'mask' and 'noise' (fixed
    reparameterisation noise, shaped like the means: common random numbers
    for paired comparisons, e.g. ensemble vs single model)."""
    if isinstance(batch, Mapping):
      return (batch["images"], batch.get("labels"), batch.get("mask"),
              batch.get("noise"))
    if isinstance(batch, (tuple, list)):
      padded = list(batch) + [None] * (4 - len(batch))
      return tuple(padded[:4])
    return batch, None, None, None

  def compute_losses(self, batch, training: bool = True
                     ) -> Tuple[tf.Tensor, Dict[str, tf.Tensor]]:
    """All loss terms on a (per-replica) batch.

    ``batch``: images, or {'images', 'labels', 'mask'} / (images, labels,
    mask) for semi-supervised training. Returns (loss, terms) where terms
    holds loss, reconstruction_loss, kl_loss, regularizer, elbo,
    per_latent_kl [d], num_active_latents and the family's own terms.
    """
    images, labels, mask, noise = self._unpack(batch)
    mean, logvar = self.encode(images, training=training)
    if noise is None:
      z = losses.sample_gaussian(mean, logvar, self.rng)
    else:
      z = mean + tf.exp(0.5 * logvar) * noise
    logits = self.decode(z, training=training)
    reconstruction_loss = self.batch_reconstruction(images, logits)
    kl_per_latent = kl.per_latent_kl_tf(mean, logvar)
    kl_loss = tf.reduce_sum(kl_per_latent, axis=-1)
    regularizer, terms = self.batch_regularizer(kl_loss, mean, logvar, z,
                                                training)
    loss = reconstruction_loss + regularizer
    if self.supervision is not None and labels is not None:
      sup = losses.supervised_loss(self.supervision["loss"], mean, labels,
                                   mask, self.supervised_scale)
      weight = losses.supervision_weight(
          self.supervision["schedule"], self.step, self.gamma_sup,
          self.supervision["threshold"])
      loss = loss + weight * sup
      terms["supervised_loss"] = sup
      terms["gamma_sup"] = weight
    terms.update(
        loss=loss, reconstruction_loss=reconstruction_loss, kl_loss=kl_loss,
        regularizer=regularizer, elbo=-(reconstruction_loss + kl_loss),
        per_latent_kl=kl_per_latent,
        num_active_latents=tf.reduce_sum(tf.cast(
            kl_per_latent > ACTIVE_KL_THRESHOLD, tf.float32), axis=-1))
    return loss, terms

  def batch_reconstruction(self, images, logits):
    """Batch mean of the per-sample reconstruction loss."""
    return tf.reduce_mean(self._reconstruction_fn(images, logits))

  def batch_regularizer(self, kl_loss, mean, logvar, z, training):
    """The family's regularizer on this batch (ensembles: one per member)."""
    return self.regularizer(kl_loss, mean, logvar, z, training)

  def objectives(self, loss, terms):
    """(objective, variables, optimizer) triples one step minimises; each
    objective is summed (ensembles: over members) before differentiation.
    FactorVAE adds its discriminator's."""
    return [(loss, self.vae_variables, self.vae_optimizer)]

  def minimize(self, loss_fn, objectives=None) -> Dict[str, tf.Tensor]:
    """Runs ``loss_fn() -> (loss, terms)`` under a tape and steps the
    optimisers of ``objectives(loss, terms)`` (default
    :meth:`objectives`): the one place where tfdis steps an optimiser.

    Every family, the K-member ensemble, the two-stage models and every
    path (tfdis_train, studies, PBT members, rPU) reach it through
    ``train_step`` and ``tfdis.training.trainer.Trainer``. Call inside
    ``tf.function`` (and ``strategy.run``). Objectives are summed (ensembles:
    over members) and divided by the number of replicas: the Keras optimiser
    sums gradients across replicas, so the update equals the one of the
    global-batch mean whatever the replica count (exactly for batch-linear
    terms; batch-statistic terms — TC, DIP covariance, |KL − C| — are
    estimated per replica). All gradients come from the same forward pass
    and are taken before any update (FactorVAE: as dlib's ``tf.group`` of
    both minimise ops).
    """
    objectives = objectives or self.objectives
    ctx = tf.distribute.get_replica_context()
    num_replicas = ctx.num_replicas_in_sync if ctx is not None else 1
    with tf.GradientTape(persistent=True) as tape:
      loss, terms = loss_fn()
      groups = [(tf.reduce_sum(objective) / float(num_replicas), variables,
                 optimizer)
                for objective, variables, optimizer in objectives(loss,
                                                                  terms)]
    updates = [(tape.gradient(objective, variables), variables, optimizer)
               for objective, variables, optimizer in groups]
    del tape
    for grads, variables, optimizer in updates:
      optimizer.apply_gradients(zip(grads, variables))
    return terms

  def train_step(self, batch) -> Dict[str, tf.Tensor]:
    """One optimisation step on a (per-replica) batch; returns the terms."""
    terms = self.minimize(lambda: self.compute_losses(batch, training=True))
    self.step.assign_add(1)
    return terms

  def get_config(self):
    cfg = self.model_config()
    cfg.pop("model")
    cfg.update(seed=self.seed, dataset_size=self.dataset_size,
               learning_rate=self.learning_rate)
    return cfg
