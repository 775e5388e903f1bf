"""Ground-truth datasets: ``get_dataset(name, **options)`` and the interface.

Registered names (see ``tfdis.registry.DATASETS``) are the flag values of
``--dataset``. Procedural datasets render on demand and need no files; the
official benchmarks load their TFDS builds into memory.
"""

import functools
import inspect
from typing import Any, Dict, Mapping

from tfdis.errors import UserError
from tfdis.data.ground_truth import (GroundTruthData, InMemoryGroundTruthData,
                                     as_random_state)
from tfdis.data.procedural_dsprites import ProceduralDSprites
from tfdis.data.procedural_shapes3d import ProceduralShapes3D
from tfdis.data.identity import IdentityData
from tfdis.registry import DATASETS

# Factories have explicit signatures (no **kwargs): their parameters are the
# dataset options, which get_dataset checks by name.
DATASETS.register("procedural_dsprites", ProceduralDSprites)
DATASETS.register("procedural_dsprites_small",
                  functools.partial(ProceduralDSprites, "small"))
DATASETS.register("procedural_shapes3d", ProceduralShapes3D)
DATASETS.register("procedural_shapes3d_small",
                  functools.partial(ProceduralShapes3D, "small"))
# The official benchmarks (TFDS builds of the files in tfds_builders/).
from tfdis.data import official as _official  # noqa: E402,F401  (registers)
DATASETS.register("identity", IdentityData)  # metric known-answer tests


class DatasetOptionsError(UserError, ValueError):
  """Unknown or invalid options of a dataset (the message lists the valid)."""


def dataset_options(name: str) -> Dict[str, Any]:
  """The options of dataset ``name`` with their defaults (a required option
  maps to ``inspect.Parameter.empty``)."""
  params = inspect.signature(DATASETS.get(name)).parameters.values()
  return {p.name: p.default for p in params
          if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}


def check_dataset_options(name: str, options: Mapping[str, Any]) -> None:
  """Raises ``DatasetOptionsError`` naming unknown options and the valid ones."""
  if not isinstance(options, Mapping):
    raise DatasetOptionsError(
        f"options of dataset {name!r} must be a JSON object / dict, got "
        f"{options!r}")
  known = dataset_options(name)
  unknown = sorted(set(options) - set(known))
  if unknown:
    valid = ", ".join(known) or "none"
    raise DatasetOptionsError(
        f"dataset {name!r} has no option(s) {unknown}; its options are: "
        f"{valid}. Fix --dataset_options (or the dataset options of the "
        "config).")


_BUILT: Dict[Any, GroundTruthData] = {}


def get_dataset(name: str, **options) -> GroundTruthData:
  """The ground-truth data object registered under ``name``.

  Built once per process and (name, options): the object is read-only, and
  official datasets are large. It carries its own spec (``data.spec`` =
  {name, options}, also in ``data.info()``), which is what rebuilds it from
  SavedModel metadata. Unknown options, and options the dataset rejects (a
  ValueError of its constructor, e.g. an unknown config), raise
  ``DatasetOptionsError``.
  """
  import json

  factory = DATASETS.get(name)
  check_dataset_options(name, options)
  key = (name, json.dumps(options, sort_keys=True, default=str))
  data = _BUILT.get(key)
  if data is not None:
    return data
  try:
    data = factory(**options)
  except DatasetOptionsError:
    raise
  except UserError:  # already says what to do (e.g. missing files)
    raise
  except ValueError as e:
    shown = f" with options {options}" if options else ""
    raise DatasetOptionsError(f"dataset {name!r}{shown}: {e}") from e
  data.spec = {"name": name, "options": dict(options)}
  _BUILT[key] = data
  return data


def dataset_names() -> list:
  return DATASETS.names()


__all__ = ["GroundTruthData", "InMemoryGroundTruthData", "ProceduralDSprites",
           "ProceduralShapes3D", "as_random_state", "get_dataset",
           "dataset_names", "dataset_options", "check_dataset_options",
           "DatasetOptionsError"]
