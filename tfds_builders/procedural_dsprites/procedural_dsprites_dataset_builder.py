"""procedural_dsprites: the dSprites factor grid rendered offline (no files).

Configs: ``full`` — the whole 737,280-image grid (shape 3, scale 6, orientation
40, pos_x 32, pos_y 32) with the official dSprites factor values (Matthey et
al. 2017; shape values 1, 2, 3 as in the official file) — and ``small`` (the
2,304-image sub-grid of ``tfdis.data.procedural_dsprites.SMALL_INDICES``,
labels re-indexed 0..k-1 within the sub-grid). Rows are row-major.

Images come from ``tfdis.data.procedural_dsprites.ProceduralDSprites`` (sprite
fully inside the frame). ``image`` is a uint8 [64, 64, 1] tensor stored
zlib-compressed rather than as PNG: PNG encoding costs ~0.2 ms per image in
Python, zlib a fraction of that at a similar size for binary sprites. Large
configs are written by parallel worker processes (``_parallel``).
"""

import numpy as np
import tensorflow_datasets as tfds

from tfdis.data import procedural_dsprites as pd
from tfds_builders import _common
from tfds_builders import _parallel


class Builder(_common.CodePathMixin, _parallel.ParallelRangeMixin,
              tfds.core.GeneratorBasedBuilder):
  """Procedural dSprites."""

  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": "Initial release."}
  BUILDER_CONFIGS = [
      tfds.core.BuilderConfig(
          name="full", description="All 737,280 images of the dSprites grid."),
      tfds.core.BuilderConfig(
          name="small",
          description="2,304-image sub-grid (3 shapes, 3 scales, "
          "4 orientations, 8 x 8 positions) for tests and the quickstart."),
  ]
  DEFAULT_CONFIG_NAME = "full"

  def _data(self) -> pd.ProceduralDSprites:
    if getattr(self, "_data_cache", None) is None:
      self._data_cache = pd.ProceduralDSprites(self.builder_config.name)
    return self._data_cache

  def _info(self) -> tfds.core.DatasetInfo:
    subsets = pd.CONFIGS[self.builder_config.name]
    shape_names = [pd.SHAPES[i] for i in subsets[0]]
    factors = [("shape", shape_names)] + [
        (name, len(s)) for name, s in zip(pd.FACTOR_NAMES[1:], subsets[1:])]
    image = tfds.features.Tensor(shape=(64, 64, 1), dtype=np.uint8,
                                 encoding="zlib")
    return self.dataset_info_from_configs(
        features=_common.factor_features(image, factors),
        homepage="https://github.com/deepmind/dsprites-dataset",
        metadata=_common.factor_metadata(pd.FACTOR_NAMES,
                                         procedural=True),
        disable_shuffling=True,
    )

  def _split_generators(self, dl_manager):
    del dl_manager  # nothing to download
    return {"train": self._generate_examples()}

  def _num_rows(self) -> int:
    return self._data().num_examples

  def _generate_examples(self):
    return self._range_examples(0, self._num_rows())

  def _range_examples(self, start: int, stop: int, chunk: int = 8192):
    data = self._data()
    for lo in range(start, stop, chunk):
      index = np.arange(lo, min(lo + chunk, stop))
      labels = data.index_to_factors(index)
      values = np.stack([v[l] for v, l in zip(data.factor_values, labels.T)],
                        axis=1).astype(np.float32)
      values[:, 0] += 1.0  # official dSprites shape values are 1, 2, 3
      images = data.images_from_indices(index)
      yield from _common.grid_examples(images, labels, values,
                                       pd.FACTOR_NAMES, keys=index)
