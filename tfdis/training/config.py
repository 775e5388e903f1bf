"""TrainConfig: everything one training run needs, with a JSON round trip."""

from __future__ import annotations

import dataclasses
import json
import math
import os
from typing import Any, Dict, List, Optional, Union

from tfdis import io_utils

STRATEGIES = ("auto", "default", "mirrored", "one_device")
DEFAULT_RUNS_ROOT = "runs"


class ConfigError(ValueError):
  """A TrainConfig field is invalid (the message says which and how to fix)."""


@dataclasses.dataclass
class TrainConfig:
  """One training run (defaults: dlib ``unsupervised_study_v1``).

  ``steps`` is the TOTAL target step: a run resumed from a checkpoint at step
  s trains ``steps − s`` more. ``batch_size`` is the GLOBAL batch (split over
  replicas). ``hyperparameters`` and ``learning_rate`` override the values in
  a checkpoint on resume (PBT changes them between intervals).

  Semi-supervised training: ``supervision`` (dict, see
  ``tfdis.models.SUPERVISION_DEFAULTS``) plus either ``labels`` (path to an
  npz with ``indices`` int64 [n] grid rows, ``labels`` float [n, K] and
  optionally ``mask`` [n, K] and ``factor_sizes`` [K]) or ground-truth
  factor labels on ``num_labels`` random rows (all rows if None).
  ``indices``/``indices_path`` restrict training to a subset of grid rows
  (rPU-VAE).
  """

  model: str = "beta_vae"
  dataset: str = "procedural_dsprites"
  dataset_options: Dict[str, Any] = dataclasses.field(default_factory=dict)
  hyperparameters: Dict[str, Any] = dataclasses.field(default_factory=dict)
  architecture: Union[str, Dict[str, str]] = "conv"
  latent_dim: int = 10
  reconstruction_loss: str = "bernoulli"
  steps: int = 300000
  batch_size: int = 64
  learning_rate: float = 1e-4
  seed: int = 0
  model_dir: Optional[str] = None
  strategy: str = "auto"
  xla: bool = False
  checkpoint_every: int = 5000
  summary_every: int = 100
  image_summary_every: int = 5000
  log_every: int = 100
  keep_checkpoints: int = 3
  export: bool = True
  indices: Optional[List[int]] = None
  indices_path: Optional[str] = None
  supervision: Optional[Dict[str, Any]] = None
  labels: Optional[str] = None
  num_labels: Optional[int] = None

  # ---- derived -------------------------------------------------------------
  def resolved_model_dir(self) -> str:
    if self.model_dir:
      return os.fspath(self.model_dir)
    return os.path.join(DEFAULT_RUNS_ROOT, "train",
                        f"{self.model}_{self.dataset}_seed{self.seed}")

  def validate(self) -> "TrainConfig":
    """Checks every field that can be checked without building anything."""
    from tfdis.data import DATASETS
    from tfdis.models import validate_hyperparameters, validate_supervision
    from tfdis.models.architectures import resolve_architecture
    from tfdis.models.losses import RECONSTRUCTION_LOSSES

    validate_hyperparameters(self.model, self.hyperparameters)
    DATASETS.validate(self.dataset)
    resolve_architecture(self.architecture)
    validate_supervision(self.supervision)
    if self.reconstruction_loss not in RECONSTRUCTION_LOSSES:
      raise ConfigError(f"reconstruction_loss must be one of "
                        f"{sorted(RECONSTRUCTION_LOSSES)}, got "
                        f"{self.reconstruction_loss!r}")
    if self.strategy not in STRATEGIES:
      raise ConfigError(f"strategy must be one of {list(STRATEGIES)}, got "
                        f"{self.strategy!r}")
    for name in ("latent_dim", "batch_size", "checkpoint_every",
                 "summary_every", "image_summary_every", "log_every",
                 "keep_checkpoints"):
      v = getattr(self, name)
      if not isinstance(v, int) or isinstance(v, bool) or v < 1:
        raise ConfigError(f"{name} must be an integer >= 1, got {v!r}")
    if not isinstance(self.steps, int) or self.steps < 0:
      raise ConfigError(f"steps (total target step) must be an integer >= 0, "
                        f"got {self.steps!r}")
    lr = self.learning_rate
    if not isinstance(lr, (int, float)) or not math.isfinite(lr) or lr <= 0:
      raise ConfigError(f"learning_rate must be a positive number, got {lr!r}")
    if self.indices is not None and self.indices_path is not None:
      raise ConfigError("give either indices or indices_path, not both")
    if (self.labels is not None or self.num_labels is not None) and (
        self.supervision is None):
      raise ConfigError("labels/num_labels need supervision={...} (or "
                        "model='semi_supervised_vae')")
    if self.num_labels is not None and self.num_labels < 1:
      raise ConfigError(f"num_labels must be >= 1, got {self.num_labels}")
    if self.labels is not None and not os.path.isfile(self.labels):
      raise ConfigError(f"labels file {self.labels!r} does not exist")
    if self.indices_path is not None and not os.path.isfile(
        self.indices_path):
      raise ConfigError(f"indices_path {self.indices_path!r} does not exist")
    return self

  # ---- JSON ---------------------------------------------------------------
  def to_dict(self) -> Dict[str, Any]:
    return io_utils.to_jsonable(dataclasses.asdict(self))

  def to_json(self) -> str:
    return json.dumps(self.to_dict(), indent=2, sort_keys=True)

  @classmethod
  def from_dict(cls, d: Dict[str, Any]) -> "TrainConfig":
    fields = {f.name for f in dataclasses.fields(cls)}
    unknown = set(d) - fields
    if unknown:
      raise ConfigError(f"Unknown TrainConfig field(s) {sorted(unknown)}; "
                        f"known: {sorted(fields)}")
    return cls(**d)

  @classmethod
  def from_json(cls, text: str) -> "TrainConfig":
    return cls.from_dict(json.loads(text))

  def save(self, path: str) -> None:
    io_utils.write_json(path, self.to_dict())

  @classmethod
  def load(cls, path: str) -> "TrainConfig":
    return cls.from_dict(io_utils.read_json(path))

  def replace(self, **changes) -> "TrainConfig":
    return dataclasses.replace(self, **changes)
