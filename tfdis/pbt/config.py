"""PBTConfig: every setting of a PBT run (docs/design.md "PBT API")."""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import os
from typing import Any, Dict, Optional, Sequence, Tuple, Union

import numpy as np

from tfdis.models import validate_supervision
from tfdis import specs
from tfdis.checks import is_int
from tfdis.registry import check_choice
from tfdis.training.config import TrainConfig
from tfdis.udr.spec import UDRSpec
from tfdis.specs import (ConfigError, DataSpec, ModelSpec, Spec,
                         redefault, spec_field)

EVALS = ("mig", "dci", "udr", "surrogate_mig")
FINAL_SUPERVISION = ("eval", "eval+loss")


class PBTConfigError(ConfigError):
  """A PBTConfig field is invalid (the message says which and how to fix)."""


# tfdis.specs.need raising this module's error type.
need = functools.partial(specs.need, error=PBTConfigError)


RENAMED_FIELDS = {"fixed_hyperparameters": "hyperparameters"}
# Family options of the rPU-VAE authors' setup (used when none are given).
AUTHORS_MODEL_OPTIONS = {"beta_tc_vae": {"tc_estimator": "chen"}}


@dataclasses.dataclass
class PopulationSpec(Spec):
  """How a population trains and evolves (shared by PBTConfig and
  RPUConfig, whose metaEpochs and final model are PBT runs)."""

  population_size: int = spec_field(24, "Members N.", immutable=True)
  max_generations: Optional[int] = spec_field(
      None, "Generation cap (None: no cap). A run needs max_generations or "
      "convergence_threshold.")
  interval_images: Optional[int] = spec_field(
      None, "Images per interval (default max(10000, |d|)).", immutable=True)
  interval_steps: Optional[int] = spec_field(
      None, "Steps per interval (instead of images).", immutable=True)
  cutoff: float = spec_field(0.2, "Truncation fraction.", immutable=True)
  resample_probability: float = spec_field(
      0.0, "Explore: resample instead of perturb with this chance.",
      immutable=True)
  big_init_population_factor: int = spec_field(
      1, "Start with factor·N members, keep the best N.", immutable=True)
  convergence_threshold: Optional[float] = spec_field(
      None, "Stop when |best(e) - best(e-1)| < this for "
      "convergence_patience generations.")
  convergence_patience: int = spec_field(6, "See convergence_threshold.")
  evolve: Tuple[str, ...] = spec_field(
      ("learning_rate", "batch_size", "beta"), "Evolved hyperparameters.",
      immutable=True)
  hyperparameter_space: Dict[str, Dict[str, Any]] = spec_field(
      dict, 'JSON {name: {"initial_values": [...], "low": .., "high": .., '
      '"kind": "float|int"}}.', immutable=True)
  ensemble_size: int = spec_field(5, "VAEs per member (eval=udr).",
                                  immutable=True)
  # PBT-U-VAE scores every member every generation on 1000 images (the
  # authors' setting, spec pbt_rpu.md), not UDR's study default of 10000.
  udr_num_data_points: int = spec_field(1000, "Images for the UDR eval.",
                                        immutable=True)
  udr_kl_threshold: float = spec_field(
      UDRSpec.kl_filter_threshold, "UDR eval: a latent is informative if "
      "its KL exceeds this.", immutable=True)
  kl_estimator: str = spec_field(
      "analytic", "Per-latent KL of the UDR eval's filter: analytic "
      "(documented fix) | authors (their batch estimate).", immutable=True)
  num_workers: int = spec_field(1, "Parallel worker processes "
                                "(1 = in-process).")
  max_nan_retries: int = spec_field(
      1, "Retries (new seed) of a member whose loss goes non-finite.")
  keep_checkpoints: int = spec_field(2, "Checkpoints kept per member.")

  def _check(self) -> None:
    need(is_int(self.population_size, 2), "population_size must be an "
         "integer >= 2 (PBT needs someone to copy from)")
    need(self.max_generations is None or is_int(self.max_generations, 1),
         "max_generations must be an integer >= 1 or None (no cap)")
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
    from tfdis.kl import KL_ESTIMATORS
    check_choice("kl_estimator", self.kl_estimator, KL_ESTIMATORS,
                 error=PBTConfigError)
    need(is_int(self.num_workers, 1), "num_workers must be >= 1")
    need(is_int(self.max_nan_retries, 0), "max_nan_retries must be >= 0")
    need(is_int(self.keep_checkpoints, 1), "keep_checkpoints must be >= 1")

  def population_fields(self) -> Dict[str, Any]:
    """This config's PopulationSpec, DataSpec and ModelSpec values (what a
    PBT run built from it inherits)."""
    names = [f.name for spec in (PopulationSpec, DataSpec, ModelSpec)
             for f in dataclasses.fields(spec)]
    return {n: getattr(self, n) for n in names if hasattr(self, n)}


@dataclasses.dataclass
class PBTConfig(DataSpec, ModelSpec, PopulationSpec, Spec):
  """A PBT population (spec ``pbt_rpu.md``; paper 003, PBT section) =
  DataSpec + ModelSpec (the members' network and objective; its
  ``hyperparameters`` are the fixed, non-evolved ones) + the population
  settings below. Each member trains as a TrainConfig
  (:meth:`member_config`) through the one trainer.

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
  eval's KL filter (``tfdis.kl.per_latent_kl``).
  """

  model: str = redefault(ModelSpec, "model", "beta_tc_vae")
  architecture: Union[str, Dict[str, str]] = redefault(
      ModelSpec, "architecture", "conv_bn")
  # A PBT-S-VAE run stops after a fixed number of generations (the authors'
  # supervised configs: 15); rPU's metaEpochs have no cap (RPUConfig).
  max_generations: Optional[int] = redefault(PopulationSpec,
                                             "max_generations", 15)
  output_dir: str = spec_field("runs/pbt/pbt", "Run directory.",
                               immutable=True)
  indices_path: Optional[str] = spec_field(
      None, "npz with 'indices': train on these grid rows only.",
      immutable=True)
  eval: str = spec_field("mig", "PBT eval: " + " | ".join(EVALS) + ".",
                         immutable=True)
  num_labels: Optional[int] = spec_field(
      None, "Few-label variant: labelled examples for mig/dci.",
      immutable=True)
  surrogate_labels: Tuple[str, ...] = spec_field(
      (), "rPU surrogate-label npz files (eval=surrogate_mig).",
      immutable=True)
  surrogate_num_rows: Optional[int] = spec_field(
      None, "eval=surrogate_mig: score at most this many rows per "
      "metaEpoch (a fixed random subset; default all rows, as the authors).",
      immutable=True)
  final_supervision: str = spec_field(
      "eval", "Use surrogate labels only as eval, or also as a loss: "
      + " | ".join(FINAL_SUPERVISION) + ".", immutable=True)
  stop_below_score: Optional[float] = spec_field(
      None, "The best member's score below this ends the run after any "
      "generation (rPU's leaf-run stop: UDR < 0.1).")
  mig_num_train: int = spec_field(50000, "Points for the MIG eval.",
                                  immutable=True)
  dci_num_train: int = spec_field(10000, "Train points for the DCI eval.",
                                  immutable=True)
  dci_num_test: int = spec_field(5000, "Test points for the DCI eval.",
                                 immutable=True)
  num_bins: int = spec_field(20, "MIG histogram bins.", immutable=True)
  seed: int = spec_field(0, "Controller seed.", immutable=True)
  export_every_generation: bool = spec_field(
      True, "Export the best member of every generation.")

  # ---- validation -----------------------------------------------------------
  def _check(self) -> None:
    """Checks every field that can be checked without building anything."""
    from tfdis.models import get_model_class

    need(bool(self.output_dir), "output_dir is required")
    cls = get_model_class(self.model)
    check_choice("eval", self.eval, EVALS, error=PBTConfigError)
    check_choice("final_supervision", self.final_supervision,
                 FINAL_SUPERVISION, error=PBTConfigError)
    # Checked whatever the eval (a bad value is a typo even where unused).
    need(is_int(self.ensemble_size, 2), "ensemble_size must be an integer "
         ">= 2 (UDR compares pairs of models)")
    need(is_int(self.udr_num_data_points, 2),
         "udr_num_data_points must be an integer >= 2")
    need(isinstance(self.udr_kl_threshold, (int, float)) and
         self.udr_kl_threshold >= 0, "udr_kl_threshold must be a number >= 0")
    need(self.surrogate_num_rows is None or is_int(
        self.surrogate_num_rows, 2), "surrogate_num_rows must be None or "
         "an integer >= 2")
    if self.eval == "udr":
      need(getattr(cls, "VECTORISABLE", True), f"eval='udr' trains K-VAE "
           f"ensembles; {self.model} is not vectorised — use beta_tc_vae, "
           "beta_vae, annealed_vae or dip_vae_*")
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
    if self.final_supervision == "eval+loss":
      validate_supervision(self.supervision or {})
    need(self.num_labels is None or is_int(self.num_labels, 2),
         f"num_labels must be an integer >= 2 or None, got {self.num_labels!r}")
    need(self.num_labels is None or self.eval in ("mig", "dci"),
         "num_labels applies to eval='mig' or 'dci'")
    need(self.max_generations is not None or
         self.convergence_threshold is not None,
         "the run has no stop rule: set max_generations (PBT-S-VAE stops "
         "after a fixed number of generations; the authors' supervised "
         "configs ran 15-26) or convergence_threshold (PBT-U-VAE "
         "metaEpochs: 0.005 over convergence_patience=6 generations)")
    need(self.stop_below_score is None or math.isfinite(
        self.stop_below_score), "stop_below_score must be a number or None")
    for name in ("mig_num_train", "dci_num_train", "dci_num_test",
                 "num_bins"):
      need(is_int(getattr(self, name), 1), f"{name} must be an integer >= 1")
    need(self.indices_path is None or os.path.isfile(self.indices_path),
         f"indices_path {self.indices_path!r} does not exist")
    for k in self.hyperparameters:
      need(k not in self.evolve, f"{k!r} is both evolved and fixed")
    from tfdis.pbt import explore_exploit
    try:
      explore_exploit.default_space(list(cls.HYPERPARAMETERS), self.evolve,
                                    self.hyperparameter_space)
    except ValueError as e:
      raise PBTConfigError(str(e)) from None

  def _check_data(self, data) -> None:
    """Checks that need the data (sizes): run before anything is written."""
    from tfdis.models.architectures import check_architecture

    try:
      check_architecture(self.architecture, data.observation_shape)
    except ValueError as e:
      raise PBTConfigError(f"{e} (dataset {self.dataset!r})") from None
    n = data.num_examples
    if self.indices_path is not None:
      with np.load(self.indices_path) as f:
        n = len(f["indices"])
    if self.num_labels is not None:
      need(self.num_labels <= n, f"num_labels={self.num_labels} is larger "
           f"than the {n} examples of the data: use at most {n}")

  @classmethod
  def from_dict(cls, d: Dict[str, Any]) -> "PBTConfig":
    d = {RENAMED_FIELDS.get(k, k): v for k, v in d.items()}
    return super().from_dict(d)

  # ---- members --------------------------------------------------------------
  def resolved_model_options(self) -> Dict[str, Any]:
    """``model_options``, or the authors' setup when none are given: Chen et
    al.'s β-TCVAE objective (``tc_estimator='chen'``, as the rPU-VAE code);
    tfdis_train and the studies keep dlib's. Pass
    ``{"tc_estimator": "dlib"}`` for dlib's."""
    if self.model_options:
      return dict(self.model_options)
    return dict(AUTHORS_MODEL_OPTIONS.get(self.model, {}))

  def member_config(self, hyperparameters: Dict[str, Any], seed: int,
                    dataset_size: int, start_step: int = 0) -> TrainConfig:
    """The TrainConfig of a member's next ready interval: its evolved
    ``learning_rate`` / ``batch_size`` / family hyperparameters and seed, and
    ``steps`` = the member's step + one interval (a TrainConfig's ``steps``
    is the total target step). Members share one process's model cache on
    TensorFlow's default strategy (PBT runs members in parallel, not
    replicas); ``xla`` and ``deterministic`` keep TrainSpec's defaults."""
    hp = dict(hyperparameters)
    learning_rate = float(hp.pop("learning_rate"))
    batch_size = int(hp.pop("batch_size"))
    supervision = (dict(self.supervision or {})
                   if self.final_supervision == "eval+loss" else None)
    return TrainConfig(
        dataset=self.dataset, dataset_options=dict(self.dataset_options),
        model=self.model, hyperparameters=dict(self.hyperparameters, **hp),
        architecture=self.architecture, latent_dim=self.latent_dim,
        reconstruction_loss=self.reconstruction_loss, supervision=supervision,
        model_options=self.resolved_model_options(),
        precision=self.precision,
        steps=int(start_step) + interval_steps_for(self, batch_size,
                                                   dataset_size),
        batch_size=batch_size, learning_rate=learning_rate, seed=int(seed),
        strategy="default", indices_path=self.indices_path, export=False,
        ensemble_size=self.ensemble_size if self.eval == "udr" else None)


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
