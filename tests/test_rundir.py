"""Run-directory safety (tfdis.rundir): lock, stale temporaries, config checks.

The lock tests use real second processes (plain Python, no TensorFlow: about
half a second each): one is refused while we hold the lock, and a holder
killed with SIGKILL leaves a lock the next run takes over.
"""

import dataclasses
import json
import os
import signal
import subprocess
import sys
import tempfile
from typing import Dict, Optional

import pytest

from tfdis import io_utils, rundir
from tfdis.errors import UserError

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _env():
  return dict(os.environ, PYTHONPATH=REPO + os.pathsep +
              os.environ.get("PYTHONPATH", ""))


def _hold_lock(directory, what):
  """A second process that takes the lock of ``directory`` and sleeps."""
  proc = subprocess.Popen(
      [sys.executable, "-c",
       "import sys, time\n"
       "from tfdis.rundir import RunLock\n"
       "lock = RunLock(sys.argv[1], sys.argv[2]).acquire()\n"
       "print('locked', flush=True)\n"
       "time.sleep(120)\n", str(directory), what],
      cwd=REPO, env=_env(), stdout=subprocess.PIPE, text=True)
  assert proc.stdout.readline().strip() == "locked"
  return proc


_TRY_LOCK = """
import sys
from tfdis.rundir import RunLock, RunDirectoryLockedError
try:
  with RunLock(sys.argv[1], "second"):
    print("acquired")
except RunDirectoryLockedError as e:
  print("refused:", e, "| holder pid", e.holder.get("pid"))
"""


def test_second_process_is_refused_with_the_holders_pid(tmp_path):
  with rundir.RunLock(str(tmp_path), "tfdis_train") as lock:
    with open(lock.path) as f:
      holder = json.load(f)
    assert holder["pid"] == os.getpid() and holder["host"]
    assert holder["command"].startswith("tfdis_train")
    proc = subprocess.run(
        [sys.executable, "-c", _TRY_LOCK, str(tmp_path)], cwd=REPO,
        env=_env(), capture_output=True,
        text=True, timeout=60)
  out = proc.stdout
  assert out.startswith("refused:"), proc.stdout + proc.stderr
  assert f"in use by process {os.getpid()} on host" in out
  assert f"kill {os.getpid()}" in out
  assert "the lock is taken over automatically" in out
  assert f"holder pid {os.getpid()}" in out
  # Released: the next one gets it, and the file holds no stale holder.
  with rundir.RunLock(str(tmp_path), "third") as again:
    assert again.previous_holder == {}


def test_two_locks_in_one_process_conflict(tmp_path):
  with rundir.RunLock(str(tmp_path), "first"):
    with pytest.raises(rundir.RunDirectoryLockedError) as err:
      rundir.RunLock(str(tmp_path), "second").acquire()
  assert isinstance(err.value, UserError)
  assert f"process {os.getpid()}" in str(err.value)


def test_lock_of_a_killed_process_is_taken_over(tmp_path):
  holder = _hold_lock(tmp_path, "doomed")
  try:
    with pytest.raises(rundir.RunDirectoryLockedError,
                       match=f"process {holder.pid} "):
      rundir.RunLock(str(tmp_path)).acquire()
    holder.send_signal(signal.SIGKILL)  # no cleanup code runs
    holder.wait(timeout=30)
  finally:
    if holder.poll() is None:
      holder.kill()
  with rundir.RunLock(str(tmp_path), "next") as lock:
    assert lock.previous_holder["pid"] == holder.pid
    assert lock.previous_holder["command"].startswith("doomed")


def test_lock_in_an_unusable_directory_is_a_user_error(tmp_path):
  (tmp_path / "file").write_text("x")
  with pytest.raises(rundir.RunDirectoryError, match="Choose a directory"):
    rundir.RunLock(str(tmp_path / "file" / "run")).acquire()


def _leftover_of_killed_atomic_write(path, suffix=""):
  """What io_utils.atomic_path leaves when its process dies mid-write."""
  writer = io_utils.atomic_path(path, suffix=suffix)
  tmp = writer.__enter__()  # never exited: as if the process were killed
  with open(tmp, "w") as f:
    f.write("{half")
  return writer, tmp


def test_clean_stale_temporaries(tmp_path):
  root = tmp_path / "run"
  (root / "checkpoints" / "ckpt-3_temp").mkdir(parents=True)  # TF staging
  (root / "checkpoints" / "ckpt-3_temp" / "part-00000").write_text("x")
  (root / "checkpoints" / "ckpt-2.index").write_text("keep")
  tf_leftovers = [os.path.join("checkpoints", "ckpt-3.index.tempstate123"),
                  os.path.join("checkpoints", "checkpoint.tmp" + "0a" * 16)]
  for name in tf_leftovers:
    (root / name).write_text("x")
  (root / "config.json").write_text("{}")
  writers = [_leftover_of_killed_atomic_write(str(root / "config.json")),
             _leftover_of_killed_atomic_write(str(root / "results" /
                                                  "train.json")),
             _leftover_of_killed_atomic_write(str(root / "similarity.npz"),
                                              suffix=".npz")]
  # tfdis.export stages the SavedModel in a mkdtemp directory like this.
  staging = tempfile.mkdtemp(prefix=".saved_model.", suffix=".tmp",
                             dir=str(root))
  (root / "saved_model").mkdir()
  (root / "saved_model.old").mkdir()       # replaced tree, new one in place
  (root / "members" / "m0.old").mkdir(parents=True)  # died between renames
  (root / "members" / "m0.old" / "member.json").write_text("{}")
  (root / "members" / "m1.tmp_copy").mkdir()
  (root / "members" / ".m2.copy").mkdir()
  (root / "members" / "m3").mkdir()
  # A nested run directory locked by another process is left alone.
  (root / "busy" / "checkpoints" / "ckpt-1_temp").mkdir(parents=True)
  busy = _hold_lock(root / "busy", "busy")
  try:
    with rundir.RunLock(str(root), "test"):
      removed = rundir.clean_stale_temporaries(str(root))
  finally:
    busy.kill()
    busy.wait(timeout=30)
  rel = sorted(os.path.relpath(p, root) for p in removed)
  expected = sorted([
      os.path.join("checkpoints", "ckpt-3_temp"), *tf_leftovers,
      *(os.path.relpath(tmp, root) for _, tmp in writers),
      os.path.basename(staging), "saved_model.old",
      os.path.join("members", "m0.old"), os.path.join("members",
                                                      "m1.tmp_copy"),
      os.path.join("members", ".m2.copy")])
  assert rel == expected
  left = sorted(os.path.relpath(os.path.join(d, n), root)
                for d, dirs, files in os.walk(root) for n in dirs + files)
  assert left == sorted([
      ".tfdis.lock", "busy", os.path.join("busy", ".tfdis.lock"),
      os.path.join("busy", "checkpoints"),
      os.path.join("busy", "checkpoints", "ckpt-1_temp"), "checkpoints",
      os.path.join("checkpoints", "ckpt-2.index"), "config.json", "members",
      os.path.join("members", "m0"),  # restored: the only complete copy
      os.path.join("members", "m0", "member.json"),
      os.path.join("members", "m3"), "results", "saved_model"])
  # The busy run's holder is gone now: its leftovers are stale too.
  assert rundir.clean_stale_temporaries(str(root)) == [
      str(root / "busy" / "checkpoints" / "ckpt-1_temp")]
  assert rundir.clean_stale_temporaries(str(root)) == []


STORED = {"model": "beta_vae", "latent_dim": 10, "architecture": "conv",
          "reconstruction_loss": "bernoulli", "dataset": "procedural_dsprites",
          "dataset_options": {"config": "small"}, "steps": 100,
          "learning_rate": 1e-4}


def test_check_compatible_names_each_immutable_difference_and_the_way_out():
  requested = dict(STORED, model="beta_tc_vae", latent_dim=6, steps=200,
                   dataset_options={"config": "full"})
  with pytest.raises(rundir.IncompatibleRunError) as err:
    rundir.check_compatible(STORED, requested, where="runs/m",
                            overwrite_hint="--overwrite")
  message = str(err.value)
  assert isinstance(err.value, UserError)
  assert message.startswith("'runs/m' holds a different run (")
  assert 'model: stored "beta_vae", requested "beta_tc_vae"' in message
  assert "latent_dim: stored 10, requested 6" in message
  assert ('dataset_options: stored {"config": "small"}, requested '
          '{"config": "full"}') in message
  assert "steps" not in message.split(";")[0]  # mutable: not refused
  assert "use a new directory, or pass --overwrite" in message
  assert set(err.value.differences) == {"model", "latent_dim",
                                        "dataset_options"}
  # Mutable changes are returned for the caller to log; tuples == lists.
  changed = rundir.check_compatible(
      STORED, dict(STORED, steps=200, learning_rate=3e-4,
                   dataset_options={"config": "small"}))
  assert changed == {"steps": (100, 200), "learning_rate": (1e-4, 3e-4)}
  assert rundir.check_compatible(STORED, dict(STORED)) == {}


def test_check_compatible_nested_fields_and_no_overwrite():
  stored = {"data": {"name": "dsprites", "options": {}}, "model": {
      "family": "beta_vae", "latent_dim": 10}, "pbt": {"population_size": 4}}
  requested = {"data": {"name": "dsprites", "options": {}}, "model": {
      "family": "beta_vae", "latent_dim": (5)}, "pbt": {"population_size": 8}}
  with pytest.raises(rundir.IncompatibleRunError) as err:
    rundir.check_compatible(
        stored, requested, fields=["pbt.population_size"],
        immutable_fields=["data.name", "model.family", "model.latent_dim"],
        where="runs/pbt", overwrite_hint=None)
  message = str(err.value)
  assert "model.latent_dim: stored 10, requested 5" in message
  assert "--overwrite" not in message and "use a new directory" in message
  assert list(err.value.differences) == ["model.latent_dim"]


@dataclasses.dataclass
class _Data:
  name: str = "procedural_dsprites"
  options: Dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class _Config:
  model: str
  data: _Data = dataclasses.field(default_factory=_Data)
  latent_dim: int = 10
  labels: Optional[str] = None


def test_fill_defaults_reads_state_written_before_a_field_existed():
  old = {"model": "beta_vae", "data": {"name": "dsprites"},
         "_non_finite_fields": []}
  filled = rundir.fill_defaults(old, _Config, where="config.json")
  assert filled == {"model": "beta_vae", "data": {"name": "dsprites",
                                                   "options": {}},
                    "latent_dim": 10, "labels": None}
  assert _Config(**filled).latent_dim == 10
  assert rundir.fill_defaults({"model": "x"}, _Config)["data"] == {
      "name": "procedural_dsprites", "options": {}}
  with pytest.raises(rundir.RunDirectoryError) as err:
    rundir.fill_defaults({"model": "x", "latentdim": 3}, _Config,
                         where="runs/m/config.json")
  assert "runs/m/config.json has field(s) ['latentdim']" in str(err.value)
  with pytest.raises(rundir.RunDirectoryError, match="'options2'"):
    rundir.fill_defaults({"model": "x", "data": {"options2": {}}}, _Config)
  with pytest.raises(rundir.RunDirectoryError,
                     match="lacks the required field 'model'"):
    rundir.fill_defaults({}, _Config)
