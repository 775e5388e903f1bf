"""Training: the configs, the one trainer, restore/export from checkpoints.

``TrainConfig`` (DataSpec + ModelSpec + TrainSpec, ``tfdis.specs``),
``train(config)`` (one model directory, ``model_dir``), ``TrainSession``
(``session``: the one setup path — determinism, seed, strategy/XLA, build,
start state, overrides, checkpoints — for ``train`` and PBT members alike)
around ``Trainer`` (``trainer``: the engine), ``export_from_checkpoint(model_dir)``, ``make_strategy(name)``.
"""

from tfdis.training.config import STRATEGIES, ConfigError, TrainConfig
from tfdis.specs import DataSpec, ModelSpec, TrainSpec
from tfdis.training.strategy import make_strategy
from tfdis.training.model_dir import (export_from_checkpoint,
                                      restore_for_export, train)
from tfdis.training.session import Checkpoints, TrainSession
from tfdis.training.trainer import (NonFiniteLossError, Trainer,
                                    seed_everything)

__all__ = ["Checkpoints", "ConfigError", "DataSpec", "ModelSpec",
           "NonFiniteLossError", "STRATEGIES", "TrainConfig", "TrainSession",
           "TrainSpec", "Trainer",
           "export_from_checkpoint", "make_strategy", "restore_for_export",
           "seed_everything", "train"]
