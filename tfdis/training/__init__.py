"""Training: ``TrainConfig``, ``train(config)``, ``make_strategy(name)``."""

from tfdis.training.config import STRATEGIES, ConfigError, TrainConfig
from tfdis.training.loop import NonFiniteLossError, restore_for_export, train
from tfdis.training.strategy import make_strategy

__all__ = ["ConfigError", "NonFiniteLossError", "STRATEGIES", "TrainConfig",
           "make_strategy", "restore_for_export", "train"]
