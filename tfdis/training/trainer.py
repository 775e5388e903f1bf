"""The one training engine.

:class:`Trainer` runs the steps of any registry model — one VAE, a K-member
vectorised ensemble, FactorVAE with its discriminator — for a step budget:
``tfdis_train`` and study workers (through :func:`train`), PBT members and
rPU metaEpochs (through ``tfdis.pbt.worker``) all hand a TrainConfig to one
:class:`TrainSession`, which calls :meth:`Trainer.fit`, and the optimisers
are stepped in exactly one method, ``GaussianVAE.train_step``. The session
and the trainer own:

* seeding (:func:`seed_everything`: Python, NumPy, TensorFlow and Keras 3's
  initialisers — ``tf.random.set_seed`` alone does not seed Keras 3's
  initialisers), optional TensorFlow op determinism, the strategy and XLA;
* the start state (a checkpoint or fresh weights) and the config's
  hyperparameter / learning-rate / ``gamma_sup`` overrides of it;
* the data order: a deterministic function of (seed, start step), so a
  resumed run sees a fresh order instead of replaying its first batches;
* the non-finite-loss policy: ``stop`` (raise :class:`NonFiniteLossError`
  naming the last good checkpoint) or ``retry`` (restore the last good state
  and rerun with a new seed, up to ``max_retries`` times, as PBT needs). The
  loss is checked inside the compiled step (a flag variable), so there is no
  host round trip per step; the flag is read at log and checkpoint steps and
  at the end, and no checkpoint is written with non-finite weights;
* checkpoint reads and writes (:class:`Checkpoints`: a run directory's
  ``ckpt-<step>`` or a PBT member's named prefix), TensorBoard scalars and
  images,
  and the progress line (steps/s, ETA).

One compiled call per step: the host side of a step (``next`` on the
iterator, the call into the function) measured ≈ 1.4 ms CPU against ≈ 0.17
ms per step inside an in-graph loop of 100 steps — ≈ 3 % of a 45 ms CPU
step of the dlib network, and not adopted (an in-graph multi-step loop must
also be shown bit-identical to this loop). On a GPU, where a step takes a
few milliseconds, that host overhead and the per-call launch latency are a
larger share and several steps per call (Keras' ``steps_per_execution``)
typically pay.

:func:`train` is the whole run of one model directory: lock, stale-file
cleanup, the check that the request matches what the directory holds,
resume, train, export, ``results/train.json``.
"""

from __future__ import annotations

import dataclasses
import math
import os
import shutil
import time
from typing import Any, Callable, Dict, Optional, Tuple

import numpy as np
import tensorflow as tf
from absl import logging

from tfdis import io_utils
from tfdis.models import build_model
from tfdis.models import precision
from tfdis.models.architectures import check_architecture
from tfdis.training import checkpoints, inputs, summaries
from tfdis.training.config import TrainConfig
from tfdis.specs import ConfigError, check_compatible
from tfdis.training.strategy import make_strategy

CHECKPOINT_SUBDIR = "checkpoints"
CONFIG_FILE = "config.json"
TRAIN_JSON = os.path.join("results", "train.json")
FAILED_JSON = os.path.join("results", "train_failed.json")
# What --overwrite deletes (a fresh start in the same directory).
RUN_ARTIFACTS = (CHECKPOINT_SUBDIR, "saved_model", "tensorboard", "results",
                 "metrics", "visualizations", CONFIG_FILE)


class NonFiniteLossError(FloatingPointError):
  """The loss became NaN/Inf. ``step``: where (the first non-finite step);
  ``last_checkpoint``: the last good checkpoint (None if none was written);
  ``terms``: the loss terms then."""

  user_facing = True

  def __init__(self, step: int, last_checkpoint: Optional[str],
               terms: Dict[str, Any], where: str):
    self.step = int(step)
    self.last_checkpoint = last_checkpoint
    self.terms = terms
    self.where = where
    super().__init__(
        f"non-finite loss at step {step} in {where}. Training stopped; the "
        f"last good checkpoint is {last_checkpoint or '(none yet)'}. Lower "
        "the learning rate or the regularisation strength, or rerun with "
        "another --seed (the run resumes from that checkpoint).")


def seed_everything(seed: int) -> None:
  """Seeds Python, NumPy, TensorFlow and Keras 3 (initialisers included)."""
  import keras

  keras.utils.set_random_seed(int(seed) % 2 ** 32)


def configure_determinism(enabled: bool) -> None:
  """TensorFlow op determinism (process-wide; cannot be switched off)."""
  if enabled:
    tf.config.experimental.enable_op_determinism()


def data_seed(seed: int, start_step: int) -> int:
  """The data order of a run from (seed, start step)."""
  return int(seed) * 1_000_003 + int(start_step)


def retry_seed(seed: int, attempt: int, salt: int = 0) -> int:
  """A fresh seed for the retry ``attempt`` of a non-finite run."""
  return int(np.random.default_rng([int(seed), int(salt), int(attempt),
                                    0x5EED]).integers(0, 2 ** 31 - 1))


def reseed_noise(model, seed: int, step: int) -> None:
  """Reparameterisation noise as a function of (seed, step)."""
  model.rng.reset_from_seed(int(seed) * 1_000_003 + int(step))


def format_seconds(s: float) -> str:
  if not math.isfinite(s):
    return "?"
  s = int(s)
  h, rem = divmod(s, 3600)
  m, sec = divmod(rem, 60)
  return f"{h}h{m:02d}m{sec:02d}s" if h else f"{m}m{sec:02d}s"


def to_numpy(terms) -> Dict[str, np.ndarray]:
  return {k: np.asarray(v.numpy()) for k, v in terms.items()}


def scalars(terms: Dict[str, np.ndarray]) -> Dict[str, Any]:
  """Terms as JSON values (vectors as lists)."""
  return {k: (float(v) if np.ndim(v) == 0 else np.asarray(v).tolist())
          for k, v in terms.items()}


def weights_finite(model) -> bool:
  return all(bool(tf.reduce_all(tf.math.is_finite(v)).numpy())
             for v in model.vae_variables)


@dataclasses.dataclass
class FitResult:
  """What :meth:`Trainer.fit` did."""

  steps: int                    # steps run (last attempt)
  finite: bool
  terms: Dict[str, np.ndarray]  # last logged/final terms
  seed: int                     # seed of the last attempt
  retries: int
  seconds: float
  steps_per_sec: float
  first_bad_step: Optional[int] = None


class Trainer:
  """Runs a model's own ``train_step`` (see module docstring).

  One Trainer per built model; its compiled step functions are cached per
  input signature with an unknown batch dimension, so a PBT member's batch
  size change does not retrace.
  """

  def __init__(self, model, strategy: Optional[tf.distribute.Strategy] = None,
               xla: bool = False):
    self.model = model
    self.strategy = strategy or tf.distribute.get_strategy()
    self.xla = bool(xla)
    self._steps: Dict[str, Callable] = {}
    self._finite = tf.Variable(True, trainable=False)
    self._first_bad = tf.Variable(-1, dtype=tf.int64, trainable=False)

  @property
  def distributed(self) -> bool:
    """True unless this is TensorFlow's default (no-op) strategy."""
    return type(self.strategy).__name__ != "_DefaultDistributionStrategy"

  def step_function(self, element_spec) -> Callable:
    spec = tf.nest.map_structure(
        lambda s: tf.TensorSpec([None, *s.shape[1:]], s.dtype), element_spec)
    key = repr(spec)
    fn = self._steps.get(key)
    if fn is not None:
      return fn
    model, strategy = self.model, self.strategy
    replica_step = tf.function(model.train_step, jit_compile=self.xla)

    def record(terms):
      ok = tf.reduce_all(tf.math.is_finite(terms["loss"]))
      first = tf.logical_and(tf.logical_not(ok), self._first_bad < 0)
      self._first_bad.assign(tf.where(first, tf.cast(model.step, tf.int64),
                                      self._first_bad))
      self._finite.assign(tf.logical_and(self._finite, ok))
      return terms

    if self.distributed:
      @tf.function
      def fn(batch):
        terms = strategy.run(replica_step, args=(batch,))
        return record({k: strategy.reduce(tf.distribute.ReduceOp.MEAN, v,
                                          axis=None)
                       for k, v in terms.items()})
    else:
      @tf.function(input_signature=[spec])
      def fn(batch):
        return record(replica_step(batch))
    self._steps[key] = fn
    return fn

  def _check(self) -> bool:
    return bool(self._finite.numpy())

  def fit(self, make_dataset: Callable[[int], tf.data.Dataset],
          num_steps: int, *, seed: int, label: str = "",
          nan_policy: str = "stop", max_retries: int = 0,
          restore: Optional[Callable[[int], None]] = None,
          checkpoint: Optional[Callable[[int], None]] = None,
          checkpoint_every: int = 0, writer=None, summary_every: int = 0,
          image_batch: Optional[np.ndarray] = None,
          image_summary_every: int = 0, log_every: int = 0,
          total_steps: Optional[int] = None, where: str = "",
          last_checkpoint: Callable[[], Optional[str]] = lambda: None,
          fault_injection: int = 0) -> FitResult:
    """Runs ``num_steps`` steps of ``model.train_step``.

    Args:
      make_dataset: seed -> tf.data.Dataset of (global) batches.
      num_steps: steps to run.
      seed: the data/noise seed of the first attempt.
      nan_policy: 'stop' raises NonFiniteLossError; 'retry' calls
        ``restore(new_seed)`` (which restores the last good state) and reruns
        with a new seed up to ``max_retries`` times, then returns
        ``finite=False``.
      checkpoint: called with the model step every ``checkpoint_every`` steps
        and at the end (only with finite loss and weights).
      writer / summary_every / image_batch / image_summary_every: TensorBoard.
      log_every: progress line period (0: none); ``total_steps`` the target
        step shown in it.
      fault_injection: test hook — the first n attempts are declared
        non-finite at their first step.
    """
    if nan_policy not in ("stop", "retry"):
      raise ValueError(f"nan_policy must be 'stop' or 'retry', got "
                       f"{nan_policy!r}")
    model = self.model
    t0 = time.time()
    attempt = 0
    while True:
      # The step functions run under the model's graph rewrite (if any:
      # auto_mixed_bfloat16), and only here.
      with precision.graph_rewrite_scope(model.precision):
        result = self._attempt(
            make_dataset(seed), num_steps, seed, label, checkpoint,
            checkpoint_every, writer, summary_every, image_batch,
            image_summary_every, log_every, total_steps,
            force_bad=attempt < fault_injection)
      result.retries = attempt
      result.seconds = time.time() - t0
      if result.finite:
        return result
      if nan_policy == "stop":
        raise NonFiniteLossError(
            result.first_bad_step if result.first_bad_step is not None
            else int(model.step.numpy()), last_checkpoint(),
            scalars(result.terms), where or label)
      if attempt >= max_retries or restore is None:
        return result
      attempt += 1
      seed = retry_seed(seed, attempt)
      logging.warning("%s: non-finite loss; retry %d/%d from the last good "
                      "state with seed %d", label, attempt, max_retries, seed)
      restore(seed)

  def _attempt(self, ds, num_steps, seed, label, checkpoint,
               checkpoint_every, writer, summary_every, image_batch,
               image_summary_every, log_every, total_steps, force_bad
               ) -> FitResult:
    model = self.model
    self._finite.assign(True)
    self._first_bad.assign(-1)
    if self.distributed:
      it = iter(self.strategy.experimental_distribute_dataset(ds))
      step_fn = self.step_function(ds.element_spec)
    else:
      it = iter(ds)
      step_fn = self.step_function(ds.element_spec)
    terms: Dict[str, Any] = {}
    last: Dict[str, np.ndarray] = {}
    start = time.time()
    window_start, window_steps = start, 0
    steps_per_sec = float("nan")
    global_step = int(model.step.numpy())
    for i in range(num_steps):
      terms = step_fn(next(it))
      global_step += 1
      window_steps += 1
      if force_bad:
        self._finite.assign(False)
        self._first_bad.assign(global_step)
      is_last = i + 1 == num_steps
      due = lambda every: bool(every) and global_step % every == 0  # noqa
      want_log = due(log_every) or (is_last and log_every)
      want_scalars = writer is not None and (due(summary_every) or is_last)
      want_ckpt = checkpoint is not None and (due(checkpoint_every) or
                                              is_last)
      if not (want_log or want_scalars or want_ckpt or is_last):
        continue
      if not self._check():
        bad = int(self._first_bad.numpy())
        return FitResult(i + 1, False, to_numpy(terms), seed, 0, 0.0,
                         steps_per_sec, bad if bad >= 0 else None)
      if want_log or want_scalars or is_last:
        last = to_numpy(terms)
        now = time.time()
        steps_per_sec = window_steps / max(now - window_start, 1e-9)
        window_start, window_steps = now, 0
      if want_scalars:
        summaries.write_scalars(
            writer, last, global_step,
            {"steps_per_sec": steps_per_sec,
             "learning_rate": model.learning_rate,
             **{f"hyperparameters/{k}": v
                for k, v in model.hyperparameters().items()}})
      if want_log:
        _log_progress(label, global_step, total_steps, steps_per_sec, last)
      if writer is not None and image_batch is not None and (
          due(image_summary_every) or is_last):
        summaries.write_images(writer, model, image_batch, global_step)
      if want_ckpt:
        # The loss of this step was computed before its update: check the
        # updated weights too, so a checkpoint never holds NaN/Inf weights.
        if not weights_finite(model):
          return FitResult(i + 1, False, last, seed, 0, 0.0, steps_per_sec,
                           global_step)
        checkpoint(global_step)
    if writer is not None:
      writer.flush()
    overall = num_steps / max(time.time() - start, 1e-9)
    return FitResult(num_steps, True, last, seed, 0, 0.0, overall)


def _log_progress(label, step, total, steps_per_sec, terms) -> None:
  eta = ((total - step) / steps_per_sec if total and steps_per_sec > 0
         else float("nan"))
  parts = [f"{label} step {step}" + (f"/{total}" if total else ""),
           f"{steps_per_sec:.2f} steps/s", f"ETA {format_seconds(eta)}"]
  for key, short in (("loss", "loss"), ("reconstruction_loss", "rec"),
                     ("kl_loss", "kl"), ("regularizer", "reg"),
                     ("num_active_latents", "active")):
    if key in terms:
      v = np.asarray(terms[key], np.float64)
      parts.append(f"{short} {float(np.mean(v)):.2f}" if key !=
                   "num_active_latents" else f"{short} {float(np.mean(v)):g}")
  logging.info("  ".join(parts))


# ---------------------------------------------------------------------------
# One model directory
# ---------------------------------------------------------------------------
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


def training_batches(model, data, batch_size: int, seed: int, indices,
                     labels) -> tf.data.Dataset:
  """The model class's own batches (``training_data`` classmethod, e.g.
  pairs for weak supervision, which also reads the model's current
  hyperparameters such as k) or the standard image/label pipeline."""
  import inspect

  custom = getattr(type(model), "training_data", None)
  if custom is not None:
    kwargs = dict(indices=indices, labels=labels)
    if "hyperparameters" in inspect.signature(custom).parameters:
      kwargs["hyperparameters"] = model.hyperparameters()
    return custom(data, batch_size, seed, **kwargs)
  return inputs.make_training_data(data, batch_size, seed, indices, labels)


def metadata_for(model, config: TrainConfig, data, **extra
                 ) -> Dict[str, Any]:
  """SavedModel metadata of a model trained with ``config`` (``extra``:
  further fields, e.g. a PBT member's generation and score)."""
  from tfdis.export.saved_model import build_metadata

  return build_metadata(model, data.info(), batch_size=config.batch_size,
                        learning_rate=config.learning_rate, seed=config.seed,
                        **extra)


# ---------------------------------------------------------------------------
# The one setup path
# ---------------------------------------------------------------------------
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
