"""Downloads through TFDS's download manager from a local HTTP server.

A ``_testing.FileServer`` on 127.0.0.1 (started by each test) serves the
builders' dummy files and stands in for the internet through the mirror
option (files at ``<mirror>/<file name>``); the tests' own registry of the
dummy files' sizes and SHA-256 (``_testing.write_registry``, a checksums.tsv
keyed by the official URLs) replaces the real files' values. Nothing of TFDS
is mocked. Each failure must be one tfdis ``UserError`` and leave neither the
bad/partial file nor a half-built dataset behind.
"""

import os
import shutil
import subprocess
import time

import numpy as np
import pytest

from tfdis.errors import UserError
from tfds_builders import _common
from tfds_builders import _download
from tfds_builders import _testing
from tfds_builders.dsprites import dsprites_dataset_builder as dsprites
from tfds_builders.mpi3d import mpi3d_dataset_builder as mpi3d
from tfds_builders.shapes3d import shapes3d_dataset_builder as shapes3d

HDF5 = dsprites.HDF5_FILENAME


def _dummy(module, name):
  return _testing.dummy_dir(module.Builder) / name


@pytest.fixture
def server(tmp_path):
  root = tmp_path / "served"
  root.mkdir()
  shutil.copy(_dummy(dsprites, HDF5), root / HDF5)
  srv = _testing.FileServer(root)
  yield srv
  srv.close()


def _build(module, tmp_path, mirror, registry=None, config=None,
           data_dir=None):
  manual = tmp_path / "manual"  # empty: everything must be downloaded
  manual.mkdir(exist_ok=True)
  sources = _download.Sources(download=True, mirror=mirror,
                              checksums_file=registry)
  return _testing.build(module.Builder, data_dir or tmp_path / "data",
                        config=config, manual_dir=manual, sources=sources)


def _registry(tmp_path, url, file):
  return _testing.write_registry(tmp_path / "checksums.tsv", {url: file})


def _leftovers(data_dir):
  """Downloaded or partial files under downloads/ (records excluded)."""
  root = data_dir / "downloads"
  if not root.exists():
    return []
  return sorted(str(p.relative_to(root)) for p in root.rglob("*")
                if p.name != _download.RECORD_FILE and (
                    p.is_file() or ".tmp." in p.name))


def _built(data_dir, name="dsprites"):
  return (data_dir / name).exists() and any((data_dir / name).rglob(
      "dataset_info.json"))


def test_download_verifies_and_builds(tmp_path, server):
  registry = _registry(tmp_path, dsprites.HDF5_URL, server.root + "/" + HDF5)
  builder = _build(dsprites, tmp_path, server.url, registry)
  _testing.check_build(builder, 48)
  record = builder.info.metadata["source_files"]["dsprites"]
  assert record["file"] == HDF5
  assert record["verified"] == "checksums.tsv (size and SHA-256)"
  assert record["origin"] == f"mirror {server.url}"
  assert server.requests == [f"/{HDF5}"]
  assert len([p for p in _leftovers(tmp_path / "data") if p.endswith(
      ".hdf5")]) == 1  # the verified download, kept in TFDS's cache
  # Rebuilt from the cache with the server gone: no network needed.
  shutil.rmtree(tmp_path / "data" / "dsprites")
  server.close()
  builder = _build(dsprites, tmp_path, server.url, registry)
  assert builder.info.splits["train"].num_examples == 48
  assert builder.info.metadata["source_files"]["dsprites"]["verified"] == (
      "checksums.tsv (size and SHA-256)")
  assert server.requests == [f"/{HDF5}"]


def test_corrupted_file_is_reported_and_removed(tmp_path, server):
  registry = _registry(tmp_path, dsprites.HDF5_URL, _dummy(dsprites, HDF5))
  served = os.path.join(server.root, HDF5)
  data = bytearray(open(served, "rb").read())
  data[len(data) // 2] ^= 0xFF  # same size, one byte flipped
  open(served, "wb").write(bytes(data))
  good = _download.file_digests(_dummy(dsprites, HDF5))
  bad = _download.file_digests(served)
  with pytest.raises(_download.ChecksumMismatchError) as err:
    _build(dsprites, tmp_path, server.url, registry)
  message = str(err.value)
  assert isinstance(err.value, UserError)
  assert f"expected size {good['size']}, sha256 {good['sha256']}" in message
  assert f"found size {bad['size']}, sha256 {bad['sha256']}" in message
  assert "The download was removed" in message
  assert _leftovers(tmp_path / "data") == []
  assert not _built(tmp_path / "data")


def test_interrupted_download_restarts_and_never_builds_a_partial(
    tmp_path, server):
  """A partial file of an earlier run is removed; a cut response is retried."""
  from tensorflow_datasets.core.download import resource  # pylint: disable=g-import-not-at-top
  registry = _registry(tmp_path, dsprites.HDF5_URL, _dummy(dsprites, HDF5))
  url = f"{server.url}/{HDF5}"
  stale = (tmp_path / "data" / "downloads" / "dsprites" /
           f"{resource.get_dl_fname(url)}.tmp.0123abcd")
  stale.mkdir(parents=True)
  (stale / HDF5).write_bytes(_dummy(dsprites, HDF5).read_bytes()[:1000])
  server.truncate[HDF5] = 1
  builder = _build(dsprites, tmp_path, server.url, registry)
  _testing.check_build(builder, 48)
  assert server.requests == [f"/{HDF5}"] * 2  # cut, then complete
  assert not stale.exists()
  assert not [p for p in _leftovers(tmp_path / "data") if ".tmp." in p]


def test_download_interrupted_every_time_fails_cleanly(tmp_path, server):
  registry = _registry(tmp_path, dsprites.HDF5_URL, _dummy(dsprites, HDF5))
  server.truncate[HDF5] = 99
  with pytest.raises(_download.DownloadFailedError) as err:
    _build(dsprites, tmp_path, server.url, registry)
  message = str(err.value)
  assert (f"was interrupted {_download.DOWNLOAD_ATTEMPTS} times" in message)
  assert "partial file was removed" in message and "--dataset_mirror" in (
      message)
  assert len(server.requests) == _download.DOWNLOAD_ATTEMPTS
  assert _leftovers(tmp_path / "data") == []
  assert not _built(tmp_path / "data")


def test_no_network_names_url_manual_dir_and_mirror_option(tmp_path):
  mirror = _testing.closed_port_url()
  start = time.time()
  with pytest.raises(_download.DownloadFailedError) as err:
    _build(dsprites, tmp_path, mirror)
  assert time.time() - start < 30  # not TFDS's minutes of retries
  message = str(err.value)
  assert f"Cannot download {mirror}/{HDF5}" in message
  assert str(tmp_path / "manual") in message
  assert "--manual_dir" in message and "--dataset_mirror=URL" in message
  assert "TFDIS_DATASET_MIRROR" in message and "--nodownload" in message
  assert not _built(tmp_path / "data")


def test_missing_file_on_the_mirror_is_a_404_message(tmp_path, server):
  os.remove(os.path.join(server.root, HDF5))
  with pytest.raises(_download.DownloadFailedError,
                     match="answered HTTP 404"):
    _build(dsprites, tmp_path, server.url)


def test_file_of_the_wrong_format(tmp_path, server):
  """Another dataset's file under the expected name: checksums pass (the
  registry says so), reading fails with one message, nothing is built."""
  served = os.path.join(server.root, HDF5)
  shutil.copy(_dummy(shapes3d, shapes3d.FILENAME), served)
  registry = _registry(tmp_path, dsprites.HDF5_URL, served)
  with pytest.raises(_common.OfficialFileError) as err:
    _build(dsprites, tmp_path, server.url, registry)
  assert "is not a valid dSprites HDF5 file" in str(err.value)
  assert "imgs" in str(err.value)
  assert not _built(tmp_path / "data")


def test_unreadable_download_is_removed_by_prepare(tmp_path):
  """Recorded at first use (no published checksum) but not an MPI3D file:
  the build fails, and the download and its record are forgotten so the
  next run fetches it again."""
  from tfds_builders import build  # pylint: disable=g-import-not-at-top
  root = tmp_path / "served"
  root.mkdir()
  np.savez(root / "mpi3d_toy.npz", imgs=np.zeros((2, 64, 64), np.uint8))
  srv = _testing.FileServer(root)
  data = tmp_path / "data"
  try:
    with pytest.raises(_common.OfficialFileError) as err:
      build.prepare("mpi3d", config="toy", data_dir=str(data),
                    manual_dir=str(tmp_path / "manual"), download=True,
                    mirror=srv.url, verify=True)
  finally:
    srv.close()
  message = str(err.value)
  assert "is not a valid MPI3D npz" in message
  assert "The downloaded file was removed" in message
  assert _leftovers(data) == []
  records = data / "downloads" / _download.RECORD_FILE
  assert not records.exists() or "mpi3d_toy.npz" not in records.read_text()
  assert not _built(data, "mpi3d")


def test_unpublished_checksum_is_recorded_then_compared(tmp_path):
  """MPI3D has no published SHA-256: recorded at the first download, a
  later download of a different file is refused (and removed)."""
  root = tmp_path / "served"
  root.mkdir()
  shutil.copy(_dummy(mpi3d, "mpi3d_real.npz"), root / "mpi3d_real.npz")
  config = mpi3d.MPI3DConfig(name="real_prefix", filename="mpi3d_real.npz",
                             prefix_colours=6)
  srv = _testing.FileServer(root)
  try:
    builder = _build(mpi3d, tmp_path, srv.url, config=config)
    record = builder.info.metadata["source_files"]["mpi3d_real.npz"]
    assert record["verified"] == (
        "not verified (no published checksum; recorded)")
    recorded = _download._read_records(  # pylint: disable=protected-access
        type("M", (), {"download_dir": tmp_path / "data" / "downloads"}))
    assert recorded["mpi3d_real.npz"]["sha256"] == _download.file_digests(
        root / "mpi3d_real.npz")["sha256"]
    # The mirror now serves another file; the build and cache are gone.
    shutil.rmtree(tmp_path / "data" / "mpi3d")
    shutil.rmtree(tmp_path / "data" / "downloads" / "mpi3d")
    np.savez(root / "mpi3d_real.npz",
             images=np.ones((5, 64, 64, 3), np.uint8))
    with pytest.raises(_download.ChecksumMismatchError) as err:
      _build(mpi3d, tmp_path, srv.url, config=config)
    assert "recorded when the file was first used" in str(err.value)
    assert _leftovers(tmp_path / "data") == []
  finally:
    srv.close()


def test_full_disk_is_one_message_and_leaves_nothing(tmp_path, server):
  """Downloads into a 2 MB tmpfs (skipped where mounting is not allowed)."""
  small = tmp_path / "small"
  small.mkdir()
  try:
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs",
                    str(small)], check=True, capture_output=True, timeout=30)
  except (OSError, subprocess.SubprocessError):
    pytest.skip("cannot mount a tmpfs here (needs root / CAP_SYS_ADMIN)")
  try:
    big = os.path.join(server.root, HDF5)
    with open(big, "wb") as f:
      f.write(np.random.RandomState(0).bytes(3 << 20))
    with pytest.raises(_download.DownloadFailedError) as err:
      _build(dsprites, tmp_path, server.url, data_dir=small / "data")
    assert "No space left on the device" in str(err.value)
    assert "--data_dir" in str(err.value)
    assert _leftovers(small / "data") == []
    assert not _built(small / "data")
  finally:
    subprocess.run(["umount", str(small)], check=False, timeout=30)


DLIB_LAYOUT = {  # disentanglement_lib's data folder, from the dummy files
    f"dsprites/{dsprites.FILENAME}": ("dsprites", dsprites.FILENAME),
    "scream/scream.jpg": ("scream_dsprites", "The_Scream.jpg"),
    "3dshapes/3dshapes.h5": ("shapes3d", "3dshapes.h5"),
    "mpi3d_toy/mpi3d_toy.npz": ("mpi3d", "mpi3d_toy.npz"),
    "mpi3d_realistic/mpi3d_realistic.npz": ("mpi3d", "mpi3d_realistic.npz"),
    "mpi3d_real/mpi3d_real.npz": ("mpi3d", "mpi3d_real.npz"),
}


def _dlib_folder(root):
  here = os.path.dirname(os.path.abspath(__file__))
  for rel, (dataset, name) in DLIB_LAYOUT.items():
    (root / rel).parent.mkdir(parents=True, exist_ok=True)
    (root / rel).symlink_to(os.path.join(here, dataset, "dummy_data", name))
  norb = os.path.join(here, "smallnorb", "dummy_data")
  (root / "small_norb").mkdir()
  for name in os.listdir(norb):
    (root / "small_norb" / name).symlink_to(os.path.join(norb, name))
  (root / "cars").symlink_to(os.path.join(here, "cars3d", "dummy_data",
                                          "cars"))
  return root


def test_dlib_data_folder_is_used_in_place(tmp_path):
  """Every builder finds its files in dlib's layout; two build from it."""
  from tfds_builders import build  # pylint: disable=g-import-not-at-top
  dlib = _dlib_folder(tmp_path / "dlib")
  empty = tmp_path / "manual"
  empty.mkdir()
  for name in build.names():
    cls = build.builder_class(name)
    module = __import__(cls.__module__, fromlist=["x"])
    if not hasattr(module, "INPUTS") and not hasattr(module, "inputs"):
      continue  # procedural builders
    configs = ([c for c in cls.BUILDER_CONFIGS] if hasattr(
        module, "inputs") else [None])
    for config in configs:
      inputs = module.inputs(config) if config else module.INPUTS
      for inp in inputs:
        if not any(c.dlib_path for c in inp.candidates):
          continue  # CelebA: not part of dlib's folder
        hit = _download._find_local(inp, empty, dlib)  # pylint: disable=protected-access
        assert hit is not None, (name, inp.key)
        assert hit[2] == "disentanglement_lib data folder"
        assert str(hit[1]).startswith(str(dlib))
  from tfds_builders.scream_dsprites import scream_dsprites_dataset_builder as scream  # pylint: disable=g-import-not-at-top
  from tfds_builders.smallnorb import smallnorb_dataset_builder as smallnorb  # pylint: disable=g-import-not-at-top
  sources = _download.Sources(download=False, dlib_dir=str(dlib))
  for module, rows in ((scream, 48), (smallnorb, 4)):
    builder = _testing.build(module.Builder, tmp_path / "data",
                             manual_dir=empty, sources=sources)
    assert builder.info.splits["train"].num_examples == rows
    for record in builder.info.metadata["source_files"].values():
      assert record["origin"] == "disentanglement_lib data folder"
  # Read in place: nothing was copied into the data directory.
  assert not list((tmp_path / "data").rglob("*.mat"))
  assert not list((tmp_path / "data").rglob("*.jpg"))


def test_fetch_only_downloads_one_input_without_building(tmp_path):
  """What tfdis's scream_dsprites uses to get the painting (no build)."""
  from tfds_builders import build  # pylint: disable=g-import-not-at-top
  from tfds_builders.scream_dsprites import scream_dsprites_dataset_builder as scream  # pylint: disable=g-import-not-at-top
  root = tmp_path / "served"
  root.mkdir()
  painting = _dummy(scream, "The_Scream.jpg")
  shutil.copy(painting, root / "The_Scream.jpg")
  srv = _testing.FileServer(root)
  try:
    paths = build.fetch("scream_dsprites", ["The_Scream.jpg"],
                        data_dir=str(tmp_path / "data"),
                        manual_dir=str(tmp_path / "manual"), download=True,
                        mirror=srv.url, dlib_dir=None, verify=True)
  finally:
    srv.close()
  path = paths["The_Scream.jpg"]
  assert path.startswith(str(tmp_path / "data" / "downloads"))
  assert open(path, "rb").read() == painting.read_bytes()
  assert srv.requests == ["/The_Scream.jpg"]  # not the dSprites file
  assert not (tmp_path / "data" / "scream_dsprites").exists()
  with pytest.raises(UserError, match="has no input"):
    build.fetch("scream_dsprites", ["nope.jpg"],
                data_dir=str(tmp_path / "data"))
