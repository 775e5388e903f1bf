"""Truncated and wrong-format official files: one clear error per builder.

Each case writes a broken copy of a builder's dummy file (the first bytes
only, or another dataset's file under the expected name) and checks that the
reader raises ``OfficialFileError`` (a tfdis UserError) naming the file, the
expected format and where to download it again. The readers are called
directly (a TFDS build takes ~25 s even for the dummies); one subprocess
checks the whole ``python -m tfds_builders.build`` path.
"""

import os
import subprocess
import sys

import numpy as np
import pytest

from tfdis.errors import UserError
from tfds_builders import _common
from tfds_builders.cars3d import cars3d_dataset_builder as cars3d
from tfds_builders.celeba import celeba_dataset_builder as celeba
from tfds_builders.dsprites import dsprites_dataset_builder as dsprites
from tfds_builders.mpi3d import mpi3d_dataset_builder as mpi3d
from tfds_builders.shapes3d import shapes3d_dataset_builder as shapes3d
from tfds_builders.smallnorb import smallnorb_dataset_builder as smallnorb

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _dummy(dataset, name):
  return os.path.join(REPO, "tfds_builders", dataset, "dummy_data", name)


def _truncated(src, dst, keep=0.5):
  with open(src, "rb") as f:
    data = f.read()
  with open(dst, "wb") as f:
    f.write(data[:int(len(data) * keep)])
  return str(dst)


def _wrong_format(dst):
  """Another dataset's file (the dSprites npz) under the expected name."""
  return _truncated(_dummy("dsprites", dsprites.FILENAME), dst, keep=1.0)


def _check(error, path, expected, source):
  message = str(error.value)
  assert isinstance(error.value, UserError)
  assert isinstance(error.value, _common.OfficialFileError)
  assert message.startswith(f"{path} is not a valid {expected}"), message
  assert "truncated, corrupt or another file" in message
  assert f"Download it again from {source}" in message


def test_dsprites_npz(tmp_path):
  path = _truncated(_dummy("dsprites", dsprites.FILENAME),
                    tmp_path / dsprites.FILENAME)
  with pytest.raises(_common.OfficialFileError) as err:
    dsprites.read_dsprites(path)
  _check(err, path, "dSprites npz", dsprites.URL)
  assert "BadZipFile" in str(err.value)
  other = tmp_path / "other.npz"  # an npz without dSprites' arrays
  np.savez(other, images=np.zeros((2, 64, 64, 3), np.uint8))
  with pytest.raises(_common.OfficialFileError, match="imgs") as err:
    dsprites.read_dsprites(str(other))
  _check(err, str(other), "dSprites npz", dsprites.URL)


def test_shapes3d_h5(tmp_path):
  builder = shapes3d.Builder(data_dir=str(tmp_path / "data"))
  for path in (_truncated(_dummy("shapes3d", shapes3d.FILENAME),
                          tmp_path / "truncated.h5"),
               _wrong_format(tmp_path / shapes3d.FILENAME)):
    with pytest.raises(_common.OfficialFileError) as err:
      next(builder._generate_examples(path))  # pylint: disable=protected-access
    _check(err, path, "3dshapes HDF5 file", shapes3d.URL)


def test_smallnorb_mat(tmp_path):
  name = f"{smallnorb.PARTS[0]}-dat.mat"
  path = _truncated(_dummy("smallnorb", name), tmp_path / name, keep=0.7)
  with pytest.raises(_common.OfficialFileError, match="the header says"
                     ) as err:
    smallnorb.read_norb_matrix(path)
  _check(err, path, "smallNORB binary matrix", smallnorb.MANUAL_FILES[name])
  import gzip  # pylint: disable=g-import-not-at-top
  with open(_dummy("smallnorb", name), "rb") as f:
    packed = gzip.compress(f.read())
  with open(path, "wb") as f:  # the .mat.gz download is read through gzip
    f.write(packed)
  np.testing.assert_array_equal(smallnorb.read_norb_matrix(path),
                                smallnorb.read_norb_matrix(_dummy(
                                    "smallnorb", name)))
  with open(path, "wb") as f:  # a truncated .mat.gz
    f.write(packed[:len(packed) // 2])
  with pytest.raises(_common.OfficialFileError) as err:
    smallnorb.read_norb_matrix(path)
  _check(err, path, "smallNORB binary matrix", smallnorb.MANUAL_FILES[name])


def test_cars3d_mat(tmp_path):
  src = _dummy("cars3d", os.path.join("cars", "car_001_mesh.mat"))
  source = cars3d.MANUAL_FILES["cars/"]
  for path in (_truncated(src, tmp_path / "car_001_mesh.mat"),
               _wrong_format(tmp_path / "car_002_mesh.mat")):
    with pytest.raises(_common.OfficialFileError) as err:
      cars3d.read_car(path)
    _check(err, path, "Cars3D MATLAB file", source)


def test_mpi3d_npz(tmp_path):
  path = _wrong_format(tmp_path / "mpi3d_toy.npz")  # no `images` array
  with pytest.raises(_common.OfficialFileError, match="images") as err:
    mpi3d.read_images(path, "URL-of-toy")
  _check(err, path, "MPI3D npz", "URL-of-toy")


def test_celeba_zip(tmp_path):
  builder = celeba.Builder(data_dir=str(tmp_path / "data"))
  path = _truncated(_dummy("celeba", celeba.FILENAME),
                    tmp_path / celeba.FILENAME)
  with pytest.raises(_common.OfficialFileError) as err:
    next(builder._generate_examples(path))  # pylint: disable=protected-access
  _check(err, path, "zip archive of the aligned CelebA JPEGs",
         celeba.MANUAL_FILES[celeba.FILENAME])


def test_build_cli_reports_a_truncated_file_in_one_line(tmp_path):
  manual = tmp_path / "manual"
  manual.mkdir()
  path = _truncated(_dummy("dsprites", dsprites.FILENAME),
                    manual / dsprites.FILENAME)
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
  env["PYTHONPATH"] = REPO + os.pathsep + env.get("PYTHONPATH", "")
  done = subprocess.run(
      [sys.executable, "-m", "tfds_builders.build", "dsprites",
       f"--manual_dir={manual}", f"--data_dir={tmp_path / 'data'}"],
      cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
  assert done.returncode == 2, done.stderr[-3000:]
  assert "Traceback" not in done.stderr
  assert (f"tfds_builders.build: error: {path} is not a valid dSprites npz"
          in done.stderr)
  assert not (tmp_path / "data" / "dsprites" / "1.0.0").exists()
