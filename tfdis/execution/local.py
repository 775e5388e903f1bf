"""LocalExecutor: a pool of spawned worker processes on this machine.

Each worker is started with the 'spawn' method (TensorFlow is not fork-safe),
splits the CPU with the others (``threads`` TensorFlow threads each) and, when
GPUs exist, is pinned to one of them round-robin through
``CUDA_VISIBLE_DEVICES``. Workers are persistent: TensorFlow is imported once
per worker and built models are kept between tasks.

Each worker runs one task at a time over its own pipe, so when a worker
process dies (killed, out of memory, segfault) the pool knows which task it
was running: that task is rerun on a fresh worker, up to
``max_task_retries`` times (it resumes from its checkpoint), and then comes
back as an error result; the other workers are not disturbed.
"""

from __future__ import annotations

import collections
import multiprocessing
import multiprocessing.connection
from typing import Any, Deque, Dict, List, Optional, Sequence, Tuple

from tfdis.execution import worker as worker_lib
from tfdis.execution.base import (QueuedExecutor, Task, call_task,
                                  error_result)


def _worker_main(conn, threads: Optional[int], gpu: Optional[str],
                 verbosity: Optional[int]) -> None:
  worker_lib.configure_worker(threads, gpu, verbosity)
  while True:
    try:
      message = conn.recv()
    except (EOFError, OSError):  # the driver went away
      return
    if message is None:
      return
    handle, fn, args = message
    result = call_task(fn, args)
    try:
      conn.send((handle, result))
    except (TypeError, AttributeError, ValueError) as e:  # unpicklable
      conn.send((handle, error_result(
          f"the task's result cannot be sent back: {type(e).__name__}: {e}")))


class _Slot:
  """One worker process and the task it is running."""

  def __init__(self, gpu: Optional[str]):
    self.gpu = gpu
    self.process = None
    self.conn = None
    self.task: Optional[Tuple[int, Task, Tuple[Any, ...]]] = None


class LocalExecutor(QueuedExecutor):
  """A persistent 'spawn' process pool (see the module docstring)."""

  def __init__(self, num_workers: int, threads: Optional[int] = None,
               gpus: Optional[Sequence[str]] = None,
               max_task_retries: int = 3,
               verbosity: Optional[int] = None):
    super().__init__()
    if int(num_workers) < 1:
      raise ValueError(f"num_workers must be >= 1, got {num_workers}")
    self.num_workers = int(num_workers)
    self.threads = (int(threads) if threads else max(
        1, worker_lib.available_cores() // self.num_workers))
    gpus = list(worker_lib.detect_gpus() if gpus is None else gpus)
    self.max_task_retries = int(max_task_retries)
    self._verbosity = verbosity
    self._ctx = multiprocessing.get_context("spawn")
    self._slots = [_Slot(gpus[i % len(gpus)] if gpus else None)
                   for i in range(self.num_workers)]
    self._done: Deque[Tuple[int, Dict[str, Any]]] = collections.deque()
    self._attempts: Dict[int, int] = {}
    self.deaths: List[Dict[str, Any]] = []  # for logs and tests

  def _start(self, slot: _Slot) -> None:
    if all(s.process is None for s in self._slots):
      from absl import logging
      logging.info("Local pool: %d worker processes, %d TensorFlow thread(s) "
                   "each%s", self.num_workers, self.threads,
                   "" if not self._slots[0].gpu else ", one GPU each")
    parent, child = self._ctx.Pipe()
    slot.process = self._ctx.Process(
        target=_worker_main, name="tfdis-worker",
        args=(child, self.threads, slot.gpu, self._verbosity))
    slot.process.start()
    child.close()
    slot.conn = parent

  def _dispatch(self) -> None:
    for slot in self._slots:
      if slot.task is not None or not self._queue:
        continue
      if slot.process is None:
        self._start(slot)
      slot.task = self._queue.popleft()
      try:
        slot.conn.send(slot.task)
      except (BrokenPipeError, ConnectionError, EOFError, OSError):
        self._lost(slot)

  def _lost(self, slot: _Slot) -> None:
    """The worker of ``slot`` died: retry or report its task."""
    handle, fn, args = slot.task
    slot.process.join(timeout=5)
    code = slot.process.exitcode
    slot.conn.close()
    slot.process, slot.conn, slot.task = None, None, None
    attempt = self._attempts.get(handle, 0) + 1
    self._attempts[handle] = attempt
    self.deaths.append({"tag": self._tags.get(handle), "exitcode": code,
                        "attempt": attempt})
    from absl import logging
    if attempt <= self.max_task_retries:
      logging.warning("A worker process died (exit code %s) running %r; "
                      "rerunning it (retry %d of %d)", code,
                      self._tags.get(handle), attempt, self.max_task_retries)
      self._queue.appendleft((handle, fn, args))
    else:
      self._done.append((handle, error_result(
          f"the worker process died (exit code {code}) on each of "
          f"{attempt} attempts (max_task_retries={self.max_task_retries})")))

  def _wait(self):
    while not self._done:
      self._dispatch()
      busy = [s for s in self._slots if s.task is not None]
      if not busy:
        if self._done:
          break
        raise RuntimeError("no task is pending")
      waitables = [s.conn for s in busy] + [s.process.sentinel for s in busy]
      ready = set(multiprocessing.connection.wait(waitables))
      for slot in busy:
        if slot.conn not in ready and slot.process.sentinel not in ready:
          continue
        try:
          if slot.conn.poll():
            handle, result = slot.conn.recv()
            self._done.append((handle, result))
            self._attempts.pop(handle, None)
            slot.task = None
            continue
        except (EOFError, OSError):
          pass
        if not slot.process.is_alive():
          self._lost(slot)
    return self._done.popleft()

  def close(self, cancel: bool = False) -> None:
    self._queue.clear()
    for slot in self._slots:
      if slot.process is None:
        continue
      try:
        slot.conn.send(None)
      except (BrokenPipeError, ConnectionError, OSError):
        pass
    for slot in self._slots:
      if slot.process is None:
        continue
      # A busy worker finishes its task unless asked to cancel.
      slot.process.join(timeout=1 if cancel or slot.task is None else None)
      if slot.process.is_alive():
        slot.process.terminate()
        slot.process.join(timeout=10)
      slot.conn.close()
      slot.process, slot.conn, slot.task = None, None, None
    self._tags.clear()
