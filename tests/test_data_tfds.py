"""TFDS-backed ground-truth data: loading dummy builds, variants, errors.

The dummy builds are prepared with ``tfds_builders.build.prepare`` (as
``python -m tfds_builders.build`` does); tfdis.data then reads them by name
and data directory without the builder code.
"""

import os

import numpy as np
import pytest

from tfdis.data import get_dataset
from tfdis.data.tfds_data import (DatasetFilesMissingError,
                                  DatasetNotPreparedError, TFDSGroundTruthData)
from tfdis.errors import UserError
from tfds_builders.build import prepare

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DUMMY = os.path.join(REPO, "tfds_builders", "{}", "dummy_data")


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
  return str(tmp_path_factory.mktemp("tfds_data"))


@pytest.fixture(scope="module")
def dsprites(data_dir):
  prepare("dsprites", data_dir=data_dir, manual_dir=DUMMY.format("dsprites"))
  return get_dataset("dsprites", data_dir=data_dir)


def test_dsprites_dummy_build_loads_as_a_grid(dsprites):
  from tfds_builders.dsprites import dsprites_dataset_builder as builder
  images, labels, _ = builder.read_dsprites(
      os.path.join(DUMMY.format("dsprites"), builder.FILENAME))
  assert isinstance(dsprites, TFDSGroundTruthData)
  assert dsprites.factor_names == ("shape", "scale", "orientation", "pos_x",
                                   "pos_y")
  assert dsprites.factor_sizes == (3, 2, 2, 2, 2)  # the dummy's sub-grid
  np.testing.assert_allclose(dsprites.factor_values[1], [0.5, 1.0])
  rows = dsprites.factors_to_index(labels)
  np.testing.assert_array_equal(dsprites.images[rows][..., 0], images * 255)
  x = dsprites.sample_observations_from_factors(labels[:5], 0)
  np.testing.assert_array_equal(x[..., 0], images[:5].astype(np.float32))
  assert dsprites.info()["tfds"]["builder"] == "dsprites"


def test_colour_and_noisy_variants_draw_per_sample(dsprites, data_dir):
  colour = get_dataset("color_dsprites", data_dir=data_dir)
  assert colour.factor_sizes == dsprites.factor_sizes
  factors = dsprites.sample_factors(16, np.random.RandomState(0))
  sprite = dsprites.sample_observations_from_factors(factors, 0)[..., 0] > 0
  x = colour.sample_observations_from_factors(factors,
                                              np.random.RandomState(1))
  assert x.shape == (16, 64, 64, 3)
  assert x[~sprite].max() == 0 and x[sprite].min() >= 0.5 - 1 / 255
  # One colour per image, different between images, same for a seed.
  per_image = [np.unique(x[i][sprite[i]], axis=0) for i in range(16)]
  assert all(len(c) == 1 for c in per_image)
  assert len({tuple(c[0]) for c in per_image}) == 16
  np.testing.assert_array_equal(
      x, colour.sample_observations_from_factors(factors,
                                                 np.random.RandomState(1)))
  noisy = get_dataset("noisy_dsprites", data_dir=data_dir)
  y = noisy.sample_observations_from_factors(factors, np.random.RandomState(1))
  assert (y[sprite] == 1).all() and 0.4 < y[~sprite].mean() < 0.6


def test_scream_variant_inverts_the_sprite_on_painting_crops(dsprites,
                                                             data_dir):
  scream = get_dataset("scream_dsprites", data_dir=data_dir,
                       manual_dir=DUMMY.format("scream_dsprites"))
  factors = dsprites.sample_factors(8, np.random.RandomState(0))
  sprite = dsprites.sample_observations_from_factors(factors, 0)[..., 0] > 0
  x = scream.sample_observations_from_factors(factors, np.random.RandomState(2))
  assert x.shape == (8, 64, 64, 3)
  # Background (painting + colour) / 2 is at most 1; sprite = 1 - that.
  assert x[~sprite].min() >= 0 and x.max() <= 1
  with pytest.raises(DatasetFilesMissingError, match="The_Scream.jpg"):
    get_dataset("scream_dsprites", data_dir=data_dir,
                scream_path="/nonexistent/The_Scream.jpg")


def test_unprepared_dataset_offline_names_the_files(tmp_path, monkeypatch):
  """A missing build is made on first use (tfds_builders.build in a child
  process); offline and without the files, its message comes through."""
  monkeypatch.setenv("TFDIS_DATASET_DOWNLOAD", "0")
  monkeypatch.delenv("DISENTANGLEMENT_LIB_DATA", raising=False)
  monkeypatch.delenv("TFDIS_DATASET_MANUAL_DIR", raising=False)
  with pytest.raises(DatasetNotPreparedError) as err:
    get_dataset("mpi3d_toy", data_dir=str(tmp_path))
  message = str(err.value)
  assert isinstance(err.value, UserError)
  assert message.startswith("mpi3d: 1 official file(s) missing")
  assert "mpi3d_toy.npz" in message
  assert "storage.googleapis.com/mpi3d_disentanglement_dataset" in message
  assert str(tmp_path / "downloads" / "manual") in message
  assert "--dataset_mirror" in message
  assert not (tmp_path / "mpi3d").exists() or not any(
      (tmp_path / "mpi3d").rglob("dataset_info.json"))


def test_missing_official_file_names_file_url_and_manual_dir(tmp_path):
  manual = tmp_path / "manual"
  manual.mkdir()
  with pytest.raises(UserError) as err:  # raised before TFDS runs
    prepare("shapes3d", data_dir=str(tmp_path / "data"),
            manual_dir=str(manual), download=False)
  message = str(err.value)
  assert "3dshapes.h5" in message
  assert "https://storage.googleapis.com/3d-shapes/3dshapes.h5" in message
  assert str(manual) in message and "--manual_dir" in message


def test_unknown_dataset_option_lists_the_valid_ones(data_dir):
  from tfdis.data import DatasetOptionsError

  with pytest.raises(DatasetOptionsError) as err:  # checked before loading
    get_dataset("dsprites", data_dir=data_dir, manual_dir="x")
  assert "['manual_dir']" in str(err.value)
  assert "its options are: data_dir" in str(err.value)


def test_incomplete_grid_is_rejected(tmp_path):
  # The smallNORB dummy holds 4 rows, not a complete grid.
  prepare("smallnorb", data_dir=str(tmp_path),
          manual_dir=DUMMY.format("smallnorb"))
  with pytest.raises(ValueError, match="not a complete factor grid"):
    get_dataset("smallnorb", data_dir=str(tmp_path))


def test_nuisance_factors_are_drawn_uniformly():
  # Grid a 2 x instance 3, image value = 10 * a + instance.
  images = (np.arange(6, dtype=np.uint8) + np.array([0, 0, 0, 7, 7, 7],
                                                     np.uint8))
  images = np.broadcast_to(images[:, None, None, None], (6, 2, 2, 1)).copy()
  data = TFDSGroundTruthData("toy", images, ("a", "instance"), (2, 3),
                             factor_names=("a",))
  assert data.factor_sizes == (2,) and data.num_examples == 2
  x = data.images_from_factors(np.ones((300, 1), np.int64),
                               np.random.RandomState(0))[:, 0, 0, 0]
  assert set(x.tolist()) == {10, 11, 12}
  assert data.info()["nuisance_factors"] == {"instance": 3}
