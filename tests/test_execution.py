"""The execution layer: config checks, the in-process and the local
spawn-pool backends (ordering, a worker killed mid-task, a task that keeps
killing its worker) without TensorFlow in this process, and the in-process
thread pinning in a fresh interpreter."""

import os
import signal

import pytest

from tfdis.errors import UserError

from tfdis.execution import (ExecutionConfig, ExecutionConfigError,
                             InProcessExecutor, LocalExecutor, make_executor)


# Module-level task functions (a spawned worker imports them by name).
def square(task):
  return {"value": task["x"] ** 2, "pid": os.getpid()}


def die_once(task):
  """SIGKILLs its own worker on the first attempt (marker file), then
  answers: what a worker killed mid-task looks like to the pool."""
  marker = task["marker"]
  if not os.path.exists(marker):
    open(marker, "w").close()
    os.kill(os.getpid(), signal.SIGKILL)
  return {"value": task["x"], "pid": os.getpid()}


def always_die(task):
  os.kill(os.getpid(), signal.SIGKILL)


def broken(task):
  raise KeyError("nope")  # a task breaking the never-raise contract


@pytest.mark.parametrize("fields, message", [
    (dict(executor="slurm"), r"Unknown executor 'slurm'.*local, ray"),
    (dict(num_workers=0), "num_workers must be an integer >= 1"),
    (dict(executor="ray", ray_address="headnode"), "'host:port'"),
    (dict(ray_address="auto"), "needs executor='ray'"),
    (dict(executor="ray", cpus_per_task=0), "cpus_per_task must be > 0"),
    (dict(executor="ray", gpus_per_task=-1), "gpus_per_task must be >= 0"),
    (dict(executor="ray", gpus_per_task=1.5), "whole number"),
    (dict(max_task_retries=-1), "max_task_retries"),
])
def test_config_refuses_bad_fields(fields, message):
  with pytest.raises(ExecutionConfigError, match=message):
    ExecutionConfig(**fields).validate()


def test_config_round_trip():
  config = ExecutionConfig(executor="ray", ray_address="10.0.0.1:6379",
                           cpus_per_task=2, gpus_per_task=0.5,
                           max_task_retries=1).validate()
  assert ExecutionConfig.from_dict(config.to_dict()) == config
  with pytest.raises(UserError, match=r"\[.gpus.\] that ExecutionConfig does not know"):
    ExecutionConfig.from_dict(dict(config.to_dict(), gpus=1))


def test_cpus_per_task_gives_the_thread_count_of_every_backend():
  assert ExecutionConfig().task_threads() is None  # each backend's default
  assert [ExecutionConfig(cpus_per_task=c).task_threads()
          for c in (0.5, 1, 2.5, 4)] == [1, 1, 2, 4]


# Run in a fresh interpreter: the thread pools of this test process are not
# the test's to fix.
PIN_IN_PROCESS = """
import json
import tensorflow as tf
from tfdis.execution import ExecutionConfig, make_executor, tf_threads
pinned = make_executor(ExecutionConfig(cpus_per_task=1))
tf.constant(1.0) + 1.0  # starts TensorFlow's runtime: its pools are fixed
same = make_executor(ExecutionConfig(cpus_per_task=1.5))
other = make_executor(ExecutionConfig(cpus_per_task=2))
print(json.dumps([type(pinned).__name__, tf_threads(), type(same).__name__,
                  type(other).__name__, other.threads]))
"""


def test_in_process_pins_the_threads_or_uses_a_fresh_worker():
  """cpus_per_task pins the in-process run's TensorFlow threads; once this
  process's TensorFlow runs with another count, the tasks go to one worker
  process that has the requested count (never silently another count)."""
  import json
  import subprocess
  import sys

  proc = subprocess.run([sys.executable, "-c", PIN_IN_PROCESS],
                        capture_output=True, text=True, timeout=300)
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert json.loads(proc.stdout.strip().splitlines()[-1]) == [
      "InProcessExecutor", {"intra_op": 1, "inter_op": 1},
      "InProcessExecutor", "LocalExecutor", 2]


def test_in_process_runs_lazily_and_urgent_first():
  ex = make_executor(ExecutionConfig(num_workers=1))
  assert isinstance(ex, InProcessExecutor)
  for x in (1, 2):
    ex.submit(square, {"x": x}, tag=x)
  ex.submit(square, {"x": 3}, tag=3, urgent=True)
  assert [tag for tag, _ in ex.as_completed()] == [3, 1, 2]
  assert ex.map(square, [{"x": 4}, {"x": 5}])[1]["value"] == 25
  assert "KeyError: 'nope'" in ex.map(broken, [{}])[0]["error"]


def test_local_pool_retries_a_killed_worker(tmp_path):
  tasks = [{"x": x} for x in range(4)]
  killer = {"x": 99, "marker": str(tmp_path / "killed")}
  ex = LocalExecutor(2, threads=1, gpus=[], max_task_retries=1)
  try:
    out = ex.map(square, tasks)
    assert [o["value"] for o in out] == [0, 1, 4, 9]
    assert len({o["pid"] for o in out}) == 2  # both workers were used
    ex.submit(die_once, killer, tag="killer")
    ex.submit(square, {"x": 7}, tag="bystander")
    got = dict(ex.as_completed())
    assert got["killer"]["value"] == 99 and got["bystander"]["value"] == 49
    assert [d["tag"] for d in ex.deaths] == ["killer"]
    assert ex.deaths[0]["exitcode"] == -signal.SIGKILL
    # Retries exhausted: the task is reported, the others still run.
    out = ex.map(always_die, [{}]) + ex.map(square, [{"x": 3}])
    assert out[0]["status"] == "error" and "died" in out[0]["error"]
    assert "2 attempts" in out[0]["error"] and out[1]["value"] == 9
  finally:
    ex.close()
  assert all(s.process is None for s in ex._slots)


@pytest.mark.parametrize("argv, message", [
    (["tfdis.bin.study", "--study=quickstart", "--ray_address=auto"],
     "--ray_address='auto' needs executor='ray'"),
    (["tfdis.bin.pbt", "--output_dir=unused", "--executor=ray",
      "--gpus_per_task=1.5"], "--gpus_per_task above 1 must be a whole"),
])
def test_cli_execution_flags_refused_early(tmp_path, argv, message):
  import subprocess
  import sys

  proc = subprocess.run([sys.executable, "-m"] + argv, cwd=tmp_path,
                        capture_output=True, text=True, timeout=120)
  assert proc.returncode != 0
  assert message in proc.stderr and "Traceback" not in proc.stderr
  assert not os.listdir(tmp_path)  # refused before writing anything
