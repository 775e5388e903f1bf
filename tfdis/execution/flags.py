"""absl flags of the execution layer (generated from ExecutionConfig's
fields), shared by tfdis_study, tfdis_pbt and tfdis_rpu."""

from __future__ import annotations

from absl import flags

from tfdis.execution.config import ExecutionConfig


def define_flags() -> None:
  """--executor, --ray_address, --cpus_per_task, --gpus_per_task,
  --max_task_retries (num_workers is the binary's own flag)."""
  from tfdis import config_flags

  config_flags.define_config_flags(ExecutionConfig)


def config_from_flags(num_workers: int) -> ExecutionConfig:
  """The validated ExecutionConfig of the flags."""
  from tfdis import config_flags
  from tfdis.execution.config import ExecutionConfigError

  try:
    return config_flags.config_from_flags(
        ExecutionConfig, num_workers=int(num_workers)).validate()
  except ExecutionConfigError as e:  # name the flags, not the fields
    raise ExecutionConfigError(str(e).replace("ExecutionConfig: ", "--")
                               ) from None
