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


def test_hdf5_release_builds_the_same_examples(tmp_path):
  """DeepMind's .hdf5 (dummy_data holds both forms of the same 48 rows)."""
  manual = tmp_path / "manual"
  manual.mkdir()
  (manual / module.HDF5_FILENAME).symlink_to(
      _testing.dummy_dir(module.Builder) / module.HDF5_FILENAME)
  assert module.file_format(manual / module.HDF5_FILENAME) == "hdf5"
  npz = _testing.read_all(_testing.build(module.Builder, tmp_path / "a"))
  builder = _testing.build(module.Builder, tmp_path / "b", manual_dir=manual)
  data = _testing.check_build(builder, 48)
  assert builder.info.metadata["source_files"]["dsprites"]["file"] == (
      module.HDF5_FILENAME)
  for key, value in npz.items():
    np.testing.assert_array_equal(data[key], value)


def test_rows_out_of_order_are_sorted_by_key(tmp_path):
  """A file not in row-major order takes TFDS's sorting writer."""
  path = _testing.dummy_dir(module.Builder) / module.FILENAME
  with np.load(path) as f:
    arrays = {k: f[k] for k in ("imgs", "latents_classes", "latents_values")}
  perm = np.random.RandomState(0).permutation(48)
  manual = tmp_path / "manual"
  manual.mkdir()
  np.savez(manual / module.FILENAME, **{k: v[perm] for k, v in arrays.items()})
  with module.open_dsprites(manual / module.FILENAME) as source:
    assert not source.row_major
  builder = _testing.build(module.Builder, tmp_path / "data",
                           manual_dir=manual)
  data = _testing.check_build(builder, 48)  # asserts row-major order
  np.testing.assert_array_equal(data["image"][..., 0],
                                arrays["imgs"] * 255)
