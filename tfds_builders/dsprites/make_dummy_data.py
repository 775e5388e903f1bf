"""Writes dummy_data/: a tiny dSprites file in both official formats.

Same keys and dtypes as dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz
(``imgs`` uint8 {0, 1}, ``latents_classes`` int64, ``latents_values`` float64,
``metadata`` a pickled dict with ``latents_sizes``), on a reduced grid
colour 1 × shape 3 × scale 2 × orientation 2 × pos_x 2 × pos_y 2 = 48 rows,
row-major, images rendered by tfdis's procedural dSprites.

The same rows are written as DeepMind's HDF5 release
(dsprites_ndarray_co1sh3sc6or40x32y32_64x64.hdf5: datasets ``imgs``,
``latents/classes``, ``latents/values``; the metadata is not stored there).

Run from the repository root: python -m tfds_builders.dsprites.make_dummy_data
"""

import os

import numpy as np

from tfdis.data.procedural_dsprites import ProceduralDSprites

FILENAME = "dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz"
HDF5_FILENAME = "dsprites_ndarray_co1sh3sc6or40x32y32_64x64.hdf5"
SUBSETS = (np.arange(3), np.array([0, 5]), np.array([0, 10]),
           np.array([0, 31]), np.array([0, 31]))


def make(path: str) -> None:
  data = ProceduralDSprites(factor_subsets=SUBSETS)
  index = np.arange(data.num_examples)
  labels = data.index_to_factors(index)
  images = (data.images_from_indices(index)[..., 0] > 0).astype(np.uint8)
  values = np.stack([v[l] for v, l in zip(data.factor_values, labels.T)], 1)
  values[:, 0] += 1.0  # official shape values are 1, 2, 3
  classes = np.concatenate([np.zeros((len(index), 1), np.int64), labels], 1)
  values = np.concatenate([np.ones((len(index), 1)), values], 1)
  sizes = np.array([1] + [len(s) for s in SUBSETS])
  metadata = {
      "latents_sizes": sizes,
      "latents_names": ("color", "shape", "scale", "orientation", "posX",
                        "posY"),
      "latents_possible_values": {
          "color": np.array([1.0]), "shape": np.array([1.0, 2.0, 3.0]),
          "scale": data.factor_values[1], "orientation": data.factor_values[2],
          "posX": data.factor_values[3], "posY": data.factor_values[4]},
      "description": "tfdis dummy dSprites (reduced grid, official format)",
  }
  os.makedirs(os.path.dirname(path), exist_ok=True)
  np.savez_compressed(path, imgs=images, latents_classes=classes.astype(
      np.int64), latents_values=values.astype(np.float64),
                      metadata=np.array(metadata, dtype=object))


def make_hdf5(npz_path: str, path: str) -> None:
  """The rows of the npz at ``npz_path`` in the HDF5 release's layout."""
  import h5py  # pylint: disable=g-import-not-at-top
  with np.load(npz_path) as data:
    arrays = {k: data[k] for k in ("imgs", "latents_classes",
                                   "latents_values")}
  with h5py.File(path, "w") as f:
    f.create_dataset("imgs", data=arrays["imgs"], compression="gzip")
    f.create_dataset("latents/classes", data=arrays["latents_classes"])
    f.create_dataset("latents/values", data=arrays["latents_values"])


if __name__ == "__main__":
  HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                      "dummy_data")
  make(os.path.join(HERE, FILENAME))
  make_hdf5(os.path.join(HERE, FILENAME), os.path.join(HERE, HDF5_FILENAME))
