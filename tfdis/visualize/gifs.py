"""Latent traversal animations: cycling value schedules and GIF writing.

The schedules follow dlib's ``visualize_util``: a latent starts at its
encoded value and moves as a triangle wave over two periods, either through
the quantiles of a Gaussian (``cycle_gaussian``) or linearly through a fixed
interval (``cycle_interval``), so the animation loops seamlessly.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from tfdis import io_utils


def _triangle(start: np.ndarray, num_frames: int) -> np.ndarray:
  """[..., num_frames] positions in [0, 1]: start -> 1 -> 0 -> start."""
  grid = (np.asarray(start, dtype=np.float64)[..., None]
          + np.linspace(0.0, 2.0, num_frames)) % 2.0
  return np.where(grid > 1.0, 2.0 - grid, grid)


def cycle_gaussian(start, num_frames: int, loc: float = 0.0,
                   scale: float = 1.0) -> np.ndarray:
  """Values cycling through the quantiles of N(loc, scale²) from ``start``."""
  from scipy.stats import norm

  probs = _triangle(norm.cdf(start, loc=loc, scale=scale), num_frames)
  return norm.ppf(np.clip(probs, 0.001, 0.999), loc=loc, scale=scale)


def cycle_interval(start, num_frames: int, low: float = -2.0,
                   high: float = 2.0) -> np.ndarray:
  """Values moving linearly through [low, high] and back, from ``start``."""
  start01 = (np.asarray(start, dtype=np.float64) - low) / (high - low)
  return low + (high - low) * _triangle(start01, num_frames)


def save_gif(path: str, frames: Sequence[np.ndarray], fps: float = 10.0
             ) -> None:
  """uint8 frames [T, H, W, 3] -> looping GIF, written atomically."""
  from PIL import Image

  images = [Image.fromarray(np.asarray(f, dtype=np.uint8)) for f in frames]
  if not images:
    raise ValueError("save_gif needs at least one frame")
  with io_utils.atomic_path(path, suffix=".gif") as tmp:
    images[0].save(tmp, format="GIF", save_all=True,
                   append_images=images[1:], loop=0,
                   duration=int(round(1000.0 / fps)))
