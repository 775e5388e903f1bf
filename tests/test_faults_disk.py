"""A full disk or a file-size limit while writing artifacts (docs/faults.md).

* ENOSPC: a small tmpfs (mounted here as root; the tests are skipped with
  the reason if mounting is not permitted), nearly filled by a filler file.
  Writing a checkpoint or a SavedModel fails with one DiskFullError naming
  the path and the space the write needed; no temporary is left; the
  previous checkpoint / SavedModel keeps its bytes; after the filler is
  removed the same call finishes.
* The grid cache of a prepared dataset (``store="disk"``) on a 64 KiB
  tmpfs, too small for its 192 KiB of images: ``tfdis_train`` ends in one
  message naming the space needed and the two ways out, nothing is left in
  the cache folder, and each way out (the images in memory, the cache
  elsewhere) trains.
* EFBIG: ``RLIMIT_FSIZE`` in a subprocess (SIGXFSZ ignored, so the write
  fails instead of killing the process) while writing a JSON record, an
  encoding-cache NPZ and a report: same message, previous file intact, no
  temporary.
"""

import json
import os
import subprocess
import sys

import pytest

from tests.helpers_cli import cli_env
from tfdis.io_utils import DiskFullError

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _mount_tmpfs(mount, size):
  mount.mkdir()
  proc = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}",
                         "tmpfs", str(mount)], capture_output=True, text=True)
  if proc.returncode != 0:
    pytest.skip(f"cannot mount a tmpfs here ({proc.stderr.strip()}); the "
                "file-size-limit test covers the same code path")


@pytest.fixture
def tmpfs(tmp_path):
  mount = tmp_path / "tmpfs"
  _mount_tmpfs(mount, "40m")
  try:
    yield mount
  finally:
    subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(mount, leave_bytes):
  """A filler file that leaves about ``leave_bytes`` free on ``mount``."""
  st = os.statvfs(mount)
  free = st.f_bavail * st.f_frsize
  filler = mount / "filler"
  with open(filler, "wb") as f:
    f.write(b"\0" * max(0, free - leave_bytes))
  return filler


def _bytes(paths):
  return {p: open(p, "rb").read() for p in paths}


def _leftovers(directory):
  out = []
  for root, dirs, files in os.walk(directory):
    out += [os.path.join(root, n) for n in dirs + files
            if "_temp" in n or ".tmp" in n or n.endswith(".old")]
  return out


def test_full_disk_while_checkpointing_and_exporting(tmpfs):
  from tfdis.training import TrainConfig, export_from_checkpoint, train

  model_dir = tmpfs / "m"
  config = TrainConfig(model="beta_vae", dataset="procedural_dsprites_small",
                       architecture="conv", latent_dim=2, batch_size=4,
                       steps=2, checkpoint_every=2, log_every=2,
                       summary_every=2, image_summary_every=1000,
                       model_dir=str(model_dir), export=True)
  train(config)
  ckpts = model_dir / "checkpoints"
  old_ckpt = sorted(str(p) for p in ckpts.iterdir() if "ckpt-2" in p.name)
  before = _bytes(old_ckpt + [str(ckpts / "checkpoint")])
  filler = _fill(tmpfs, 512 * 1024)

  with pytest.raises(DiskFullError) as err:
    train(config.replace(steps=4))
  msg = str(err.value)
  assert f"no space to write {ckpts}/ckpt-4 (" in msg
  assert "it needed about" in msg and "(the size of the previous " \
      "checkpoint)" in msg and "rerun" in msg
  assert not _leftovers(model_dir)
  assert not [p for p in os.listdir(ckpts) if p.startswith("ckpt-4")]
  assert _bytes(before) == before  # the previous checkpoint is intact

  saved = model_dir / "saved_model"
  pb = _bytes([str(saved / "saved_model.pb")])
  with pytest.raises(DiskFullError) as err:
    export_from_checkpoint(str(model_dir))
  assert f"no space to write {saved} (" in str(err.value)
  assert "(the size of the previous export)" in str(err.value)
  assert not _leftovers(model_dir) and _bytes(pb) == pb

  os.remove(filler)  # space freed: the same command finishes
  res = train(config.replace(steps=4))
  assert res["steps"] == 4 and res["start_step"] == 2
  assert (saved / "saved_model.pb").is_file() and not _leftovers(model_dir)


_LIMITED = r"""
import os, resource, signal, sys
sys.path.insert(0, {repo!r})
from tfdis import io_utils
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of a kill
path, kind = sys.argv[1], sys.argv[2]
resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
try:
  if kind == "json":
    io_utils.write_json(path, {{"scores": list(range(5000))}})
  elif kind == "npz":  # the primitive of the encoding cache
    import numpy as np
    io_utils.write_npz(path, codes=np.random.RandomState(0).normal(
        size=(1000, 10)))
  else:
    io_utils.write_text(path, "<html>" + "x" * 100000 + "</html>")
except io_utils.DiskFullError as e:
  print(e)
  sys.exit(3)
"""


@pytest.mark.parametrize("kind,name", [("json", "mig.json"),
                                       ("npz", "codes.npz"),
                                       ("report", "report.html")])
def test_file_size_limit_while_writing_a_record(tmp_path, kind, name):
  path = tmp_path / name
  path.write_text("previous\n")
  proc = subprocess.run(
      [sys.executable, "-c", _LIMITED.format(repo=REPO), str(path), kind],
      capture_output=True, text=True, timeout=60)
  assert proc.returncode == 3, proc.stderr[-2000:]
  msg = proc.stdout.strip()
  assert msg.startswith(f"no space to write {path} (File too large; it "
                        "needed ")
  assert "bytes" in msg and "\n" not in msg
  assert path.read_text() == "previous\n"
  assert os.listdir(tmp_path) == [name]  # no temporary left


def test_full_disk_while_writing_the_grid_cache(tmp_path):
  from tfds_builders.build import prepare
  data_dir = tmp_path / "tfds"
  prepare("dsprites", data_dir=str(data_dir),
          manual_dir=os.path.join(REPO, "tfds_builders", "dsprites",
                                  "dummy_data"))
  small = tmp_path / "small"
  _mount_tmpfs(small, "64k")  # the dummy build's images need 192 KiB
  try:
    def train(cache_dir, *flags):
      env = dict(cli_env(), TFDS_DATA_DIR=str(data_dir),
                 TFDIS_GRID_CACHE_DIR=str(cache_dir))
      return subprocess.run(
          [sys.executable, "-m", "tfdis.bin.train", "--dataset=dsprites",
           "--nodownload", "--steps=2", "--batch_size=4", "--noexport",
           f"--model_dir={tmp_path / 'model' / cache_dir.name}", *flags],
          cwd=REPO, env=env, capture_output=True, text=True, timeout=300)

    full = train(small)
    assert full.returncode == 2, full.stderr[-3000:]
    assert "Traceback" not in full.stderr
    message = full.stderr.strip().splitlines()[-1]
    assert message.startswith(
        "tfdis_train: error: no space to write " + str(small)), message
    assert "grid cache of dsprites elsewhere" in message
    assert "it needed 192.0 KiB (196608 bytes)" in message
    assert "TFDIS_GRID_CACHE_DIR" in message
    assert "--dataset_options=store=memory" in message
    left = [os.path.join(root, n) for root, dirs, files in os.walk(small)
            for n in files]
    assert not [p for p in left if not p.endswith(".lock")], left

    # Both ways out train: the images in memory, or the cache elsewhere.
    for done in (train(small, "--dataset_options=store=memory"),
                 train(tmp_path / "roomy")):
      assert done.returncode == 0, done.stderr[-3000:]
      assert json.loads(done.stdout.strip().splitlines()[-1])["steps"] == 2
  finally:
    subprocess.run(["umount", "-l", str(small)], check=False)
