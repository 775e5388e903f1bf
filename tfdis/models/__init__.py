"""VAE families, their losses and networks.

``build_model(name, observation_shape, ...)`` builds a registered family
(``tfdis.registry.MODELS``: beta_vae, annealed_vae, factor_vae, beta_tc_vae,
dip_vae_i, dip_vae_ii, semi_supervised_vae; ada_gvae and ml_vae on pairs,
dc_ign on single-factor batches). The unsupervised families also take
``supervision={...}`` for the masked semi-supervised loss.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence

from tfdis.models import architectures, losses
from tfdis.models.base import (ACTIVE_KL_THRESHOLD, SUPERVISION_DEFAULTS,
                               GaussianVAE, validate_supervision)
from tfdis.models.dc_ign import DCIGN
from tfdis.models.factor_vae import FactorVAE
from tfdis.models.families import (AnnealedVAE, BetaTCVAE, BetaVAE, DIPVAEI,
                                   DIPVAEII, SemiSupervisedVAE)
from tfdis.models.weak import AdaGVAE, AdaMLVAE
from tfdis.registry import MODELS


def get_model_class(name: str):
  """The registered class (unknown names list the known ones)."""
  return MODELS.get(name)


def model_names() -> list:
  return MODELS.names()


def validate_hyperparameters(name: str,
                             hyperparameters: Optional[Mapping[str, Any]]
                             ) -> dict:
  """Defaults filled in and checked, without building anything."""
  return get_model_class(name).validate_hyperparameters(hyperparameters)


def default_hyperparameters(name: str) -> dict:
  return get_model_class(name).default_hyperparameters()


def build_model(name: str, observation_shape: Sequence[int],
                latent_dim: int = 10, architecture: Any = "conv",
                hyperparameters: Optional[Mapping[str, Any]] = None,
                reconstruction_loss: str = "bernoulli",
                supervision: Optional[Mapping[str, Any]] = None,
                learning_rate: float = 1e-4, seed: int = 0,
                dataset_size: Optional[int] = None) -> GaussianVAE:
  """Builds the family ``name`` with its optimiser(s) (call inside
  ``strategy.scope()`` for distributed training).

  Defaults follow dlib's unsupervised_study_v1: d = 10, conv/deconv,
  Bernoulli loss, Adam(1e-4, 0.9, 0.999, 1e-8).
  """
  cls = get_model_class(name)
  return cls(observation_shape, latent_dim=latent_dim,
             architecture=architecture, hyperparameters=hyperparameters,
             reconstruction_loss=reconstruction_loss, supervision=supervision,
             learning_rate=learning_rate, seed=seed,
             dataset_size=dataset_size)


__all__ = [
    "ACTIVE_KL_THRESHOLD", "AdaGVAE", "AdaMLVAE", "AnnealedVAE", "BetaTCVAE",
    "BetaVAE", "DCIGN", "DIPVAEI", "DIPVAEII", "FactorVAE", "GaussianVAE",
    "SUPERVISION_DEFAULTS", "SemiSupervisedVAE", "architectures", "build_model",
    "default_hyperparameters", "get_model_class", "losses", "model_names",
    "validate_hyperparameters", "validate_supervision"]
