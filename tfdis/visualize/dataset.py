"""Factor strips and animations of a ground-truth dataset.

For each factor, all other factors are held at one randomly drawn value
(``seed``) and the factor steps through its values (all of them, or
``num_values`` evenly spaced ones): a PNG strip and a looping GIF per factor,
plus ``overview.png`` with one labelled row per factor. This is the check that
each factor changes the image on its own (dlib ``visualize_dataset``).
"""

from __future__ import annotations

import os
from typing import List, Optional

import numpy as np

from tfdis.data.ground_truth import GroundTruthData
from tfdis.visualize import gifs, grids


def factor_sweep(data: GroundTruthData, factor: int, base: np.ndarray,
                 num_values: Optional[int] = None) -> np.ndarray:
  """int64 [n, K] factor rows: ``base`` with ``factor`` stepping its values."""
  size = data.factor_sizes[factor]
  n = size if num_values is None else max(1, min(int(num_values), size))
  steps = np.unique(np.round(np.linspace(0, size - 1, n)).astype(np.int64))
  rows = np.repeat(np.asarray(base, dtype=np.int64)[None], len(steps), axis=0)
  rows[:, factor] = steps
  return rows


def visualize_dataset(data: GroundTruthData, output_dir: str,
                      num_values: Optional[int] = None, seed: int = 0,
                      fps: float = 4.0) -> List[str]:
  """Writes ``<factor>.png`` and ``<factor>.gif`` per factor + ``overview.png``.

  Args:
    data: the dataset.
    output_dir: created if needed; files are written atomically.
    num_values: at most this many values per factor (evenly spaced over its
      range); None shows them all.
    seed: picks the values of the fixed factors and the nuisance draws.
    fps: GIF frame rate.

  Returns:
    The written paths.
  """
  if num_values is not None and num_values < 1:
    raise ValueError(f"num_values must be >= 1 or None, got {num_values}")
  os.makedirs(output_dir, exist_ok=True)
  base = data.sample_factors(1, np.random.RandomState(seed))[0]
  paths, rows = [], []
  for k, name in enumerate(data.factor_names):
    factors = factor_sweep(data, k, base, num_values)
    # The same nuisance seed for every factor keeps strips comparable.
    images = grids.to_rgb_uint8(data.sample_observations_from_factors(
        factors, np.random.RandomState(seed)))
    rows.append(images)
    png = os.path.join(output_dir, f"{name}.png")
    grids.save_png(png, grids.image_grid(images, num_cols=len(images)))
    gif = os.path.join(output_dir, f"{name}.gif")
    gifs.save_gif(gif, images, fps=fps)
    paths += [png, gif]
  width = max(len(r) for r in rows)
  height, wide, channels = rows[0].shape[1:]
  cells = np.full((len(rows), width, height, wide, channels), 255, np.uint8)
  for r, images in enumerate(rows):
    cells[r, :len(images)] = images
  overview = grids.image_grid(cells.reshape((-1,) + cells.shape[2:]),
                              num_cols=width)
  labels = [f"{n} ({s})" for n, s in zip(data.factor_names, data.factor_sizes)]
  overview = grids.add_row_labels(overview, labels, row_height=height)
  path = os.path.join(output_dir, "overview.png")
  grids.save_png(path, overview)
  paths.append(path)
  return paths
