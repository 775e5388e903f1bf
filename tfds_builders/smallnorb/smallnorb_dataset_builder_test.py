"""Builds smallnorb from dummy_data/ (2 + 2 rows in the NORB binary format)."""

import numpy as np

from tfds_builders import _testing
from tfds_builders.smallnorb import smallnorb_dataset_builder as module


def test_build_from_dummy_data(tmp_path):
  builder = _testing.build(module.Builder, tmp_path)
  data = _testing.check_build(builder, 4)
  # Sorted row-major; azimuth halved; elevation/azimuth values in degrees.
  np.testing.assert_array_equal(data["label_category"], [0, 0, 2, 4])
  np.testing.assert_array_equal(data["label_azimuth"], [1, 0, 5, 17])
  np.testing.assert_allclose(data["value_azimuth"], [20, 0, 100, 340])
  np.testing.assert_allclose(data["value_elevation"], [30, 30, 45, 70])
  assert builder.info.metadata["nuisance_factors"] == ["instance"]


def test_norb_header_parsing():
  root = _testing.dummy_dir(module.Builder)
  dat = module.read_norb_matrix(root / f"{module.PARTS[0]}-dat.mat")
  cat = module.read_norb_matrix(root / f"{module.PARTS[0]}-cat.mat")
  assert dat.shape == (2, 2, 96, 96) and dat.dtype == np.uint8
  assert cat.shape == (2,) and cat.dtype == np.int32


def test_missing_file_names_file_url_and_manual_dir(tmp_path):
  _testing.check_missing_files(module.Builder, tmp_path)


def test_mat_gz_downloads_build_the_same_examples(tmp_path):
  """dummy_data/gz holds the same six matrices as .mat.gz (the download)."""
  mat = _testing.read_all(_testing.build(module.Builder, tmp_path / "a"))
  builder = _testing.build(module.Builder, tmp_path / "b",
                           manual_dir=_testing.dummy_dir(module.Builder) /
                           "gz")
  data = _testing.check_build(builder, 4)
  files = {r["file"] for r in builder.info.metadata["source_files"].values()}
  assert files == {n for n in module.MANUAL_FILES if n.endswith(".mat.gz")}
  for key, value in mat.items():
    np.testing.assert_array_equal(data[key], value)
