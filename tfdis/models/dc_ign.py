"""DC-IGN: the Deep Convolutional Inverse Graphics Network's training rule.

Kulkarni et al. 2015, Sec. 3.1 (lecture slides 002, "Training with specific
transformations" steps 1–8, "Invariance targeting"). A VAE trained on
batches in which exactly one ground-truth factor varies
(``tfdis.data.structured.single_factor_dataset``). Each latent may be
assigned to one factor. In a batch varying factor f:

* forward: every latent assigned to a factor other than f is *clamped*: its
  value (the reparameterised sample) is replaced by its batch mean z̄_j
  before the decoder, so the latents of f must explain all the variation;
* backward: a clamped latent receives no reconstruction gradient; its
  gradient is its deviation from the batch mean, (z_bj − z̄_j), which pushes
  it to be invariant within the batch. The latents of f (and unassigned
  latents) pass their gradients through unchanged.

The backward rule is written as the loss term (stop-gradient algebra)

  invariance_loss = ½ · mean_b Σ_j m_bj (z_bj − sg(z̄_j))²,  m = clamp mask,

whose gradient with respect to z_bj is exactly m_bj (z_bj − z̄_j) scaled like
every other per-example term of the batch-mean loss (÷ B); the decoder sees
m·sg(z̄) + (1 − m)·z, so no reconstruction gradient reaches a clamped latent.
``invariance_weight`` (default 1, the paper's rule) scales that gradient.

loss = reconstruction + β·KL + invariance_weight · invariance_loss, with the
usual KL of the encoder posterior to N(0, I) (the paper trains a VAE; β = 1).

Assignment (latent ↔ factor): by default latent i ↔ factor i
(``latents_per_factor`` = m > 1 gives factor i the block of latents
[i·m, (i+1)·m)); latents beyond K·m are unassigned and never clamped. An
explicit assignment is the constructor argument ``factor_latents`` (one list
of latent indices per factor). Under a distribution strategy the batch mean
is per replica (each replica's share of a batch still varies one factor).

Not implemented: the paper's "intrinsic" batches (all non-pose properties of
a face vary while pose and light stay fixed) and its 1:1:1:10 batch-type
ratio; with ground-truth factor grids every factor has its own batch type.
"""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional, Sequence

import numpy as np
import tensorflow as tf

from tfdis.checks import check_count
from tfdis.data import structured
from tfdis import kl
from tfdis.models import losses
from tfdis.models.base import ACTIVE_KL_THRESHOLD, GaussianVAE
from tfdis.registry import MODELS

SCHEDULES = {0: "random", 1: "cycle"}


def assignment_matrix(num_factors: int, latent_dim: int,
                      latents_per_factor: int = 1,
                      factor_latents: Optional[Sequence[Sequence[int]]] = None
                      ) -> np.ndarray:
  """float32 [K, d]: A[f, j] = 1 when latent j is assigned to factor f."""
  a = np.zeros((num_factors, latent_dim), np.float32)
  if factor_latents is None:
    m = check_count("latents_per_factor", latents_per_factor)
    if num_factors * m > latent_dim:
      raise ValueError(
          f"dc_ign assigns latents_per_factor={m} latent(s) to each of the "
          f"{num_factors} factors, i.e. {num_factors * m}, but latent_dim is "
          f"{latent_dim}: raise latent_dim, lower latents_per_factor, or pass "
          "factor_latents=[[...], ...] explicitly")
    for f in range(num_factors):
      a[f, f * m:(f + 1) * m] = 1.0
    return a
  if len(factor_latents) != num_factors:
    raise ValueError(f"factor_latents has {len(factor_latents)} entries but "
                     f"the data has {num_factors} factors (one list of latent "
                     "indices per factor; [] for none)")
  for f, latents in enumerate(factor_latents):
    for j in latents:
      if not 0 <= int(j) < latent_dim:
        raise ValueError(f"factor_latents[{f}] names latent {j}; latents are "
                         f"0..{latent_dim - 1}")
      a[f, int(j)] = 1.0
  if (a.sum(axis=0) > 1).any():
    raise ValueError("factor_latents assigns a latent to two factors: "
                     f"{np.flatnonzero(a.sum(axis=0) > 1).tolist()}")
  return a


def clamp_mask(varying_factor, assignment) -> tf.Tensor:
  """[B, d] 1.0 where a latent is clamped: assigned to a non-varying factor.

  ``varying_factor``: one-hot [B, K]; ``assignment``: [K, d].
  """
  assignment = tf.convert_to_tensor(assignment, tf.float32)
  assigned = tf.reduce_sum(assignment, axis=0)
  own = tf.matmul(tf.cast(varying_factor, tf.float32), assignment)
  return assigned[None, :] - own


def clamp_to_batch_mean(z, mask):
  """(decoder input, invariance_loss): the DC-IGN clamp (module docstring)."""
  z_bar = tf.stop_gradient(tf.reduce_mean(z, axis=0, keepdims=True))
  z_decoder = mask * z_bar + (1.0 - mask) * z
  invariance = 0.5 * tf.reduce_mean(
      tf.reduce_sum(mask * tf.square(z - z_bar), axis=1))
  return z_decoder, invariance


@MODELS.register("dc_ign")
class DCIGN(GaussianVAE):
  """DC-IGN (Kulkarni et al. 2015) on single-factor batches.

  Hyperparameters: ``beta`` (KL weight, 1 = the paper's VAE),
  ``invariance_weight`` (scale of the clamped latents' gradient, 1 = the
  paper), ``latents_per_factor`` (the default block assignment) and
  ``cycle_factors`` (0: the varying factor is drawn at random per batch, as
  in the paper; 1: batches take the factors in turn).
  """

  family = "dc_ign"
  HYPERPARAMETERS = {"beta": (1.0, 0.0), "invariance_weight": (1.0, 0.0),
                     "latents_per_factor": (1, 1), "cycle_factors": (0, 0)}
  INTEGER_HYPERPARAMETERS = ("latents_per_factor", "cycle_factors")

  def __init__(self, *args,
               factor_latents: Optional[Sequence[Sequence[int]]] = None,
               **kwargs):
    self.factor_latents = (None if factor_latents is None else
                           [[int(j) for j in f] for f in factor_latents])
    super().__init__(*args, **kwargs)

  @classmethod
  def validate_hyperparameters(cls, hyperparameters):
    out = super().validate_hyperparameters(hyperparameters)
    if out["cycle_factors"] not in SCHEDULES:
      raise ValueError(f"dc_ign: cycle_factors must be 0 (random factor per "
                       f"batch) or 1 (cycle), got {out['cycle_factors']}")
    return out

  @classmethod
  def training_data(cls, data, batch_size: int, seed: int, indices=None,
                    labels=None,
                    hyperparameters: Optional[Mapping[str, Any]] = None
                    ) -> tf.data.Dataset:
    """Global single-factor batches (``hyperparameters``: the run's)."""
    if labels is not None:
      raise ValueError("dc_ign learns from single-factor batches and takes "
                       "no factor labels: drop supervision/labels/num_labels")
    hps = cls.validate_hyperparameters(hyperparameters)
    return structured.single_factor_dataset(
        data, batch_size, seed=seed, indices=indices,
        schedule=SCHEDULES[hps["cycle_factors"]])

  def _build_extra(self, hparams) -> None:
    if self.supervision is not None:
      raise ValueError("dc_ign takes no supervision= (its supervision is "
                       "the single-factor batches)")
    # Structural: fixed at construction (PBT or a resume cannot change it).
    self.latents_per_factor = int(hparams["latents_per_factor"])
    if self.factor_latents is not None:  # check indices now, K at trace time
      assignment_matrix(len(self.factor_latents), self.latent_dim,
                        factor_latents=self.factor_latents)

  def assignment(self, num_factors: int) -> np.ndarray:
    """[K, d] latent-to-factor assignment for data with K factors."""
    return assignment_matrix(num_factors, self.latent_dim,
                             self.latents_per_factor, self.factor_latents)

  def model_config(self) -> Dict[str, Any]:
    cfg = super().model_config()
    if self.factor_latents is not None:
      cfg["factor_latents"] = self.factor_latents
    return cfg

  def get_config(self):
    cfg = super().get_config()
    cfg.update(factor_latents=self.factor_latents)
    return cfg

  def compute_losses(self, batch, training: bool = True):
    if not isinstance(batch, Mapping) or "varying_factor" not in batch:
      raise ValueError(
          "dc_ign trains on single-factor batches {'images', "
          "'varying_factor'} from DCIGN.training_data, got "
          f"{type(batch).__name__}")
    images, varying = batch["images"], batch["varying_factor"]
    # The assignment is fixed per run: built once per trace from K.
    mask = clamp_mask(varying, self.assignment(int(varying.shape[-1])))
    mean, logvar = self.encoder(images, training=training)
    z = losses.sample_gaussian(mean, logvar, self.rng)
    z_decoder, invariance = clamp_to_batch_mean(z, mask)
    logits = self.decoder(z_decoder, training=training)
    reconstruction_loss = tf.reduce_mean(self._reconstruction_fn(images,
                                                                 logits))
    kl_per_latent = kl.per_latent_kl_tf(mean, logvar)
    kl_loss = tf.reduce_sum(kl_per_latent)
    hp = self.hyperparameter_variables
    regularizer = hp["beta"] * kl_loss + hp["invariance_weight"] * invariance
    loss = reconstruction_loss + regularizer
    terms = dict(
        loss=loss, reconstruction_loss=reconstruction_loss, kl_loss=kl_loss,
        regularizer=regularizer, elbo=-(reconstruction_loss + kl_loss),
        per_latent_kl=kl_per_latent,
        num_active_latents=tf.reduce_sum(tf.cast(
            kl_per_latent > ACTIVE_KL_THRESHOLD, tf.float32)),
        invariance_loss=invariance,
        num_clamped_latents=tf.reduce_mean(tf.reduce_sum(mask, axis=1)))
    return loss, terms
