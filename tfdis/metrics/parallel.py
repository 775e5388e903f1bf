"""Process scheduling of the per-factor fits (DCI, SAP, explicitness,
downstream task, fairness): how many processes, which fit first."""

from __future__ import annotations

from typing import Any, Callable, List, Optional, Sequence

import numpy as np


def usable_cores() -> int:
  """Cores this process may use: the CPU count limited by its affinity mask
  and a cgroup (container) CPU quota, as joblib counts them."""
  import joblib
  return max(1, int(joblib.cpu_count()))


def resolve_n_jobs(n_jobs: Optional[int]) -> int:
  """None or -1 -> every usable core; a positive int is taken as is."""
  cores = usable_cores()
  if n_jobs is None or int(n_jobs) == -1:
    return cores
  n_jobs = int(n_jobs)
  if n_jobs == 0:
    raise ValueError("n_jobs must be a positive int, -1 or None (all cores)")
  return max(1, cores + 1 + n_jobs) if n_jobs < 0 else n_jobs


def classifier_cost(y_train) -> int:
  """Relative cost of fitting a classifier to ``y_train``: samples times
  outputs (a GBT grows one tree per class and stage, one for two classes;
  one-vs-rest and softmax fits scale alike). Only orders the fits."""
  num_classes = len(np.unique(y_train))
  return len(y_train) * (num_classes if num_classes > 2 else 1)


# A few unequal fits may run as up to this many processes per core, when
# their total ``classifier_cost`` reaches TIME_SHARED_MIN_COST (samples x
# classes: 10000 x 20 is about a minute of GBT fits on one core here; below,
# starting more processes costs more than the idle core).
MAX_PROCESSES_PER_CORE = 4
TIME_SHARED_MIN_COST = 200_000


def longest_first_makespan(costs: Sequence[float], workers: int) -> float:
  """Finish time of ``costs`` dealt largest first to the least-loaded of
  ``workers`` (each worker runs its fits one after the other)."""
  loads = [0.0] * max(1, int(workers))
  for cost in sorted((float(c) for c in costs), reverse=True):
    loads[loads.index(min(loads))] += cost
  return max(loads)


def _num_workers(n_jobs: Optional[int], costs, num_tasks: int) -> int:
  """Processes for ``num_tasks`` fits; see :func:`parallel_map`."""
  cores = resolve_n_jobs(n_jobs)
  workers = min(cores, num_tasks)
  if (n_jobs is None and costs is not None and workers > 1 and
      num_tasks <= MAX_PROCESSES_PER_CORE * cores and
      sum(costs) >= TIME_SHARED_MIN_COST):
    shared = max(sum(costs) / cores, max(costs))
    if longest_first_makespan(costs, cores) > 1.1 * shared:
      workers = num_tasks
  return workers


def parallel_map(fn: Callable, args_list: Sequence[tuple],
                 n_jobs: Optional[int] = None,
                 costs: Optional[Sequence[float]] = None) -> List[Any]:
  """``[fn(*args) for args in args_list]``, in parallel processes (joblib).

  The per-factor fits of DCI, SAP, explicitness, downstream and fairness are
  independent; scikit-learn's GBT holds the GIL between trees, so processes
  (loky) rather than threads. Results come back in input order, and every
  fit has its own fixed seed, so scores do not depend on ``n_jobs``.

  ``costs`` (one per task, any scale): the tasks start largest first. A
  handful of long fits on a few cores finish when the last long one does, so
  it must not wait behind short ones (the longest-processing-time-first
  rule; e.g. DCI on dSprites: fits of 3, 6, 40, 32, 32 classes). Each task is
  its own batch, so that order is the order in which workers pick them up.

  With ``n_jobs=None`` and a few long, unequal fits that cannot be dealt
  evenly to the cores (e.g. DCI's 40- and 32-class fits on 2 cores: one core
  idles while the last long fit runs), every fit gets its own process (at
  most ``MAX_PROCESSES_PER_CORE`` per core, only from ``TIME_SHARED_MIN_COST``
  of work on) and the operating system shares the cores among them, so the
  work ends at about max(total / cores, longest fit) instead of the
  longest-first schedule's finish time.
  """
  args_list = list(args_list)
  if costs is not None and len(costs) != len(args_list):
    raise ValueError(f"parallel_map: {len(costs)} costs for "
                     f"{len(args_list)} tasks")
  workers = _num_workers(n_jobs, costs, len(args_list))
  if workers <= 1:
    return [fn(*args) for args in args_list]
  import joblib
  order = list(range(len(args_list)))
  if costs is not None:
    order.sort(key=lambda t: -float(costs[t]))  # stable: ties keep order
  results = joblib.Parallel(n_jobs=workers, batch_size=1)(
      joblib.delayed(fn)(*args_list[t]) for t in order)
  out: List[Any] = [None] * len(args_list)
  for t, result in zip(order, results):
    out[t] = result
  return out
