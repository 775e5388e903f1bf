"""tfdis_train on an official dataset from nothing: download, verify, build, train.

The "done when" of the download issue, as a subprocess test: a fresh TFDS
data directory, a local HTTP server (``tfds_builders._testing.FileServer``
on 127.0.0.1) standing in for the internet through the mirror option, and
the tests' registry of the dummy dSprites file's size and SHA-256
(``$TFDIS_DATASET_CHECKSUMS``; the real file's values are in the builder's
checksums.tsv). ``python -m tfdis.bin.train --dataset=dsprites`` must
download, verify, build and train with no other step. The offline case
(``--nodownload``) must stop with one message naming the file, its URL, the
manual directory and the mirror option.
"""

import json
import os
import shutil
import subprocess
import sys

import pytest

from tfds_builders import _testing
from tfds_builders.dsprites import dsprites_dataset_builder as dsprites

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def mirror(tmp_path):
  root = tmp_path / "served"
  root.mkdir()
  shutil.copy(_testing.dummy_dir(dsprites.Builder) / dsprites.HDF5_FILENAME,
              root)
  server = _testing.FileServer(root)
  yield server
  server.close()


def _env(tmp_path, **extra):
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="",
             TFDS_DATA_DIR=str(tmp_path / "tfds"))
  for key in ("TFDIS_DATASET_MIRROR", "DISENTANGLEMENT_LIB_DATA",
              "TFDIS_DATASET_DOWNLOAD", "TFDIS_DATASET_MANUAL_DIR",
              "TFDIS_DATASET_VERIFY", "TFDIS_DATASET_CHECKSUMS"):
    env.pop(key, None)
  env["PYTHONPATH"] = REPO + os.pathsep + env.get("PYTHONPATH", "")
  env.update(extra)
  return env


def _train(tmp_path, env, *flags):
  return subprocess.run(
      [sys.executable, "-m", "tfdis.bin.train", "--dataset=dsprites",
       "--steps=20", "--batch_size=8", "--log_every=10",
       "--checkpoint_every=20", f"--model_dir={tmp_path / 'model'}",
       "--noexport", *flags],
      cwd=REPO, env=env, capture_output=True, text=True, timeout=600)


def test_train_downloads_verifies_builds_and_trains(tmp_path, mirror):
  registry = _testing.write_registry(
      tmp_path / "checksums.tsv",
      {dsprites.HDF5_URL: os.path.join(mirror.root, dsprites.HDF5_FILENAME)})
  env = _env(tmp_path, TFDIS_DATASET_CHECKSUMS=registry)
  done = _train(tmp_path, env, f"--dataset_mirror={mirror.url}")
  assert done.returncode == 0, done.stderr[-4000:]
  assert mirror.requests == [f"/{dsprites.HDF5_FILENAME}"]
  assert "is not prepared yet; preparing it once" in done.stderr
  assert json.loads(done.stdout.strip().splitlines()[-1])["steps"] == 20
  info = json.loads((tmp_path / "tfds" / "dsprites" / "1.0.0" /
                     "metadata.json").read_text())
  record = info["source_files"]["dsprites"]
  assert record["verified"] == "checksums.tsv (size and SHA-256)"
  assert record["origin"] == f"mirror {mirror.url}"


def test_offline_train_names_file_url_manual_dir_and_mirror(tmp_path):
  done = _train(tmp_path, _env(tmp_path), "--nodownload")
  assert done.returncode == 2, done.stderr[-4000:]
  assert "Traceback" not in done.stderr
  message = done.stderr[done.stderr.index("error: "):]
  assert dsprites.FILENAME in message and dsprites.URL in message
  assert dsprites.HDF5_FILENAME in message
  assert str(tmp_path / "tfds" / "downloads" / "manual") in message
  assert "--dataset_mirror" in message and "--nodownload" in message


def test_scream_painting_is_fetched_for_tfdis(tmp_path, monkeypatch):
  """tfdis's scream_dsprites gets the painting through the builder's
  ``--fetch_only`` in a child process (download + record, no build)."""
  from tfdis.data import sources  # pylint: disable=g-import-not-at-top
  from tfds_builders.scream_dsprites import scream_dsprites_dataset_builder as scream  # pylint: disable=g-import-not-at-top
  root = tmp_path / "served"
  root.mkdir()
  painting = _testing.dummy_dir(scream.Builder) / "The_Scream.jpg"
  shutil.copy(painting, root)
  server = _testing.FileServer(root)
  try:
    for key, value in _env(tmp_path, TFDIS_DATASET_MIRROR=server.url).items():
      monkeypatch.setenv(key, value)
    paths = sources.fetch_files("scream_dsprites", ["The_Scream.jpg"],
                                str(tmp_path / "tfds"))
  finally:
    server.close()
  assert open(paths["The_Scream.jpg"], "rb").read() == painting.read_bytes()
  assert server.requests == ["/The_Scream.jpg"]
