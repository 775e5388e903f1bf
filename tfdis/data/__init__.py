"""Ground-truth datasets: ``get_dataset(name, **options)`` and the interface.

Registered names (see ``tfdis.registry.DATASETS``) are the flag values of
``--dataset``. Procedural datasets render on demand and need no files; the
official benchmarks load their TFDS builds into memory.
"""

from tfdis.data.ground_truth import (GroundTruthData, InMemoryGroundTruthData,
                                     as_random_state)
from tfdis.data.procedural_dsprites import ProceduralDSprites
from tfdis.data.procedural_shapes3d import ProceduralShapes3D
from tfdis.data.identity import IdentityData
from tfdis.registry import DATASETS

DATASETS.register("procedural_dsprites",
                  lambda config="full", **kw: ProceduralDSprites(config, **kw))
DATASETS.register("procedural_dsprites_small",
                  lambda **kw: ProceduralDSprites("small", **kw))
DATASETS.register("procedural_shapes3d",
                  lambda config="full", **kw: ProceduralShapes3D(config, **kw))
DATASETS.register("procedural_shapes3d_small",
                  lambda **kw: ProceduralShapes3D("small", **kw))
# The official benchmarks (TFDS builds of the files in tfds_builders/).
from tfdis.data import official as _official  # noqa: E402,F401  (registers)
DATASETS.register("identity", IdentityData)  # metric known-answer tests


_BUILT = {}


def get_dataset(name: str, **options) -> GroundTruthData:
  """The ground-truth data object registered under ``name``.

  Built once per process and (name, options): the object is read-only, and
  official datasets are large. It carries its own spec (``data.spec`` =
  {name, options}, also in ``data.info()``), which is what rebuilds it from
  SavedModel metadata. Unknown options are refused with the valid ones.
  """
  import inspect
  import json

  key = (name, json.dumps(options, sort_keys=True, default=str))
  data = _BUILT.get(key)
  if data is not None:
    return data
  factory = DATASETS.get(name)
  try:
    data = factory(**options)
  except TypeError as e:
    try:
      params = inspect.signature(factory).parameters
      valid = sorted(p for p, v in params.items()
                     if v.kind not in (v.VAR_KEYWORD, v.VAR_POSITIONAL))
    except (TypeError, ValueError):
      valid = []
    raise ValueError(
        f"invalid options {sorted(options)} for dataset {name!r} ({e}); "
        f"valid options: {valid or 'none'}") from None
  data.spec = {"name": name, "options": dict(options)}
  _BUILT[key] = data
  return data


def dataset_names() -> list:
  return DATASETS.names()


__all__ = ["GroundTruthData", "InMemoryGroundTruthData", "ProceduralDSprites",
           "ProceduralShapes3D", "as_random_state", "get_dataset",
           "dataset_names"]
