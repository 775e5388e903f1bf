"""train(config): the tf.distribute training loop with checkpoints and resume.

Data: ``tfdis.data.get_dataset`` + ``pipeline.training_dataset`` (global
batches), distributed with ``strategy.experimental_distribute_dataset``.
Model and optimisers are built inside ``strategy.scope()`` (optimiser slots
built explicitly before the first step: Keras 3 needs it with several
replicas). One ``tf.function`` step runs ``strategy.run(model.train_step)``
(optionally XLA-compiled) and reduces the logged terms with MEAN.

Checkpoints (``tf.train.CheckpointManager`` under ``model_dir/checkpoints``)
hold weights, every optimiser's state, the step and the tf.random.Generator
state. A run whose ``model_dir`` has a checkpoint resumes from it and trains
up to ``config.steps``; hyperparameters and learning rate of the config
override the restored ones. A non-finite loss stops training with
:class:`NonFiniteLossError` and leaves the last good checkpoint in place.
"""

from __future__ import annotations

import math
import os
import time
from typing import Any, Dict, Optional, Tuple

import numpy as np
import tensorflow as tf
from absl import logging

from tfdis import io_utils
from tfdis.data import get_dataset
from tfdis.models import build_model, get_model_class
from tfdis.models.architectures import check_architecture
from tfdis.training import inputs, summaries
from tfdis.training.config import TrainConfig
from tfdis.training.strategy import make_strategy

CHECKPOINT_SUBDIR = "checkpoints"


class NonFiniteLossError(FloatingPointError):
  """The loss became NaN/Inf. ``step``: where; ``last_checkpoint``: the last
  good checkpoint (None if none was written); ``terms``: the loss terms."""

  def __init__(self, step: int, last_checkpoint: Optional[str],
               terms: Dict[str, Any], model_dir: str):
    self.step = int(step)
    self.last_checkpoint = last_checkpoint
    self.terms = terms
    self.model_dir = model_dir
    super().__init__(
        f"Non-finite loss at step {step} in {model_dir} (terms: {terms}). "
        f"Training stopped; the last good checkpoint is {last_checkpoint} "
        "(lower the learning rate or the regularisation strength, or "
        "restart from that checkpoint with another seed).")


def _format_seconds(s: float) -> str:
  if not math.isfinite(s):
    return "?"
  s = int(s)
  h, rem = divmod(s, 3600)
  m, sec = divmod(rem, 60)
  return f"{h}h{m:02d}m{sec:02d}s" if h else f"{m}m{sec:02d}s"


def _build(config: TrainConfig, data, strategy, dataset_size: int):
  with strategy.scope():
    model = build_model(
        config.model, data.observation_shape, latent_dim=config.latent_dim,
        architecture=config.architecture,
        hyperparameters=config.hyperparameters,
        reconstruction_loss=config.reconstruction_loss,
        supervision=config.supervision, learning_rate=config.learning_rate,
        seed=config.seed, dataset_size=dataset_size)
    checkpoint = tf.train.Checkpoint(**model.checkpoint_objects())
  return model, checkpoint


def _metadata(model, config: TrainConfig, data) -> Dict[str, Any]:
  from tfdis.export.saved_model import build_metadata

  info = data.info()
  info["name"] = config.dataset  # the registry name rebuilds the data
  info["options"] = dict(config.dataset_options)
  return build_metadata(model, info, batch_size=config.batch_size,
                        learning_rate=config.learning_rate, seed=config.seed)


def restore_for_export(model_dir: str) -> Tuple[Any, Dict[str, Any]]:
  """(model restored from the latest checkpoint, metadata) of a run."""
  config_path = os.path.join(model_dir, "config.json")
  if not os.path.isfile(config_path):
    raise FileNotFoundError(
        f"{config_path} not found: {model_dir!r} is not a tfdis_train model "
        "directory")
  config = TrainConfig.load(config_path)
  data = get_dataset(config.dataset, **config.dataset_options)
  indices = inputs.load_indices(config.indices, config.indices_path)
  model, checkpoint = _build(config, data, tf.distribute.get_strategy(),
                             len(indices) if indices is not None
                             else data.num_examples)
  latest = tf.train.latest_checkpoint(os.path.join(model_dir,
                                                   CHECKPOINT_SUBDIR))
  if latest is None:
    raise FileNotFoundError(f"no checkpoint under {model_dir}/checkpoints")
  checkpoint.restore(latest).expect_partial()
  return model, _metadata(model, config, data)


def _weights_finite(model) -> bool:
  return all(bool(tf.reduce_all(tf.math.is_finite(v)).numpy())
             for v in model.trainable_variables)


def _non_finite(model_dir, manager, step, terms) -> NonFiniteLossError:
  """Records the failure (results/train_failed.json) and builds the error."""
  io_utils.write_json(os.path.join(model_dir, "results", "train_failed.json"),
                      {"status": "non_finite_loss", "step": step,
                       "terms": terms,
                       "last_checkpoint": manager.latest_checkpoint})
  return NonFiniteLossError(step, manager.latest_checkpoint, terms, model_dir)


def _step_function(model, strategy, xla: bool):
  replica_step = tf.function(model.train_step, jit_compile=bool(xla))

  @tf.function
  def step(batch):
    terms = strategy.run(replica_step, args=(batch,))
    return {k: strategy.reduce(tf.distribute.ReduceOp.MEAN, v, axis=None)
            for k, v in terms.items()}

  return step


def _to_numpy(terms) -> Dict[str, np.ndarray]:
  return {k: np.asarray(v.numpy()) for k, v in terms.items()}


def _scalars(terms: Dict[str, np.ndarray]) -> Dict[str, Any]:
  return {k: (float(v) if np.ndim(v) == 0 else [float(x) for x in v])
          for k, v in terms.items()}


def _training_data(config: TrainConfig, data, seed: int, indices, labels):
  """The family's own batches (``training_data`` classmethod: pairs, DC-IGN
  batches) or the standard image/label pipeline."""
  model_class = get_model_class(config.model)
  if hasattr(model_class, "training_data"):
    return model_class.training_data(
        data, config.batch_size, seed, indices=indices, labels=labels,
        hyperparameters=config.hyperparameters)
  return inputs.make_training_data(data, config.batch_size, seed, indices,
                                   labels)


def train(config: TrainConfig) -> Dict[str, Any]:
  """Trains (or resumes) one model; returns the train.json dict."""
  config.validate()
  t_start = time.time()
  model_dir = config.resolved_model_dir()
  os.makedirs(model_dir, exist_ok=True)
  data = get_dataset(config.dataset, **config.dataset_options)
  check_architecture(config.architecture, data.observation_shape)
  indices = inputs.load_indices(config.indices, config.indices_path)
  dataset_size = len(indices) if indices is not None else data.num_examples
  labels = None
  if config.supervision is not None:
    labels = inputs.load_labels(data, config.labels, config.num_labels,
                                config.seed, indices)
    if labels[1].shape[1] > config.latent_dim:
      raise ValueError(f"{labels[1].shape[1]} labelled factors but only "
                       f"latent_dim={config.latent_dim} latents")
  config.save(os.path.join(model_dir, "config.json"))

  strategy = make_strategy(config.strategy)
  replicas = strategy.num_replicas_in_sync
  if config.batch_size % replicas:
    raise ValueError(f"batch_size {config.batch_size} is not divisible by "
                     f"the {replicas} replicas of strategy {config.strategy!r}")
  tf.random.set_seed(config.seed)
  model, checkpoint = _build(config, data, strategy, dataset_size)
  manager = tf.train.CheckpointManager(
      checkpoint, os.path.join(model_dir, CHECKPOINT_SUBDIR),
      max_to_keep=config.keep_checkpoints)
  resumed_from = manager.latest_checkpoint
  if resumed_from:
    checkpoint.restore(resumed_from).assert_existing_objects_matched()
    logging.info("Resumed from %s at step %d", resumed_from,
                 int(model.step.numpy()))
  # The config wins over restored values (PBT edits them between intervals).
  model.set_hyperparameters(
      model.validate_hyperparameters(config.hyperparameters))
  model.set_learning_rate(config.learning_rate)
  if model.supervision is not None:
    model.gamma_sup.assign(model.supervision["gamma_sup"])
  start_step = int(model.step.numpy())

  last_terms: Dict[str, np.ndarray] = {}
  steps_per_sec = float("nan")
  if start_step < config.steps:
    # Fold the start step into the data seed: a resumed run sees a fresh,
    # still deterministic order instead of replaying the first batches.
    data_seed = config.seed * 1_000_003 + start_step
    ds = _training_data(config, data, data_seed, indices, labels)
    dist = iter(strategy.experimental_distribute_dataset(ds))
    step_fn = _step_function(model, strategy, config.xla)
    writer = tf.summary.create_file_writer(os.path.join(model_dir,
                                                        "tensorboard"))
    image_batch = next(iter(inputs.make_training_data(
        data, 8, config.seed, indices)))
    if isinstance(image_batch, dict):
      image_batch = image_batch["images"]
    image_batch = image_batch.numpy()
    logging.info("Training %s on %s: steps %d -> %d, global batch %d, %d "
                 "replica(s), xla=%s, model_dir=%s", config.model,
                 config.dataset, start_step, config.steps, config.batch_size,
                 replicas, config.xla, model_dir)
    window_start, window_steps = time.time(), 0
    train_start = time.time()
    step = start_step
    while step < config.steps:
      terms = step_fn(next(dist))
      step += 1
      window_steps += 1
      loss = float(terms["loss"].numpy())
      if not math.isfinite(loss):
        raise _non_finite(model_dir, manager, step, _scalars(_to_numpy(terms)))
      is_last = step == config.steps
      want_scalars = step % config.summary_every == 0 or is_last
      want_log = step % config.log_every == 0 or is_last
      if want_scalars or want_log:
        last_terms = _to_numpy(terms)
        now = time.time()
        steps_per_sec = window_steps / max(now - window_start, 1e-9)
        if want_scalars:
          summaries.write_scalars(
              writer, last_terms, step,
              {"steps_per_sec": steps_per_sec,
               "learning_rate": model.learning_rate,
               **{f"hyperparameters/{k}": v
                  for k, v in model.hyperparameters().items()}})
        if want_log:
          eta = (config.steps - step) / steps_per_sec
          logging.info(
              "step %d/%d  %.2f steps/s  ETA %s  loss %.2f  rec %.2f  kl "
              "%.2f  reg %.2f  active %d", step, config.steps, steps_per_sec,
              _format_seconds(eta), last_terms["loss"],
              last_terms["reconstruction_loss"], last_terms["kl_loss"],
              last_terms["regularizer"], last_terms["num_active_latents"])
        window_start, window_steps = time.time(), 0
      if step % config.image_summary_every == 0 or is_last:
        summaries.write_images(writer, model, image_batch, step)
      if step % config.checkpoint_every == 0 or is_last:
        # The loss of this step was computed before its update: check the
        # updated weights too, so a checkpoint never holds NaN/Inf weights.
        if not _weights_finite(model):
          raise _non_finite(model_dir, manager, step,
                            {"weights": "non-finite after the update"})
        manager.save(checkpoint_number=step)
    writer.flush()
    train_seconds = time.time() - train_start
    overall = (step - start_step) / max(train_seconds, 1e-9)
  else:
    logging.info("Checkpoint at step %d >= steps %d: nothing to train.",
                 start_step, config.steps)
    train_seconds, overall = 0.0, float("nan")

  final_step = int(model.step.numpy())
  result = {
      "status": "ok",
      "model": config.model,
      "dataset": config.dataset,
      "steps": final_step,
      "start_step": start_step,
      "resumed_from": resumed_from,
      "target_steps": config.steps,
      "hyperparameters": model.hyperparameters(),
      "learning_rate": model.learning_rate,
      "batch_size": config.batch_size,
      "num_replicas": replicas,
      "strategy": config.strategy,
      "xla": config.xla,
      "seed": config.seed,
      "final_losses": _scalars(last_terms),
      "steps_per_sec": overall,
      "train_seconds": train_seconds,
      "wall_seconds": time.time() - t_start,
      "versions": io_utils.library_versions(),
      "notes": _notes(config),
  }
  if config.export:
    from tfdis.export.saved_model import export_saved_model

    export_dir = export_saved_model(model, os.path.join(model_dir,
                                                        "saved_model"),
                                    _metadata(model, config, data))
    result["saved_model"] = export_dir
  io_utils.write_json(os.path.join(model_dir, "results", "train.json"),
                      result)
  return result


def _notes(config: TrainConfig) -> Dict[str, str]:
  notes = {}
  if config.model == "factor_vae":
    from tfdis.models.factor_vae import STEP_COUNTER_NOTE

    notes["step_counter"] = STEP_COUNTER_NOTE
  if config.model == "beta_tc_vae":
    notes["total_correlation"] = (
        "logged total_correlation includes the constant (d-1)*log(B*N) that "
        "dlib drops; the loss and total_correlation_dlib use dlib's estimate")
  notes["resume"] = ("a resumed run draws its data order from (seed, "
                     "start step): deterministic, but not the order of an "
                     "uninterrupted run")
  return notes
