"""Builds cars3d from dummy_data/cars/ (2 car files in the official format)
and from dummy_data/tarball/ (the same files in the official tarball's
layout, read without extracting)."""

import numpy as np

from tfds_builders import _testing
from tfds_builders.cars3d import cars3d_dataset_builder as module


def test_build_from_dummy_data(tmp_path):
  builder = _testing.build(module.Builder, tmp_path)
  data = _testing.check_build(builder, 4 * 24 * 2)
  # Object = sorted file position; the dummy car 0 is red, car 1 blue.
  red = data["image"][data["label_object"] == 0][..., 0].max()
  blue = data["image"][data["label_object"] == 1][..., 2].max()
  assert red > 150 and blue > 150
  # Wider boxes at larger azimuth (the transpose put azimuth on axis 1).
  widths = (data["image"][..., 0] > 100).any(axis=1).sum(axis=1)
  first = (data["label_object"] == 0) & (data["label_elevation"] == 0)
  assert np.all(np.diff(widths[first]) >= 0) and widths[first][-1] > widths[
      first][0]


def test_missing_file_names_file_url_and_manual_dir(tmp_path):
  _testing.check_missing_files(module.Builder, tmp_path)


def test_tarball_builds_the_same_examples(tmp_path):
  folder = _testing.read_all(_testing.build(module.Builder, tmp_path / "a"))
  tarball = _testing.build(module.Builder, tmp_path / "b",
                           manual_dir=_testing.dummy_dir(module.Builder) /
                           "tarball")
  data = _testing.check_build(tarball, 4 * 24 * 2)
  assert tarball.info.metadata["source_files"]["cars"]["file"] == (
      module.TARBALL)
  for key, value in folder.items():
    np.testing.assert_array_equal(data[key], value)
