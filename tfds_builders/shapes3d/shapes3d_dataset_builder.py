"""shapes3d: the official 3D Shapes file as a TFDS dataset (Burgess & Kim 2018).

Reads ``3dshapes.h5`` from the manual directory: ``images`` uint8
[480000, 64, 64, 3] and ``labels`` float64 [480000, 6] (factor values, in the
order floor_hue 10, wall_hue 10, object_hue 10, scale 8, shape 4,
orientation 15). Labels (class indices) are the positions of the values on the
official grids (hues linspace(0, 0.9, 10), scale linspace(0.75, 1.25, 8),
shape 0..3, orientation linspace(-30, 30, 15)); rows are written in row-major
factor order (the file's order; sorted if a file is not), streamed a chunk
at a time (bounded memory, see ``tfds_builders/_streaming.py``). Not put in TFDS's
registry (TFDS ships a ``shapes3d`` builder); use the class.
"""

import functools

from etils import epath
import numpy as np
import tensorflow_datasets as tfds

from tfds_builders import _common
from tfds_builders import _streaming

FILENAME = "3dshapes.h5"
URL = "https://storage.googleapis.com/3d-shapes/3dshapes.h5"
FACTOR_NAMES = ("floor_hue", "wall_hue", "object_hue", "scale", "shape",
                "orientation")
FACTOR_VALUES = (np.linspace(0.0, 0.9, 10), np.linspace(0.0, 0.9, 10),
                 np.linspace(0.0, 0.9, 10), np.linspace(0.75, 1.25, 8),
                 np.arange(4.0), np.linspace(-30.0, 30.0, 15))
SHAPE_NAMES = ("cube", "cylinder", "sphere", "capsule")
MANUAL_FILES = {FILENAME: URL}
_CHUNK = 10000


def values_to_labels(values: np.ndarray) -> np.ndarray:
  """Class indices [N, 6] of factor values [N, 6] (nearest official value)."""
  labels = np.empty(values.shape, dtype=np.int64)
  for k, grid in enumerate(FACTOR_VALUES):
    labels[:, k] = np.abs(values[:, k, None] - grid[None, :]).argmin(axis=1)
    err = np.abs(grid[labels[:, k]] - values[:, k]).max(initial=0.0)
    if err > 1e-3 * max(1.0, np.abs(grid).max()):
      raise ValueError(f"{FILENAME}: {FACTOR_NAMES[k]} values are not on the "
                       f"official grid {np.round(grid, 4).tolist()}")
  return labels


class Builder(_common.CodePathMixin, _streaming.StreamingSplitsMixin,
              tfds.core.GeneratorBasedBuilder, skip_registration=True):
  """3D Shapes from the official h5 file."""

  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": "Initial release (tfdis)."}
  MANUAL_DOWNLOAD_INSTRUCTIONS = (
      f"Download {FILENAME} from {URL} and place it in the manual directory.")
  MANUAL_FILES = MANUAL_FILES

  def _info(self) -> tfds.core.DatasetInfo:
    sizes = [len(v) for v in FACTOR_VALUES]
    factors = list(zip(FACTOR_NAMES, sizes))
    factors[4] = ("shape", SHAPE_NAMES)
    return self.dataset_info_from_configs(
        features=_common.factor_features(_common.png_image((64, 64, 3)),
                                         factors),
        homepage="https://github.com/deepmind/3d-shapes",
        metadata=_common.factor_metadata(FACTOR_NAMES),
        disable_shuffling=True,
    )

  def _split_generators(self, dl_manager):
    root = _common.require_manual_files(dl_manager, self.name, MANUAL_FILES)
    return {"train": _streaming.KeyOrdered(
        self._generate_examples(root / FILENAME))}

  def _generate_examples(self, path):
    """Streams ``_CHUNK`` images at a time, in row-major order.

    Only ``labels`` (23 MB at full size) is read whole. A file in row-major
    order (the official one) is read in contiguous slices; otherwise each
    chunk of the row-major order is read with sorted point reads, so the
    keys (row-major positions) always increase.
    """
    h5py = tfds.core.lazy_imports.h5py
    reading = functools.partial(
        _common.reading_official_file, path,
        "3dshapes HDF5 file (datasets images [N, 64, 64, 3], labels [N, 6])",
        URL)
    with epath.Path(path).open("rb") as f:
      with reading():
        h5 = h5py.File(f, "r")
      with h5:
        with reading():
          values = np.asarray(h5["labels"], dtype=np.float64)
          labels = values_to_labels(values)
          order = _common.row_major_order(
              labels, [len(v) for v in FACTOR_VALUES], FILENAME)
          images = h5["images"]
          if images.shape[1:] != (64, 64, 3) or len(images) != len(values):
            raise ValueError(f"images has shape {images.shape}, expected "
                             f"[{len(values)}, 64, 64, 3]")
        sequential = (np.diff(order) == 1).all() if len(order) > 1 else True
        for start in range(0, len(order), _CHUNK):
          rows = order[start:start + _CHUNK]
          # h5py reads contiguous slices fast; point reads for the rest.
          with reading():
            chunk = (images[rows[0]:rows[-1] + 1] if sequential else
                     np.stack([images[int(r)] for r in rows]))
          yield from _common.grid_examples(
              chunk, labels[rows], values[rows].astype(np.float32),
              FACTOR_NAMES, keys=np.arange(start, start + len(rows)))
