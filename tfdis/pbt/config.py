"""PBTConfig: every setting of a PBT run (docs/design.md "PBT API")."""

from __future__ import annotations

import dataclasses
import json
import math
import os
from typing import Any, Dict, Optional, Sequence, Tuple, Union

from tfdis import io_utils

EVALS = ("mig", "dci", "udr", "surrogate_mig")
FINAL_SUPERVISION = ("eval", "eval+loss")


class PBTConfigError(ValueError):
  """A PBTConfig field is invalid (the message says which and how to fix)."""


@dataclasses.dataclass
class PBTConfig:
  """A PBT population (spec ``pbt_rpu.md``; paper 003, PBT section).

  Interval: ``interval_steps`` gradient steps, or ``interval_images`` images
  (steps = images // batch size, at least 1); with neither, one pass over the
  training set, max(10,000, |d|) images, as the authors.
  Eval ``mig``/``dci``: ground-truth labels on fixed rows chosen once from
  ``seed`` (``num_labels`` rows for the few-label variant, else
  ``mig_num_train`` / ``dci_num_train + dci_num_test`` rows). ``udr``: every
  member is ``ensemble_size`` VAEs (one vectorised computation) scored by UDR
  on ``udr_num_data_points`` images. ``surrogate_mig``: MIG against rPU's
  stored surrogate labels (all rows, as the authors; ``surrogate_num_rows``
  caps each metaEpoch's rows at a fixed random subset chosen once from
  ``seed``, for datasets too large to encode every generation on a CPU).

  Stop rules, checked after every generation in this order:
  ``stop_below_score`` (the best member's score below it ends the run: rPU's
  leaf-run stop, UDR < 0.1), the convergence rule (``convergence_threshold``
  over ``convergence_patience`` generations), ``max_generations`` (None: no
  cap, as the authors' rPU metaEpochs). A run needs max_generations or
  convergence_threshold. ``kl_estimator``: the per-latent KL of the UDR
  eval's KL filter (``tfdis.pbt.evaluation.per_latent_kl``).
  """

  output_dir: str = "runs/pbt/pbt"
  dataset: str = "procedural_dsprites"
  dataset_options: Dict[str, Any] = dataclasses.field(default_factory=dict)
  indices_path: Optional[str] = None
  eval: str = "mig"
  num_labels: Optional[int] = None
  surrogate_labels: Tuple[str, ...] = ()
  surrogate_num_rows: Optional[int] = None
  final_supervision: str = "eval"
  supervision: Optional[Dict[str, Any]] = None
  population_size: int = 24
  # Stop rules, checked after every generation (at least one of
  # max_generations / convergence_threshold must be set).
  max_generations: Optional[int] = None
  stop_below_score: Optional[float] = None
  interval_images: Optional[int] = None
  interval_steps: Optional[int] = None
  cutoff: float = 0.2
  resample_probability: float = 0.0
  big_init_population_factor: int = 1
  convergence_threshold: Optional[float] = None
  convergence_patience: int = 6
  model: str = "beta_tc_vae"
  architecture: Union[str, Dict[str, str]] = "conv_bn"
  latent_dim: int = 10
  reconstruction_loss: str = "bernoulli"
  evolve: Tuple[str, ...] = ("learning_rate", "batch_size", "beta")
  hyperparameter_space: Dict[str, Dict[str, Any]] = dataclasses.field(
      default_factory=dict)
  fixed_hyperparameters: Dict[str, Any] = dataclasses.field(
      default_factory=dict)
  ensemble_size: int = 5
  udr_num_data_points: int = 1000
  udr_kl_threshold: float = 0.01
  kl_estimator: str = "analytic"
  mig_num_train: int = 50000
  dci_num_train: int = 10000
  dci_num_test: int = 5000
  num_bins: int = 20
  num_workers: int = 1
  seed: int = 0
  max_nan_retries: int = 1
  export_every_generation: bool = True
  keep_checkpoints: int = 2

  # ---- validation -----------------------------------------------------------
  def validate(self) -> "PBTConfig":
    """Checks every field that can be checked without building anything."""
    from tfdis.data import DATASETS
    from tfdis.models import get_model_class, validate_supervision
    from tfdis.models.architectures import resolve_architecture
    from tfdis.models.losses import RECONSTRUCTION_LOSSES

    def need(cond, msg):
      if not cond:
        raise PBTConfigError(f"PBTConfig: {msg}")

    def is_int(v, lo):
      return isinstance(v, int) and not isinstance(v, bool) and v >= lo

    need(bool(self.output_dir), "output_dir is required")
    DATASETS.validate(self.dataset)
    cls = get_model_class(self.model)
    resolve_architecture(self.architecture)
    need(self.reconstruction_loss in RECONSTRUCTION_LOSSES,
         f"reconstruction_loss must be one of {sorted(RECONSTRUCTION_LOSSES)}")
    need(self.eval in EVALS, f"eval must be one of {EVALS}, got "
         f"{self.eval!r}")
    need(self.final_supervision in FINAL_SUPERVISION,
         f"final_supervision must be one of {FINAL_SUPERVISION}")
    if self.eval == "udr":
      need(self.model != "factor_vae", "eval='udr' trains K-VAE ensembles; "
           "factor_vae (with its discriminator) is not vectorised — use "
           "beta_tc_vae, beta_vae, annealed_vae or dip_vae_*")
      need(is_int(self.ensemble_size, 2), "ensemble_size must be an integer "
           ">= 2 (UDR compares pairs of models)")
      need(is_int(self.udr_num_data_points, 2),
           "udr_num_data_points must be an integer >= 2")
    if self.eval == "surrogate_mig":
      need(len(self.surrogate_labels) > 0, "eval='surrogate_mig' needs "
           "surrogate_labels (rPU leaf_<i>.npz paths)")
      for p in self.surrogate_labels:
        need(os.path.isfile(p), f"surrogate label file {p!r} does not exist")
      need(self.surrogate_num_rows is None or is_int(
          self.surrogate_num_rows, 2), "surrogate_num_rows must be None or "
           "an integer >= 2")
    else:
      need(self.final_supervision == "eval", "final_supervision='eval+loss' "
           "needs eval='surrogate_mig'")
    if self.final_supervision == "eval+loss" or self.supervision is not None:
      validate_supervision(self.supervision or {})
    need(self.num_labels is None or is_int(self.num_labels, 2),
         f"num_labels must be an integer >= 2 or None, got {self.num_labels!r}")
    need(self.num_labels is None or self.eval in ("mig", "dci"),
         "num_labels applies to eval='mig' or 'dci'")
    need(is_int(self.population_size, 2), "population_size must be an "
         "integer >= 2 (PBT needs someone to copy from)")
    need(self.max_generations is None or is_int(self.max_generations, 1),
         "max_generations must be an integer >= 1 or None (no cap)")
    need(self.max_generations is not None or
         self.convergence_threshold is not None,
         "the run has no stop rule: set max_generations (PBT-S-VAE stops "
         "after a fixed number of generations; the authors' supervised "
         "configs ran 15-26) or convergence_threshold (PBT-U-VAE "
         "metaEpochs: 0.005 over convergence_patience=6 generations)")
    need(self.stop_below_score is None or math.isfinite(
        self.stop_below_score), "stop_below_score must be a number or None")
    from tfdis.pbt.evaluation import KL_ESTIMATORS
    need(self.kl_estimator in KL_ESTIMATORS, f"kl_estimator must be one of "
         f"{KL_ESTIMATORS}, got {self.kl_estimator!r}")
    need(self.interval_images is None or self.interval_steps is None,
         "set at most one of interval_images and interval_steps")
    need(self.interval_images is None or is_int(self.interval_images, 1),
         "interval_images must be an integer >= 1")
    need(self.interval_steps is None or is_int(self.interval_steps, 1),
         "interval_steps must be an integer >= 1")
    need(isinstance(self.cutoff, (int, float)) and 0 < self.cutoff <= 0.5,
         f"cutoff must be in (0, 0.5], got {self.cutoff}")
    need(0 <= self.resample_probability <= 1,
         "resample_probability must be in [0, 1]")
    need(is_int(self.big_init_population_factor, 1),
         "big_init_population_factor must be an integer >= 1")
    need(self.convergence_threshold is None or (
        math.isfinite(self.convergence_threshold) and
        self.convergence_threshold > 0),
         "convergence_threshold must be > 0 or None")
    need(is_int(self.convergence_patience, 1), "convergence_patience >= 1")
    need(is_int(self.latent_dim, 1), "latent_dim must be >= 1")
    for name in ("mig_num_train", "dci_num_train", "dci_num_test",
                 "num_bins"):
      need(is_int(getattr(self, name), 1), f"{name} must be an integer >= 1")
    need(is_int(self.num_workers, 1), "num_workers must be >= 1")
    need(is_int(self.max_nan_retries, 0), "max_nan_retries must be >= 0")
    need(is_int(self.keep_checkpoints, 1), "keep_checkpoints must be >= 1")
    need(self.indices_path is None or os.path.isfile(self.indices_path),
         f"indices_path {self.indices_path!r} does not exist")
    for k in self.fixed_hyperparameters:
      need(k not in self.evolve, f"{k!r} is both evolved and fixed")
    cls.validate_hyperparameters(self.fixed_hyperparameters)
    from tfdis.pbt import explore_exploit
    explore_exploit.default_space(list(cls.HYPERPARAMETERS), self.evolve,
                                  self.hyperparameter_space)
    return self

  # ---- JSON -----------------------------------------------------------------
  def to_dict(self) -> Dict[str, Any]:
    return io_utils.to_jsonable(dataclasses.asdict(self))

  @classmethod
  def from_dict(cls, d: Dict[str, Any]) -> "PBTConfig":
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(d) - names
    if unknown:
      raise PBTConfigError(f"Unknown PBTConfig field(s) {sorted(unknown)}; "
                           f"known: {sorted(names)}")
    d = dict(d)
    for key in ("surrogate_labels", "evolve"):
      if key in d and d[key] is not None:
        d[key] = tuple(d[key])
    return cls(**d)

  def to_json(self) -> str:
    return json.dumps(self.to_dict(), indent=2, sort_keys=True)

  def __post_init__(self):
    self.surrogate_labels = tuple(self.surrogate_labels or ())
    self.evolve = tuple(self.evolve)

  def replace(self, **changes) -> "PBTConfig":
    return dataclasses.replace(self, **changes)


def interval_steps_for(config: PBTConfig, batch_size: int,
                       dataset_size: int) -> int:
  """Gradient steps of one ready interval for a member's batch size.

  Authors: one interval = one pass over the data in images (737,280 for
  dSprites), max(10,000, |d|) for a reduced dataset d.
  """
  if config.interval_steps is not None:
    return int(config.interval_steps)
  images = (config.interval_images if config.interval_images is not None
            else max(10000, int(dataset_size)))
  return max(1, int(images) // int(batch_size))
