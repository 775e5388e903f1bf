"""cars3d: the Cars3D renders as a TFDS dataset (Reed et al. 2015).

Reads every ``*.mat`` file of ``<manual_dir>/cars/`` (the ``data/cars``
folder of nips2015-analogy-data.tar.gz): one file per car with key ``im`` of
shape 128×128×3×24×4 (H, W, C, azimuth, elevation), transposed to
[elevation, azimuth, H, W, C] and resized to 64×64 (antialiased, PIL Lanczos,
as dlib ``cars3d.py``). Factors elevation 4, azimuth 24, object 183 in
row-major order; the object index is the position of the file in sorted
filename order (dlib used the unsorted directory listing). Values are the
class indices.
"""

from etils import epath
import numpy as np
from PIL import Image
import scipy.io
import tensorflow_datasets as tfds

from tfds_builders import _common

URL = "http://www.scottreed.info/files/nips2015-analogy-data.tar.gz"
CARS_DIR = "cars"
MANUAL_FILES = {
    f"{CARS_DIR}/": f"{URL} (extract it and copy data/cars/*.mat, 183 files)"}
FACTOR_NAMES = ("elevation", "azimuth", "object")
FACTOR_SIZES = (4, 24, 183)


def car_files(root) -> list:
  files = sorted(p for p in (epath.Path(root) / CARS_DIR).iterdir()
                 if p.name.endswith(".mat"))
  if not files:
    raise FileNotFoundError(f"no .mat files in {epath.Path(root) / CARS_DIR}")
  if len(files) > FACTOR_SIZES[2]:
    raise ValueError(f"{len(files)} car files, Cars3D has {FACTOR_SIZES[2]}")
  return files


def read_car(path) -> np.ndarray:
  """uint8 [4 elevations, 24 azimuths, 64, 64, 3] of one car file."""
  with _common.reading_official_file(
      path, "Cars3D MATLAB file (variable im [128, 128, 3, 24, 4])",
      MANUAL_FILES[f"{CARS_DIR}/"]):
    with epath.Path(path).open("rb") as f:
      mesh = np.asarray(scipy.io.loadmat(f)["im"])
    if mesh.shape != (128, 128, 3, 24, 4):
      raise ValueError(f"variable 'im' has shape {mesh.shape}")
  mesh = np.einsum("abcde->edabc", mesh).reshape(-1, 128, 128, 3)
  small = np.stack([np.asarray(Image.fromarray(x).resize((64, 64),
                                                         Image.LANCZOS))
                    for x in mesh.astype(np.uint8)])
  return small.reshape(4, 24, 64, 64, 3)


class Builder(_common.CodePathMixin, tfds.core.GeneratorBasedBuilder):
  """Cars3D, row-major over (elevation, azimuth, object)."""

  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": "Initial release (tfdis)."}
  MANUAL_DOWNLOAD_INSTRUCTIONS = (
      f"Download {URL}, extract it and copy the .mat files of data/cars/ into "
      f"<manual_dir>/{CARS_DIR}/.")
  MANUAL_FILES = MANUAL_FILES

  def _info(self) -> tfds.core.DatasetInfo:
    return self.dataset_info_from_configs(
        features=_common.factor_features(_common.png_image((64, 64, 3)),
                                         list(zip(FACTOR_NAMES, FACTOR_SIZES))),
        homepage="https://papers.nips.cc/paper/5845-deep-visual-analogy-making",
        metadata=_common.factor_metadata(FACTOR_NAMES),
        disable_shuffling=True,
    )

  def _split_generators(self, dl_manager):
    root = _common.require_manual_files(dl_manager, self.name, MANUAL_FILES)
    return {"train": self._generate_examples(root)}

  def _generate_examples(self, root):
    files = car_files(root)
    cars = np.stack([read_car(p) for p in files], axis=2)  # [4, 24, O, ...]
    n_obj = len(files)
    grid = np.stack(np.meshgrid(np.arange(4), np.arange(24), np.arange(n_obj),
                                indexing="ij"), -1).reshape(-1, 3)
    keys = grid @ np.array([24 * FACTOR_SIZES[2], FACTOR_SIZES[2], 1])
    return _common.grid_examples(cars.reshape(-1, 64, 64, 3), grid,
                                 grid.astype(np.float32), FACTOR_NAMES,
                                 keys=keys)
