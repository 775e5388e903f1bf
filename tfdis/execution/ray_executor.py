"""RayExecutor: every task is a Ray task (``pip install tfdis[ray]``).

Each task requests ``num_cpus`` / ``num_gpus`` (from ExecutionConfig's
``cpus_per_task`` / ``gpus_per_task``; fractional GPUs share a device) and
runs ``fn(*args)`` on whichever node has them; Ray sets
``CUDA_VISIBLE_DEVICES`` for it and TensorFlow runs with ``num_cpus``
intra- and inter-op threads (the whole part, at least 1), the count the
local executor pins for the same ``cpus_per_task``: the same seeds give the
same numbers on both.

Artifacts are written by the tasks themselves to the output directory, so it
must be on storage every node sees (NFS, a mounted bucket, ...):
:meth:`RayExecutor.check_output_dir` proves it at start with one tiny task per
node that reads a file the driver wrote and writes one the driver reads.

Security: joining a cluster ('auto' or 'host:port') is refused when token
authentication is disabled in this process unless the caller opts out, and
the cluster must answer and accept the token within a bounded time
(:mod:`tfdis.execution.ray_security`); :attr:`RayExecutor.record` says how
the run was authenticated (written to study.json / results.json).

Faults: a task whose worker process dies (killed, OOM, lost node) is rerun by
Ray up to ``max_task_retries`` times (Ray's ``max_retries`` for system
failures); the task resumes from its checkpoint on the shared directory.
Exceptions are not retried: task functions report their own errors. A task
lost for good comes back as an error result and the rest goes on.
"""

from __future__ import annotations

import os
import uuid
from typing import Any, Dict, Optional

from tfdis.execution import worker as worker_lib
from tfdis.execution.base import (Executor, ExecutorUnavailable, call_task,
                                  error_result)
from tfdis.execution.config import threads_for_cpus

PROBE_PREFIX = ".tfdis_ray_probe"


def _ray():
  try:
    import ray
  except ImportError:
    raise ExecutorUnavailable(
        "executor='ray' needs Ray: pip install 'tfdis[ray]' (the pinned "
        "version is in requirements-ray.txt)") from None
  return ray


def _run_on_ray_worker(fn, args, threads: Optional[int],
                       verbosity: Optional[int]) -> Dict[str, Any]:
  """The body of every Ray task: worker setup, then the task."""
  worker_lib.configure_worker(threads, "keep", verbosity)
  return call_task(fn, args)


def _probe_task(path: str, expected: str, reply_path: str) -> Dict[str, Any]:
  """Reads what the driver wrote, writes a reply; reports instead of raising."""
  import socket
  out: Dict[str, Any] = {"host": socket.gethostname()}
  try:
    with open(path) as f:
      out["read_ok"] = f.read() == expected
  except OSError as e:
    out["read_ok"], out["read_error"] = False, str(e)
  try:
    with open(reply_path, "w") as f:
      f.write(expected)
    out["write_ok"] = True
  except OSError as e:
    out["write_ok"], out["write_error"] = False, str(e)
  return out


class SharedStorageError(ExecutorUnavailable):
  """The output directory is not readable and writable from every node."""


class RayExecutor(Executor):
  """Runs every task as a Ray task (see the module docstring).

  ``address``: None/'' starts a Ray instance here (or uses the one this
  process already started; never a cluster found through ``RAY_ADDRESS`` or
  ``ray start``), 'auto' or 'host:port' joins a cluster. A Ray instance this
  executor started is shut down by :meth:`close`.
  ``allow_unauthenticated_cluster`` and ``connect_timeout_s``: see
  ExecutionConfig's ``ray_allow_unauthenticated_cluster`` and
  ``ray_connect_timeout_s``.
  """

  def __init__(self, address: Optional[str] = None,
               cpus_per_task: Optional[float] = None,
               gpus_per_task: Optional[float] = None,
               max_task_retries: int = 3,
               verbosity: Optional[int] = None,
               allow_unauthenticated_cluster: bool = False,
               connect_timeout_s: float = 30.0):
    super().__init__()
    ray = _ray()
    from tfdis.execution import ray_security

    self._owns_ray = False
    self.record: Dict[str, Any] = {"executor": "ray"}
    if not ray.is_initialized():
      # Refused (no connection) or checked within the timeout first, so a
      # bad cluster ends in one message rather than Ray's retries.
      self.record.update(ray_security.check_join(
          address, allow_unauthenticated_cluster))
      if self.record["joins_cluster"] and not address.strip().startswith(
          "ray://"):
        ray_security.probe_cluster(address, connect_timeout_s)
      try:
        ray.init(address=(address or "local"), include_dashboard=False,
                 logging_level="warning", log_to_driver=True)
      except ConnectionError as e:
        raise ExecutorUnavailable(
            f"cannot join the Ray cluster at ray_address={address!r}: {e}. "
            "Start it first, with token authentication (docs/cluster.md), "
            "or leave --ray_address empty to start Ray on this machine."
        ) from None
      self._owns_ray = True
    else:
      self.record["ray_address"] = "already initialised by the caller"
    self.cpus = float(cpus_per_task or 1)
    self.gpus = float(gpus_per_task or 0)
    self.max_task_retries = int(max_task_retries)
    self._verbosity = verbosity
    self._remote = ray.remote(_run_on_ray_worker)
    self._refs: Dict[Any, int] = {}

  def check_output_dir(self, path: str) -> None:
    """One probe task per alive node: each reads a file this process wrote
    into ``path`` and writes one back, which this process then reads."""
    ray = _ray()
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    path = os.path.abspath(path)
    token = uuid.uuid4().hex
    probe = os.path.join(path, f"{PROBE_PREFIX}_{token}")
    try:
      os.makedirs(path, exist_ok=True)
      with open(probe, "w") as f:
        f.write(token)
    except OSError as e:
      raise SharedStorageError(
          f"cannot write in the output directory {path} from this (driver) "
          f"process: {e}") from None
    nodes = [n for n in ray.nodes() if n.get("Alive")]
    refs, replies = [], []
    for i, node in enumerate(nodes):
      reply = f"{probe}.{i}"
      replies.append(reply)
      refs.append(ray.remote(_probe_task).options(
          num_cpus=0, max_retries=0,
          scheduling_strategy=NodeAffinitySchedulingStrategy(
              node["NodeID"], soft=False)).remote(probe, token, reply))
    problems = []
    try:
      for node, ref, reply in zip(nodes, refs, replies):
        out = ray.get(ref, timeout=120)
        seen = False
        try:
          with open(reply) as f:
            seen = f.read() == token
        except OSError:
          pass
        where = f"{out['host']} ({node['NodeManagerAddress']})"
        if not out["read_ok"]:
          problems.append(f"{where} cannot read {probe}: "
                          f"{out.get('read_error', 'other content')}")
        if not out["write_ok"]:
          problems.append(f"{where} cannot write in {path}: "
                          f"{out.get('write_error')}")
        elif not seen:
          problems.append(f"a file {where} wrote in {path} is not visible "
                          "here (the directory is local to each node)")
    finally:
      for p in [probe] + replies:
        try:
          os.remove(p)
        except OSError:
          pass
    if problems:
      raise SharedStorageError(
          f"The output directory {path} must be on storage every Ray node "
          "sees at the same path (NFS, a mounted bucket, ...): " +
          "; ".join(problems))

  def _submit(self, handle, fn, args, resources, urgent):
    resources = dict(resources or {})
    cpus = float(resources.get("num_cpus", self.cpus))
    ref = self._remote.options(
        num_cpus=cpus, num_gpus=float(resources.get("num_gpus", self.gpus)),
        max_retries=self.max_task_retries, retry_exceptions=False,
        name=str(self._tags[handle])[:100]).remote(
            fn, args, threads_for_cpus(cpus), self._verbosity)
    self._refs[ref] = handle

  def _wait(self):
    ray = _ray()
    [ref], _ = ray.wait(list(self._refs), num_returns=1)
    handle = self._refs.pop(ref)
    try:
      result = ray.get(ref)
    except ray.exceptions.RayError as e:  # lost after every retry
      result = error_result(
          f"Ray lost the task after {self.max_task_retries} retries "
          f"(max_task_retries): {type(e).__name__}: {e}")
    return handle, result

  def close(self, cancel: bool = False) -> None:
    ray = _ray()
    if cancel:
      for ref in self._refs:
        try:
          ray.cancel(ref, force=True)
        except Exception:  # noqa: BLE001 - already finished or gone
          pass
    self._refs.clear()
    self._tags.clear()
    if self._owns_ray and ray.is_initialized():
      ray.shutdown()
      self._owns_ray = False
