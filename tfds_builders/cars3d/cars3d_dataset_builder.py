"""cars3d: the Cars3D renders as a TFDS dataset (Reed et al. 2015).

Reads every ``*.mat`` file of ``<manual_dir>/cars/`` (the ``data/cars``
folder of nips2015-analogy-data.tar.gz, dlib's ``cars/``) or the members
``data/cars/*.mat`` of the tarball itself (as downloaded): one file per car with key ``im`` of
shape 128×128×3×24×4 (H, W, C, azimuth, elevation), transposed to
[elevation, azimuth, H, W, C] and resized to 64×64 (antialiased, PIL Lanczos,
as dlib ``cars3d.py``). Factors elevation 4, azimuth 24, object 183 in
row-major order; the object index is the position of the file in sorted
filename order (dlib used the unsorted directory listing). Values are the
class indices.
"""

import functools
import io
import os
import tarfile

from etils import epath
import numpy as np
from PIL import Image
import scipy.io
import tensorflow_datasets as tfds

from tfds_builders import _common
from tfds_builders import _download

URL = "http://www.scottreed.info/files/nips2015-analogy-data.tar.gz"
TARBALL = "nips2015-analogy-data.tar.gz"
CARS_DIR = "cars"
# The extracted folder (dlib's cars/) or the tarball itself (read in place,
# members data/cars/*.mat); a download fetches the tarball. nmichlo/disent
# publishes the tarball's MD5 for this URL.
INPUTS = (_download.Input("cars", (
    _download.Candidate(f"{CARS_DIR}/", URL, dlib_path=f"{CARS_DIR}/",
                        downloadable=False,
                        note="extract it and copy data/cars/*.mat, 183 files"),
    _download.Candidate(TARBALL, URL, md5="4e866a7919c1beedf53964e6f7a23686",
                        md5_source="nmichlo/disent"))),)
MANUAL_FILES = _download.input_names(INPUTS)
FACTOR_NAMES = ("elevation", "azimuth", "object")
FACTOR_SIZES = (4, 24, 183)
_EXPECTED = "Cars3D MATLAB file (variable im [128, 128, 3, 24, 4])"


def _check_count(n: int, where) -> None:
  if not n:
    raise FileNotFoundError(f"no car .mat files in {where}")
  if n > FACTOR_SIZES[2]:
    raise ValueError(f"{n} car files in {where}, Cars3D has "
                     f"{FACTOR_SIZES[2]}")


def car_files(root) -> list:
  """The sorted ``*.mat`` files of ``<root>/cars/`` (or of ``root``)."""
  root = epath.Path(root)
  folder = root / CARS_DIR if (root / CARS_DIR).is_dir() else root
  files = sorted(p for p in folder.iterdir() if p.name.endswith(".mat"))
  _check_count(len(files), folder)
  return files


def _is_car_member(member) -> bool:
  parts = member.name.split("/")
  return (member.isfile() and parts[-1].endswith(".mat") and len(parts) > 1
          and parts[-2] == CARS_DIR)


def mesh_to_images(mesh: np.ndarray) -> np.ndarray:
  """uint8 [4 elevations, 24 azimuths, 64, 64, 3] of one car's ``im``."""
  mesh = np.asarray(mesh)
  if mesh.shape != (128, 128, 3, 24, 4):
    raise ValueError(f"variable 'im' has shape {mesh.shape}")
  mesh = np.einsum("abcde->edabc", mesh).reshape(-1, 128, 128, 3)
  small = np.stack([np.asarray(Image.fromarray(x).resize((64, 64),
                                                         Image.LANCZOS))
                    for x in mesh.astype(np.uint8)])
  return small.reshape(4, 24, 64, 64, 3)


def read_car(path, fileobj=None, where: str = "") -> np.ndarray:
  """uint8 [4, 24, 64, 64, 3] of one car file (or tarball member)."""
  with _common.reading_official_file(where or path, _EXPECTED,
                                     MANUAL_FILES[f"{CARS_DIR}/"]):
    if fileobj is None:
      with epath.Path(path).open("rb") as f:
        mesh = scipy.io.loadmat(f)["im"]
    else:  # a tar member: loadmat seeks, so read it (a few MB) first
      mesh = scipy.io.loadmat(io.BytesIO(fileobj.read()))["im"]
    return mesh_to_images(mesh)


def iter_cars(path):
  """(object index, images [4, 24, 64, 64, 3]) of a folder or the tarball.

  The object index is the car's position in sorted file-name order; a
  tarball is read twice in archive order (names, then data), never
  extracted.
  """
  path = epath.Path(path)
  if path.is_dir():
    for index, file in enumerate(car_files(path)):
      yield index, read_car(file)
    return
  reading = functools.partial(
      _common.reading_official_file, path,
      f"Cars3D tarball {TARBALL} (data/cars/*.mat)", URL)
  with reading():
    with tarfile.open(os.fspath(path), "r:gz") as tar:
      names = sorted(m.name for m in tar if _is_car_member(m))
    _check_count(len(names), path)
  index = {name: i for i, name in enumerate(names)}
  with reading():
    tar = tarfile.open(os.fspath(path), "r|gz")  # one sequential pass
  with tar:
    while True:
      with reading():
        member = tar.next()
      if member is None:
        break
      if _is_car_member(member):
        with reading():
          f = tar.extractfile(member)
        yield index[member.name], read_car(
            None, f, where=f"{path}:{member.name}")


class Builder(_common.CodePathMixin, tfds.core.GeneratorBasedBuilder):
  """Cars3D, row-major over (elevation, azimuth, object)."""

  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": "Initial release (tfdis)."}
  MANUAL_DOWNLOAD_INSTRUCTIONS = (
      f"Download {URL} and put the tarball in the manual directory, or "
      f"extract it and copy the .mat files of data/cars/ into "
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
    paths = _download.resolve(self, dl_manager, INPUTS)
    return {"train": self._generate_examples(paths["cars"])}

  def _generate_examples(self, path):
    # One car at a time; its 96 views carry their row-major keys and TFDS's
    # writer sorts them (17,568 small PNGs in all).
    grid = np.stack(np.meshgrid(np.arange(4), np.arange(24), indexing="ij"),
                    -1).reshape(-1, 2)
    for obj, images in iter_cars(path):
      labels = np.concatenate([grid, np.full((len(grid), 1), obj)], 1)
      keys = labels @ np.array([24 * FACTOR_SIZES[2], FACTOR_SIZES[2], 1])
      yield from _common.grid_examples(images.reshape(-1, 64, 64, 3), labels,
                                       labels.astype(np.float32),
                                       FACTOR_NAMES, keys=keys)
