"""Training inputs: image batches, optionally with masked (partial) labels."""

from __future__ import annotations

from typing import Optional, Tuple

import numpy as np
import tensorflow as tf

from tfdis.data import pipeline
from tfdis.data.ground_truth import GroundTruthData, row_strides
from tfdis.models.losses import normalize_labels


def load_indices(indices=None, indices_path: Optional[str] = None
                 ) -> Optional[np.ndarray]:
  """Grid rows to train on (None = all)."""
  if indices_path is not None:
    with np.load(indices_path) as f:
      if "indices" not in f:
        raise ValueError(f"{indices_path!r} has no 'indices' array (keys: "
                         f"{sorted(f.files)})")
      indices = f["indices"]
  if indices is None:
    return None
  indices = np.asarray(indices, dtype=np.int64).ravel()
  if indices.size == 0:
    raise ValueError("indices is empty: nothing to train on")
  return indices


def load_labels(data: GroundTruthData, labels_path: Optional[str],
                num_labels: Optional[int], seed: int,
                train_indices: Optional[np.ndarray]
                ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
  """(sorted grid rows [n], labels [n, K] in [0, 1], mask [n, K]).

  From the npz at ``labels_path`` (keys indices, labels, optional mask and
  factor_sizes; labels without factor_sizes are min–max scaled per column),
  or ground-truth factors / factor sizes on ``num_labels`` random rows of the
  training set (all of it if None), as in Locatello et al. 2019b.
  """
  if labels_path is not None:
    with np.load(labels_path) as f:
      missing = {"indices", "labels"} - set(f.files)
      if missing:
        raise ValueError(f"labels file {labels_path!r} lacks {sorted(missing)}"
                         f" (has {sorted(f.files)})")
      rows = np.asarray(f["indices"], dtype=np.int64).ravel()
      labels = np.asarray(f["labels"], dtype=np.float32)
      mask = (np.asarray(f["mask"], dtype=np.float32) if "mask" in f
              else np.ones_like(labels))
      sizes = f["factor_sizes"] if "factor_sizes" in f else None
    if labels.ndim == 1:
      labels, mask = labels[:, None], mask.reshape(-1, 1)
    if len(rows) != len(labels) or labels.shape != mask.shape:
      raise ValueError(f"labels file {labels_path!r}: indices {rows.shape}, "
                       f"labels {labels.shape} and mask {mask.shape} disagree")
    # Min-max over labelled entries only (masked ones may hold anything).
    filled = np.where(mask > 0, labels, np.nan)
    if sizes is None:
      lo = np.nanmin(np.where(np.isnan(filled), np.inf, filled), axis=0)
      hi = np.nanmax(np.where(np.isnan(filled), -np.inf, filled), axis=0)
      span = np.where(hi > lo, hi - lo, 1.0)
      labels = np.where(mask > 0, (labels - lo) / span, 0.0)
    else:
      labels = normalize_labels(labels, sizes) * (mask > 0)
  else:
    pool = (np.arange(data.num_examples, dtype=np.int64)
            if train_indices is None else train_indices)
    if num_labels is not None and num_labels < len(pool):
      rs = np.random.RandomState(seed)
      rows = rs.choice(pool, size=num_labels, replace=False)
    else:
      rows = pool
    labels = normalize_labels(data.index_to_factors(rows), data.factor_sizes)
    mask = np.ones_like(labels)
  order = np.argsort(rows, kind="stable")
  rows, labels, mask = rows[order], labels[order], mask[order]
  if len(np.unique(rows)) != len(rows):
    raise ValueError("labels: duplicate grid rows in indices")
  return rows, labels.astype(np.float32), mask.astype(np.float32)


def make_training_data(data: GroundTruthData, batch_size: int, seed: int,
                       indices: Optional[np.ndarray] = None,
                       labels: Optional[Tuple[np.ndarray, np.ndarray,
                                              np.ndarray]] = None
                       ) -> tf.data.Dataset:
  """Global batches: images, or {'images', 'labels', 'mask'} when labelled.

  Label lookup is in-graph and vectorised: the batch's grid rows are
  recovered from its factors and matched against the sorted labelled rows
  with ``tf.searchsorted``; unlabelled rows get mask 0.
  """
  if labels is None:
    return pipeline.training_dataset(data, batch_size, seed=seed,
                                     indices=indices)
  ds = pipeline.training_dataset(data, batch_size, seed=seed, indices=indices,
                                 with_factors=True)
  rows, values, mask = (tf.constant(a) for a in labels)
  strides = tf.constant(row_strides(data.factor_sizes))
  n = int(labels[0].shape[0])

  def attach(images, factors):
    index = tf.reduce_sum(factors * strides[None, :], axis=1)
    pos = tf.minimum(tf.searchsorted(rows, index), n - 1)
    found = tf.cast(tf.equal(tf.gather(rows, pos), index), tf.float32)
    return {"images": images,
            "labels": tf.gather(values, pos) * found[:, None],
            "mask": tf.gather(mask, pos) * found[:, None]}

  return ds.map(attach, num_parallel_calls=tf.data.AUTOTUNE,
                deterministic=True)
