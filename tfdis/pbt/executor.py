"""Where PBT members train: a small executor interface.

``Executor.map(fn, tasks) -> list`` runs ``fn(task)`` for every task and
returns the results in order. ``fn`` must be a module-level function that
never raises (``tfdis.pbt.worker.run_task`` reports failures as
``{"status": "error", ...}``); tasks and results are JSON-like dicts, and
every durable effect of a task is on disk under the member's directory, so
any executor that can run a picklable function somewhere with access to
``output_dir`` works.

* :class:`InProcessExecutor` (``num_workers=1``): runs in the controller.
* :class:`LocalExecutor`: a persistent pool of ``num_workers`` processes
  started with the 'spawn' method (each imports TensorFlow once and keeps its
  built models between tasks), each pinned to one GPU through
  ``CUDA_VISIBLE_DEVICES`` (round-robin) when GPUs exist. A worker process
  that dies (OOM, segfault) breaks the pool: its tasks come back as errors,
  the pool is rebuilt, and the controller carries on.

A distributed executor replaces ``LocalExecutor``: e.g. with Ray
(``pip install tfdis[ray]``)::

  class RayExecutor(Executor):
    def __init__(self, num_gpus_per_task=1):
      import ray; ray.init(address="auto")
      self._remote = ray.remote(num_gpus=num_gpus_per_task)(run_task)
    def map(self, fn, tasks):
      import ray
      return ray.get([self._remote.remote(t) for t in tasks])

and pass it to ``run_pbt(config, executor=RayExecutor())``. ``output_dir``
must then be on a filesystem every node sees.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import subprocess
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Callable, Dict, List, Optional, Sequence


class Executor:
  """Runs independent tasks; subclasses decide where."""

  def map(self, fn: Callable[[Dict[str, Any]], Dict[str, Any]],
          tasks: Sequence[Dict[str, Any]]) -> List[Dict[str, Any]]:
    raise NotImplementedError

  def close(self) -> None:
    pass


class InProcessExecutor(Executor):
  def map(self, fn, tasks):
    return [fn(t) for t in tasks]


def detect_gpus() -> List[str]:
  """GPU ids visible to this process, without importing TensorFlow."""
  visible = os.environ.get("CUDA_VISIBLE_DEVICES")
  if visible is not None:
    return [g for g in visible.split(",") if g.strip() not in ("", "-1")]
  if shutil.which("nvidia-smi") is None:
    return []
  try:
    out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True,
                         timeout=20).stdout
  except (OSError, subprocess.SubprocessError):
    return []
  return [str(i) for i, line in enumerate(out.splitlines())
          if line.startswith("GPU ")]


def _init_worker(gpu_queue) -> None:
  """Pins the worker to one GPU before TensorFlow is imported."""
  gpu = gpu_queue.get() if gpu_queue is not None else None
  os.environ["CUDA_VISIBLE_DEVICES"] = "" if gpu is None else str(gpu)
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


class LocalExecutor(Executor):
  """A persistent 'spawn' process pool (see module docstring)."""

  def __init__(self, num_workers: int, gpus: Optional[Sequence[str]] = None):
    if num_workers < 1:
      raise ValueError("num_workers must be >= 1")
    self.num_workers = int(num_workers)
    self.gpus = list(detect_gpus() if gpus is None else gpus)
    self._ctx = multiprocessing.get_context("spawn")
    self._pool: Optional[ProcessPoolExecutor] = None

  def _start(self) -> ProcessPoolExecutor:
    if self._pool is None:
      queue = self._ctx.Queue()
      for i in range(self.num_workers):
        queue.put(self.gpus[i % len(self.gpus)] if self.gpus else None)
      self._pool = ProcessPoolExecutor(
          max_workers=self.num_workers, mp_context=self._ctx,
          initializer=_init_worker, initargs=(queue,))
    return self._pool

  def map(self, fn, tasks):
    pool = self._start()
    futures = [pool.submit(fn, t) for t in tasks]
    results, broken = [], False
    for t, f in zip(tasks, futures):
      try:
        results.append(f.result())
      except BrokenProcessPool as e:
        broken = True
        results.append({"status": "error", "score": 0.0,
                        "error": f"worker process died: {e}"})
      except Exception as e:  # noqa: BLE001 — e.g. unpicklable result
        results.append({"status": "error", "score": 0.0,
                        "error": f"{type(e).__name__}: {e}"})
    if broken:
      self.close()   # rebuilt on the next map
    return results

  def close(self) -> None:
    if self._pool is not None:
      self._pool.shutdown(wait=True, cancel_futures=True)
      self._pool = None


def make_executor(num_workers: int) -> Executor:
  return InProcessExecutor() if num_workers <= 1 else LocalExecutor(
      num_workers)
