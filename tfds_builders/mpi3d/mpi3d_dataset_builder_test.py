"""Builds mpi3d from dummy_data/ (5-row truncated files in the official format)."""

import numpy as np
import pytest

from tfds_builders import _testing
from tfds_builders.mpi3d import mpi3d_dataset_builder as module


@pytest.mark.parametrize("name,colours", [("toy", 4), ("real", 6)])
def test_build_from_dummy_data(tmp_path, name, colours):
  config = module.MPI3DConfig(name=f"{name}_prefix",
                              filename=f"mpi3d_{name}.npz",
                              prefix_colours=colours)
  builder = _testing.build(module.Builder, tmp_path, config=config)
  data = _testing.check_build(builder, 5)
  np.testing.assert_array_equal(data["label_vertical_axis"], np.arange(5))
  assert builder.info.metadata["colour_shape_values"] == colours


def test_colour_shape_count_inferred_from_rows():
  assert module.colours_from_rows(460_800, "f") == 4
  assert module.colours_from_rows(1_036_800, "f") == 6
  with pytest.raises(ValueError, match="truncated"):
    module.colours_from_rows(5, "mpi3d_toy.npz")


def test_truncated_file_rejected_by_the_official_config(tmp_path):
  with pytest.raises(ValueError, match="460800"):
    _testing.build(module.Builder, tmp_path, config="toy")


def test_missing_file_names_file_url_and_manual_dir(tmp_path):
  _testing.check_missing_files(module.Builder, tmp_path, config="realistic")
