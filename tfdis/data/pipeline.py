"""tf.data input pipelines over any GroundTruthData.

The hot path is index-based: a shuffled stream of grid row indices is batched
and each *batch* is turned into images by one vectorised call
(``images_from_indices``: a gather for in-memory data, a vectorised render for
procedural data). No per-image Python generator runs; uint8 -> float32 happens
inside the graph.
"""

from __future__ import annotations

from typing import Optional

import numpy as np
import tensorflow as tf

from tfdis.data.ground_truth import GroundTruthData

_MAX_SHUFFLE_BUFFER = 1_000_000


def _batch_loader(data: GroundTruthData, seed: int, with_factors: bool):
  shape = tuple(data.observation_shape)

  def load_np(index: np.ndarray) -> np.ndarray:
    # Nuisance factors (noise, colours) get a seed derived from the batch, so
    # a given batch renders identically whatever the parallelism.
    rs = np.random.RandomState(
        (int(seed) * 1_000_003 + int(index.sum()) + len(index)) % (2 ** 32))
    return data.images_from_indices(index, rs)

  def load(index):
    images = tf.numpy_function(load_np, [index], tf.uint8, stateful=False)
    images.set_shape((None,) + shape)
    images = tf.cast(images, tf.float32) / 255.0
    if not with_factors:
      return images
    factors = tf.numpy_function(
        lambda i: data.index_to_factors(i), [index], tf.int64, stateful=False)
    factors.set_shape((None, data.num_factors))
    return images, factors

  return load


def training_dataset(data: GroundTruthData, batch_size: int, seed: int = 0,
                     indices: Optional[np.ndarray] = None,
                     shuffle: bool = True, repeat: bool = True,
                     drop_remainder: bool = True,
                     with_factors: bool = False) -> tf.data.Dataset:
  """Float32 image batches [B, H, W, C] in [0, 1] (optionally with factors).

  Args:
    data: the ground-truth dataset.
    batch_size: global batch size.
    seed: shuffle seed; the stream is a deterministic function of it.
    indices: restrict to these grid rows (rPU-VAE subsets); default all.
    shuffle, repeat, drop_remainder: as in tf.data.
    with_factors: yield (images, factors) for evaluation.
  """
  if batch_size < 1:
    raise ValueError(f"batch_size must be >= 1, got {batch_size}")
  if indices is None:
    ds = tf.data.Dataset.range(data.num_examples)
    n = data.num_examples
  else:
    indices = np.asarray(indices, dtype=np.int64)
    if indices.ndim != 1 or len(indices) == 0:
      raise ValueError("indices must be a non-empty 1-D array of grid rows")
    ds = tf.data.Dataset.from_tensor_slices(indices)
    n = len(indices)
  if shuffle:
    ds = ds.shuffle(min(n, _MAX_SHUFFLE_BUFFER), seed=seed,
                    reshuffle_each_iteration=True)
  if repeat:
    ds = ds.repeat()
  ds = ds.batch(batch_size, drop_remainder=drop_remainder and repeat)
  ds = ds.map(_batch_loader(data, seed, with_factors),
              num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
  return ds.prefetch(tf.data.AUTOTUNE)


def evaluation_dataset(data: GroundTruthData, batch_size: int = 256,
                       indices: Optional[np.ndarray] = None,
                       seed: int = 0) -> tf.data.Dataset:
  """(images, factors) over the grid (or ``indices``) in order, one pass."""
  return training_dataset(data, batch_size, seed=seed, indices=indices,
                          shuffle=False, repeat=False, drop_remainder=False,
                          with_factors=True)
