"""The on-disk grid store of official datasets (``store="disk"``).

Checks that the disk store gives exactly what the in-memory path gives (rows,
factor draws, training batches of a seed, a metric score), that the grid
cache is written once per build next to it and replaced when the build
changes, and that reading a grid by row needs memory that does not grow with
the grid (peak RSS of a child process at two grid sizes).
"""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from tfdis.data import get_dataset, grid_cache, grid_store
from tfdis.data.pipeline import training_dataset
from tfdis.data.tfds_data import load_tfds_ground_truth
from tfdis.errors import UserError
from tfdis.metrics.mig import compute_mig
from tfds_builders.build import prepare

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DUMMY = os.path.join(REPO, "tfds_builders", "{}", "dummy_data")


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
  path = str(tmp_path_factory.mktemp("tfds_store"))
  for name in ("dsprites", "cars3d"):
    prepare(name, data_dir=path, manual_dir=DUMMY.format(name))
  return path


def _take(ds, n):
  return [b.numpy() for b in ds.take(n)]


@pytest.mark.parametrize("name", ["dsprites", "cars3d"])
def test_disk_store_gives_the_in_memory_images_batches_and_scores(
    data_dir, name):
  disk = get_dataset(name, data_dir=data_dir)
  memory = get_dataset(name, data_dir=data_dir, store="memory")
  assert isinstance(disk.images, grid_store.GridStore)
  assert isinstance(memory.images, np.ndarray)
  assert (disk.factor_sizes, disk.observation_shape) == (
      memory.factor_sizes, memory.observation_shape)
  for a, b in zip(disk.factor_values, memory.factor_values):
    np.testing.assert_array_equal(a, b)
  n = disk.num_examples
  np.testing.assert_array_equal(disk.images[np.arange(n)], memory.images)
  np.testing.assert_array_equal(disk.images[::-1], memory.images[::-1])
  np.testing.assert_array_equal(disk.images[n - 1], memory.images[n - 1])
  factors = disk.sample_factors(40, np.random.RandomState(3))
  np.testing.assert_array_equal(
      disk.sample_observations_from_factors(factors, 0),
      memory.sample_observations_from_factors(factors, 0))
  for a, b in zip(_take(training_dataset(disk, 4, seed=7), 5),
                  _take(training_dataset(memory, 4, seed=7), 5)):
    np.testing.assert_array_equal(a, b)
  # A fixed linear code: the same sampled images give the same MIG.
  proj = np.random.RandomState(0).normal(
      size=(int(np.prod(disk.observation_shape)), 3)).astype(np.float32)
  encode = lambda x: x.reshape(len(x), -1) @ proj
  scores = [compute_mig(d, encode, np.random.RandomState(1), num_train=50)
            for d in (disk, memory)]
  assert scores[0]["discrete_mig"] == scores[1]["discrete_mig"] > 0
  assert disk.info()["tfds"]["grid_cache"].endswith("images.u8")


def test_grid_cache_lives_next_to_the_build_and_follows_rebuilds(tmp_path):
  data_dir = str(tmp_path / "data")
  prepare("dsprites", data_dir=data_dir, manual_dir=DUMMY.format("dsprites"))
  first = load_tfds_ground_truth("dsprites", "dsprites", data_dir=data_dir)
  root = os.path.dirname(os.path.dirname(first.images.path))
  build_dir = first.info()["tfds"]["data_dir"]
  assert root == os.path.join(build_dir, grid_cache.CACHE_DIRNAME)
  entry = os.path.dirname(first.images.path)
  with open(os.path.join(entry, "grid.json")) as f:
    meta = json.load(f)
  assert meta["shape"] == [48, 64, 64, 1]
  assert os.path.getsize(first.images.path) == 48 * 64 * 64
  mtime = os.stat(first.images.path).st_mtime_ns
  again = load_tfds_ground_truth("dsprites", "dsprites", data_dir=data_dir)
  assert again.images.path == first.images.path  # reused, not rewritten
  assert os.stat(again.images.path).st_mtime_ns == mtime
  # A changed build (here: a data file rewritten) gets a new cache and the
  # old one goes.
  shard = next(os.path.join(build_dir, f) for f in os.listdir(build_dir)
               if ".tfrecord" in f)
  os.utime(shard, ns=(mtime + 10**9, mtime + 10**9))
  rebuilt = load_tfds_ground_truth("dsprites", "dsprites", data_dir=data_dir)
  assert rebuilt.images.path != first.images.path
  assert sorted(e for e in os.listdir(root) if not e.startswith(".")) == [
      os.path.basename(os.path.dirname(rebuilt.images.path))]
  np.testing.assert_array_equal(rebuilt.images[:], first.images[:])


def test_grid_cache_goes_to_the_user_cache_dir_when_asked(tmp_path,
                                                          monkeypatch):
  data_dir = str(tmp_path / "data")
  prepare("dsprites", data_dir=data_dir, manual_dir=DUMMY.format("dsprites"))
  monkeypatch.setenv(grid_cache.ENV_CACHE_DIR, str(tmp_path / "cache"))
  data = load_tfds_ground_truth("dsprites", "dsprites", data_dir=data_dir)
  assert data.images.path.startswith(str(tmp_path / "cache"))
  assert not os.path.exists(os.path.join(data.info()["tfds"]["data_dir"],
                                         grid_cache.CACHE_DIRNAME))


def test_unknown_store_is_a_user_error(data_dir):
  with pytest.raises(UserError, match=r"Unknown store 'ram'.*disk, memory"):
    get_dataset("dsprites", data_dir=data_dir, store="ram")


def test_grid_store_gathers_like_numpy(tmp_path):
  rows = np.random.RandomState(0).randint(0, 255, (50, 4, 4, 3)).astype(
      np.uint8)
  path = str(tmp_path / "g.u8")
  order = np.random.RandomState(1).permutation(50)
  grid_store.write_grid(path, rows.shape, [(order[:20], rows[order[:20]]),
                                           (order[20:], rows[order[20:]])])
  store = grid_store.GridStore(path, rows.shape)
  for index in (7, -1, slice(3, 40, 4), np.array([[1, 2], [49, 0]]),
                np.arange(50) % 2 == 0, np.array([], np.int64),
                np.array([3, 3, 2, 48]), (np.array([5, 1]), 0, slice(1, 3))):
    np.testing.assert_array_equal(store[index], rows[index])
  np.testing.assert_array_equal(np.asarray(store), rows)
  with pytest.raises(ValueError, match="expected"):
    grid_store.GridStore(path, (51, 4, 4, 3))


_RSS_CHILD = textwrap.dedent("""
    import sys
    import numpy as np
    from tfdis.data import grid_store
    from tfdis.data.tfds_data import TFDSGroundTruthData
    mode, path, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    shape = (n, 64, 64, 3)
    if mode == "write":  # batches in a shuffled order, as a build's shards
      order = np.random.RandomState(0).permutation(n)
      def batches():
        for s in range(0, n, 1024):
          rows = order[s:s + 1024]
          yield rows, np.broadcast_to((rows % 251).astype(np.uint8)[
              :, None, None, None], (len(rows), 64, 64, 3))
      grid_store.write_grid(path, shape, batches())
    else:
      images = (grid_store.GridStore(path, shape) if mode == "disk" else
                np.fromfile(path, np.uint8).reshape(shape))
      data = TFDSGroundTruthData("g", images, ["a", "b"], [n // 64, 64])
      perm = np.random.RandomState(1).permutation(n)
      for s in range(0, n, 256):  # every row once, in random batches
        batch = data.images_from_indices(perm[s:s + 256])
        assert (batch[:, 0, 0, 0] == perm[s:s + 256] % 251).all()
    # VmHWM: this process's peak RSS (ru_maxrss would include the parent's
    # RSS at fork, which survives exec on Linux).
    with open("/proc/self/status") as f:
      hwm = [l for l in f if l.startswith("VmHWM:")][0]
    print(int(hwm.split()[1]) // 1024)
""")


def _peak_rss_mb(mode, path, n):
  out = subprocess.run([sys.executable, "-c", _RSS_CHILD, mode, path, str(n)],
                       check=True, capture_output=True, text=True,
                       env=dict(os.environ, PYTHONPATH=REPO + os.pathsep +
                                os.environ.get("PYTHONPATH", "")))
  return int(out.stdout.split()[-1])


def test_reading_by_row_needs_memory_that_does_not_grow_with_the_grid(
    tmp_path):
  small, big = 8192, 32768  # 64x64x3 rows: 0.1 GB and 0.4 GB grids
  peaks = {}
  for n in (small, big):
    path = str(tmp_path / f"grid{n}.u8")
    peaks["write", n] = _peak_rss_mb("write", path, n)
    peaks["disk", n] = _peak_rss_mb("disk", path, n)
    peaks["memory", n] = _peak_rss_mb("memory", path, n)
    os.remove(path)
  grown = {mode: peaks[mode, big] - peaks[mode, small]
           for mode in ("write", "disk", "memory")}
  # The in-memory path grows by the extra 0.3 GB of images; writing and
  # reading through the store stay within a small margin.
  assert grown["memory"] > 250, peaks
  assert grown["disk"] < 48 and grown["write"] < 48, peaks
  assert peaks["disk", big] < peaks["memory", big] - 200, peaks


def test_two_processes_loading_a_new_build_share_one_cache(tmp_path):
  data_dir = str(tmp_path / "data")
  prepare("dsprites", data_dir=data_dir, manual_dir=DUMMY.format("dsprites"))
  code = ("import sys; from tfdis.data import get_dataset; "
          "d = get_dataset('dsprites', data_dir=sys.argv[1]); "
          "print(d.images.path, int(d.images[:].sum()))")
  env = dict(os.environ, PYTHONPATH=REPO + os.pathsep +
             os.environ.get("PYTHONPATH", ""), TF_CPP_MIN_LOG_LEVEL="2")
  procs = [subprocess.Popen([sys.executable, "-c", code, data_dir],
                            stdout=subprocess.PIPE, text=True, env=env)
           for _ in range(2)]
  outs = [p.communicate()[0].split()[-2:] for p in procs]
  assert all(p.returncode == 0 for p in procs)
  assert outs[0] == outs[1]  # same file, same images
  root = os.path.dirname(os.path.dirname(outs[0][0]))
  assert len([e for e in os.listdir(root) if not e.startswith(".")]) == 1
