"""Builds noisy_dsprites from dummy_data/."""

import numpy as np

from tfds_builders import _testing
from tfds_builders.noisy_dsprites import noisy_dsprites_dataset_builder as module


def test_build_from_dummy_data(tmp_path):
  builder = _testing.build(module.Builder, tmp_path)
  data = _testing.check_build(builder, 48)
  assert data["image"].shape[-1] == 3
  # The nuisance randomness differs between images.
  assert len(np.unique(data["image"].reshape(48, -1), axis=0)) == 48


def test_missing_file_names_file_url_and_manual_dir(tmp_path):
  _testing.check_missing_files(module.Builder, tmp_path)
