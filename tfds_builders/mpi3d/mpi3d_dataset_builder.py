"""mpi3d: the MPI3D toy / realistic / real files as TFDS datasets.

Gondal et al. 2019. Configs ``toy``, ``realistic``, ``real`` read
``mpi3d_<config>.npz`` (key ``images``, uint8 [N, 64, 64, 3]) from the manual
directory. The file has no labels: rows are row-major over object_color,
object_shape, object_size 2, camera_height 3, background_color 3,
horizontal_axis 40, vertical_axis 40, and colour × shape is 4 × 4
(N = 460,800: the release dlib used for toy and realistic) or 6 × 6
(N = 1,036,800: real, and the current public toy release). It is inferred
from N and recorded in the dataset metadata (``colour_shape_values``,
``grid_sizes``); the colour/shape ClassLabels have 6 classes so both releases
fit one feature spec. Values are the class indices.

The images are streamed from the npz a chunk at a time (the file is 12.7 GB
for the 6 × 6 release) and written straight into shards in row-major order
(``tfds_builders/_streaming.py``): a build's memory does not grow with N.

``MPI3DConfig(prefix_colours=c)`` (used by the dummy-data test only) accepts a
truncated file and labels its rows as the first N rows of the c × c grid.
"""

import dataclasses
import functools
from typing import Optional

from etils import epath
import numpy as np
import tensorflow_datasets as tfds

from tfds_builders import _common
from tfds_builders import _streaming

URL = "https://storage.googleapis.com/mpi3d_disentanglement_dataset/data/"
FACTOR_NAMES = ("object_color", "object_shape", "object_size",
                "camera_height", "background_color", "horizontal_axis",
                "vertical_axis")
REST_SIZES = (2, 3, 3, 40, 40)
ROWS_PER_COLOUR_SHAPE = int(np.prod(REST_SIZES))  # 28,800
CHUNK_ROWS = 4096  # 48 MB of 64x64x3 images per read
KNOWN_COLOURS = {4: 4 * 4 * ROWS_PER_COLOUR_SHAPE,
                 6: 6 * 6 * ROWS_PER_COLOUR_SHAPE}


@dataclasses.dataclass(eq=False)
class MPI3DConfig(tfds.core.BuilderConfig):
  filename: str = ""
  prefix_colours: Optional[int] = None


def manual_files(config) -> dict:
  return {config.filename: URL + config.filename}


def read_images(path, source: str) -> np.ndarray:
  """The whole ``images`` array of an MPI3D npz (tests; builds stream)."""
  with _common.reading_official_file(
      path, "MPI3D npz (array images [N, 64, 64, 3])", source):
    with _streaming.NpzArchive(path) as archive:
      return archive.array("images").read_all()


def image_rows(path, source: str) -> int:
  """N of the ``images`` array, from its header (nothing else is read)."""
  with _common.reading_official_file(
      path, "MPI3D npz (array images [N, 64, 64, 3])", source):
    with _streaming.NpzArchive(path) as archive:
      images = archive.array("images")
      if images.shape[1:] != (64, 64, 3) or images.dtype != np.uint8:
        raise ValueError(f"images is {images.dtype} {list(images.shape)}, "
                         "expected uint8 [N, 64, 64, 3]")
      return len(images)


def stream_examples(path, source: str, colours: int,
                    rows: int = CHUNK_ROWS):
  """(row-major key, example) for every row, ``rows`` images at a time."""
  sizes = np.asarray(grid_sizes(colours))
  strides = np.concatenate([np.cumprod(sizes[::-1])[::-1][1:], [1]])
  reading = functools.partial(
      _common.reading_official_file, path,
      "MPI3D npz (array images [N, 64, 64, 3])", source)
  with reading():
    archive = _streaming.NpzArchive(path)
  with archive:
    with reading():
      images = archive.array("images")
    for start in range(0, len(images), rows):
      with reading():
        chunk = images.read(rows)
      index = np.arange(start, start + len(chunk))
      labels = (index[:, None] // strides) % sizes
      yield from _common.grid_examples(chunk, labels,
                                       labels.astype(np.float32),
                                       FACTOR_NAMES, keys=index)


def grid_sizes(colours: int) -> tuple:
  return (colours, colours) + REST_SIZES


def colours_from_rows(num_rows: int, filename: str,
                      prefix_colours: Optional[int] = None) -> int:
  for colours, rows in KNOWN_COLOURS.items():
    if num_rows == rows:
      return colours
  if prefix_colours is not None and num_rows <= KNOWN_COLOURS[prefix_colours]:
    return prefix_colours
  raise ValueError(
      f"{filename}: {num_rows} images; MPI3D files have {KNOWN_COLOURS[4]} "
      f"(colour x shape 4 x 4) or {KNOWN_COLOURS[6]} (6 x 6) rows. The file "
      f"is truncated or not an MPI3D release.")


class Builder(_common.CodePathMixin, _streaming.StreamingSplitsMixin,
              tfds.core.GeneratorBasedBuilder):
  """MPI3D (toy / realistic / real)."""

  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": "Initial release (tfdis)."}
  BUILDER_CONFIGS = [
      MPI3DConfig(name=name, filename=f"mpi3d_{name}.npz",
                  description=f"mpi3d_{name}.npz")
      for name in ("toy", "realistic", "real")]
  DEFAULT_CONFIG_NAME = "toy"
  MANUAL_DOWNLOAD_INSTRUCTIONS = (
      f"Download mpi3d_toy.npz, mpi3d_realistic.npz and/or mpi3d_real.npz "
      f"from {URL} and place them in the manual directory.")
  MANUAL_FILES = staticmethod(manual_files)

  def _info(self) -> tfds.core.DatasetInfo:
    factors = list(zip(FACTOR_NAMES, (6, 6) + REST_SIZES))
    return self.dataset_info_from_configs(
        features=_common.factor_features(_common.png_image((64, 64, 3)),
                                         factors),
        homepage="https://github.com/rr-learning/disentanglement_dataset",
        metadata=_common.factor_metadata(FACTOR_NAMES),
        disable_shuffling=True,
    )

  def _split_generators(self, dl_manager):
    files = manual_files(self.builder_config)
    root = _common.require_manual_files(dl_manager, self.name, files)
    path = root / self.builder_config.filename
    source = files[self.builder_config.filename]
    colours = colours_from_rows(image_rows(path, source),
                                self.builder_config.filename,
                                self.builder_config.prefix_colours)
    # Written to dataset_info.json with the build.
    self.info.metadata["colour_shape_values"] = colours
    self.info.metadata["grid_sizes"] = list(grid_sizes(colours))
    self.info.metadata["release"] = (
        "4x4 (dlib's toy/realistic release)" if colours == 4 else
        "6x6 (real / current public release)")
    return {"train": _streaming.KeyOrdered(
        self._generate_examples(path, source, colours))}

  def _generate_examples(self, path, source, colours):
    return stream_examples(path, source, colours)
