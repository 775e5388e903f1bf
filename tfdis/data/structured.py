"""Structured training batches: weakly-supervised pairs and DC-IGN batches.

Two samplers over any :class:`~tfdis.data.ground_truth.GroundTruthData`, both
``tf.data`` pipelines whose factor draws are vectorised stateless TF ops
(seeded by (seed, batch number), so the stream is a deterministic function
of ``seed``) and whose images come from one vectorised
``images_from_indices`` call per batch (``tfdis.data.pipeline``).

**Pairs** (Locatello et al. 2020, "Weakly-supervised disentanglement without
compromises", Sec. 5; dlib ``methods/weak/train_weak_lib.simple_dynamics``):
x₁ has uniformly drawn factors; x₂ copies them and resamples k of them,
chosen uniformly without replacement. Batches are dicts::

  {"images": float32 [B, 2, H, W, C],   # [:, 0] = x₁, [:, 1] = x₂
   "k": int32 [B],                       # the configured k (-1 = random)
   "factors": int64 [B, 2, K]}           # only with with_factors=True

``k`` is a fixed integer 1 ≤ k ≤ K − 1, or ``RANDOM_K`` (-1, dlib's value) for
a k drawn per pair. Two choices, each with dlib's behaviour available:

* ``k_distribution`` — "uniform" (default, the spec and the paper: k ~
  U{1, …, K−1} per pair when random, k itself when fixed) or "dlib": dlib's
  ``simple_dynamics`` draws the number of resampled factors as
  ``choice([1, k_observed])``, so half of all pairs change ONE factor even
  for a fixed k > 1 or a random k (k_observed ~ U{1, …, K−1}).
* ``resample`` — "any" (default, dlib and the spec's "k resampled factors"):
  each chosen factor gets a new value uniform over ALL its values, so it may
  keep its value (probability 1/size) and a pair can differ in fewer than k
  factors; or "different": the new value is uniform over the OTHER values,
  so exactly k factors differ.

(dlib also drew the new values from numpy's global RNG, not the seeded one;
here every draw is seeded.) Factors with a single value never change.

**DC-IGN batches** (Kulkarni et al. 2015, Sec. 3.1; slides 002): exactly one
factor varies within a batch, all others are fixed at one uniform draw. The
varying factor is drawn uniformly per batch ("random", the paper: "select at
random a latent variable z_train … select at random a mini-batch in which
only that variable changes") or taken in turn ("cycle", the spec's "training
cycles over factors"). Its values cover its range as evenly as the batch
allows (a random permutation of the values, tiled over the batch), so the
batch always shows the factor changing. Batches are dicts::

  {"images": float32 [B, H, W, C],
   "varying_factor": float32 [B, K],     # one-hot of the varying factor
   "factors": int64 [B, K]}              # only with with_factors=True

The one-hot is repeated per example so ``strategy.experimental_distribute_
dataset`` can split it with the images.

Both samplers draw from the full factor grid: a grid subset (``indices``)
cannot supply pairs or single-factor batches in general and is refused.
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
import tensorflow as tf

from tfdis.checks import check_count
from tfdis.data import pipeline
from tfdis.data.ground_truth import GroundTruthData, row_strides
from tfdis.registry import check_choice

RANDOM_K = -1
K_DISTRIBUTIONS = ("uniform", "dlib")
RESAMPLING = ("any", "different")
FACTOR_SCHEDULES = ("random", "cycle")

# Salts separating the independent stateless draws of one batch.
_SALT_BASE, _SALT_K, _SALT_CHOICE, _SALT_VALUES, _SALT_MIX = range(5)


def check_structured_data(data, indices=None, what: str = "structured batches"
                          ) -> np.ndarray:
  """Factor sizes of ``data`` (int64 [K]); raises when it cannot supply
  ``what`` (not a factor grid, a grid-row subset, no factor that varies)."""
  if not isinstance(data, GroundTruthData):
    raise TypeError(f"{what} need a ground-truth dataset with a factor grid "
                    f"(tfdis.data.GroundTruthData), got {type(data).__name__}")
  if indices is not None:
    raise ValueError(
        f"{what} resample factors over the whole grid of {data.name}; "
        "training on a subset of grid rows (indices/indices_path) is not "
        "supported for these models: drop indices")
  sizes = np.asarray(data.factor_sizes, dtype=np.int64)
  if sizes.size == 0 or not (sizes > 1).any():
    raise ValueError(f"{data.name} has no factor with more than one value "
                     f"(factor sizes {list(sizes)}): it cannot supply {what}")
  return sizes


def _seed(seed: tf.Tensor, batch: tf.Tensor, salt: int) -> tf.Tensor:
  """Stateless seed [2] for one draw of one batch."""
  return tf.stack([tf.cast(seed, tf.int64),
                   tf.cast(batch, tf.int64) * 8 + salt])


def _uniform_values(shape, sizes: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
  """int64 values uniform in [0, sizes) (sizes broadcast against shape)."""
  u = tf.random.stateless_uniform(shape, seed=seed, dtype=tf.float64)
  sizes_f = tf.cast(sizes, tf.float64)
  return tf.cast(tf.minimum(tf.floor(u * sizes_f), sizes_f - 1), tf.int64)


def _endless(make_batch) -> tf.data.Dataset:
  """make_batch(batch number) for batch 0, 1, 2, …, in order."""
  return tf.data.Dataset.counter().map(
      make_batch, num_parallel_calls=tf.data.AUTOTUNE,
      deterministic=True).prefetch(tf.data.AUTOTUNE)


# ---- pairs -----------------------------------------------------------------
def check_k(k, factor_sizes: Sequence[int]) -> int:
  """Validates k against the number of factors that can change."""
  variable = int((np.asarray(factor_sizes) > 1).sum())
  if isinstance(k, bool) or int(k) != k:
    raise ValueError(f"k must be an integer (or {RANDOM_K} for random), got "
                     f"{k!r}")
  k = int(k)
  if k == RANDOM_K:
    if variable < 2:
      raise ValueError(f"random k needs at least 2 factors that vary (k ~ "
                       f"U{{1, …, K−1}}); this dataset has {variable}")
    return k
  if not 1 <= k <= variable - 1:
    raise ValueError(
        f"k={k}: pairs must share at least one factor, so k must be in "
        f"[1, {variable - 1}] for {variable} varying factors (or {RANDOM_K} "
        "for a random k per pair)")
  return k


def sample_pair_factors(factor_sizes: Sequence[int], batch_size: int, k: int,
                        seed, batch=0, k_distribution: str = "uniform",
                        resample: str = "any"):
  """Factors of B pairs: (f1 int64 [B, K], f2 int64 [B, K], num_resampled
  int32 [B]). Pure stateless TF; ``seed``/``batch`` pick the draw."""
  check_choice("k_distribution", k_distribution, K_DISTRIBUTIONS)
  check_choice("resample", resample, RESAMPLING)
  sizes_np = np.asarray(factor_sizes, dtype=np.int64)
  k = check_k(k, sizes_np)
  num_factors = len(sizes_np)
  variable = int((sizes_np > 1).sum())
  sizes = tf.constant(sizes_np)
  shape = [batch_size, num_factors]
  f1 = _uniform_values(shape, sizes[None, :], _seed(seed, batch, _SALT_BASE))
  if k == RANDOM_K:  # k ~ U{1, …, variable − 1} per pair
    count = 1 + _uniform_values([batch_size], variable - 1,
                                _seed(seed, batch, _SALT_K))
  else:
    count = tf.fill([batch_size], tf.constant(k, tf.int64))
  if k_distribution == "dlib":  # choice([1, k_observed]) per pair
    coin = tf.random.stateless_uniform([batch_size],
                                       seed=_seed(seed, batch, _SALT_MIX))
    count = tf.where(coin < 0.5, tf.ones_like(count), count)
  # k distinct factors per pair: the k smallest of iid uniforms (factors
  # that cannot change get 2 and are never among them).
  u = tf.random.stateless_uniform(shape, seed=_seed(seed, batch,
                                                    _SALT_CHOICE))
  u = tf.where(sizes[None, :] > 1, u, 2.0)
  rank = tf.argsort(tf.argsort(u, axis=1), axis=1)
  chosen = tf.cast(rank, tf.int64) < count[:, None]
  if resample == "any":
    new = _uniform_values(shape, sizes[None, :],
                          _seed(seed, batch, _SALT_VALUES))
  else:  # uniform over the size − 1 other values
    step = 1 + _uniform_values(shape, tf.maximum(sizes - 1, 1)[None, :],
                               _seed(seed, batch, _SALT_VALUES))
    new = (f1 + step) % sizes[None, :]
  f2 = tf.where(chosen, new, f1)
  return f1, f2, tf.cast(count, tf.int32)


def pair_dataset(data: GroundTruthData, batch_size: int, k: int = 1,
                 seed: int = 0, k_distribution: str = "uniform",
                 resample: str = "any", indices=None,
                 with_factors: bool = False) -> tf.data.Dataset:
  """Endless batches of pairs sharing all but k factors (module docstring)."""
  sizes = check_structured_data(data, indices, "weakly-supervised pairs")
  k = check_k(k, sizes)
  check_count("batch_size", batch_size)
  strides = tf.constant(row_strides(sizes))
  load = pipeline._batch_loader(data, seed, with_factors=False)
  shape = tuple(data.observation_shape)

  def make_batch(batch):
    f1, f2, _ = sample_pair_factors(sizes, batch_size, k, seed, batch,
                                    k_distribution, resample)
    factors = tf.stack([f1, f2], axis=1)  # [B, 2, K]
    index = tf.reduce_sum(factors * strides, axis=-1)
    images = tf.reshape(load(tf.reshape(index, [-1])),
                        (batch_size, 2) + shape)
    out = {"images": images, "k": tf.fill([batch_size], k)}
    if with_factors:
      out["factors"] = factors
    return out

  return _endless(make_batch)


# ---- DC-IGN single-factor batches ------------------------------------------
def eligible_factors(factor_sizes: Sequence[int],
                     factors: Optional[Sequence[int]] = None) -> np.ndarray:
  """Factors a batch may vary: ``factors`` (default: every factor with more
  than one value), validated."""
  sizes = np.asarray(factor_sizes, dtype=np.int64)
  if factors is None:
    return np.flatnonzero(sizes > 1).astype(np.int64)
  factors = np.asarray(list(factors), dtype=np.int64).ravel()
  if factors.size == 0:
    raise ValueError("factors to vary is empty")
  bad = [int(f) for f in factors if not 0 <= f < len(sizes) or sizes[f] < 2]
  if bad:
    raise ValueError(f"cannot vary factor(s) {bad}: factors are 0..."
                     f"{len(sizes) - 1} with sizes {list(sizes)} and a "
                     "varying factor needs at least 2 values")
  return np.unique(factors)


def sample_single_factor_factors(factor_sizes: Sequence[int], batch_size: int,
                                 seed, batch=0,
                                 factors: Optional[Sequence[int]] = None,
                                 schedule: str = "random"):
  """Factors of one DC-IGN batch: (int64 [B, K], varying factor int64 [])."""
  check_choice("schedule", schedule, FACTOR_SCHEDULES)
  sizes_np = np.asarray(factor_sizes, dtype=np.int64)
  eligible = tf.constant(eligible_factors(sizes_np, factors))
  sizes = tf.constant(sizes_np)
  n = tf.size(eligible, out_type=tf.int64)
  batch = tf.cast(batch, tf.int64)
  if schedule == "cycle":
    which = batch % n
  else:
    which = _uniform_values([], n, _seed(seed, batch, _SALT_CHOICE))
  varying = eligible[which]
  size = sizes[varying]
  base = _uniform_values([len(sizes_np)], sizes,
                         _seed(seed, batch, _SALT_BASE))
  # A random permutation of the factor's values, tiled over the batch.
  u = tf.random.stateless_uniform([int(sizes_np.max())],
                                  seed=_seed(seed, batch, _SALT_VALUES))
  u = tf.where(tf.range(int(sizes_np.max()), dtype=tf.int64) < size, u, 2.0)
  perm = tf.cast(tf.argsort(u), tf.int64)
  values = tf.gather(perm, tf.range(batch_size, dtype=tf.int64) % size)
  is_varying = tf.equal(tf.range(len(sizes_np), dtype=tf.int64), varying)
  out = tf.where(is_varying[None, :], values[:, None], base[None, :])
  return out, varying


def single_factor_dataset(data: GroundTruthData, batch_size: int,
                          seed: int = 0,
                          factors: Optional[Sequence[int]] = None,
                          schedule: str = "random", indices=None,
                          with_factors: bool = False) -> tf.data.Dataset:
  """Endless DC-IGN batches in which exactly one factor varies."""
  sizes = check_structured_data(data, indices, "DC-IGN single-factor batches")
  eligible_factors(sizes, factors)  # validate early
  if batch_size < 2:
    raise ValueError(f"DC-IGN batches need batch_size >= 2 (one factor "
                     f"varies across the batch), got {batch_size}")
  strides = tf.constant(row_strides(sizes))
  load = pipeline._batch_loader(data, seed, with_factors=False)
  num_factors = len(sizes)

  def make_batch(batch):
    f, varying = sample_single_factor_factors(sizes, batch_size, seed, batch,
                                              factors, schedule)
    images = load(tf.reduce_sum(f * strides, axis=-1))
    images.set_shape((batch_size,) + tuple(data.observation_shape))
    onehot = tf.one_hot(tf.fill([batch_size], varying), num_factors)
    out = {"images": images, "varying_factor": onehot}
    if with_factors:
      out["factors"] = f
    return out

  return _endless(make_batch)
