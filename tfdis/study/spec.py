"""What a study is: a sweep definition (:class:`StudySpec`) and its resolved jobs.

A study trains every combination of dataset × model family × hyperparameter
setting × seed (Locatello et al. 2019, Sec. 5: "6 methods × 6 values × 50
seeds per dataset"), then evaluates, visualises and runs UDR (Duan et al.
2020) per (dataset, family). :meth:`StudySpec.resolve` turns the definition
into the list of :class:`ModelJob` s that the runner executes; it touches no
data and imports no TensorFlow, so a 12,600-model sweep resolves in
milliseconds.

On-disk layout (``runs/<experiment>/<model_id>/`` of the spec's layout.md):
a study over one dataset puts its models directly in ``output_dir``; over
several datasets each dataset is an experiment ``output_dir/<dataset>/``.
UDR of a family goes to ``<experiment>/udr/<correlation>_<mode>/<family>/``.
"""

from __future__ import annotations

import dataclasses
import math
import os
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union


def _fmt_value(value: Any) -> str:
  """Readable, filesystem-safe hyperparameter values: 4.0 -> '4', 0.5 -> '0.5'."""
  if isinstance(value, bool):
    return str(value).lower()
  if isinstance(value, (int, float)):
    if float(value) == int(value) and math.isfinite(value):
      return str(int(value))
    return f"{value:g}"
  return str(value).replace(os.sep, "_").replace(" ", "_")


def model_id(family: str, hyperparameters: Mapping[str, Any], seed: int) -> str:
  """``beta_vae-beta=4-seed=0``: the swept hyperparameters in sorted order."""
  parts = [family] + [f"{k}={_fmt_value(v)}"
                      for k, v in sorted(hyperparameters.items())]
  return "-".join(parts + [f"seed={int(seed)}"])


@dataclasses.dataclass(frozen=True)
class UDRSettings:
  """One UDR run per (dataset, family); see :func:`tfdis.udr.run_udr_study`.

  ``max_seeds`` restricts the run to the models with the first ``max_seeds``
  seeds of each setting (the UDR paper's all-to-all runs used 10 random
  seeds per setting; seeds are exchangeable, so the first 10 are a random
  choice).
  """
  mode: str = "hyper"
  correlation: str = "lasso"
  num_pairs: Optional[int] = None
  num_data_points: int = 10000
  seed: int = 0
  max_seeds: Optional[int] = None
  alpha: Any = 0.1
  kl_filter_threshold: float = 0.01

  @property
  def name(self) -> str:
    return f"{self.correlation}_{self.mode}"


@dataclasses.dataclass(frozen=True)
class ModelJob:
  """One model of a study: where it lives and how to train/evaluate it."""
  model_id: str
  model_dir: str          # absolute
  experiment_dir: str     # absolute; holds the model and the udr/ directory
  dataset: str
  dataset_options: Dict[str, Any]
  model: str
  hyperparameters: Dict[str, Any]  # the swept values (labels, UDR groups)
  seed: int
  train: Dict[str, Any]   # TrainConfig fields beyond model/dataset/seed/hps

  def to_json(self) -> Dict[str, Any]:
    return dataclasses.asdict(self)


@dataclasses.dataclass
class StudySpec:
  """A sweep. ``sweep`` maps family -> list of hyperparameter dicts.

  Attributes:
    name: preset name.
    description: one paragraph for study.json and --help.
    datasets: dataset names (``tfdis.data.get_dataset``).
    sweep: {family: [hyperparameters, ...]}; each dict holds the swept values.
    fixed_hyperparameters: {family: {name: value}} added to every setting but
      not part of the model id (e.g. annealed_vae's γ = 1000).
    seeds: the seeds of every setting.
    train: training settings (steps, batch_size, learning_rate, latent_dim,
      architecture, reconstruction_loss, ...) passed to TrainConfig.
    metrics: metric names evaluated on every model.
    metric_params: {metric: {param: value}} (sample counts, ...).
    representation: "mean", "sampled", or a tuple of both (each model is
      evaluated on every listed representation; dlib's studies scored both).
    udr: UDR runs per (dataset, family); empty = no UDR.
    visualize: write reconstructions, samples and traversals per model.
    visualize_params: keyword arguments of tfdis.visualize.visualize_model.
    dataset_options: {dataset: options} for get_dataset.
    default_num_workers: worker processes tfdis_study uses when
      --num_workers is not given (capped at the available cores).
  """
  name: str
  description: str
  datasets: Tuple[str, ...]
  sweep: Dict[str, List[Dict[str, Any]]]
  seeds: Tuple[int, ...]
  train: Dict[str, Any]
  metrics: Tuple[str, ...]
  metric_params: Dict[str, Dict[str, Any]] = dataclasses.field(
      default_factory=dict)
  fixed_hyperparameters: Dict[str, Dict[str, Any]] = dataclasses.field(
      default_factory=dict)
  representation: Union[str, Tuple[str, ...]] = "mean"
  udr: Tuple[UDRSettings, ...] = (UDRSettings(),)
  visualize: bool = True
  visualize_params: Dict[str, Any] = dataclasses.field(default_factory=dict)
  dataset_options: Dict[str, Dict[str, Any]] = dataclasses.field(
      default_factory=dict)
  default_num_workers: int = 1

  @property
  def representations(self) -> Tuple[str, ...]:
    return representations_of(self.representation)

  @property
  def num_models(self) -> int:
    settings = sum(len(v) for v in self.sweep.values())
    return len(self.datasets) * settings * len(self.seeds)

  def experiment_dir(self, output_dir: str, dataset: str) -> str:
    output_dir = os.path.abspath(os.fspath(output_dir))
    if len(self.datasets) == 1:
      return output_dir
    return os.path.join(output_dir, dataset)

  def udr_dir(self, output_dir: str, dataset: str, family: str,
              settings: UDRSettings) -> str:
    return os.path.join(self.experiment_dir(output_dir, dataset), "udr",
                        settings.name, family)

  def resolve(self, output_dir: str) -> List[ModelJob]:
    """All models in a stable order: dataset, family, setting, seed."""
    self.validate()
    jobs = []
    for dataset in self.datasets:
      experiment = self.experiment_dir(output_dir, dataset)
      for family, settings in self.sweep.items():
        fixed = dict(self.fixed_hyperparameters.get(family, {}))
        for hps in settings:
          for seed in self.seeds:
            mid = model_id(family, hps, seed)
            train = dict(self.train)
            train["hyperparameters"] = dict(fixed, **hps)
            jobs.append(ModelJob(
                model_id=mid, model_dir=os.path.join(experiment, mid),
                experiment_dir=experiment, dataset=dataset,
                dataset_options=dict(self.dataset_options.get(dataset, {})),
                model=family, hyperparameters=dict(hps), seed=int(seed),
                train=train))
    return jobs

  def validate(self) -> None:
    """Structural checks with messages that say how to fix the definition."""
    if not self.datasets:
      raise ValueError(f"study {self.name!r} has no datasets")
    if not self.sweep or not all(self.sweep.values()):
      raise ValueError(f"study {self.name!r}: every family in the sweep needs "
                       f"at least one hyperparameter setting: {self.sweep}")
    if not self.seeds:
      raise ValueError(f"study {self.name!r} has no seeds")
    if len(set(self.seeds)) != len(self.seeds):
      raise ValueError(f"study {self.name!r}: duplicate seeds {self.seeds}")
    representations_of(self.representation)
    for family, settings in self.sweep.items():
      ids = [model_id(family, h, 0) for h in settings]
      if len(set(ids)) != len(ids):
        raise ValueError(f"study {self.name!r}: family {family!r} has "
                         f"duplicate hyperparameter settings {settings}")
    for udr in self.udr:
      if udr.mode not in ("hyper", "a2a"):
        raise ValueError(f"UDR mode must be 'hyper' or 'a2a', got "
                         f"{udr.mode!r}")
      if udr.correlation not in ("lasso", "spearman"):
        raise ValueError(f"UDR correlation must be 'lasso' or 'spearman', "
                         f"got {udr.correlation!r}")

  def to_json(self) -> Dict[str, Any]:
    out = dataclasses.asdict(self)
    out["num_models"] = self.num_models
    return out


def representations_of(representation) -> Tuple[str, ...]:
  """'mean' | 'sampled' | a sequence of them -> a validated tuple."""
  reps = ((representation,) if isinstance(representation, str)
          else tuple(representation))
  if not reps or any(r not in ("mean", "sampled") for r in reps):
    raise ValueError(f"representation must be 'mean', 'sampled' or a list of "
                     f"them, got {representation!r}")
  return tuple(dict.fromkeys(reps))


def sweep_values(name: str, values: Sequence[Any]) -> List[Dict[str, Any]]:
  """[{name: v} for v in values] — a one-hyperparameter sweep."""
  return [{name: v} for v in values]
