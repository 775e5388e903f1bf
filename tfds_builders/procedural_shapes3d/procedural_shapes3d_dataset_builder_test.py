"""Builds procedural_shapes3d/small."""

import numpy as np

from tfdis.data.procedural_shapes3d import ProceduralShapes3D
from tfds_builders import _testing
from tfds_builders.procedural_shapes3d import (
    procedural_shapes3d_dataset_builder as module)


def test_build_small_matches_the_renderer(tmp_path):
  builder = _testing.build(module.Builder, tmp_path, config="small")
  data = _testing.check_build(builder, 2160)
  expected = ProceduralShapes3D("small")
  np.testing.assert_array_equal(
      data["image"], expected.images_from_indices(np.arange(2160)))
  np.testing.assert_allclose(np.unique(data["value_orientation"]),
                             expected.factor_values[5])


def test_full_config_has_the_official_grid():
  builder = module.Builder(config="full", data_dir="/nonexistent")
  sizes = [builder.info.features[f"label_{n}"].num_classes
           for n in builder.info.metadata["factor_names"]]
  assert sizes == [10, 10, 10, 8, 4, 15]
