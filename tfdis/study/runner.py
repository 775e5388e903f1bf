"""``run_study``: a whole sweep, idempotent and parallel, ending in a report.

Order of work: every model job (train → export → evaluate → visualise) is
queued; as soon as all models of a (dataset, family) group exist its UDR runs
(one job per UDR setting); at the end ``tfdis.results.aggregate`` writes
results.csv, plots and report.html. Jobs run through ``tfdis.execution``:
``num_workers`` > 1 runs them in that many ``spawn``ed processes (TensorFlow
is not fork-safe), each with an equal share of the CPU cores; 1 runs
everything in this process; an ExecutionConfig with ``executor='ray'`` makes
every model and UDR group a Ray task. The backend decides where jobs run,
not what they compute or write.

A killed study is simply rerun: finished models are recognised by their
marker and skipped without loading TensorFlow; a half-trained model resumes
from its checkpoint; a model with missing metrics only computes those.
"""

from __future__ import annotations

import dataclasses
import os
import time
from typing import Any, Dict, List, Optional, Tuple, Union

from absl import logging

from tfdis import io_utils, rundir
from tfdis.errors import UserError
from tfdis.execution import (ExecutionConfig, Executor, available_cores,
                             open_executor, preflight)
from tfdis.study import jobs as J
from tfdis.study.presets import get_study
from tfdis.study.progress import StudyProgress, format_duration
from tfdis.study.spec import ModelJob, StudySpec, UDRSettings

STUDY_JSON = "study.json"


__all__ = ["available_cores", "run_study", "udr_groups"]


def _validate(spec: StudySpec, jobs: List[ModelJob]) -> None:
  """Fails before any training if a name or hyperparameter is wrong."""
  import tfdis.metrics  # noqa: F401  (registers the metrics)
  from tfdis.data import DATASETS
  from tfdis.registry import METRICS

  for dataset in spec.datasets:
    DATASETS.validate(dataset)
  for metric in spec.metrics:
    METRICS.validate(metric)
  seen = set()
  for job in jobs:  # one TrainConfig per family checks hyperparameter names
    if job.model not in seen:
      seen.add(job.model)
      J.train_config(job.to_json())


def udr_groups(spec: StudySpec, jobs: List[ModelJob], output_dir: str
               ) -> List[Tuple[str, UDRSettings, List[ModelJob]]]:
  """(udr output dir, settings, models) per (dataset, family, UDR setting)."""
  groups = []
  for settings in spec.udr:
    for dataset in spec.datasets:
      for family in spec.sweep:
        members = [j for j in jobs if j.dataset == dataset
                   and j.model == family]
        if settings.max_seeds is not None:
          keep = sorted(spec.seeds)[:settings.max_seeds]
          members = [j for j in members if j.seed in keep]
        groups.append((spec.udr_dir(output_dir, dataset, family, settings),
                       settings, members))
  return groups


def _udr_skip_reason(settings: UDRSettings, members: List[ModelJob]
                     ) -> Optional[str]:
  if len(members) < 2:
    return f"needs >= 2 models, has {len(members)}"
  if settings.mode == "hyper":
    per_setting: Dict[str, int] = {}
    for j in members:
      key = repr(sorted(j.hyperparameters.items()))
      per_setting[key] = per_setting.get(key, 0) + 1
    if max(per_setting.values()) < 2:
      return ("hyper mode compares seeds of the same setting, but every "
              "setting has one seed (use more seeds or mode='a2a')")
  return None


def _stored_spec(manifest: Dict[str, Any]) -> Optional[StudySpec]:
  """The StudySpec a study.json describes (written by any version: fields
  it predates take their defaults), or None if it cannot be read."""
  try:
    return StudySpec.from_dict(manifest.get("study"))
  except (ValueError, TypeError, UserError):
    return None


def _write_manifest(path: str, spec: StudySpec, jobs: List[ModelJob],
                    output_dir: str, num_workers: int,
                    execution: Dict[str, Any]) -> None:
  previous = None
  if os.path.isfile(path):
    try:
      previous = io_utils.read_json(path)
    except ValueError:
      previous = None
  manifest = {
      "study": spec.to_json(),
      "output_dir": os.path.abspath(output_dir),
      "num_workers": num_workers,
      # Where it ran; for Ray, how it was authenticated (an opt-out of
      # token authentication is recorded here).
      "execution": execution,
      "models": [dict(j.to_json(),
                      model_dir=os.path.relpath(j.model_dir, output_dir),
                      experiment_dir=os.path.relpath(j.experiment_dir,
                                                     output_dir))
                 for j in jobs],
      "versions": io_utils.library_versions(),
      "updated": time.strftime("%Y-%m-%dT%H:%M:%S"),
  }
  if previous and _stored_spec(previous) != spec:
    logging.warning(
        "%s described a different sweep; it is replaced. Models already "
        "trained keep their checkpoints: a larger --steps trains them on, a "
        "changed metric list evaluates only the missing metrics.", path)
  io_utils.write_json(path, manifest)


def run_study(name: Union[str, StudySpec], output_dir: str,
              num_workers: int = 1, overwrite: bool = False,
              aggregate: bool = True,
              executor: Union[Executor, ExecutionConfig, None] = None,
              **overrides: Any) -> Dict[str, Any]:
  """Runs (or resumes) a study; see the module docstring.

  Args:
    name: a preset name (``tfdis.study.study_names()``) or a StudySpec.
    output_dir: the study root (``runs/<name>`` by convention).
    num_workers: parallel local processes (1 = in this process); used when
      ``executor`` is None.
    overwrite: recompute metrics, visualisations and UDR of models that have
      them (trained checkpoints and SavedModels are never deleted: remove a
      model directory to retrain it).
    aggregate: write results.csv, plots and report.html at the end.
    executor: an ExecutionConfig (e.g. ``executor='ray'``) or a running
      :class:`tfdis.execution.Executor` (not closed here).
    **overrides: see :func:`tfdis.study.get_study` (steps, seeds, sweep, ...).

  Returns:
    dict with ``output_dir``, ``num_models``, ``completed``, ``skipped``,
    ``failed`` ({model_id: error}), ``udr`` ({dir: scores or error}),
    ``results_csv``, ``report`` and ``wall_s``.
  """
  if int(num_workers) < 1:
    raise ValueError(f"num_workers must be >= 1, got {num_workers}")
  num_workers = int(num_workers)
  if isinstance(executor, ExecutionConfig):
    executor.validate()
    num_workers = executor.num_workers
  if isinstance(name, StudySpec):
    if overrides:
      raise TypeError("overrides apply to preset names, not to a StudySpec "
                      "(use dataclasses.replace on the spec)")
    spec = name
  else:
    spec = get_study(name, **overrides)
  output_dir = os.path.abspath(os.fspath(output_dir))
  jobs = spec.resolve(output_dir)
  _validate(spec, jobs)
  # Refusals (an unauthenticated Ray cluster, one that does not answer or
  # rejects the token) come before anything is written.
  execution = preflight(executor)
  os.makedirs(output_dir, exist_ok=True)
  # One study process per root; models inside are locked by tfdis_train.
  with rundir.RunLock(output_dir, "tfdis_study"):
    rundir.clean_stale_temporaries(output_dir)
    return _run_locked(spec, jobs, output_dir, num_workers, overwrite,
                       aggregate, executor, execution)


def _run_locked(spec, jobs, output_dir, num_workers, overwrite, aggregate,
                executor, execution) -> Dict[str, Any]:
  _write_manifest(os.path.join(output_dir, STUDY_JSON), spec, jobs,
                  output_dir, num_workers, execution)
  spec_json = io_utils.to_jsonable(dataclasses.asdict(spec))
  start = time.monotonic()
  logging.info("Study %s: %d models (%s) -> %s", spec.name, len(jobs),
               ", ".join(f"{k}: {len(v)} settings" for k, v in
                         spec.sweep.items()), output_dir)

  progress = StudyProgress(spec.name, len(jobs))
  # Models are keyed by their directory relative to the study root (a model id
  # repeats across datasets).
  key = lambda j: os.path.relpath(j.model_dir, output_dir)  # noqa: E731
  done_ids = set()
  pending: List[ModelJob] = []
  for job in jobs:
    if not overwrite and J.model_complete(job.to_json(), spec_json):
      progress.skip()
      done_ids.add(key(job))
    else:
      pending.append(job)
  if progress.skipped:
    logging.info("%s | %d models finished by an earlier run are skipped",
                 progress.line(), progress.skipped)

  groups = udr_groups(spec, jobs, output_dir)
  udr_started = set()
  udr_results: Dict[str, Any] = {}
  failed: Dict[str, str] = {}
  executor, own_executor = open_executor(
      executor, num_workers, max_tasks=len(pending),
      verbosity=logging.get_verbosity())

  def maybe_start_udr() -> None:
    for udr_dir, settings, members in groups:
      if udr_dir in udr_started:
        continue
      unfinished = [j for j in members if key(j) not in done_ids
                    and key(j) not in failed]
      if unfinished:
        continue
      udr_started.add(udr_dir)
      ok = [j for j in members if key(j) in done_ids]
      if len(ok) < len(members):
        # UDR scores each model against its partners: without one of them
        # the group's numbers would be another experiment. Skip and say so.
        bad = sorted(key(j) for j in members if key(j) in failed)
        udr_results[udr_dir] = (
            f"skipped: UDR needs every model of the group and "
            f"{len(bad)} failed ({', '.join(bad)})")
        logging.error("UDR %s %s", udr_dir, udr_results[udr_dir])
        continue
      reason = _udr_skip_reason(settings, ok)
      if reason:
        logging.warning("Skipping UDR %s: %s", udr_dir, reason)
        continue
      model_dirs = [j.model_dir for j in ok]
      udr_settings = io_utils.to_jsonable(dataclasses.asdict(settings))
      if not overwrite and J.udr_complete(udr_dir, model_dirs, udr_settings):
        logging.info("UDR %s: up to date", udr_dir)
        continue
      logging.info("UDR %s: %s over %d models", udr_dir, settings.name,
                   len(model_dirs))
      executor.submit(J.run_udr_job, model_dirs, udr_dir, udr_settings,
                      tag=("udr", udr_dir), urgent=True)

  try:
    executor.check_output_dir(output_dir)
    maybe_start_udr()  # groups whose models all exist already
    for job in pending:
      executor.submit(J.run_model_job, job.to_json(), spec_json, overwrite,
                      tag=("model", job))
    for (kind, what), out in executor.as_completed():
      if kind == "model":
        if "error" in out:
          failed[key(what)] = out["error"]
          progress.fail(key(what), out["error"].strip().splitlines()[-1])
          logging.error("%s", out["error"])
        else:
          done_ids.add(key(what))
          detail = ", ".join(f"{k} {format_duration(v)}" for k, v in
                             out["seconds"].items() if v >= 0.5)
          progress.finish(key(what), out["wall_s"], detail)
        maybe_start_udr()
      else:
        udr_results[what] = out.get("error") or out["scores"]
        if "error" in out:
          logging.error("UDR %s failed:\n%s", what, out["error"])
        else:
          logging.info("UDR %s done in %s: %s", what,
                       format_duration(out["wall_s"]),
                       ", ".join(f"{k}={v:.3f}" for k, v in
                                 sorted(out["scores"].items())))
  except BaseException:
    if own_executor:
      executor.close(cancel=True)
    raise
  if own_executor:
    executor.close()

  result: Dict[str, Any] = {
      "output_dir": output_dir, "num_models": len(jobs),
      "completed": progress.completed, "skipped": progress.skipped,
      "failed": failed, "udr": udr_results, "results_csv": None,
      "report": None,
  }
  if aggregate:
    from tfdis.results import aggregate as aggregate_results

    frame = aggregate_results(output_dir, title=f"tfdis study: {spec.name}")
    result["results_csv"] = frame.attrs["csv"]
    result["report"] = frame.attrs["report"]
    # TensorBoard HParams dashboard: each model's hyperparameters and scores.
    from tfdis.results.hparams import write_results_hparams
    result["tensorboard_hparams"] = write_results_hparams(
        output_dir, frame)["experiment"]
  result["wall_s"] = time.monotonic() - start
  logging.info("%s | study finished in %s%s", progress.line(),
               format_duration(result["wall_s"]),
               f"; report: {result['report']}" if result["report"] else "")
  return result
