"""VAE families, their losses and networks.

``build_model(name, observation_shape, ...)`` builds a registered family
(``tfdis.registry.MODELS``: beta_vae, annealed_vae, factor_vae, beta_tc_vae,
dip_vae_i, dip_vae_ii, semi_supervised_vae; ada_gvae and ml_vae on pairs,
dc_ign on single-factor batches; the seed-slide methods info_gan, scan and
darla). The unsupervised families also take
``supervision={...}`` for the masked semi-supervised loss.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence

from tfdis.models import architectures, losses
from tfdis.models.base import (ACTIVE_KL_THRESHOLD, SUPERVISION_DEFAULTS,
                               GaussianVAE, validate_supervision)
from tfdis.models.darla import DARLA
from tfdis.models.dc_ign import DCIGN
from tfdis.models.factor_vae import FactorVAE
from tfdis.models.families import (AnnealedVAE, BetaTCVAE, BetaVAE, DIPVAEI,
                                   DIPVAEII, SemiSupervisedVAE)
from tfdis.models.info_gan import InfoGAN
from tfdis.models.scan import SCAN
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


def check_model_options(name: str, options) -> dict:
  """Refuses options the family's constructor does not take."""
  import inspect

  cls = get_model_class(name)
  options = dict(options or {})
  known = sorted(p for klass in cls.__mro__
                 if isinstance(klass, type) and issubclass(klass, GaussianVAE)
                 and klass is not GaussianVAE and "__init__" in vars(klass)
                 for p in inspect.signature(klass.__init__).parameters
                 if p not in ("self", "args", "kwargs") and p not in
                 inspect.signature(GaussianVAE.__init__).parameters)
  unknown = sorted(set(options) - set(known))
  if unknown:
    raise ValueError(f"{name} does not take option(s) {unknown}; its "
                     f"options are: {known or 'none'}")
  return options


def default_hyperparameters(name: str) -> dict:
  return get_model_class(name).default_hyperparameters()


def build_model(name: str, observation_shape: Sequence[int],
                latent_dim: int = 10, architecture: Any = "conv",
                hyperparameters: Optional[Mapping[str, Any]] = None,
                reconstruction_loss: str = "bernoulli",
                supervision: Optional[Mapping[str, Any]] = None,
                learning_rate: float = 1e-4, seed: int = 0,
                dataset_size: Optional[int] = None,
                ensemble_size: Optional[int] = None,
                precision: str = "float32",
                **model_options) -> GaussianVAE:
  """Builds the family ``name`` with its optimiser(s) (call inside
  ``strategy.scope()`` for distributed training).

  Defaults follow dlib's unsupervised_study_v1: d = 10, conv/deconv,
  Bernoulli loss, Adam(1e-4, 0.9, 0.999, 1e-8). ``model_options`` are the
  family's non-numeric options (``check_model_options``), e.g.
  ``tc_estimator='chen'`` for beta_tc_vae, or constructor arguments that
  depend on the data (``model_kwargs_from_data``, e.g. SCAN's
  ``dataset_info``). ``ensemble_size=K`` builds
  K members of the family as one vectorised model (tfdis.models.ensemble).
  ``precision``: 'float32', 'mixed_bfloat16' or 'auto_mixed_bfloat16'
  (tfdis.models.precision).
  Initial weights come from Keras' global seed: call
  ``keras.utils.set_random_seed`` first for reproducible weights (the
  trainer does).
  """
  cls = get_model_class(name)
  check_model_options(name, model_options)
  if ensemble_size is not None:
    from tfdis.models.ensemble import make_ensemble_class

    cls = make_ensemble_class(cls, ensemble_size)
  return cls(observation_shape, latent_dim=latent_dim,
             architecture=architecture, hyperparameters=hyperparameters,
             reconstruction_loss=reconstruction_loss, supervision=supervision,
             learning_rate=learning_rate, seed=seed,
             dataset_size=dataset_size, precision=precision, **model_options)


__all__ = [
    "ACTIVE_KL_THRESHOLD", "AdaGVAE", "AdaMLVAE", "AnnealedVAE", "BetaTCVAE",
    "BetaVAE", "DARLA", "DCIGN", "DIPVAEI", "DIPVAEII", "FactorVAE",
    "GaussianVAE", "InfoGAN", "SCAN",
    "SUPERVISION_DEFAULTS", "SemiSupervisedVAE", "architectures", "build_model",
    "default_hyperparameters", "get_model_class", "losses", "model_names",
    "validate_hyperparameters", "validate_supervision"]
