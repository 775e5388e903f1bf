"""Builds dsprites from dummy_data/ (48-row reduced grid in the official format)."""

import numpy as np

from tfds_builders import _testing
from tfds_builders.dsprites import dsprites_dataset_builder as module


def test_build_from_dummy_data(tmp_path):
  builder = _testing.build(module.Builder, tmp_path)
  data = _testing.check_build(builder, 48)
  assert set(np.unique(data["image"])) == {0, 255}
  np.testing.assert_array_equal(np.unique(data["label_shape"]), [0, 1, 2])
  # Values come from the file (official shape values are 1, 2, 3).
  np.testing.assert_array_equal(np.unique(data["value_shape"]), [1, 2, 3])


def test_factor_sizes_equal_the_file_metadata():
  path = _testing.dummy_dir(module.Builder) / module.FILENAME
  _, labels, _ = module.read_dsprites(path)
  with np.load(path, allow_pickle=True, encoding="latin1") as data:
    meta = data["metadata"][()]
  np.testing.assert_array_equal(labels.max(0) + 1, meta["latents_sizes"][1:])


def test_missing_file_names_file_url_and_manual_dir(tmp_path):
  _testing.check_missing_files(module.Builder, tmp_path)
