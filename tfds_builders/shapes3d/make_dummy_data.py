"""Writes dummy_data/3dshapes.h5: 6 rows in the official format.

``images`` uint8 [6, 64, 64, 3] and ``labels`` float64 [6, 6] (factor values),
rows in increasing row-major order (a few grid points of the full 480,000-row
grid), images rendered by tfdis's procedural Shapes3D.

Run from the repository root: python -m tfds_builders.shapes3d.make_dummy_data
"""

import os

import h5py
import numpy as np

from tfdis.data.procedural_shapes3d import ProceduralShapes3D


def make(path: str) -> None:
  data = ProceduralShapes3D("full")
  index = np.array([0, 1, 4000, 17421, 250000, 479999])
  labels = data.index_to_factors(index)
  values = np.stack([v[l] for v, l in zip(data.factor_values, labels.T)], 1)
  os.makedirs(os.path.dirname(path), exist_ok=True)
  with h5py.File(path, "w") as f:
    f.create_dataset("images", data=data.images_from_indices(index),
                     compression="gzip")
    f.create_dataset("labels", data=values.astype(np.float64))


if __name__ == "__main__":
  make(os.path.join(os.path.dirname(os.path.abspath(__file__)), "dummy_data",
                    "3dshapes.h5"))
