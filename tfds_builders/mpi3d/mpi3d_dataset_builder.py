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

``MPI3DConfig(prefix_colours=c)`` (used by the dummy-data test only) accepts a
truncated file and labels its rows as the first N rows of the c × c grid.
"""

import dataclasses
from typing import Optional

from etils import epath
import numpy as np
import tensorflow_datasets as tfds

from tfds_builders import _common

URL = "https://storage.googleapis.com/mpi3d_disentanglement_dataset/data/"
FACTOR_NAMES = ("object_color", "object_shape", "object_size",
                "camera_height", "background_color", "horizontal_axis",
                "vertical_axis")
REST_SIZES = (2, 3, 3, 40, 40)
ROWS_PER_COLOUR_SHAPE = int(np.prod(REST_SIZES))  # 28,800
KNOWN_COLOURS = {4: 4 * 4 * ROWS_PER_COLOUR_SHAPE,
                 6: 6 * 6 * ROWS_PER_COLOUR_SHAPE}


@dataclasses.dataclass(eq=False)
class MPI3DConfig(tfds.core.BuilderConfig):
  filename: str = ""
  prefix_colours: Optional[int] = None


def manual_files(config) -> dict:
  return {config.filename: URL + config.filename}


def read_images(path, source: str) -> np.ndarray:
  """The ``images`` array of an MPI3D npz (``source``: where to get it)."""
  with _common.reading_official_file(
      path, "MPI3D npz (array images [N, 64, 64, 3])", source):
    with epath.Path(path).open("rb") as f:
      with np.load(f) as data:
        return np.asarray(data["images"])


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


class Builder(_common.CodePathMixin, tfds.core.GeneratorBasedBuilder):
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
    images = read_images(path, files[self.builder_config.filename])
    colours = colours_from_rows(len(images), self.builder_config.filename,
                                self.builder_config.prefix_colours)
    # Written to dataset_info.json with the build.
    self.info.metadata["colour_shape_values"] = colours
    self.info.metadata["grid_sizes"] = list(grid_sizes(colours))
    self.info.metadata["release"] = (
        "4x4 (dlib's toy/realistic release)" if colours == 4 else
        "6x6 (real / current public release)")
    return {"train": self._generate_examples(images, colours)}

  def _generate_examples(self, images, colours):
    sizes = np.asarray(grid_sizes(colours))
    index = np.arange(len(images))
    strides = np.concatenate([np.cumprod(sizes[::-1])[::-1][1:], [1]])
    labels = (index[:, None] // strides) % sizes
    return _common.grid_examples(images, labels, labels.astype(np.float32),
                                 FACTOR_NAMES)
