"""What every worker process does before its first task (local pool and Ray).

TensorFlow reads its thread-pool sizes when its runtime starts, so they are
set (``TF_NUM_INTRAOP_THREADS``/``TF_NUM_INTEROP_THREADS``) before TensorFlow
is imported; GPUs are hidden or pinned through ``CUDA_VISIBLE_DEVICES`` then
too.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from typing import Dict, List, Optional

_IN_WORKER = False


def in_worker() -> bool:
  """True inside a pool or Ray worker process (see tfdis.study.jobs)."""
  return _IN_WORKER


def available_cores() -> int:
  try:
    return len(os.sched_getaffinity(0))
  except AttributeError:  # not on Linux
    return os.cpu_count() or 1


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


def configure_worker(threads: Optional[int], gpu: Optional[str] = "keep",
                     verbosity: Optional[int] = None) -> None:
  """Splits the CPU (``threads`` TensorFlow intra- and inter-op threads) and
  pins ``gpu`` ('' hides every GPU, 'keep' leaves CUDA_VISIBLE_DEVICES alone,
  as Ray sets it per task).

  Without the thread split every worker's TensorFlow would use all cores and
  N workers would oversubscribe the machine N-fold (environment.md: ~10
  steps/s on 2 threads; two workers x 2 threads on 2 cores are slower than
  one). Called again in a reused worker it is a no-op.
  """
  global _IN_WORKER
  _IN_WORKER = True
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
  if gpu != "keep" and "tensorflow" not in sys.modules:
    os.environ["CUDA_VISIBLE_DEVICES"] = "" if gpu is None else str(gpu)
  from tfdis.errors import quiet_tensorflow_info
  quiet_tensorflow_info()
  if verbosity is not None:
    from absl import logging
    logging.set_verbosity(verbosity)
  if threads and not pin_tf_threads(threads):
    # A reused worker whose TensorFlow an earlier task started with another
    # count; the count in effect is recorded with each model's results.
    from absl import logging
    logging.warning("This worker's TensorFlow already runs with %s threads; "
                    "%d were asked for", tf_threads(), int(threads))


def pin_tf_threads(threads: int) -> bool:
  """Sizes TensorFlow's intra- and inter-op thread pools of this process to
  ``threads``; True if that is the count in effect, False if TensorFlow's
  runtime already started with another one (its pools are fixed then).

  The count is part of what determines the numbers: a reduction split over
  another number of threads adds its floats in another order (README,
  'Reproducibility'), so the local and the Ray executor pin the same count
  for the same ``cpus_per_task``.
  """
  threads = max(1, int(threads))
  if "tensorflow" in sys.modules:  # imported by an earlier task or caller
    import tensorflow as tf
    try:
      tf.config.threading.set_intra_op_parallelism_threads(threads)
      tf.config.threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError:  # runtime already started: the sizes are fixed
      return tf_threads() == {"intra_op": threads, "inter_op": threads}
  # TensorFlow sizes its thread pools from these when its runtime starts
  # (measured: a 1500x1500 matmul loop uses ~0.36 CPU with 1 thread here
  # against ~1 without), so a worker need not import TensorFlow up front.
  os.environ["TF_NUM_INTRAOP_THREADS"] = str(threads)
  os.environ["TF_NUM_INTEROP_THREADS"] = str(threads)
  return True


def tf_threads() -> Dict[str, int]:
  """The sizes of this process's TensorFlow thread pools ({'intra_op': ..,
  'inter_op': ..}), as recorded with a model's or member's results: what was
  set, else the environment variables TensorFlow reads, else its default
  (one thread per core)."""
  import tensorflow as tf

  def resolve(configured: int, variable: str) -> int:
    if configured:
      return int(configured)
    value = os.environ.get(variable, "")
    return int(value) if value.isdigit() and int(value) > 0 else (
        available_cores())

  return {"intra_op": resolve(
              tf.config.threading.get_intra_op_parallelism_threads(),
              "TF_NUM_INTRAOP_THREADS"),
          "inter_op": resolve(
              tf.config.threading.get_inter_op_parallelism_threads(),
              "TF_NUM_INTEROP_THREADS")}
