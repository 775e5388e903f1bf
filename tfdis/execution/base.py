"""The executor interface and the in-process backend.

A task is ``fn(*args)`` with ``fn`` a module-level function (so it pickles by
reference to a spawned process or a Ray worker) that takes and returns
JSON-like values and never raises: it reports its own failures in the dict
it returns. Every durable effect of a task is on disk in the output
directory, which is why a task can be rerun after its worker died and
resume from its checkpoint.

``submit`` queues a task under a ``tag`` and returns a handle;
``next_result`` blocks until some task finishes and returns
``(tag, result)``; ``as_completed`` yields those until nothing is pending;
``map`` runs a list of tasks and returns their results in order. When the
executor itself loses a task (its process died more often than
``max_task_retries`` allows) the result is :func:`error_result`.
"""

from __future__ import annotations

import collections
import itertools
from typing import (Any, Callable, Deque, Dict, Iterator, List, Optional,
                    Sequence, Tuple)

Task = Callable[..., Dict[str, Any]]


class ExecutorUnavailable(RuntimeError):
  """The backend cannot run here: Ray missing or unreachable, or an output
  directory the workers cannot share (the message says how to fix it)."""


def error_result(message: str) -> Dict[str, Any]:
  """What a lost task returns: the shape both study jobs and PBT members use
  for their own failures (``'error'`` key; ``status``/``score`` for PBT)."""
  return {"status": "error", "error": message, "score": 0.0}


class Executor:
  """Runs independent tasks; subclasses decide where (see module docstring).

  Subclasses implement ``_submit(handle, fn, args, resources, urgent)`` and
  ``_wait() -> (handle, result)``.
  """

  def __init__(self) -> None:
    self._ids = itertools.count()
    self._tags: Dict[int, Any] = {}

  # -- interface --------------------------------------------------------------
  def check_output_dir(self, path: str) -> None:
    """Fails clearly if workers cannot read and write ``path`` (a no-op on
    this machine's own processes)."""

  def submit(self, fn: Task, *args: Any, tag: Any = None,
             resources: Optional[Dict[str, float]] = None,
             urgent: bool = False) -> int:
    """Queues ``fn(*args)``; returns its handle. ``resources``
    ({'num_cpus': .., 'num_gpus': ..}) overrides the configured per-task
    request where the backend schedules by resources (Ray). ``urgent`` tasks
    start before queued ones where the backend keeps a queue."""
    handle = next(self._ids)
    self._tags[handle] = handle if tag is None else tag
    self._submit(handle, fn, args, resources, urgent)
    return handle

  def next_result(self) -> Tuple[Any, Dict[str, Any]]:
    """Blocks until a task finishes; returns ``(tag, result)``."""
    if not self._tags:
      raise RuntimeError("next_result: no task is pending")
    handle, result = self._wait()
    return self._tags.pop(handle), result

  def as_completed(self) -> Iterator[Tuple[Any, Dict[str, Any]]]:
    while self._tags:
      yield self.next_result()

  def map(self, fn: Task, tasks: Sequence[Any]) -> List[Dict[str, Any]]:
    """``[fn(t) for t in tasks]``, run in parallel where the backend can."""
    if self._tags:
      raise RuntimeError("map: other submitted tasks are still pending")
    handles = [self.submit(fn, t) for t in tasks]
    results: Dict[int, Dict[str, Any]] = {}
    while len(results) < len(handles):
      handle, result = self._wait()
      self._tags.pop(handle)
      results[handle] = result
    return [results[h] for h in handles]

  def __len__(self) -> int:
    """Tasks submitted and not yet returned."""
    return len(self._tags)

  def close(self, cancel: bool = False) -> None:
    """Releases the workers (``cancel``: drop tasks not yet started)."""

  def __enter__(self) -> "Executor":
    return self

  def __exit__(self, exc_type, *_) -> None:
    self.close(cancel=exc_type is not None)

  # -- backend ----------------------------------------------------------------
  def _submit(self, handle: int, fn: Task, args: Tuple[Any, ...],
              resources: Optional[Dict[str, float]], urgent: bool) -> None:
    raise NotImplementedError

  def _wait(self) -> Tuple[int, Dict[str, Any]]:
    raise NotImplementedError


def call_task(fn: Task, args: Tuple[Any, ...]) -> Dict[str, Any]:
  """Runs a task; an exception (a broken contract) becomes an error result
  instead of killing the worker or the driver."""
  try:
    return fn(*args)
  except Exception as e:  # noqa: BLE001 - reported, the run goes on
    import traceback
    return error_result(f"{type(e).__name__}: {e}\n"
                        f"{traceback.format_exc()[-4000:]}")


class QueuedExecutor(Executor):
  """An executor that keeps its own queue of tasks not yet started; an
  ``urgent`` task goes to its front."""

  def __init__(self) -> None:
    super().__init__()
    self._queue: Deque[Tuple[int, Task, Tuple[Any, ...]]] = (
        collections.deque())

  def _submit(self, handle, fn, args, resources, urgent):
    item = (handle, fn, args)
    if urgent:
      self._queue.appendleft(item)
    else:
      self._queue.append(item)


class InProcessExecutor(QueuedExecutor):
  """Runs tasks one at a time in this process, lazily: a task runs when its
  result is asked for, so progress is reported as each finishes and an
  ``urgent`` task (e.g. the UDR of a group that just became complete) runs
  before the queued ones."""

  def _wait(self):
    handle, fn, args = self._queue.popleft()
    return handle, call_task(fn, args)

  def close(self, cancel: bool = False) -> None:
    if cancel:
      self._queue.clear()
      self._tags.clear()
