"""absl flags of the execution layer, shared by tfdis_study and tfdis_pbt."""

from __future__ import annotations

from absl import app
from absl import flags

from tfdis.execution.config import EXECUTORS, ExecutionConfig


def define_flags() -> None:
  """--executor, --ray_address, --cpus_per_task, --gpus_per_task."""
  flags.DEFINE_enum(
      "executor", "local", list(EXECUTORS),
      "Where tasks run: 'local' (--num_workers processes on this machine) "
      "or 'ray' (one Ray task per model/member; see README 'Running on a "
      "cluster').")
  flags.DEFINE_string(
      "ray_address", None,
      "With --executor=ray: empty starts Ray on this machine, 'auto' joins "
      "this node's cluster, 'host:port' the cluster whose head is there. The "
      "output directory must be on storage every node sees.")
  flags.DEFINE_float(
      "cpus_per_task", None,
      "CPUs per task (Ray request and TensorFlow threads). Default: Ray 1, "
      "local the cores split between --num_workers.")
  flags.DEFINE_float(
      "gpus_per_task", None,
      "GPUs per Ray task (fractions such as 0.5 share a GPU). Default: Ray "
      "0, local one GPU per worker round-robin; 0 hides the GPUs.")


def config_from_flags(num_workers: int) -> ExecutionConfig:
  """The validated ExecutionConfig of the flags (a UsageError if invalid)."""
  fl = flags.FLAGS
  config = ExecutionConfig(
      executor=fl.executor, num_workers=int(num_workers),
      ray_address=fl.ray_address, cpus_per_task=fl.cpus_per_task,
      gpus_per_task=fl.gpus_per_task)
  try:
    return config.validate()
  except ValueError as e:
    raise app.UsageError(str(e).replace("ExecutionConfig: ", "--")) from None
