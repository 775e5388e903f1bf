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

from tfdis import io_utils, rundir
from tfdis.registry import check_choice
from tfdis.specs import ConfigError, Spec, need, spec_field
from tfdis.udr.spec import CORRELATIONS, MODES, UDRSpec


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
class UDRSettings(UDRSpec):
  """One UDR run per (dataset, family): the :class:`tfdis.udr.spec.UDRSpec`
  settings (UDR's defaults, written there once; see
  :func:`tfdis.udr.run_udr_study`) plus which seeds take part.

  ``max_seeds`` restricts the run to the models with the first ``max_seeds``
  seeds of each setting (the UDR paper's all-to-all runs used 10 random
  seeds per setting; seeds are exchangeable, so the first 10 are a random
  choice).
  """
  max_seeds: Optional[int] = spec_field(
      None, "Only the models of the first max_seeds seeds of each setting "
      "(None: all).")

  def _check(self) -> None:
    need(self.max_seeds is None or (
        isinstance(self.max_seeds, int) and not isinstance(self.max_seeds,
                                                           bool)
        and self.max_seeds >= 1),
         f"UDR max_seeds must be an integer >= 1 or None, got "
         f"{self.max_seeds!r}")

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


def _required(help_text: str):
  """A StudySpec field without default (a preset must give it)."""
  return dataclasses.field(metadata={"help": help_text, "immutable": False,
                                     "flag": False, "choices": None,
                                     "required": True})


@dataclasses.dataclass
class StudySpec(Spec):
  """A sweep. ``sweep`` maps family -> list of hyperparameter dicts.

  A :class:`tfdis.specs.Spec` (validation, JSON round trip with the defaults
  of fields an older ``study.json`` lacks) composed of the shared specs: each
  UDR run is a :class:`UDRSettings` (= :class:`tfdis.udr.spec.UDRSpec` +
  ``max_seeds``); ``train`` holds TrainConfig fields (each model's
  TrainConfig validates them). Its fields are not flags: ``tfdis_study``
  picks a preset and overrides parts of it (:class:`StudyRequest`).

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
  name: str = _required("Preset name.")
  description: str = _required("One paragraph for study.json and --help.")
  datasets: Tuple[str, ...] = _required("Dataset names.")
  sweep: Dict[str, List[Dict[str, Any]]] = _required(
      "{family: [hyperparameters, ...]}.")
  seeds: Tuple[int, ...] = _required("The seeds of every setting.")
  train: Dict[str, Any] = _required("TrainConfig fields of every model.")
  metrics: Tuple[str, ...] = _required("Metrics evaluated on every model.")
  metric_params: Dict[str, Dict[str, Any]] = spec_field(
      dict, "{metric: {param: value}} (sample counts, ...).", flag=False)
  fixed_hyperparameters: Dict[str, Dict[str, Any]] = spec_field(
      dict, "{family: {name: value}} added to every setting, not part of "
      "the model id.", flag=False)
  representation: Union[str, Tuple[str, ...]] = spec_field(
      "mean", "mean | sampled | a list of both.", flag=False)
  udr: Tuple[UDRSettings, ...] = spec_field(
      (UDRSettings(),), "UDR runs per (dataset, family); empty = no UDR.",
      flag=False)
  visualize: bool = spec_field(True, "Write per-model visualisations.",
                               flag=False)
  visualize_params: Dict[str, Any] = spec_field(
      dict, "Keyword arguments of tfdis.visualize.visualize_model.",
      flag=False)
  dataset_options: Dict[str, Dict[str, Any]] = spec_field(
      dict, "{dataset: options} for get_dataset.", flag=False)
  default_num_workers: int = spec_field(
      1, "Worker processes tfdis_study uses without --num_workers.",
      flag=False)

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

  def _check(self) -> None:
    """Structural checks with messages that say how to fix the definition."""
    need(bool(self.datasets), f"study {self.name!r} has no datasets")
    need(bool(self.sweep) and all(self.sweep.values()),
         f"study {self.name!r}: every family in the sweep needs at least "
         f"one hyperparameter setting: {self.sweep}")
    need(bool(self.seeds), f"study {self.name!r} has no seeds")
    need(len(set(self.seeds)) == len(self.seeds),
         f"study {self.name!r}: duplicate seeds {self.seeds}")
    try:
      representations_of(self.representation)
    except ValueError as e:
      raise ConfigError(str(e)) from None
    for family, settings in self.sweep.items():
      ids = [model_id(family, h, 0) for h in settings]
      need(len(set(ids)) == len(ids), f"study {self.name!r}: family "
           f"{family!r} has duplicate hyperparameter settings {settings}")
    for udr in self.udr:
      need(isinstance(udr, UDRSettings), f"study {self.name!r}: udr must "
           f"hold UDRSettings, got {udr!r}")
      check_choice("UDR mode", udr.mode, MODES, error=ConfigError)
      check_choice("UDR correlation", udr.correlation, CORRELATIONS,
                   error=ConfigError)
      udr.validate()

  # ---- JSON (study.json's "study") ---------------------------------------
  def to_dict(self) -> Dict[str, Any]:
    return io_utils.to_jsonable(dataclasses.asdict(self))

  @classmethod
  def from_dict(cls, d: Dict[str, Any]) -> "StudySpec":
    """The spec of a ``study.json``'s "study" entry (of any version: UDR
    settings it lacks take UDRSpec's defaults; its ``num_models`` is a
    derived count, dropped)."""
    if not isinstance(d, dict):
      raise ConfigError(f"StudySpec: expected a JSON object, got "
                        f"{type(d).__name__}")
    d = {k: v for k, v in d.items() if k != "num_models"}
    kwargs = rundir.fill_defaults(d, cls, "study.json's study")
    kwargs["udr"] = tuple(UDRSettings.from_dict(u) if isinstance(u, dict)
                          else u for u in kwargs["udr"])
    for name in ("datasets", "seeds", "metrics"):  # JSON lists
      kwargs[name] = tuple(kwargs[name])
    rep = kwargs["representation"]
    kwargs["representation"] = rep if isinstance(rep, str) else tuple(rep)
    return cls(**kwargs)

  def to_json(self) -> Dict[str, Any]:  # pylint: disable=arguments-differ
    """study.json's "study" entry: :meth:`to_dict` plus ``num_models``
    (a dict, unlike ``Spec.to_json``; kept for the runner and callers)."""
    out = self.to_dict()
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
