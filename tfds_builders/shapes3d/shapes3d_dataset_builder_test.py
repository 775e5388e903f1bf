"""Builds shapes3d from dummy_data/3dshapes.h5 (6 rows, official format)."""

import numpy as np

from tfds_builders import _testing
from tfds_builders.shapes3d import shapes3d_dataset_builder as module


def test_build_from_dummy_data(tmp_path):
  builder = _testing.build(module.Builder, tmp_path)
  data = _testing.check_build(builder, 6)
  np.testing.assert_array_equal(data["label_orientation"][[0, 1, -1]],
                                [0, 1, 14])
  np.testing.assert_allclose(data["value_scale"][-1], 1.25)


def test_values_off_the_grid_are_rejected():
  values = np.zeros((1, 6))
  values[0, 3] = 0.8  # not a 3D Shapes scale
  try:
    module.values_to_labels(values)
  except ValueError as e:
    assert "scale" in str(e)
  else:
    raise AssertionError("off-grid value accepted")


def test_missing_file_names_file_url_and_manual_dir(tmp_path):
  _testing.check_missing_files(module.Builder, tmp_path)
