"""Population-based training of VAEs (Jaderberg et al. 2017; paper 003).

``PBTConfig`` + ``run_pbt(config)`` (docs/design.md "PBT API"): PBT-S-VAE
(eval ``mig``/``dci`` on all or ``num_labels`` ground-truth labels),
PBT-U-VAE (eval ``udr``: every member is a vectorised K-VAE ensemble,
``tfdis.models.ensemble``) and rPU-VAE's final model (eval
``surrogate_mig``). Members train through the one setup path of
``tfdis_train`` (``tfdis.training.session.TrainSession``, a TrainConfig per
interval from ``PBTConfig.member_config``).

Modules: ``explore_exploit`` (pure controller logic), ``config``,
``evaluation`` (eval functions), ``worker`` (member bookkeeping and
evaluation around one interval of the trainer; run through
``tfdis.execution``), ``controller``
(``run_pbt``).
"""

from tfdis.pbt.config import EVALS, PBTConfig, PBTConfigError, interval_steps_for
from tfdis.pbt.explore_exploit import (HyperparameterSpec, converged,
                                       default_space, explore, exploit,
                                       fresh_seed, keep_best, rank,
                                       sample_hyperparameters,
                                       truncation_counts)


def run_pbt(config, executor=None, **kwargs):
  """See :func:`tfdis.pbt.controller.run_pbt`."""
  from tfdis.pbt.controller import run_pbt as _run
  return _run(config, executor=executor, **kwargs)


__all__ = ["EVALS", "HyperparameterSpec", "PBTConfig", "PBTConfigError",
           "converged", "default_space", "explore", "exploit", "fresh_seed",
           "interval_steps_for", "keep_best", "rank", "run_pbt",
           "sample_hyperparameters", "truncation_counts"]
