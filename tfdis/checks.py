"""The small value checks every layer shares, defined once.

A leaf module (nothing from tfdis imported), so the specs, the metrics, the
models and the data code can all use it without an import cycle. Choices
("must be one of") are checked by :func:`tfdis.registry.check_choice`.
"""

from __future__ import annotations

import math
from typing import Any

# Integers stored in configs must fit int64: anything larger is a typo, and
# would fail deep inside TensorFlow.
MAX_INT = 2 ** 63 - 1


def is_int(value: Any, low: int = 0, high: int = MAX_INT) -> bool:
  """True for a Python int (a bool is not one) in [low, high]: the strict
  test of config fields, which come from flags or JSON."""
  return (isinstance(value, int) and not isinstance(value, bool) and
          low <= value <= high)


def is_number(value: Any) -> bool:
  """True for a finite int or float (a bool is not one)."""
  return (isinstance(value, (int, float)) and not isinstance(value, bool) and
          math.isfinite(value))


def check_count(name: str, value: Any, minimum: int = 1,
                error: type = ValueError) -> int:
  """``int(value)`` for an integral ``value >= minimum`` (NumPy integers and
  integral floats pass: array code hands them over); else ``error`` saying
  "<name> must be an integer >= <minimum>, got <value>"."""
  if isinstance(value, bool) or int(value) != value or int(value) < minimum:
    raise error(f"{name} must be an integer >= {minimum}, got {value!r}")
  return int(value)
