"""Writes dummy_data/mpi3d_{toy,realistic,real}.npz: 5 rows each.

Official key/dtype (``images`` uint8 [N, 64, 64, 3]); the real files have
460,800 or 1,036,800 rows, these are the first 5 rows of the grid (a
truncated file, which the builder accepts only with ``prefix_colours``).

Run from the repository root: python -m tfds_builders.mpi3d.make_dummy_data
"""

import os

import numpy as np


def make(directory: str) -> None:
  os.makedirs(directory, exist_ok=True)
  for k, name in enumerate(("toy", "realistic", "real")):
    images = np.zeros((5, 64, 64, 3), np.uint8)
    for i in range(5):  # vertical_axis moves a square down
      images[i, 10 + 8 * i:18 + 8 * i, 28:36] = 255
      images[i, ..., k] = np.maximum(images[i, ..., k], 40)
    np.savez_compressed(os.path.join(directory, f"mpi3d_{name}.npz"),
                        images=images)


if __name__ == "__main__":
  make(os.path.join(os.path.dirname(os.path.abspath(__file__)), "dummy_data"))
