"""procedural_shapes3d: the 3D Shapes factor grid rendered offline (no files).

Configs: ``full`` — 480,000 images (floor_hue 10, wall_hue 10, object_hue 10,
scale 8, shape 4, orientation 15, the official 3D Shapes factor values) — and
``small`` (the 2,160-image sub-grid of
``tfdis.data.procedural_shapes3d.SMALL_INDICES``, labels re-indexed within it).
Rows are row-major. Images come from ``ProceduralShapes3D`` (a simple ray-cast
scene, not the original renders); ``image`` is a uint8 [64, 64, 3] tensor
stored zlib-compressed (fast to encode, see procedural_dsprites). Large configs
are written by parallel worker processes (``_parallel``).
"""

import numpy as np
import tensorflow_datasets as tfds

from tfdis.data import procedural_shapes3d as ps
from tfds_builders import _common
from tfds_builders import _parallel


class Builder(_common.CodePathMixin, _parallel.ParallelRangeMixin,
              tfds.core.GeneratorBasedBuilder):
  """Procedural 3D Shapes."""

  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": "Initial release."}
  BUILDER_CONFIGS = [
      tfds.core.BuilderConfig(
          name="full", description="All 480,000 images of the 3D Shapes grid."),
      tfds.core.BuilderConfig(
          name="small",
          description="2,160-image sub-grid (3 hues each, 4 scales, 4 shapes, "
          "5 orientations) for tests and the quickstart."),
  ]
  DEFAULT_CONFIG_NAME = "full"

  def _data(self) -> ps.ProceduralShapes3D:
    if getattr(self, "_data_cache", None) is None:
      self._data_cache = ps.ProceduralShapes3D(self.builder_config.name)
    return self._data_cache

  def _info(self) -> tfds.core.DatasetInfo:
    subsets = ps.CONFIGS[self.builder_config.name]
    factors = [(name, len(s)) for name, s in zip(ps.FACTOR_NAMES, subsets)]
    factors[4] = ("shape", [ps.SHAPES[i] for i in subsets[4]])
    image = tfds.features.Tensor(shape=(64, 64, 3), dtype=np.uint8,
                                 encoding="zlib")
    return self.dataset_info_from_configs(
        features=_common.factor_features(image, factors),
        homepage="https://github.com/deepmind/3d-shapes",
        metadata=_common.factor_metadata(ps.FACTOR_NAMES, procedural=True),
        disable_shuffling=True,
    )

  def _split_generators(self, dl_manager):
    del dl_manager  # nothing to download
    return {"train": self._generate_examples()}

  def _num_rows(self) -> int:
    return self._data().num_examples

  def _generate_examples(self):
    return self._range_examples(0, self._num_rows())

  def _range_examples(self, start: int, stop: int, chunk: int = 4096):
    data = self._data()
    for lo in range(start, stop, chunk):
      index = np.arange(lo, min(lo + chunk, stop))
      labels = data.index_to_factors(index)
      values = np.stack([v[l] for v, l in zip(data.factor_values, labels.T)],
                        axis=1).astype(np.float32)
      yield from _common.grid_examples(data.images_from_indices(index), labels,
                                       values, ps.FACTOR_NAMES, keys=index)
