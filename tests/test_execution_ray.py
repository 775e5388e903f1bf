"""The Ray backend on a local Ray instance of 2 CPUs (issue: scale out on Ray).

A tiny study and a tiny PBT population run with the local process pool and
with Ray, same seeds and ``cpus_per_task=1`` (one TensorFlow intra- and
inter-op thread per task in both), and must give bit-identical scores; a Ray
worker SIGKILLed mid-task is retried, resumes from its checkpoint and the
study completes every model exactly once; an unusable output directory is
refused at start. One Ray instance, one local pool and one Ray executor serve
every test (TensorFlow is imported once per worker process).
"""

import glob
import json
import os
import signal
import subprocess
import sys

import pytest

ray = pytest.importorskip("ray")  # the test target installs tfdis[ray]

from tfdis.execution import ExecutionConfig, LocalExecutor  # noqa: E402
from tfdis.execution.ray_executor import (RayExecutor,  # noqa: E402
                                          SharedStorageError)
from tfdis.study import jobs  # noqa: E402

THREADS = {"intra_op": 1, "inter_op": 1}  # cpus_per_task=1 in both
SWEEP = {"beta_vae": [{"beta": 4.0}]}
STUDY = dict(steps=10, seeds=2, sweep=SWEEP, train={"batch_size": 16},
             metrics=["mig"], metric_params={"mig": {"num_train": 500}},
             udr_num_data_points=200, visualize=False)
# One beta and one initial batch size and learning rate: every worker builds
# and traces one model (beta is part of the built model; the traced step
# takes any batch size), exploit and explore still run.
PBT = dict(dataset="procedural_dsprites_small", model="beta_vae",
           latent_dim=4, hyperparameters={"beta": 4.0},
           evolve=("learning_rate", "batch_size"), hyperparameter_space={
               "learning_rate": {"initial_values": [1e-3], "low": 1e-6,
                                 "high": 1.0},
               "batch_size": {"initial_values": [16], "low": 8,
                              "high": 1024, "kind": "int"}},
           eval="mig", mig_num_train=300, population_size=2,
           max_generations=2, interval_steps=5,
           export_every_generation=False, seed=3)
VICTIM = "beta_vae-beta=4-seed=1"


def interrupt_once(marker, kill, fn, job, *args):
  """The first attempt trains the model for half its steps (leaving a
  checkpoint) and records itself in ``marker``; with ``kill`` it then
  SIGKILLs its own worker process (the executor must rerun the task), else it
  goes on. Either way the real job then resumes from that checkpoint, so
  both executors' VICTIM follow the same path (a resumed run draws its data
  order from the resume step: README, 'Reproducibility')."""
  if not os.path.exists(marker):
    from tfdis.training import train

    half = dict(job, train=dict(job["train"], steps=job["train"]["steps"] // 2))
    train(jobs.train_config(half))
    open(marker, "w").close()
    if kill:
      os.kill(os.getpid(), signal.SIGKILL)
  return fn(job, *args)


class InterruptVictimOnce:
  """Executor mixin: the VICTIM model job runs through interrupt_once."""

  def __init__(self, marker, kill, *args, **kwargs):
    super().__init__(*args, **kwargs)
    self.marker, self.kill = marker, kill

  def submit(self, fn, *args, **kwargs):
    if fn is jobs.run_model_job and args[0]["model_id"] == VICTIM:
      return super().submit(interrupt_once, self.marker, self.kill, fn,
                            *args, **kwargs)
    return super().submit(fn, *args, **kwargs)


class InterruptingLocalExecutor(InterruptVictimOnce, LocalExecutor):
  pass


class KillingRayExecutor(InterruptVictimOnce, RayExecutor):
  pass


@pytest.fixture(scope="module")
def executors(tmp_path_factory):
  """A local Ray instance of 2 CPUs and both executors at cpus_per_task=1."""
  root = tmp_path_factory.mktemp("markers")
  # Task functions of this module reach the Ray workers by value.
  ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
  ray.init(num_cpus=2, include_dashboard=False, logging_level="error",
           log_to_driver=False)
  config = ExecutionConfig(num_workers=2, cpus_per_task=1).validate()
  local = InterruptingLocalExecutor(
      str(root / "interrupted_local"), False, config.num_workers,
      threads=config.task_threads(), gpus=[])
  remote = KillingRayExecutor(str(root / "killed_ray"), True,
                              cpus_per_task=config.cpus_per_task,
                              max_task_retries=2)
  try:
    yield {"local": local, "ray": remote}
  finally:
    local.close()
    remote.close()
    ray.shutdown()


def _mig_scores(out):
  scores = {}
  for path in sorted(glob.glob(os.path.join(out, "*", "metrics", "mean",
                                            "mig.json"))):
    scores[path.split(os.sep)[-4]] = json.load(open(path))["scores"]
  return scores


@pytest.fixture(scope="module")
def studies(tmp_path_factory, executors):
  """The same tiny study with the local pool and with Ray; in both the
  second model is interrupted at half its steps (on Ray: its worker is
  killed)."""
  from tfdis.study import run_study

  root = tmp_path_factory.mktemp("studies")
  out = {}
  for name in ("local", "ray"):
    out[name + "_out"] = str(root / name)
    out[name] = run_study("quickstart", out[name + "_out"], aggregate=False,
                          executor=executors[name], **STUDY)
  out["ray_marker"] = executors["ray"].marker
  return out


def test_ray_study_survives_a_killed_worker(studies):
  remote, out = studies["ray"], studies["ray_out"]
  assert os.path.exists(studies["ray_marker"])  # the victim's worker died
  assert remote["failed"] == {} and remote["udr"] and all(
      isinstance(v, dict) for v in remote["udr"].values())
  # Every model completed exactly once, to its step budget.
  assert remote["completed"] == remote["num_models"] == 2
  assert sorted(_mig_scores(out)) == ["beta_vae-beta=4-seed=0", VICTIM]
  for model in _mig_scores(out):
    train = json.load(open(os.path.join(out, model, "results", "train.json")))
    assert train["steps"] == 10
    # The victim resumed from the checkpoint its killed attempt left.
    assert train["start_step"] == (5 if model == VICTIM else 0)
    marker = json.load(open(os.path.join(out, model, jobs.MARKER)))
    assert marker["tf_threads"] == THREADS
  from tfdis.study import run_study  # rerun: nothing left to do
  again = run_study("quickstart", out, aggregate=False,
                    executor=ExecutionConfig(executor="ray"), **STUDY)
  assert again["skipped"] == 2 and again["completed"] == 0


def test_ray_study_scores_match_local(studies):
  local = studies["local"]
  assert local["failed"] == {} and local["completed"] == 2
  marker = os.path.join(studies["local_out"], VICTIM, jobs.MARKER)
  assert json.load(open(marker))["tf_threads"] == THREADS
  # Bit-identical: the same floats, not merely close ones.
  assert _mig_scores(studies["ray_out"]) == _mig_scores(studies["local_out"])
  assert list(studies["ray"]["udr"].values()) == list(local["udr"].values())


def test_pbt_ray_matches_local(tmp_path, executors):
  from tfdis.pbt import PBTConfig, run_pbt

  runs = {}
  for name in ("local", "ray"):
    runs[name] = run_pbt(PBTConfig(output_dir=str(tmp_path / name), **PBT),
                         executor=executors[name])
  local, remote = runs["local"], runs["ray"]
  assert local["failures"] == remote["failures"] == []
  assert os.path.isdir(remote["best_saved_model"])
  assert len(remote["best_scores"]) == len(local["best_scores"]) == 2
  assert remote["best_members"] == local["best_members"]
  assert remote["best_scores"] == local["best_scores"]
  members = {}
  for name in ("local", "ray"):
    for path in sorted(glob.glob(str(tmp_path / name / "members" / "*" /
                                     "member.json"))):
      member = json.load(open(path))
      assert member["tf_threads"] == {"1": THREADS, "2": THREADS}
      members.setdefault(name, []).append(
          (member["id"], member["scores"], member["hyperparameters"],
           member["parents"]))
  # Every member's scores, explored hyperparameters and lineage, not only
  # the best's.
  assert len(members["ray"]) == 2 and members["ray"] == members["local"]


def test_ray_probes_the_output_dir(tmp_path, executors):
  """One probe task per node must read the driver's file and write one the
  driver reads (here: one node); an unusable directory is refused at start."""
  blocker = tmp_path / "a_file"
  blocker.write_text("not a directory")
  executor = executors["ray"]
  executor.check_output_dir(str(tmp_path / "shared"))  # passes
  assert os.listdir(tmp_path / "shared") == []  # probe files removed
  with pytest.raises(SharedStorageError, match="cannot write"):
    executor.check_output_dir(str(blocker / "out"))
