"""The one setup path around the trainer: :class:`TrainSession`.

Every caller that trains — ``tfdis_train`` and study workers
(``tfdis.training.model_dir.train``), PBT members (``tfdis.pbt.worker``, and
so rPU metaEpochs and Ray workers) — hands a :class:`TrainConfig` to a
session, which owns determinism, seeding, the strategy and XLA, the build,
the start state, the config's hyperparameter / learning-rate / ``gamma_sup``
overrides and the checkpoint reads and writes (:class:`Checkpoints`), and
runs :class:`tfdis.training.trainer.Trainer` for the config's steps and
batch size. docs/training.md "One setup path" follows seed, precision and
batch size from the flags to the compiled step.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any, Dict, Optional

import numpy as np
import tensorflow as tf

from tfdis import io_utils
from tfdis.models import build_model
from tfdis.models import precision
from tfdis.specs import ConfigError
from tfdis.training import checkpoints
from tfdis.training.config import TrainConfig
from tfdis.training.strategy import make_strategy
from tfdis.training.trainer import (FitResult, Trainer, configure_determinism,
                                    data_seed, reseed_noise, seed_everything,
                                    training_batches)


def build_for_config(config: TrainConfig, data, strategy, dataset_size: int):
  """(model, tf.train.Checkpoint) of a config, built in ``strategy``'s scope
  from seeded initialisers. A family may take constructor arguments that
  depend on the data (classmethod ``model_kwargs_from_data(data)``, e.g.
  SCAN's symbol vocabulary)."""
  from tfdis.models import get_model_class

  hook = getattr(get_model_class(config.model), "model_kwargs_from_data",
                 None)
  data_kwargs = dict(hook(data)) if hook is not None else {}
  with strategy.scope():
    model = build_model(
        config.model, data.observation_shape, latent_dim=config.latent_dim,
        architecture=config.architecture,
        hyperparameters=config.hyperparameters,
        reconstruction_loss=config.reconstruction_loss,
        supervision=config.supervision, learning_rate=config.learning_rate,
        seed=config.seed, dataset_size=dataset_size,
        ensemble_size=config.ensemble_size, precision=config.precision,
        **config.model_options,
        **data_kwargs)
    checkpoint = tf.train.Checkpoint(**model.checkpoint_objects())
  return model, checkpoint


def metadata_for(model, config: TrainConfig, data, **extra
                 ) -> Dict[str, Any]:
  """SavedModel metadata of a model trained with ``config`` (``extra``:
  further fields, e.g. a PBT member's generation and score)."""
  from tfdis.export.saved_model import build_metadata

  return build_metadata(model, data.info(), batch_size=config.batch_size,
                        learning_rate=config.learning_rate, seed=config.seed,
                        **extra)


@dataclasses.dataclass(frozen=True)
class Checkpoints:
  """Where a :class:`TrainSession` reads its start state and writes
  checkpoints. Two layouts:

  * ``directory`` — a run's own history (``tfdis_train``, study workers):
    resume from the newest readable ``ckpt-<step>`` under it (unreadable
    ones are set aside, ``checkpoints.restore_newest_readable``); write one
    every ``config.checkpoint_every`` steps and at the end through a
    ``tf.train.CheckpointManager`` keeping ``config.keep_checkpoints``. The
    noise generator is restored with the weights: a resumed run continues
    its own noise.
  * ``read`` / ``write`` — one PBT member interval: start from exactly
    ``read`` (the population state names it, so an unreadable one is an
    error, never a fallback to another history; None: fresh weights for the
    seed) and write ``write`` once, at the end of the interval. The noise
    generator is reseeded from (seed, step): an exploited clone continues
    its donor's checkpoint with its own seed (the authors' clones reused the
    donor's noise). ``owner`` names the member in error messages.
  """

  directory: Optional[str] = None
  read: Optional[str] = None
  write: Optional[str] = None
  owner: str = ""

  @property
  def member(self) -> bool:
    return self.directory is None


class TrainSession:
  """The one setup path around :class:`Trainer`, for every caller.

  ``tfdis_train`` and study workers (:func:`train`) and PBT members
  (``tfdis.pbt.worker``, hence rPU metaEpochs and Ray workers) train a
  :class:`TrainConfig` through a session, which owns, in this order:

  1. (constructor) TensorFlow op determinism (``config.deterministic``,
     process-wide), the strategy (``config.strategy``; the global batch must
     divide over its replicas), the precision warning, the seed
     (:func:`seed_everything` with ``config.seed``) and the build
     (:func:`build_for_config`) plus the :class:`Trainer` (``config.xla``);
  2. (:meth:`start`) the start state from :class:`Checkpoints`, then the
     config's overrides of what a checkpoint restored: hyperparameters,
     learning rate and ``gamma_sup`` (PBT changes them between intervals);
  3. (:meth:`run`) ``Trainer.fit`` from the restored step up to
     ``config.steps`` (the total target step) with batches of
     ``config.batch_size`` in the data order of (seed, start step), and the
     checkpoint writes.

  A session may serve several configs that build the same model (the PBT
  worker keeps one per model configuration and restores members into it,
  so an interval costs its steps, not a rebuild and a retrace); each
  :meth:`start` / :meth:`run` takes that interval's config.
  """

  def __init__(self, config: TrainConfig, data, dataset_size: int):
    self.data = data
    self.strategy = make_strategy(config.strategy)
    self.replicas = self.strategy.num_replicas_in_sync
    self._check_batch(config)
    configure_determinism(config.deterministic)
    precision.warn_if_emulated(
        config.precision, has_gpu=bool(tf.config.list_logical_devices("GPU")))
    seed_everything(config.seed)
    self.model, self.checkpoint = build_for_config(
        config, data, self.strategy, dataset_size)
    self.trainer = Trainer(self.model, self.strategy, config.xla)
    self._manager = None

  def _check_batch(self, config: TrainConfig) -> None:
    if config.batch_size % self.replicas:
      raise ConfigError(f"batch_size {config.batch_size} is not divisible by "
                        f"the {self.replicas} replicas of strategy "
                        f"{config.strategy!r}")

  def start(self, config: TrainConfig, ckpts: Checkpoints) -> Optional[str]:
    """Sets the model to its start state; returns the restored checkpoint
    prefix (None: fresh weights)."""
    model = self.model
    restored = None
    if not ckpts.member:
      # A run's session is built for it: fresh weights are the build's.
      restored = checkpoints.restore_newest_readable(
          self.checkpoint, ckpts.directory)
      self._manager = tf.train.CheckpointManager(
          self.checkpoint, ckpts.directory,
          max_to_keep=config.keep_checkpoints)
    elif ckpts.read:
      checkpoints.read_member_checkpoint(self.checkpoint, ckpts.read,
                                        ckpts.owner)
      restored = ckpts.read
      # The data order's shuffle seed is (global seed, data seed): without
      # this the global seed would be whatever the previous member of this
      # (cached) model set, and the numbers would depend on which worker
      # ran which member (the local pool and Ray disagreed from generation
      # 2 on). reinitialize() below sets it for fresh weights.
      seed_everything(config.seed)
    else:
      # The model may have served other members: fresh weights exactly as
      # a model newly built with this seed.
      model.reinitialize(config.seed)
    # The config wins over restored values (PBT edits them between
    # intervals).
    model.set_hyperparameters(
        model.validate_hyperparameters(config.hyperparameters))
    model.set_learning_rate(config.learning_rate)
    if model.supervision is not None:
      model.gamma_sup.assign(model.supervision["gamma_sup"])
    if ckpts.member:
      reseed_noise(model, config.seed, int(model.step.numpy()))
    return restored

  def run(self, config: TrainConfig, ckpts: Checkpoints, *, indices=None,
          labels=None, label: str = "", nan_policy: str = "stop",
          max_retries: int = 0, writer=None,
          image_batch: Optional[np.ndarray] = None, quiet: bool = False,
          where: str = "", fault_injection: int = 0) -> FitResult:
    """Trains from the model's step (after :meth:`start`) to
    ``config.steps``. ``nan_policy='retry'`` restarts from the same start
    state (:meth:`start` with a new seed). ``writer`` / ``image_batch``:
    TensorBoard; ``quiet``: no progress lines (PBT members, many at once).
    """
    self._check_batch(config)
    model = self.model
    start_step = int(model.step.numpy())
    if ckpts.member:
      save = lambda step: self.checkpoint.write(ckpts.write)  # noqa: E731
      every, last = 0, lambda: ckpts.read
    else:
      manager = self._manager
      save = lambda step: save_checkpoint(manager, step)  # noqa: E731
      every, last = config.checkpoint_every, lambda: manager.latest_checkpoint
    return self.trainer.fit(
        lambda seed: training_batches(model, self.data, config.batch_size,
                                      data_seed(seed, start_step), indices,
                                      labels),
        config.steps - start_step, seed=config.seed, label=label,
        nan_policy=nan_policy, max_retries=max_retries,
        restore=lambda seed: self.start(config.replace(seed=seed), ckpts),
        checkpoint=save, checkpoint_every=every, writer=writer,
        summary_every=config.summary_every, image_batch=image_batch,
        image_summary_every=config.image_summary_every,
        log_every=0 if quiet else config.log_every, total_steps=config.steps,
        where=where, last_checkpoint=last,
        fault_injection=fault_injection)


def save_checkpoint(manager, step: int) -> str:
  """``manager.save(checkpoint_number=step)``; a full disk or a file-size
  limit becomes one DiskFullError naming the checkpoint and its size (about
  that of the previous one), after removing the partial files (TensorFlow's
  ``ckpt-<n>_temp/`` staging and any ``ckpt-<n>.*`` the index does not list;
  the index file is only updated after a complete save, so the previous
  checkpoints stay valid)."""
  directory = manager.directory
  prefix = os.path.join(directory, f"ckpt-{int(step)}")
  previous = manager.latest_checkpoint
  try:
    return manager.save(checkpoint_number=step)
  except Exception as e:  # pylint: disable=broad-except
    if not io_utils.is_no_space(e):
      raise
    import glob

    from tfdis import rundir

    partial = sum(os.path.getsize(p) for p in
                  glob.glob(glob.escape(prefix) + ".*") if os.path.isfile(p))
    partial += sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in
                   os.walk(prefix + "_temp") for f in fs)
    rundir.clean_stale_temporaries(directory)  # we hold the run's lock
    if prefix not in manager.checkpoints:
      for p in glob.glob(glob.escape(prefix) + ".*"):
        if os.path.isfile(p):
          os.remove(p)
    if previous:
      size = sum(os.path.getsize(p) for p in
                 glob.glob(glob.escape(previous) + ".*") if os.path.isfile(p))
      needed = (f"about {io_utils.format_bytes(size)} (the size of the "
                "previous checkpoint)")
    else:
      needed = f"at least {io_utils.format_bytes(partial)}"
    text = str(e).strip().splitlines()
    raise io_utils.DiskFullError(
        prefix, needed, text[0][:120] if text else type(e).__name__
    ) from None
