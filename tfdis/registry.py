"""One registry for model families, metrics and datasets, keyed by the flag names.

Modelled on tensorflow/models ``official/core/registry.py``: a name maps to a
factory; looking up an unknown name fails with the list of known ones, so a typo
in ``--model=beta_vea`` tells the user what they could have meant.
"""

from __future__ import annotations

import difflib
from typing import Any, Callable, Dict, Iterator

from tfdis.errors import UserError


class UnknownNameError(UserError, KeyError, ValueError):
  """Raised for a name that is not registered; the message lists the known ones."""

  def __str__(self) -> str:  # KeyError would otherwise quote the message.
    return str(self.args[0]) if self.args else ""


def choice_message(what: str, value: Any, choices) -> str:
  """The one wording of "not one of the allowed names" (a registry lookup,
  an enum field, an option): the value, the closest name, the known ones."""
  names = [str(c) for c in choices]
  close = difflib.get_close_matches(str(value), names, n=1)
  hint = f" Did you mean {close[0]!r}?" if close else ""
  return (f"Unknown {what} {value!r}.{hint} Known {what} values: "
          f"{', '.join(names) or '(none)'}.")


def check_choice(what: str, value: Any, choices, error=None) -> Any:
  """Returns ``value`` if it is in ``choices``; else raises ``error``
  (default :class:`UnknownNameError`, a UserError and a ValueError) with
  :func:`choice_message`. Every "must be one of" check uses this."""
  if value in tuple(choices):
    return value
  raise (error or UnknownNameError)(choice_message(what, value, choices))


class Registry:
  """A name -> object mapping with helpful errors.

  Usage::

    MODELS = Registry("model")

    @MODELS.register("beta_vae")
    class BetaVAE(...): ...

    MODELS.get("beta_vae")
  """

  def __init__(self, kind: str):
    self.kind = kind
    self._items: Dict[str, Any] = {}

  def register(self, name: str, obj: Any = None) -> Callable[[Any], Any]:
    """Registers ``obj`` under ``name``; usable as a decorator."""

    def _add(o: Any) -> Any:
      if name in self._items and self._items[name] is not o:
        raise ValueError(f"{self.kind} {name!r} is already registered")
      self._items[name] = o
      return o

    return _add(obj) if obj is not None else _add

  def get(self, name: str) -> Any:
    try:
      return self._items[name]
    except KeyError:
      raise UnknownNameError(self.unknown_message(name)) from None

  def unknown_message(self, name: str) -> str:
    known = ", ".join(sorted(self._items)) or "(none)"
    close = difflib.get_close_matches(str(name), list(self._items), n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return f"Unknown {self.kind} {name!r}.{hint} Known {self.kind}s: {known}."

  def validate(self, name: str) -> bool:
    """For absl flag validators: True if known, else raises with the list."""
    self.get(name)
    return True

  def names(self) -> list:
    return sorted(self._items)

  def __contains__(self, name: str) -> bool:
    return name in self._items

  def __iter__(self) -> Iterator[str]:
    return iter(self.names())

  def __len__(self) -> int:
    return len(self._items)


# The three registries every flag name is looked up in. Modules register
# themselves on import: tfdis.data (datasets), tfdis.models (model families),
# tfdis.metrics (metrics).
DATASETS = Registry("dataset")
MODELS = Registry("model")
METRICS = Registry("metric")
