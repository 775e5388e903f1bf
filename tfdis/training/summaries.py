"""TensorBoard summaries: every loss term, per-latent KL and image grids."""

from __future__ import annotations

from typing import Dict

import numpy as np
import tensorflow as tf


def write_scalars(writer, terms: Dict[str, np.ndarray], step: int,
                  extra: Dict[str, float]) -> None:
  """Scalars for every term; vectors (per-latent KL) one scalar per entry."""
  with writer.as_default(step=step):
    for name, value in terms.items():
      value = np.asarray(value)
      if value.ndim == 0:
        tf.summary.scalar(f"losses/{name}", float(value))
      else:
        for i, v in enumerate(value.ravel()):
          tf.summary.scalar(f"{name}/latent_{i:02d}", float(v))
    for name, value in extra.items():
      tf.summary.scalar(name, float(value))


def _grid(images: np.ndarray, rows: int, cols: int) -> np.ndarray:
  """[rows·cols, H, W, C] -> one [1, rows·H, cols·W, C] image (vectorised)."""
  n, h, w, c = images.shape
  images = images[:rows * cols].reshape(rows, cols, h, w, c)
  return images.transpose(0, 2, 1, 3, 4).reshape(1, rows * h, cols * w, c)


def write_images(writer, model, images: np.ndarray, step: int,
                 traversal_steps: int = 7, traversal_range: float = 2.0
                 ) -> None:
  """Reconstructions (inputs above, reconstructions below) and a latent
  traversal of the first image (one row per latent, ±traversal_range)."""
  images = np.asarray(images[:8], np.float32)
  mean, _ = model.encode(tf.constant(images))
  recon = tf.sigmoid(model.decode(mean)).numpy()
  pair = np.concatenate([images, recon], axis=0)
  d = int(mean.shape[1])
  values = np.linspace(-traversal_range, traversal_range, traversal_steps,
                       dtype=np.float32)
  codes = np.repeat(mean.numpy()[:1], d * traversal_steps, axis=0)
  rows = np.repeat(np.arange(d), traversal_steps)
  codes[np.arange(len(codes)), rows] = np.tile(values, d)
  trav = tf.sigmoid(model.decode(tf.constant(codes))).numpy()
  with writer.as_default(step=step):
    tf.summary.image("reconstructions", _grid(pair, 2, len(images)))
    tf.summary.image("latent_traversals", _grid(trav, d, traversal_steps))
