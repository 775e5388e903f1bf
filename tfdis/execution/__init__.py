"""The execution layer: where studies and PBT populations run their tasks.

One interface (:class:`Executor`: ``submit``/``next_result``/
``as_completed``/``map``/``close``) and three backends chosen by
:class:`ExecutionConfig`: in this process (``executor='local'``,
``num_workers=1``), a local pool of spawned processes that splits the CPU
threads and pins GPUs (:class:`LocalExecutor`), and Ray
(:class:`~tfdis.execution.ray_executor.RayExecutor`, imported lazily).
Studies (``tfdis.study``) and PBT (``tfdis.pbt``, hence rPU) use only this
interface; results, idempotence and resume do not depend on the backend.
``cpus_per_task`` pins the same TensorFlow thread count (intra- and inter-op)
in all three, and training is bit-reproducible at a fixed count, so the same
seeds give the same scores with either executor.
"""

from __future__ import annotations

from typing import Any, Dict, Optional, Tuple, Union

from tfdis.execution.base import (Executor, ExecutorUnavailable,
                                  InProcessExecutor, call_task, error_result)
from tfdis.execution.config import (EXECUTORS, ExecutionConfig,
                                    ExecutionConfigError)
from tfdis.execution.local import LocalExecutor
from tfdis.execution.worker import (available_cores, detect_gpus, in_worker,
                                    pin_tf_threads, tf_threads)

__all__ = ["EXECUTORS", "ExecutionConfig", "ExecutionConfigError",
           "Executor", "ExecutorUnavailable", "InProcessExecutor",
           "LocalExecutor", "available_cores", "call_task", "detect_gpus", "error_result", "in_worker",
           "make_executor", "open_executor", "preflight", "pin_tf_threads", "tf_threads"]


def make_executor(config: ExecutionConfig, max_tasks: Optional[int] = None,
                  verbosity: Optional[int] = None) -> Executor:
  """The backend ``config`` asks for. ``max_tasks`` (tasks known to be
  pending) caps the local pool so no idle worker imports TensorFlow."""
  config.validate()
  if config.executor == "ray":
    from tfdis.execution.ray_executor import RayExecutor
    return RayExecutor(config.ray_address, config.cpus_per_task,
                       config.gpus_per_task, config.max_task_retries,
                       verbosity, config.ray_allow_unauthenticated_cluster,
                       config.ray_connect_timeout_s)
  workers = config.num_workers
  if max_tasks is not None:
    workers = min(workers, max(1, int(max_tasks)))
  threads = config.task_threads()
  if workers == 1:
    if threads is None or pin_tf_threads(threads):
      return InProcessExecutor()
    # This process's TensorFlow already runs with another thread count (its
    # pools are fixed once started): one fresh worker process keeps the
    # requested count, hence the same numbers as Ray.
    from absl import logging
    logging.info("TensorFlow in this process runs with %s threads; "
                 "cpus_per_task=%s: the tasks run in one worker process",
                 tf_threads(), config.cpus_per_task)
  gpus = [] if config.gpus_per_task == 0 else None
  return LocalExecutor(workers, threads=threads, gpus=gpus,
                       max_task_retries=config.max_task_retries,
                       verbosity=verbosity)


def open_executor(executor: Union[Executor, ExecutionConfig, None],
                  num_workers: int = 1, max_tasks: Optional[int] = None,
                  verbosity: Optional[int] = None
                  ) -> Tuple[Executor, bool]:
  """``(executor, owned)`` for an Executor, an ExecutionConfig or None (a
  local one with ``num_workers``); ``owned``: the caller must close it."""
  if isinstance(executor, Executor):
    return executor, False
  config = executor or ExecutionConfig(num_workers=int(num_workers))
  if not isinstance(config, ExecutionConfig):
    raise TypeError(f"executor must be an Executor, an ExecutionConfig or "
                    f"None, got {type(executor).__name__}")
  return make_executor(config, max_tasks, verbosity), True


def preflight(executor: Union[Executor, ExecutionConfig, None]
              ) -> Dict[str, Any]:
  """The checks a run makes before writing anything, and what it records
  about where it runs: for an ExecutionConfig joining a Ray cluster, the
  token-authentication refusal and the bounded connect check
  (:meth:`ExecutionConfig.check_ray_cluster`); a running Executor reports
  its own ``record``."""
  if isinstance(executor, Executor):
    return dict(getattr(executor, "record", None) or
                {"executor": type(executor).__name__})
  if executor is None:
    return {"executor": "local"}
  record: Dict[str, Any] = {"executor": executor.executor}
  record.update(executor.check_ray_cluster())
  return record
