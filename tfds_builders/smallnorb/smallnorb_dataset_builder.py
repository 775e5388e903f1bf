"""smallnorb: the small NORB files as a TFDS dataset (LeCun et al. 2004).

Reads from the manual directory the six NORB binary matrices
``smallnorb-5x46789x9x18x6x2x96x96-training-{dat,cat,info}.mat`` and
``smallnorb-5x01235x9x18x6x2x96x96-testing-{dat,cat,info}.mat`` (the
decompressed ``.mat.gz`` downloads). A NORB matrix starts with a little-endian
int32 magic number giving the element type, an int32 rank and max(rank, 3)
int32 dimensions, followed by the data.

As in Locatello et al. 2019 (dlib ``norb.py``) both parts are used, camera 0
only, the 96×96 images are resized to 64×64 (antialiased, PIL Lanczos), and
the grid is category 5 × instance 10 × elevation 9 × azimuth 18 × lighting 6
(azimuth stored as 0, 2, …, 34 → divided by 2), written in that row-major
order; ``instance`` is a nuisance factor (metadata ``nuisance_factors``).
Values: elevation 30°–70° in 5° steps, azimuth 0°–340° in 20° steps, the
class index otherwise. Not put in TFDS's registry (TFDS ships a ``smallnorb``
builder); use the class.
"""

from typing import Tuple

from etils import epath
import numpy as np
from PIL import Image
import tensorflow_datasets as tfds

from tfds_builders import _common

_BASE_URL = "https://cs.nyu.edu/~ylclab/data/norb-v1.0-small/"
PARTS = ("smallnorb-5x46789x9x18x6x2x96x96-training",
         "smallnorb-5x01235x9x18x6x2x96x96-testing")
MANUAL_FILES = {
    f"{part}-{kind}.mat": f"{_BASE_URL}{part}-{kind}.mat.gz (gunzip it)"
    for part in PARTS for kind in ("dat", "cat", "info")}
FACTOR_NAMES = ("category", "instance", "elevation", "azimuth", "lighting")
FACTOR_SIZES = (5, 10, 9, 18, 6)
CATEGORY_NAMES = ("animal", "human", "airplane", "truck", "car")
NUISANCE = ("instance",)

# NORB magic numbers -> numpy element types (little-endian).
_MAGIC = {0x1E3D4C51: "<f4", 0x1E3D4C53: "<f8", 0x1E3D4C54: "<i4",
          0x1E3D4C55: "u1", 0x1E3D4C56: "<i2"}


def read_norb_matrix(path) -> np.ndarray:
  """A NORB binary matrix file as a numpy array."""
  name = epath.Path(path).name
  with _common.reading_official_file(
      path, "smallNORB binary matrix (gunzipped .mat: magic number, rank, "
      "dims, data)", MANUAL_FILES.get(name, _BASE_URL)):
    raw = epath.Path(path).read_bytes()
    if raw[:2] == b"\x1f\x8b":
      raise ValueError("it is still gzip-compressed; gunzip it first")
    if len(raw) < 8:
      raise ValueError(f"{len(raw)} bytes, shorter than its header")
    magic, rank = np.frombuffer(raw[:8], dtype="<i4")
    if int(magic) not in _MAGIC:
      raise ValueError(f"unknown NORB magic number {int(magic):#x}")
    stored = max(int(rank), 3)
    if len(raw) < 8 + 4 * stored:
      raise ValueError(f"{len(raw)} bytes, shorter than its header")
    dims = np.frombuffer(raw[8:8 + 4 * stored], dtype="<i4")[:int(rank)]
    body = raw[8 + 4 * stored:]
    itemsize = np.dtype(_MAGIC[int(magic)]).itemsize
    # Whole elements only, so a truncated file fails the size check below.
    data = np.frombuffer(body[:len(body) // itemsize * itemsize],
                         dtype=_MAGIC[int(magic)])
    expected = int(np.prod(dims))
    if data.size != expected:
      raise ValueError(f"the header says {dims.tolist()} ({expected} "
                       f"elements) but the file holds {data.size}")
    return data.reshape(dims)


def resize_64(images: np.ndarray) -> np.ndarray:
  """uint8 [N, 64, 64] from [N, 96, 96], antialiased as dlib (PIL)."""
  return np.stack([np.asarray(Image.fromarray(x).resize((64, 64),
                                                        Image.LANCZOS))
                   for x in images]) if len(images) else np.zeros(
                       (0, 64, 64), np.uint8)


def read_parts(root) -> Tuple[np.ndarray, np.ndarray]:
  """(images uint8 [N, 96, 96] camera 0, labels [N, 5]) of both parts."""
  images, labels = [], []
  for part in PARTS:
    dat = read_norb_matrix(epath.Path(root) / f"{part}-dat.mat")
    cat = read_norb_matrix(epath.Path(root) / f"{part}-cat.mat").reshape(-1)
    info = read_norb_matrix(epath.Path(root) / f"{part}-info.mat")
    if not len(dat) == len(cat) == len(info) or dat.ndim != 4:
      raise ValueError(f"{part}: dat/cat/info disagree: {dat.shape}, "
                       f"{cat.shape}, {info.shape}")
    info = info.astype(np.int64).copy()
    info[:, 2] //= 2  # azimuth 0, 2, ..., 34 -> 0..17
    images.append(dat[:, 0])
    labels.append(np.concatenate([cat.astype(np.int64)[:, None], info], 1))
  return np.concatenate(images), np.concatenate(labels)


def label_values(labels: np.ndarray) -> np.ndarray:
  values = labels.astype(np.float32)
  values[:, 2] = 30.0 + 5.0 * labels[:, 2]  # elevation in degrees
  values[:, 3] = 20.0 * labels[:, 3]  # azimuth in degrees
  return values


class Builder(_common.CodePathMixin, tfds.core.GeneratorBasedBuilder,
              skip_registration=True):
  """smallNORB, camera 0, both parts, row-major over the five factors."""

  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": "Initial release (tfdis)."}
  MANUAL_DOWNLOAD_INSTRUCTIONS = (
      f"Download the six files {PARTS[0]}-{{dat,cat,info}}.mat.gz and "
      f"{PARTS[1]}-{{dat,cat,info}}.mat.gz from {_BASE_URL}, gunzip them and "
      "place the .mat files in the manual directory.")
  MANUAL_FILES = MANUAL_FILES

  def _info(self) -> tfds.core.DatasetInfo:
    factors = [("category", CATEGORY_NAMES)] + list(
        zip(FACTOR_NAMES[1:], FACTOR_SIZES[1:]))
    return self.dataset_info_from_configs(
        features=_common.factor_features(_common.png_image((64, 64, 1)),
                                         factors),
        homepage="https://cs.nyu.edu/~ylclab/data/norb-v1.0-small/",
        metadata=_common.factor_metadata(FACTOR_NAMES, NUISANCE),
        disable_shuffling=True,
    )

  def _split_generators(self, dl_manager):
    root = _common.require_manual_files(dl_manager, self.name, MANUAL_FILES)
    return {"train": self._generate_examples(root)}

  def _generate_examples(self, root):
    images, labels = read_parts(root)
    order = _common.row_major_order(labels, FACTOR_SIZES, "smallnorb")
    images, labels = images[order], labels[order]
    small = resize_64(images)[..., None]
    return _common.grid_examples(small, labels, label_values(labels),
                                 FACTOR_NAMES)
