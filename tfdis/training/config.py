"""TrainConfig = DataSpec + ModelSpec + TrainSpec + the run's own fields."""

from __future__ import annotations

import dataclasses
import os
from typing import List, Optional

from tfdis.checks import is_int
from tfdis.specs import (STRATEGIES, ConfigError, DataSpec,
                                  ModelSpec, Spec, TrainSpec, check_file,
                                  need, spec_field)

DEFAULT_RUNS_ROOT = "runs"

__all__ = ["ConfigError", "DEFAULT_RUNS_ROOT", "STRATEGIES", "TrainConfig"]


@dataclasses.dataclass
class TrainConfig(DataSpec, ModelSpec, TrainSpec, Spec):
  """One training run (defaults: dlib ``unsupervised_study_v1``).

  ``steps`` is the TOTAL target step: a run resumed from a checkpoint at step
  s trains ``steps − s`` more. ``batch_size`` is the GLOBAL batch (split over
  replicas). On resume the fields marked immutable (dataset and its options,
  model family, architecture, latent_dim, reconstruction_loss, supervision)
  must equal the stored ones; the others (steps, batch_size, learning_rate,
  hyperparameters, seed, logging periods, strategy, xla) may change, and the
  config's hyperparameters and learning rate then override the restored
  values (PBT changes them between intervals).

  Semi-supervised training: ``supervision`` (dict, see
  ``tfdis.models.SUPERVISION_DEFAULTS``) plus either ``labels`` (path to an
  npz with ``indices`` int64 [n] grid rows, ``labels`` float [n, K] and
  optionally ``mask`` [n, K] and ``factor_sizes`` [K]) or ground-truth
  factor labels on ``num_labels`` random rows (all rows if None).
  ``indices``/``indices_path`` restrict training to a subset of grid rows
  (rPU-VAE). ``ensemble_size`` = K trains K members of the family as one
  vectorised model (PBT-U-VAE).
  """

  model_dir: Optional[str] = spec_field(
      None, "Output directory (default runs/train/<model>_<dataset>_seed"
      "<seed>).")
  export: bool = spec_field(True, "Export the SavedModel after training.")
  indices: Optional[List[int]] = spec_field(None, "Grid rows to train on.",
                                            immutable=True, flag=False)
  indices_path: Optional[str] = spec_field(
      None, "npz with 'indices': train on these grid rows only.",
      immutable=True)
  labels: Optional[str] = spec_field(
      None, "npz with indices/labels[/mask] for semi-supervision.",
      immutable=True)
  num_labels: Optional[int] = spec_field(
      None, "Ground-truth labels on this many random rows.", immutable=True)
  ensemble_size: Optional[int] = spec_field(
      None, "Train K members as one vectorised ensemble.", immutable=True,
      flag=False)

  def resolved_model_dir(self) -> str:
    if self.model_dir:
      return os.fspath(self.model_dir)
    return os.path.join(DEFAULT_RUNS_ROOT, "train",
                        f"{self.model}_{self.dataset}_seed{self.seed}")

  def _check(self):
    need(self.indices is None or self.indices_path is None,
         "give either indices or indices_path, not both")
    need((self.labels is None and self.num_labels is None) or
         self.supervision is not None,
         "labels/num_labels need supervision={...} (or "
         "model='semi_supervised_vae')")
    need(self.num_labels is None or is_int(self.num_labels, 1),
         f"num_labels must be an integer >= 1, got {self.num_labels!r}")
    check_file(self.labels, "labels file")
    check_file(self.indices_path, "indices_path")
    need(self.ensemble_size is None or (
        isinstance(self.ensemble_size, int) and self.ensemble_size >= 1),
         f"ensemble_size must be None or an integer >= 1, got "
         f"{self.ensemble_size!r}")

  def data_spec(self) -> DataSpec:
    return DataSpec(dataset=self.dataset,
                    dataset_options=dict(self.dataset_options))
