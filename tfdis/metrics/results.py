"""The metric result dict: flat float scores, plus the parameters, library
versions and notes that say how they were produced."""

from __future__ import annotations

import importlib.metadata as _md
from typing import Any, Dict, Iterable

import numpy as np

from tfdis.metrics.sampling import RNG_ORDER


def sklearn_numpy_versions() -> Dict[str, str]:
  """The library versions that determine metric numbers."""
  versions = {}
  for dist in ("numpy", "scipy", "scikit-learn"):
    try:
      versions[dist] = _md.version(dist)
    except _md.PackageNotFoundError:
      pass
  return versions


def make_result(scores: Dict[str, Any], parameters: Dict[str, Any],
                notes: Iterable[str] = (), random_state=None) -> Dict[str, Any]:
  """A metric result: flat float scores plus what produced them.

  Score keys sit at the top level (``result["discrete_mig"]``); the reserved
  keys ``parameters`` (sample counts, bins, predictor, seed, ``rng_order``
  ...; the seed is recorded when ``random_state`` was given as an int),
  ``versions`` (numpy/scipy/scikit-learn) and ``notes`` (fixes of dlib bugs
  and other caveats, possibly empty) say how they were produced.
  """
  out: Dict[str, Any] = {}
  for key, value in scores.items():
    if key in RESERVED_KEYS:
      raise ValueError(f"score key {key!r} is reserved")
    out[key] = float(value)
  out["parameters"] = dict(parameters)
  out["parameters"].setdefault("rng_order", RNG_ORDER)
  if isinstance(random_state, (int, np.integer)):
    out["parameters"].setdefault("seed", int(random_state))
  out["versions"] = sklearn_numpy_versions()
  out["notes"] = list(notes)
  return out


RESERVED_KEYS = ("parameters", "versions", "notes")


def scores_of(result: Dict[str, Any]) -> Dict[str, float]:
  """The float scores of a result dict (reserved keys removed)."""
  return {k: v for k, v in result.items() if k not in RESERVED_KEYS}
