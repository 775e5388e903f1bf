"""The one training engine.

:class:`Trainer` runs the steps of any registry model — one VAE, a K-member
vectorised ensemble, FactorVAE with its discriminator — for a step budget:
``tfdis_train`` and study workers (through :func:`train`), PBT members and
rPU metaEpochs (through ``tfdis.pbt.worker``) all hand a TrainConfig to one
``TrainSession`` (``tfdis.training.session``), which calls
:meth:`Trainer.fit`, and the optimisers
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
* checkpoint reads and writes (``Checkpoints``: a run directory's
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

The setup around it is :class:`tfdis.training.session.TrainSession`; the
whole run of one model directory is :func:`tfdis.training.model_dir.train`.
"""

from __future__ import annotations

import dataclasses
import math
import time
from typing import Any, Callable, Dict, Optional

import numpy as np
import tensorflow as tf
from absl import logging

from tfdis.models import precision
from tfdis.training import inputs, summaries


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
