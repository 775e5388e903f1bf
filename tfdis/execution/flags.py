"""absl flags of the execution layer (generated from ExecutionConfig's
fields), shared by tfdis_study, tfdis_pbt and tfdis_rpu."""

from __future__ import annotations

from absl import flags

from tfdis.execution.config import ExecutionConfig


def define_flags() -> None:
  """--executor, --ray_address, --ray_allow_unauthenticated_cluster,
  --ray_connect_timeout_s, --cpus_per_task, --gpus_per_task,
  --max_task_retries (num_workers is the binary's own flag)."""
  from tfdis import config_flags

  config_flags.define_config_flags(ExecutionConfig)


def config_from_flags(num_workers: int) -> ExecutionConfig:
  """The validated ExecutionConfig of the flags. Joining a Ray cluster with
  token authentication disabled here is refused now, before the binary
  imports TensorFlow or writes anything (the library repeats the check, and
  adds the connect check, before its first write)."""
  from tfdis import config_flags
  from tfdis.execution.config import ExecutionConfigError

  try:
    config = config_flags.config_from_flags(
        ExecutionConfig, num_workers=int(num_workers)).validate()
  except ExecutionConfigError as e:  # name the flags, not the fields
    raise ExecutionConfigError(str(e).replace("ExecutionConfig: ", "--")
                               ) from None
  if config.executor == "ray":
    from tfdis.execution import ray_security

    ray_security.check_join(config.ray_address,
                            config.ray_allow_unauthenticated_cluster,
                            warn=False)
  return config
