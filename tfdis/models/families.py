"""The unsupervised VAE families (spec ``models.md``, dlib ``methods/unsupervised/vae.py``).

| name          | regularizer                                                 |
|---------------|-------------------------------------------------------------|
| beta_vae      | β·KL (Higgins et al. 2017)                                   |
| annealed_vae  | γ·|KL − C|, C = min(c_max, c_max·step/threshold) (Burgess 2018) |
| beta_tc_vae   | KL + (β − 1)·TC, TC by minibatch-weighted sampling (Chen 2018); |
|               | ``tc_estimator="chen"``: MI + β·TC + DWKL as Chen's own code   |
| dip_vae_i/ii  | KL + λ_od Σ_{i≠j} C_ij² + λ_d Σ_i (C_ii − 1)² (Kumar 2018)   |
| factor_vae    | see ``factor_vae.py``                                        |

Defaults of the hyperparameters the spec fixes (γ = 1000 and threshold
100,000 for annealed_vae; λ_d = 10·λ_od for DIP-VAE-I, 1·λ_od for DIP-VAE-II)
follow dlib; the swept ones (β, c_max, λ_od) default to a value of the
published sweep.
"""

from __future__ import annotations

import tensorflow as tf

from tfdis.models import losses
from tfdis.models.base import GaussianVAE
from tfdis.registry import MODELS, check_choice


@MODELS.register("beta_vae")
class BetaVAE(GaussianVAE):
  """β-VAE (Higgins et al. 2017, Eq. 4): regularizer β·KL."""

  family = "beta_vae"
  HYPERPARAMETERS = {"beta": (1.0, 0.0)}

  def regularizer(self, kl_loss, mean, logvar, z, training):
    return self.hyperparameter_variables["beta"] * kl_loss, {}


@MODELS.register("annealed_vae")
class AnnealedVAE(GaussianVAE):
  """CCI-VAE (Burgess et al. 2018, Eq. 8): γ·|KL − C(step)|.

  C grows linearly from 0 to c_max over ``iteration_threshold`` steps (the
  model's step counter, which a resumed or PBT-cloned model carries on).
  """

  family = "annealed_vae"
  HYPERPARAMETERS = {"gamma": (1000.0, 0.0), "c_max": (25.0, 0.0),
                     "iteration_threshold": (100000, 1)}
  INTEGER_HYPERPARAMETERS = ("iteration_threshold",)

  def regularizer(self, kl_loss, mean, logvar, z, training):
    hp = self.hyperparameter_variables
    capacity = losses.annealed_capacity(self.step, hp["c_max"],
                                        hp["iteration_threshold"])
    reg = hp["gamma"] * tf.abs(kl_loss - capacity)
    return reg, {"capacity": capacity}


@MODELS.register("beta_tc_vae")
class BetaTCVAE(GaussianVAE):
  """β-TCVAE (Chen et al. 2018, Eq. 4) with two estimators (``tc_estimator``).

  * ``dlib`` (default; dlib's ``BetaTCVAE``): analytic KL + (β − 1)·TC, TC by
    minibatch-weighted sampling on the [B, B, d] log-density tensor, the
    constant (d − 1)·log(B·N) dropped (it does not change gradients); the
    logged ``total_correlation`` includes the constant when the dataset size
    N is known (``total_correlation_dlib`` is dlib's).
  * ``chen``: Chen et al.'s own objective as in their ``vae_quant.py`` and
    the rPU-VAE code: Monte-Carlo MI + β·TC + dimension-wise KL with
    minibatch-weighted sampling and log(B·N), N = ``dataset_size`` (the size
    of the current (sub)set, required). Equal to ``dlib`` in expectation, not
    in variance. Their Bernoulli likelihood clamps p to [1e-8, 1 − 1e-8];
    tfdis keeps the exact sigmoid cross-entropy for the reconstruction.
  """

  family = "beta_tc_vae"
  HYPERPARAMETERS = {"beta": (6.0, 0.0)}
  TC_ESTIMATORS = ("dlib", "chen")

  def __init__(self, *args, tc_estimator: str = "dlib", **kwargs):
    check_choice("tc_estimator", tc_estimator, self.TC_ESTIMATORS)
    self.tc_estimator = tc_estimator
    super().__init__(*args, **kwargs)
    if tc_estimator == "chen" and not self.dataset_size:
      raise ValueError("tc_estimator='chen' needs dataset_size (N of "
                       "Chen et al.'s log(B·N): the size of the (sub)set "
                       "trained on)")

  def regularizer(self, kl_loss, mean, logvar, z, training):
    beta = self.hyperparameter_variables["beta"]
    if self.tc_estimator == "chen":
      return losses.chen_tc_regularizer(z, mean, logvar, beta,
                                        float(self.dataset_size))
    tc = losses.total_correlation(z, mean, logvar)
    reg = kl_loss + (beta - 1.0) * tc
    terms = {"total_correlation_dlib": tc}
    if self.dataset_size:
      batch = tf.cast(tf.shape(z)[0], tc.dtype)
      terms["total_correlation"] = tc + (self.latent_dim - 1) * tf.math.log(
          batch * float(self.dataset_size))
    else:
      terms["total_correlation"] = tc
    return reg, terms

  def model_options(self):
    return {"tc_estimator": self.tc_estimator}

  def model_config(self):
    cfg = super().model_config()
    if self.tc_estimator != "dlib":  # dlib models keep their metadata
      cfg["tc_estimator"] = self.tc_estimator
    return cfg


class _DIPVAE(GaussianVAE):
  """DIP-VAE (Kumar et al. 2018, Eq. 6/7) on the batch covariance of μ."""

  dip_type = "i"

  def regularizer(self, kl_loss, mean, logvar, z, training):
    hp = self.hyperparameter_variables
    cov = losses.dip_covariance(mean, logvar, self.dip_type)
    lambda_d = hp["lambda_d_factor"] * hp["lambda_od"]
    dip = losses.dip_regularizer(cov, hp["lambda_od"], lambda_d)
    return kl_loss + dip, {"dip_regularizer": dip}


@MODELS.register("dip_vae_i")
class DIPVAEI(_DIPVAE):
  """DIP-VAE-I: C = Cov_batch(μ), λ_d = 10·λ_od."""

  family = "dip_vae_i"
  dip_type = "i"
  HYPERPARAMETERS = {"lambda_od": (10.0, 0.0), "lambda_d_factor": (10.0, 0.0)}


@MODELS.register("dip_vae_ii")
class DIPVAEII(_DIPVAE):
  """DIP-VAE-II: C = Cov_batch(μ) + mean_batch(diag(e^ℓ)), λ_d = 1·λ_od."""

  family = "dip_vae_ii"
  dip_type = "ii"
  HYPERPARAMETERS = {"lambda_od": (10.0, 0.0), "lambda_d_factor": (1.0, 0.0)}


@MODELS.register("semi_supervised_vae")
class SemiSupervisedVAE(BetaVAE):
  """β-VAE + masked supervised loss on the first K latents (Locatello et al.
  2019b). Any family takes ``supervision=...``; this name makes it the
  default (xent, fixed schedule) so ``--model=semi_supervised_vae`` works."""

  family = "semi_supervised_vae"

  def __init__(self, *args, supervision=None, **kwargs):
    super().__init__(*args, supervision=supervision or {}, **kwargs)
