"""ExecutionConfig: where the tasks of a study or PBT population run."""

from __future__ import annotations

import dataclasses
from typing import Any, Dict, Optional

from tfdis.checks import is_int, is_number
from tfdis.registry import check_choice
from tfdis.specs import ConfigError, Spec, spec_field

EXECUTORS = ("local", "ray")


def threads_for_cpus(cpus: float) -> int:
  """TensorFlow threads of a task given ``cpus``: the whole part, at least 1
  (the one rule of every backend, so equal settings mean equal counts)."""
  return max(1, int(cpus))


# The longest --ray_connect_timeout_s accepted (one day).
MAX_CONNECT_TIMEOUT_S = 86400.0


class ExecutionConfigError(ConfigError):
  """An ExecutionConfig field is invalid (the message says how to fix it)."""


@dataclasses.dataclass
class ExecutionConfig(Spec):
  """Settings of the execution layer (``tfdis.execution``).

  executor: ``local`` (this machine: in-process for ``num_workers=1``, else a
    pool of ``num_workers`` spawned processes) or ``ray`` (one Ray task per
    model, member or evaluation).
  num_workers: local processes; ignored by Ray, whose concurrency is the
    cluster's CPUs/GPUs divided by the per-task requests.
  ray_address: ``None``/``''`` starts a Ray instance on this machine,
    ``'auto'`` joins the cluster this node belongs to, ``'host:port'`` joins
    the cluster whose head listens there.
  cpus_per_task: CPUs a task requests from Ray and the TensorFlow intra- and
    inter-op threads it runs with (its whole part, at least 1) in every
    backend: Ray tasks, local pool workers and the in-process run
    (``num_workers=1``). Training is bit-reproducible only at a fixed thread
    count, so the same value gives the same numbers with ``local`` and
    ``ray``. ``None``: Ray 1; a local pool the cores divided evenly between
    the workers; in-process TensorFlow's default (every core).
  gpus_per_task: GPUs a Ray task requests (fractional values such as 0.5 share
    a GPU between tasks). ``None``: Ray 0; local: every worker is pinned to one
    GPU round-robin through ``CUDA_VISIBLE_DEVICES``. ``0`` hides the GPUs
    from local workers.
  ray_allow_unauthenticated_cluster: a RISK opt-out. Joining a cluster
    (``ray_address`` 'auto' or 'host:port') is refused when token
    authentication is disabled in this process (``RAY_AUTH_MODE`` is not
    'token'): an unauthenticated Ray cluster runs code for anyone who reaches
    its ports. True lets a cluster whose ports are firewalled to trusted
    hosts through; the run records it (``tfdis.execution.ray_security``).
  ray_connect_timeout_s: how long joining a cluster may wait for its GCS to
    answer (and accept the token) before the run ends with one message.
  max_task_retries: how often a task whose worker process died (killed, OOM,
    segfault, lost node) is rerun; it resumes from its checkpoint. A task
    that still fails comes back as an error result and the rest goes on.
    Ray's own default is 3. Errors the task reports itself are not retried.
  """

  executor: str = spec_field(
      "local", "Where tasks run: 'local' (--num_workers processes on this "
      "machine) or 'ray' (one Ray task per model/member; see "
      "docs/cluster.md).")
  num_workers: int = spec_field(1, "Local worker processes.", flag=False)
  ray_address: Optional[str] = spec_field(
      None, "With --executor=ray: empty starts Ray on this machine, 'auto' "
      "joins this node's cluster, 'host:port' the cluster whose head is "
      "there. The output directory must be on storage every node sees.")
  ray_allow_unauthenticated_cluster: bool = spec_field(
      False, "RISK: with --executor=ray and a --ray_address that joins a "
      "cluster, run even though token authentication is disabled in this "
      "process (RAY_AUTH_MODE is not 'token'), so anyone who can reach the "
      "cluster's ports can run code on it. Only for a cluster firewalled to "
      "trusted hosts; recorded in study.json / results.json. See "
      "docs/cluster.md.")
  ray_connect_timeout_s: float = spec_field(
      30.0, "With --executor=ray and a --ray_address that joins a cluster: "
      "seconds to wait for its head to answer and accept the token before "
      "giving up with one message.")
  cpus_per_task: Optional[float] = spec_field(
      None, "CPUs per task: the Ray request and the TensorFlow intra- and "
      "inter-op threads of every task with either executor (in-process "
      "too), so local and Ray runs give the same numbers at the same value. "
      "Default: Ray 1, local the cores split between --num_workers "
      "(in-process: TensorFlow's default).")
  gpus_per_task: Optional[float] = spec_field(
      None, "GPUs per Ray task (fractions such as 0.5 share a GPU). "
      "Default: Ray 0, local one GPU per worker round-robin; 0 hides the "
      "GPUs.")
  max_task_retries: int = spec_field(
      3, "Reruns of a task whose worker process died (it resumes from its "
      "checkpoint).")

  def task_threads(self) -> Optional[int]:
    """TensorFlow threads per task (None: ``cpus_per_task`` unset, each
    backend's default)."""
    if self.cpus_per_task is None:
      return None
    return threads_for_cpus(self.cpus_per_task)

  def validate(self) -> "ExecutionConfig":
    return Spec.validate(self)

  def _check(self) -> "ExecutionConfig":
    def need(cond: bool, msg: str) -> None:
      if not cond:
        raise ExecutionConfigError(f"ExecutionConfig: {msg}")

    check_choice("executor", self.executor, EXECUTORS,
                 error=ExecutionConfigError)
    need(is_int(self.num_workers, 1),
         f"num_workers must be an integer >= 1, got {self.num_workers!r}")
    need(self.ray_address is None or isinstance(self.ray_address, str),
         f"ray_address must be '', 'auto' or 'host:port', got "
         f"{self.ray_address!r}")
    address = (self.ray_address or "").strip()
    if address and address != "auto" and not address.startswith("ray://"):
      host, _, port = address.rpartition(":")
      need(bool(host) and port.isdigit(),
           f"ray_address must be '' (start Ray here), 'auto' (join this "
           f"node's cluster) or 'host:port', got {self.ray_address!r}")
    need(not address or self.executor == "ray",
         f"ray_address={self.ray_address!r} needs executor='ray' "
         f"(got executor={self.executor!r})")
    need(isinstance(self.ray_allow_unauthenticated_cluster, bool),
         f"ray_allow_unauthenticated_cluster must be true or false, got "
         f"{self.ray_allow_unauthenticated_cluster!r}")
    # Bounded above: the point of the flag is a bounded wait (a day at most).
    need(is_number(self.ray_connect_timeout_s)
         and 0 < self.ray_connect_timeout_s <= MAX_CONNECT_TIMEOUT_S,
         f"ray_connect_timeout_s must be a number of seconds in (0, "
         f"{MAX_CONNECT_TIMEOUT_S:g}], got "
         f"{self.ray_connect_timeout_s!r}")
    need(self.cpus_per_task is None or (is_number(self.cpus_per_task) and
                                        self.cpus_per_task > 0),
         f"cpus_per_task must be > 0 (or unset), got {self.cpus_per_task!r}")
    need(self.gpus_per_task is None or (is_number(self.gpus_per_task) and
                                        self.gpus_per_task >= 0),
         f"gpus_per_task must be >= 0 (fractions share a GPU) or unset, got "
         f"{self.gpus_per_task!r}")
    if self.gpus_per_task is not None and self.gpus_per_task > 1:
      need(float(self.gpus_per_task).is_integer(),
           f"gpus_per_task above 1 must be a whole number (Ray refuses "
           f"{self.gpus_per_task})")
    need(is_int(self.max_task_retries, 0),
         f"max_task_retries must be an integer >= 0, got "
         f"{self.max_task_retries!r}")
    return self

  def check_ray_cluster(self) -> Dict[str, Any]:
    """Before anything is written: with executor='ray' joining a cluster,
    refuses it when token authentication is disabled here (unless
    ``ray_allow_unauthenticated_cluster``; no connection is made for the
    refusal), then checks within ``ray_connect_timeout_s`` that the cluster
    answers and accepts the token. Returns the run's record of it (no
    token); {} for other executors. Raises a UserError with one message."""
    self.validate()
    if self.executor != "ray":
      return {}
    from tfdis.execution import ray_security

    record = ray_security.check_join(self.ray_address,
                                     self.ray_allow_unauthenticated_cluster)
    if record["joins_cluster"] and not self.ray_address.strip().startswith(
        "ray://"):  # Ray Client addresses are not a GCS
      ray_security.probe_cluster(self.ray_address, self.ray_connect_timeout_s)
    return record
