"""One model directory: :func:`train` is the whole run of ``tfdis_train``
and a study worker — lock, stale-file cleanup, the check that the request
matches what the directory holds, then the shared setup path
(:class:`tfdis.training.session.TrainSession`: resume, overrides, train),
export and ``results/train.json``; plus the export of a directory's latest
checkpoint.
"""

from __future__ import annotations

import os
import shutil
import time
from typing import Any, Dict, Optional, Tuple

import tensorflow as tf
from absl import logging

from tfdis import io_utils
from tfdis.models.architectures import check_architecture
from tfdis.specs import ConfigError, check_compatible
from tfdis.training import checkpoints, inputs
from tfdis.training.config import TrainConfig
from tfdis.training.session import (Checkpoints, TrainSession,
                                    build_for_config, metadata_for)
from tfdis.training.trainer import NonFiniteLossError, scalars

CHECKPOINT_SUBDIR = "checkpoints"
CONFIG_FILE = "config.json"
TRAIN_JSON = os.path.join("results", "train.json")
FAILED_JSON = os.path.join("results", "train_failed.json")
# What --overwrite deletes (a fresh start in the same directory).
RUN_ARTIFACTS = (CHECKPOINT_SUBDIR, "saved_model", "tensorboard", "results",
                 "metrics", "visualizations", CONFIG_FILE)


def _prepare_dir(model_dir: str) -> None:
  if os.path.exists(model_dir) and not os.path.isdir(model_dir):
    raise ConfigError(f"--model_dir {model_dir!r} is a file, not a "
                      "directory: choose a directory path")
  try:
    os.makedirs(model_dir, exist_ok=True)
  except OSError as e:
    raise ConfigError(f"cannot create the model directory {model_dir!r} "
                      f"({e.strerror}); choose a writable --model_dir") from None
  if not os.access(model_dir, os.W_OK | os.X_OK):
    raise ConfigError(f"the model directory {model_dir!r} is not writable; "
                      "choose another --model_dir")


def _check_stored(model_dir: str, config: TrainConfig) -> None:
  path = os.path.join(model_dir, CONFIG_FILE)
  if not os.path.isfile(path):
    return
  check_compatible(TrainConfig.load(path), config, model_dir)


def _remove_run(model_dir: str) -> None:
  for name in RUN_ARTIFACTS:
    path = os.path.join(model_dir, name)
    if os.path.isdir(path):
      shutil.rmtree(path)
    elif os.path.exists(path):
      os.remove(path)


def train(config: TrainConfig, overwrite: bool = False) -> Dict[str, Any]:
  """Trains (or resumes) one model directory; returns the train.json dict.

  Refused before anything is written: invalid fields, a directory in use by
  another process (lock), a request whose immutable fields differ from the
  directory's config.json (unless ``overwrite``: the run is deleted first).
  """
  from tfdis import rundir

  config.validate()
  t_start = time.time()
  model_dir = config.resolved_model_dir()
  _prepare_dir(model_dir)
  with rundir.RunLock(model_dir, "tfdis_train"):
    rundir.clean_stale_temporaries(model_dir)
    if overwrite:
      _remove_run(model_dir)
    _check_stored(model_dir, config)
    return _train_locked(config, model_dir, t_start)


def _train_locked(config: TrainConfig, model_dir: str, t_start: float
                  ) -> Dict[str, Any]:
  data = config.build_data()
  try:
    check_architecture(config.architecture, data.observation_shape)
  except ValueError as e:
    raise ConfigError(f"{e} (dataset {config.dataset!r})") from None
  indices = inputs.load_indices(config.indices, config.indices_path)
  dataset_size = len(indices) if indices is not None else data.num_examples
  labels = None
  if config.supervision is not None:
    labels = inputs.load_labels(data, config.labels, config.num_labels,
                                config.seed, indices)
    if labels[1].shape[1] > config.latent_dim:
      raise ConfigError(f"{labels[1].shape[1]} labelled factors but only "
                        f"latent_dim={config.latent_dim} latents")
  session = TrainSession(config, data, dataset_size)
  model = session.model
  ckpts = Checkpoints(directory=os.path.join(model_dir, CHECKPOINT_SUBDIR))
  resumed_from = session.start(config, ckpts)
  if resumed_from:
    logging.info("Resumed from %s at step %d", resumed_from,
                 int(model.step.numpy()))
  start_step = int(model.step.numpy())
  finished = _finished_record(model_dir, config, start_step)
  if finished is not None:
    return finished
  config.save(os.path.join(model_dir, CONFIG_FILE))

  fit = None
  if start_step < config.steps:
    writer = tf.summary.create_file_writer(os.path.join(model_dir,
                                                        "tensorboard"))
    image_batch = next(iter(inputs.make_training_data(data, 8, config.seed,
                                                      indices))).numpy()
    logging.info("Training %s on %s: steps %d -> %d, global batch %d, %d "
                 "replica(s), xla=%s, model_dir=%s", config.model,
                 config.dataset, start_step, config.steps, config.batch_size,
                 session.replicas, config.xla, model_dir)
    try:
      fit = session.run(config, ckpts, indices=indices, labels=labels,
                        label=config.model, writer=writer,
                        image_batch=image_batch, where=model_dir)
    except NonFiniteLossError as e:
      io_utils.write_json(os.path.join(model_dir, FAILED_JSON), {
          "status": "non_finite_loss", "step": e.step, "terms": e.terms,
          "last_checkpoint": e.last_checkpoint})
      raise
  else:
    logging.info("Checkpoint at step %d >= steps %d: nothing to train.",
                 start_step, config.steps)

  result = {
      "status": "ok",
      "model": config.model,
      "dataset": config.dataset,
      "steps": int(model.step.numpy()),
      "start_step": start_step,
      "resumed_from": resumed_from,
      "target_steps": config.steps,
      "hyperparameters": model.hyperparameters(),
      "learning_rate": model.learning_rate,
      "batch_size": config.batch_size,
      "num_replicas": session.replicas,
      "strategy": config.strategy,
      "xla": config.xla,
      "precision": config.precision,
      "deterministic": config.deterministic,
      "seed": config.seed,
      "final_losses": scalars(fit.terms) if fit else {},
      "steps_per_sec": fit.steps_per_sec if fit else float("nan"),
      "train_seconds": fit.seconds if fit else 0.0,
      "wall_seconds": time.time() - t_start,
      "versions": io_utils.library_versions(),
      "notes": _notes(config),
  }
  if config.export:
    from tfdis.export.saved_model import export_saved_model

    result["saved_model"] = export_saved_model(
        model, os.path.join(model_dir, "saved_model"),
        metadata_for(model, config, data))
  io_utils.write_json(os.path.join(model_dir, TRAIN_JSON), result)
  failed = os.path.join(model_dir, FAILED_JSON)
  if os.path.exists(failed):  # superseded by this successful run
    os.remove(failed)
  return result


def _finished_record(model_dir: str, config: TrainConfig, step: int
                     ) -> Optional[Dict[str, Any]]:
  """The stored train.json if a rerun has nothing to do, else None.

  Nothing to do: the checkpoint is at or beyond the requested steps and
  train.json records that very step (it is written last, after the export,
  so the SavedModel is of that step too). Then nothing is written: no
  re-export, no config.json, no train.json whose final losses would be
  empty (the rerun trained nothing), so the record of the run survives
  a rerun with a smaller --steps.
  """
  from tfdis.export.load import is_saved_model_dir

  path = os.path.join(model_dir, TRAIN_JSON)
  if step < config.steps or not os.path.isfile(path):
    return None
  if config.export and not is_saved_model_dir(model_dir):
    return None
  try:
    stored = io_utils.read_json(path)
  except (OSError, ValueError):
    return None  # unreadable: rewrite it
  if not isinstance(stored, dict) or stored.get("steps") != step:
    return None
  logging.info("Checkpoint at step %d >= steps %d: nothing to train; %s "
               "and the SavedModel are kept unchanged.", step, config.steps,
               path)
  return stored


def _notes(config: TrainConfig) -> Dict[str, str]:
  notes = {}
  if config.model == "factor_vae":
    from tfdis.models.factor_vae import STEP_COUNTER_NOTE

    notes["step_counter"] = STEP_COUNTER_NOTE
  if config.model == "beta_tc_vae":
    notes["total_correlation"] = (
        "logged total_correlation includes the constant (d-1)*log(B*N) that "
        "dlib drops; the loss and total_correlation_dlib use dlib's estimate")
  notes["resume"] = (
      "an uninterrupted run is bit-identical to another with the same "
      "config on the same machine and thread count; a resumed run restores "
      "weights, optimiser state, step and noise generator exactly but draws "
      "its data order from (seed, start step), so it is deterministic but "
      "not the run that was never interrupted")
  return notes


def restore_for_export(model_dir: str) -> Tuple[Any, Dict[str, Any]]:
  """(model restored from the latest checkpoint, metadata) of a run."""
  config_path = os.path.join(model_dir, CONFIG_FILE)
  if not os.path.isfile(config_path):
    raise ConfigError(f"{config_path} not found: {model_dir!r} is not a "
                      "tfdis_train model directory")
  config = TrainConfig.load(config_path)
  data = config.build_data()
  indices = inputs.load_indices(config.indices, config.indices_path)
  model, checkpoint = build_for_config(
      config, data, tf.distribute.get_strategy(),
      len(indices) if indices is not None else data.num_examples)
  latest = checkpoints.restore_newest_readable(
      checkpoint, os.path.join(model_dir, CHECKPOINT_SUBDIR),
      assert_matched=False)
  if latest is None:
    raise ConfigError(f"no checkpoint under {model_dir}/checkpoints: train "
                      "the model first")
  return model, metadata_for(model, config, data)


def export_from_checkpoint(model_dir: str,
                           export_dir: Optional[str] = None) -> str:
  """Restores ``model_dir``'s latest checkpoint and exports it to
  ``model_dir/saved_model`` (or ``export_dir``)."""
  from tfdis.export.saved_model import export_saved_model

  model, metadata = restore_for_export(model_dir)
  return export_saved_model(model, export_dir or os.path.join(
      model_dir, "saved_model"), metadata)
