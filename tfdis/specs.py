"""Configs by composition: small specs, each field defined once.

A spec is a dataclass of related fields with their help text (the flags'
help) and checks. Configs are made of specs (in the spirit of
tensorflow/models' ``ExperimentConfig`` and flax's ``configs/``):

* :class:`DataSpec` — dataset name + options;
* :class:`ModelSpec` — family, hyperparameters, architecture, latent size,
  reconstruction loss, semi-supervision;
* :class:`TrainSpec` — steps, batch, optimiser, seed, strategy, logging;
* :class:`tfdis.training.TrainConfig` = DataSpec + ModelSpec + TrainSpec +
  the run's own fields; ``tfdis.pbt.PBTConfig`` = DataSpec + ModelSpec +
  population settings (its members are TrainConfigs);
  ``tfdis.rpu.RPUConfig`` holds a PBTConfig;
* :class:`tfdis.udr.spec.UDRSpec` — UDR's settings and defaults, used by
  ``tfdis_udr`` (``UDRConfig``), the studies (``tfdis.study.UDRSettings``
  inside ``StudySpec``) and PBT-U-VAE's eval.

Every config validates itself once (:meth:`Spec.validate`), round-trips
through JSON (:meth:`Spec.to_dict` / :meth:`Spec.from_dict`, which fills
fields missing from state written by an older version with their defaults —
the one resume helper for train, PBT and rPU) and generates its binary's
flags (``tfdis.config_flags``).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import typing
from typing import Any, Dict, List, Optional, Sequence, Union

from tfdis import io_utils, rundir
from tfdis.checks import MAX_INT, is_int, is_number
from tfdis.errors import UserError
from tfdis.registry import check_choice

STRATEGIES = ("auto", "default", "mirrored", "one_device")


class ConfigError(UserError, ValueError):
  """A config field is invalid; the message says which and how to fix it."""


def spec_field(default: Any, help: str, *, immutable: bool = False,
               flag: bool = True, choices: Optional[Sequence[str]] = None,
               required: bool = False, multi: bool = False):
  """A spec field: its default, its help text (the flag's help), whether a
  resumed run may change it (``immutable``), whether binaries expose it as
  a flag, the values a string (or each item of a list) may take
  (``choices``: an enum flag, checked by :meth:`Spec.validate` too),
  whether the flag must be given (``required``) and, for a tuple of
  strings, whether the flag is repeated (``multi``: ``--x=a --x=b``, for
  items that hold commas themselves) instead of a comma list."""
  kwargs = ({"default_factory": default} if callable(default)
            else {"default": default})
  return dataclasses.field(metadata={
      "help": help, "immutable": immutable, "flag": flag,
      "choices": tuple(choices) if choices is not None else None,
      "required": required, "multi": multi}, **kwargs)


def redefault(spec: type, name: str, default: Any,
              help: Optional[str] = None):
  """The field ``name`` of ``spec`` with another default (same help, unless
  ``help`` says what the field means where the default differs)."""
  f = {f.name: f for f in dataclasses.fields(spec)}[name]
  return spec_field(default, help or f.metadata["help"],
                    immutable=f.metadata["immutable"],
                    flag=f.metadata["flag"],
                    choices=f.metadata.get("choices"),
                    required=f.metadata.get("required", False),
                    multi=f.metadata.get("multi", False))


# Integers: at most MAX_INT (int64, tfdis.checks). Seeds: Keras/NumPy take
# 32 bits and the data seed multiplies by ~1e6.
MAX_SEED = 2 ** 31 - 1


def need(condition: bool, message: str,
         error: Optional[type] = None) -> None:
  """Raises ``error`` (default :class:`ConfigError`; a config may pass its
  own subclass, e.g. ``PBTConfigError``) with ``message`` unless
  ``condition``."""
  if not condition:
    raise (error or ConfigError)(message)


class Spec:
  """Mixin of every spec and config dataclass (see module docstring)."""

  # ---- validation --------------------------------------------------------
  def validate(self):
    """Runs every spec's ``_check`` along the MRO; returns self."""
    for cls in reversed(type(self).__mro__):
      check = cls.__dict__.get("_check")
      if check is not None:
        check(self)
    _check_numbers(self)
    _check_choices(self)
    return self

  # ---- JSON --------------------------------------------------------------
  def to_dict(self) -> Dict[str, Any]:
    out = {}
    for f in dataclasses.fields(self):
      value = getattr(self, f.name)
      out[f.name] = value.to_dict() if isinstance(value, Spec) else value
    return io_utils.to_jsonable(out)

  def to_json(self) -> str:
    return json.dumps(self.to_dict(), indent=2, sort_keys=True)

  @classmethod
  def from_dict(cls, d: Dict[str, Any]):
    """Builds the config; fields missing from ``d`` (state written before
    they existed) take their defaults (``rundir.fill_defaults``, the one
    resume helper); unknown fields are an error."""
    if not isinstance(d, dict):
      raise ConfigError(f"{cls.__name__}: expected a JSON object, got "
                        f"{type(d).__name__}")
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for name, value in rundir.fill_defaults(d, cls, cls.__name__).items():
      hint = hints.get(name)
      if isinstance(hint, type) and issubclass(hint, Spec) and isinstance(
          value, dict):
        value = hint.from_dict(value)
      elif value is not None and _tuple_hint(hint):
        value = tuple(value)
      kwargs[name] = value
    return cls(**kwargs)

  @classmethod
  def from_json(cls, text: str):
    return cls.from_dict(json.loads(text))

  def save(self, path: str) -> None:
    io_utils.write_json(path, self.to_dict())

  @classmethod
  def load(cls, path: str):
    return cls.from_dict(io_utils.read_json(path))

  def replace(self, **changes):
    return dataclasses.replace(self, **changes)

  @classmethod
  def immutable_fields(cls) -> List[str]:
    """Fields a resumed run may not change (see docs/design.md)."""
    return [f.name for f in dataclasses.fields(cls)
            if f.metadata.get("immutable")]


def _check_numbers(spec: "Spec") -> None:
  """What every numeric field of every config must satisfy, whatever its
  own checks say (or skip, e.g. a field only one mode uses): integers in
  int64 and not negative unless their default is; seeds in [0, MAX_SEED];
  floats finite unless their default is not."""
  for f in dataclasses.fields(spec):
    value = getattr(spec, f.name)
    default = (f.default if f.default is not dataclasses.MISSING else None)
    if isinstance(value, bool):
      continue
    if isinstance(value, int):
      if f.name == "seed" or f.name.endswith("_seed"):
        need(0 <= value <= MAX_SEED, f"{f.name} must be an integer in [0, "
             f"{MAX_SEED}], got {value!r}")
      low = (-MAX_INT - 1 if isinstance(default, int) and default < 0
             else 0)
      need(low <= value <= MAX_INT, f"{f.name} must be an integer in "
           f"[{low}, {MAX_INT}], got {value!r}")
    elif isinstance(value, float) and not math.isfinite(value):
      need(isinstance(default, float) and not math.isfinite(default),
           f"{f.name} must be a finite number, got {value!r}")


def _check_choices(spec: "Spec") -> None:
  """Fields declared with ``choices``: the value (or each item of a list)
  is one of them (one message, the registry's wording)."""
  for f in dataclasses.fields(spec):
    choices = f.metadata.get("choices")
    value = getattr(spec, f.name)
    if not choices or value is None:
      continue
    for item in (value if isinstance(value, (list, tuple)) else [value]):
      check_choice(f.name, item, choices, error=ConfigError)


def _tuple_hint(hint) -> bool:
  return typing.get_origin(hint) is tuple or hint is tuple or (
      typing.get_origin(hint) is Union and any(
          typing.get_origin(a) is tuple for a in typing.get_args(hint)))


# ---------------------------------------------------------------------------
# The specs
# ---------------------------------------------------------------------------
@dataclasses.dataclass
class DataSpec(Spec):
  """Which ground-truth data (a registry name plus its options)."""

  dataset: str = spec_field("procedural_dsprites", "Dataset (registry "
                            "name).", immutable=True)
  dataset_options: Dict[str, Any] = spec_field(
      dict, "Dataset options: JSON object or key=value[,key=value].",
      immutable=True)

  def _check(self):
    from tfdis.data import DATASETS

    DATASETS.validate(self.dataset)
    need(isinstance(self.dataset_options, dict),
         f"dataset_options must be an object, got {self.dataset_options!r}")

  def build_data(self):
    """The GroundTruthData (built once per process and options)."""
    from tfdis.data import get_dataset

    return get_dataset(self.dataset, **self.dataset_options)


def check_dataset_or_auto(dataset: Any, options: Any) -> None:
  """``dataset`` is 'auto' or a registered name; ``options`` an object whose
  keys the named dataset takes (one message, no TensorFlow)."""
  need(isinstance(options, dict),
       f"dataset_options must be a JSON object or key=value[,key=value], got "
       f"{options!r}")
  if dataset == "auto":
    return
  from tfdis.data import DATASETS, check_dataset_options
  from tfdis.registry import check_choice

  check_choice("dataset", dataset, ["auto"] + DATASETS.names(),
               error=ConfigError)
  check_dataset_options(dataset, options)


@dataclasses.dataclass
class ModelSpec(Spec):
  """What network and objective: family, hyperparameters, architecture."""

  model: str = spec_field("beta_vae", "Model family (registry name).",
                          immutable=True)
  hyperparameters: Dict[str, Any] = spec_field(
      dict, "Family hyperparameters as a JSON object (or the per-name flags "
      "such as --beta); unset ones take the family's defaults.")
  architecture: Union[str, Dict[str, str]] = spec_field(
      "conv", "conv | conv_4x4 | fc | conv_bn, or JSON {\"encoder\": ..., "
      "\"decoder\": ...}.", immutable=True)
  latent_dim: int = spec_field(10, "Number of latents d.", immutable=True)
  reconstruction_loss: str = spec_field(
      "bernoulli", "Reconstruction loss: bernoulli | l2.", immutable=True)
  supervision: Optional[Dict[str, Any]] = spec_field(
      None, "Semi-supervision JSON, e.g. {\"loss\": \"xent\", \"schedule\": "
      "\"fixed\", \"gamma_sup\": 1}.", immutable=True)
  model_options: Dict[str, Any] = spec_field(
      dict, "Non-numeric options of the family, e.g. {\"tc_estimator\": "
      "\"chen\"} for beta_tc_vae.", immutable=True)
  precision: str = spec_field(
      "float32", "float32 (default; the published numbers) | mixed_bfloat16 "
      "(Keras policy: layers in bfloat16; variables, outputs and losses "
      "float32) | auto_mixed_bfloat16 (float32 model, oneDNN's bfloat16 "
      "graph rewrite of the training step on the CPU; the fastest on CPUs "
      "with amx_bf16/avx512_bf16). Both bfloat16 modes are slower on CPUs "
      "without avx512_bf16/amx_bf16.")

  def _check(self):
    from tfdis.models import validate_hyperparameters, validate_supervision
    from tfdis.models.architectures import resolve_architecture
    from tfdis.models.losses import RECONSTRUCTION_LOSSES

    from tfdis.models import check_model_options

    # The families raise ValueError/TypeError (they are used outside configs
    # too); from a config they are the user's to fix: one line, exit 2.
    try:
      validate_hyperparameters(self.model, self.hyperparameters)
      resolve_architecture(self.architecture)
      validate_supervision(self.supervision)
      check_model_options(self.model, self.model_options)
    except (ValueError, TypeError) as e:
      if isinstance(e, UserError):
        raise
      raise ConfigError(str(e)) from None
    check_choice("reconstruction_loss", self.reconstruction_loss,
                 sorted(RECONSTRUCTION_LOSSES), error=ConfigError)
    need(is_int(self.latent_dim, 1, 2 ** 31 - 1),
         f"latent_dim must be an integer in [1, 2147483647], got "
         f"{self.latent_dim!r}")
    from tfdis.models.precision import check_precision

    try:
      check_precision(self.precision, self.model)
    except ValueError as e:
      raise ConfigError(str(e)) from None

  def model_spec(self) -> "ModelSpec":
    """This config's ModelSpec part (for comparisons and building)."""
    return ModelSpec(**{f.name: getattr(self, f.name)
                        for f in dataclasses.fields(ModelSpec)})


@dataclasses.dataclass
class TrainSpec(Spec):
  """How to train: budget, optimiser, seed, devices, logging."""

  steps: int = spec_field(300000, "Total target step (a resumed run trains "
                          "up to it).")
  batch_size: int = spec_field(64, "Global batch size.")
  learning_rate: float = spec_field(1e-4, "Adam learning rate.")
  seed: int = spec_field(0, "Random seed: initial weights, data order, "
                         "reparameterisation noise.")
  strategy: str = spec_field("auto", "tf.distribute strategy: "
                             + " | ".join(STRATEGIES) + ".")
  xla: bool = spec_field(False, "jit_compile the train step (slower on "
                         "CPU).")
  deterministic: bool = spec_field(
      True, "Enable TensorFlow op determinism (bit-identical reruns).")
  checkpoint_every: int = spec_field(5000, "Checkpoint period (steps).")
  summary_every: int = spec_field(100, "Scalar summary period (steps).")
  image_summary_every: int = spec_field(5000, "Image summary period.")
  log_every: int = spec_field(100, "Progress line period (steps).")
  keep_checkpoints: int = spec_field(3, "Checkpoints to keep.")

  def _check(self):
    check_choice("strategy", self.strategy, STRATEGIES, error=ConfigError)
    need(is_int(self.steps, 1), f"steps (the total target step) must be an "
         f"integer in [1, {MAX_INT}], got {self.steps!r}")
    for name in ("batch_size", "checkpoint_every", "summary_every",
                 "image_summary_every", "log_every", "keep_checkpoints"):
      v = getattr(self, name)
      need(is_int(v, 1), f"{name} must be an integer in [1, {MAX_INT}], "
           f"got {v!r}")
    lr = self.learning_rate
    need(is_number(lr) and lr > 0,
         f"learning_rate must be a positive number, got {lr!r}")
    need(is_int(self.seed, 0, MAX_SEED), f"seed must be an integer in [0, "
         f"{MAX_SEED}], got {self.seed!r}")


def check_file(path: Optional[str], what: str) -> None:
  need(path is None or os.path.isfile(path),
       f"{what} {path!r} does not exist (or is not a file)")


def check_compatible(stored: Spec, requested: Spec, where: str,
                     overwrite_hint: Optional[str] = "--overwrite") -> None:
  """Refuses a request whose immutable fields (``spec_field(...,
  immutable=True)``) differ from what a directory holds; architectures
  compare after resolution ('conv' == {'encoder': 'conv', 'decoder':
  'deconv'})."""
  from tfdis.models.architectures import resolve_architecture

  def canonical(config: Spec) -> Dict[str, Any]:
    d = config.to_dict()
    if "architecture" in d:
      d["architecture"] = resolve_architecture(d["architecture"])
    return d

  fields = type(requested).immutable_fields()
  rundir.check_compatible(canonical(stored), canonical(requested),
                          fields=fields, immutable_fields=fields,
                          where=where, overwrite_hint=overwrite_hint)
