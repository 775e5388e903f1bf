"""Builds celeba from dummy_data/img_align_celeba.zip (3 official-size JPEGs)."""

import numpy as np

from tfds_builders import _testing
from tfds_builders.celeba import celeba_dataset_builder as module


def test_build_from_dummy_data(tmp_path):
  builder = _testing.build(module.Builder, tmp_path)
  data = _testing.check_build(builder, 3)
  assert data["image"].shape == (3, 64, 64, 3)
  assert [f.decode() for f in data["filename"]] == [
      "000001.jpg", "000002.jpg", "000003.jpg"]
  # Centre crop of a centred face: the centre is bright, corners mostly too.
  assert data["image"][:, 32, 32, 0].min() > 150


def test_missing_file_names_file_url_and_manual_dir(tmp_path):
  _testing.check_missing_files(module.Builder, tmp_path)
