"""absl flags generated from config dataclasses (each field written once).

``define_config_flags(Config)`` defines one flag per field (type from the
annotation, help from the field's metadata; see
``tfdis.specs.spec_field``); ``config_from_flags(Config)`` builds
the config back. Object-valued fields (dataset options, hyperparameters,
supervision, architecture dicts) are parsed by the one parser
:func:`parse_options` (a JSON object, or key=value[,key=value]); a malformed
value is a ``ConfigError`` that names the flag. ``define_hyperparameter_flags``
adds ``--beta``, ``--gamma``, … from the model registry.
"""

from __future__ import annotations

import dataclasses
import json
import typing
from typing import Any, Dict, Iterable, List, Optional

from absl import flags

from tfdis.specs import ConfigError

FLAGS = flags.FLAGS


def parse_options(text: Optional[str], flag: str) -> Dict[str, Any]:
  """A JSON object or key=value[,key=value] (values parsed as JSON where
  they can be); errors name ``--flag``."""
  if text is None:
    return {}
  text = str(text).strip()
  if not text:
    return {}
  if text.startswith("{"):
    try:
      value = json.loads(text)
    except json.JSONDecodeError as e:
      raise ConfigError(f"--{flag} is not valid JSON ({e.msg} at character "
                        f"{e.pos}): {text!r}") from None
    if not isinstance(value, dict):
      raise ConfigError(f"--{flag} must be a JSON object")
    return value
  out = {}
  for part in text.split(","):
    if "=" not in part:
      raise ConfigError(f"--{flag}: {part!r} is neither key=value nor a "
                        "JSON object")
    key, val = part.split("=", 1)
    try:
      out[key.strip()] = json.loads(val)
    except json.JSONDecodeError:
      out[key.strip()] = val.strip()
  return out


def _base(hint):
  """(base type, optional?) of an annotation."""
  if typing.get_origin(hint) is typing.Union:
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    optional = len(args) < len(typing.get_args(hint))
    if len(args) == 1:
      return _base(args[0])[0], optional
    return "object", optional   # e.g. Union[str, Dict]: a name or JSON
  origin = typing.get_origin(hint) or hint
  if origin in (dict, Dict):
    return "object", False
  if origin in (list, tuple, List):
    return "list", False
  return hint, False


def _fields(config_cls, exclude: Iterable[str]):
  hints = typing.get_type_hints(config_cls)
  for f in dataclasses.fields(config_cls):
    if f.name in exclude or not f.metadata.get("flag", False):
      continue
    yield f, hints[f.name]


def _default(f):
  if f.default is not dataclasses.MISSING:
    return f.default
  return f.default_factory()


def _items_in(name: str, choices):
  def check(items) -> bool:
    from tfdis.registry import check_choice  # pylint: disable=g-import-not-at-top

    for item in items or []:
      try:
        check_choice(name, item, choices)
      except ValueError as e:
        raise flags.ValidationError(f"--{name}: {e}") from None
    return True
  return check


def define_config_flags(config_cls, exclude: Iterable[str] = (),
                        flag_values=FLAGS) -> List[str]:
  """One flag per field of ``config_cls``; returns their names."""
  names = []
  for f, hint in _fields(config_cls, exclude):
    kind, _ = _base(hint)
    default = _default(f)
    help_text = f.metadata.get("help", f.name)
    choices = f.metadata.get("choices")
    if f.metadata.get("multi"):
      # A repeated flag: each item may hold commas (e.g. NAME=DIR,DIR).
      flags.DEFINE_multi_string(f.name, list(default or ()), help_text,
                                flag_values=flag_values)
    elif choices and kind is str:
      flags.DEFINE_enum(f.name, default, list(choices), help_text,
                        flag_values=flag_values)
    elif choices and kind == "list":
      # A comma list (not absl's repeated multi_enum), each item checked.
      flags.DEFINE_list(f.name, None if default is None else list(default),
                        help_text, flag_values=flag_values)
      flags.register_validator(
          f.name, _items_in(f.name, choices), flag_values=flag_values)
    elif kind is bool:
      flags.DEFINE_bool(f.name, default, help_text, flag_values=flag_values)
    elif kind is int:
      flags.DEFINE_integer(f.name, default, help_text,
                           flag_values=flag_values)
    elif kind is float:
      flags.DEFINE_float(f.name, default, help_text, flag_values=flag_values)
    elif kind == "list":
      flags.DEFINE_list(f.name, None if default is None else list(default),
                        help_text, flag_values=flag_values)
    elif kind == "object":
      flags.DEFINE_string(
          f.name, None if default in (None, {}) else (
              default if isinstance(default, str) else json.dumps(default)),
          help_text, flag_values=flag_values)
    else:
      flags.DEFINE_string(f.name, default, help_text,
                          flag_values=flag_values)
    if f.metadata.get("required"):
      flags.mark_flag_as_required(f.name, flag_values=flag_values)
    names.append(f.name)
  return names


def config_from_flags(config_cls, exclude: Iterable[str] = (),
                      flag_values=FLAGS, **fixed):
  """The config from the generated flags (``fixed`` fields override)."""
  kwargs = {}
  for f, hint in _fields(config_cls, exclude):
    if f.name in fixed:
      continue
    kind, optional = _base(hint)
    raw = flag_values[f.name].value
    if kind == "object":
      if raw is None or str(raw).strip() == "":
        value = None if optional or _default(f) is None else _default(f)
        if value is not None and not isinstance(value, str):
          value = type(value)(value)
      elif str(raw).strip().startswith("{") or "=" in str(raw):
        value = parse_options(raw, f.name)
      else:   # a name (architecture='conv') or a number (alpha=0.1)
        value = _name_or_number(str(raw).strip(), hint)
    elif kind == "list":
      value = tuple(raw) if raw is not None else _default(f)
    else:
      value = raw
    kwargs[f.name] = value
  kwargs.update(fixed)
  return config_cls(**kwargs)


def _name_or_number(text: str, hint):
  """``text`` as a float where the field also takes numbers (e.g. UDR's
  alpha: 0.1 or 'cv'), else the name itself."""
  if float in typing.get_args(hint):
    try:
      return float(text)
    except ValueError:
      pass
  return text


def hyperparameter_names() -> List[str]:
  """Every hyperparameter name of every registered family."""
  import tfdis.models  # noqa: F401  (registers the families)
  from tfdis.registry import MODELS

  names = set()
  for family in MODELS.names():
    names.update(getattr(MODELS.get(family), "HYPERPARAMETERS", {}))
  return sorted(names)


def define_hyperparameter_flags(flag_values=FLAGS) -> List[str]:
  """--beta, --gamma, ...: shorthands for entries of --hyperparameters."""
  from tfdis.registry import MODELS

  names = hyperparameter_names()
  for name in names:
    families = [f for f in MODELS.names()
                if name in getattr(MODELS.get(f), "HYPERPARAMETERS", {})]
    flags.DEFINE_float(name, None, f"Hyperparameter {name} "
                       f"({', '.join(families)}).", flag_values=flag_values)
  return names


def hyperparameters_from_flags(base: Optional[Dict[str, Any]],
                               flag_values=FLAGS) -> Dict[str, Any]:
  """--hyperparameters merged with the per-name flags that were given."""
  out = dict(base or {})
  for name in hyperparameter_names():
    value = flag_values[name].value
    if value is not None:
      out[name] = value
  return out
