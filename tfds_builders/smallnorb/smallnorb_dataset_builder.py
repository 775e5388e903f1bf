"""smallnorb: the small NORB files as a TFDS dataset (LeCun et al. 2004).

Reads the six NORB binary matrices
``smallnorb-5x46789x9x18x6x2x96x96-training-{dat,cat,info}.mat`` and
``smallnorb-5x01235x9x18x6x2x96x96-testing-{dat,cat,info}.mat``, each either
gunzipped (``.mat``, as in dlib's ``small_norb/`` folder) or as downloaded
(``.mat.gz``, read through gzip), from the manual directory, a dlib folder or
a download. A NORB matrix starts with a little-endian int32 magic number
giving the element type, an int32 rank and max(rank, 3) int32 dimensions,
followed by the data; the images are streamed a chunk at a time.

As in Locatello et al. 2019 (dlib ``norb.py``) both parts are used, camera 0
only, the 96×96 images are resized to 64×64 (antialiased, PIL Lanczos), and
the grid is category 5 × instance 10 × elevation 9 × azimuth 18 × lighting 6
(azimuth stored as 0, 2, …, 34 → divided by 2), written in that row-major
order; ``instance`` is a nuisance factor (metadata ``nuisance_factors``).
Values: elevation 30°–70° in 5° steps, azimuth 0°–340° in 20° steps, the
class index otherwise. Not put in TFDS's registry (TFDS ships a ``smallnorb``
builder); use the class.
"""

import functools
import gzip
from typing import Tuple

from etils import epath
import numpy as np
from PIL import Image
import tensorflow_datasets as tfds

from tfds_builders import _common
from tfds_builders import _download
from tfds_builders import _streaming

_BASE_URL = "https://cs.nyu.edu/~ylclab/data/norb-v1.0-small/"
PARTS = ("smallnorb-5x46789x9x18x6x2x96x96-training",
         "smallnorb-5x01235x9x18x6x2x96x96-testing")
KINDS = ("dat", "cat", "info")
# Each matrix as the gunzipped .mat (dlib's small_norb/ folder, or unpacked
# by hand) or the downloaded .mat.gz (read through gzip; TFDS's catalog
# records its size and SHA-256).
INPUTS = tuple(
    _download.Input(f"{part}-{kind}", (
        _download.Candidate(f"{part}-{kind}.mat",
                            f"{_BASE_URL}{part}-{kind}.mat.gz",
                            dlib_path=f"small_norb/{part}-{kind}.mat",
                            downloadable=False),
        _download.Candidate(f"{part}-{kind}.mat.gz",
                            f"{_BASE_URL}{part}-{kind}.mat.gz")))
    for part in PARTS for kind in KINDS)
MANUAL_FILES = _download.input_names(INPUTS)
FACTOR_NAMES = ("category", "instance", "elevation", "azimuth", "lighting")
FACTOR_SIZES = (5, 10, 9, 18, 6)
CATEGORY_NAMES = ("animal", "human", "airplane", "truck", "car")
NUISANCE = ("instance",)
CHUNK_ROWS = 2048

# NORB magic numbers -> numpy element types (little-endian).
_MAGIC = {0x1E3D4C51: "<f4", 0x1E3D4C53: "<f8", 0x1E3D4C54: "<i4",
          0x1E3D4C55: "u1", 0x1E3D4C56: "<i2"}


def _source(path) -> str:
  name = epath.Path(path).name
  name = name[:-len(".gz")] if name.endswith(".gz") else name
  return MANUAL_FILES.get(name, _BASE_URL)


class NorbMatrix:
  """A NORB binary matrix (``.mat`` or ``.mat.gz``) read a chunk at a time.

  A NORB matrix starts with a little-endian int32 magic number (the element
  type), an int32 rank and max(rank, 3) int32 dimensions, then the data. A
  gzip-compressed file is recognised by its first bytes and read through
  ``gzip`` (the downloads are ``.mat.gz``).
  """

  def __init__(self, path):
    self.path = epath.Path(path)
    self.reading = functools.partial(
        _common.reading_official_file, path,
        "smallNORB binary matrix (.mat or .mat.gz: magic number, rank, dims, "
        "data)", _source(path))
    with self.reading():
      raw = self._raw = self.path.open("rb")
      gzipped = raw.read(2) == b"\x1f\x8b"
      raw.seek(0)
      self._f = gzip.GzipFile(fileobj=raw) if gzipped else raw
      head = self._read_exact(8, "its header")
      magic, rank = np.frombuffer(head, dtype="<i4")
      if int(magic) not in _MAGIC:
        raise ValueError(f"unknown NORB magic number {int(magic):#x}")
      stored = max(int(rank), 3)
      dims = np.frombuffer(self._read_exact(4 * stored, "its header"),
                           dtype="<i4")[:int(rank)]
      self.shape = tuple(int(d) for d in dims)
      self.dtype = np.dtype(_MAGIC[int(magic)])
    self.row_elems = int(np.prod(self.shape[1:], dtype=np.int64))
    self.position = 0

  def _read_exact(self, n: int, what: str) -> bytes:
    data = self._f.read(n)
    if len(data) < n:
      raise ValueError(f"the file ends inside {what}")
    return data

  def __len__(self) -> int:
    return self.shape[0] if self.shape else 0

  def read(self, rows: int) -> np.ndarray:
    rows = max(0, min(int(rows), len(self) - self.position))
    want = rows * self.row_elems * self.dtype.itemsize
    with self.reading():
      data = self._f.read(want)
      if len(data) < want:
        expected = int(np.prod(self.shape, dtype=np.int64))
        held = (self.position * self.row_elems +
                len(data) // self.dtype.itemsize)
        raise ValueError(f"the header says {list(self.shape)} ({expected} "
                         f"elements) but the file holds {held}")
    self.position += rows
    return np.frombuffer(data, dtype=self.dtype).reshape(
        (rows,) + self.shape[1:])

  def close(self) -> None:
    self._f.close()
    self._raw.close()

  def __enter__(self) -> "NorbMatrix":
    return self

  def __exit__(self, *exc) -> None:
    self.close()


def read_norb_matrix(path) -> np.ndarray:
  """A whole NORB binary matrix file (``.mat`` or ``.mat.gz``)."""
  with NorbMatrix(path) as matrix:
    data = matrix.read(len(matrix))
    with matrix.reading():
      if matrix._f.read(1):  # pylint: disable=protected-access
        raise ValueError(f"the header says {list(matrix.shape)} but the "
                         "file holds more data")
    return data


def resize_64(images: np.ndarray) -> np.ndarray:
  """uint8 [N, 64, 64] from [N, 96, 96], antialiased as dlib (PIL)."""
  return np.stack([np.asarray(Image.fromarray(x).resize((64, 64),
                                                        Image.LANCZOS))
                   for x in images]) if len(images) else np.zeros(
                       (0, 64, 64), np.uint8)


def read_labels(paths, part: str) -> Tuple[np.ndarray, int]:
  """(labels [N, 5] int64 of one part, N); azimuth halved to 0..17."""
  cat = read_norb_matrix(paths[f"{part}-cat"]).reshape(-1)
  info = read_norb_matrix(paths[f"{part}-info"])
  if len(cat) != len(info) or info.ndim != 2 or info.shape[1] != 4:
    raise _common.OfficialFileError(
        f"{part}: cat/info disagree: {cat.shape}, {info.shape}")
  info = info.astype(np.int64).copy()
  info[:, 2] //= 2  # azimuth 0, 2, ..., 34 -> 0..17
  return np.concatenate([cat.astype(np.int64)[:, None], info], 1), len(cat)


def part_examples(paths, part: str):
  """(row-major key, example) of one part, streamed in file order."""
  labels, rows = read_labels(paths, part)
  keys = _streaming.row_major_keys(labels, FACTOR_SIZES)
  with NorbMatrix(paths[f"{part}-dat"]) as dat:
    if len(dat) != rows or len(dat.shape) != 4 or dat.shape[2:] != (96, 96):
      raise _common.OfficialFileError(
          f"{dat.path}: images {list(dat.shape)} do not match the {rows} "
          "labels of cat/info (expected [N, 2, 96, 96])")
    for start in range(0, rows, CHUNK_ROWS):
      images = resize_64(dat.read(CHUNK_ROWS)[:, 0])[..., None]  # camera 0
      stop = start + len(images)
      yield from _common.grid_examples(
          images, labels[start:stop], label_values(labels[start:stop]),
          FACTOR_NAMES, keys=keys[start:stop])


def read_parts(paths) -> Tuple[np.ndarray, np.ndarray]:
  """(images uint8 [N, 96, 96] camera 0, labels [N, 5]) of both parts."""
  images, labels = [], []
  for part in PARTS:
    part_labels, _ = read_labels(paths, part)
    images.append(read_norb_matrix(paths[f"{part}-dat"])[:, 0])
    labels.append(part_labels)
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
      f"{PARTS[1]}-{{dat,cat,info}}.mat.gz from {_BASE_URL} and place them "
      "(gunzipped or not) in the manual directory.")
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
    paths = _download.resolve(self, dl_manager, INPUTS)
    return {"train": self._generate_examples(paths)}

  def _generate_examples(self, paths):
    # The parts' rows interleave in row-major order: each example carries
    # its row-major key and TFDS's writer sorts them (48,600 small PNGs).
    for part in PARTS:
      yield from part_examples(paths, part)
