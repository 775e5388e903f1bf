"""dsprites: the official dSprites file as a TFDS dataset (Matthey et al. 2017).

Reads either release of the same data from the manual directory (or
downloads it):

* ``dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz`` (the file dlib reads):
  ``imgs`` uint8 [737280, 64, 64] in {0, 1}, ``latents_classes`` int64
  [737280, 6], ``latents_values`` float64 [737280, 6], ``metadata`` (pickled
  dict);
* ``dsprites_ndarray_co1sh3sc6or40x32y32_64x64.hdf5`` (DeepMind's HDF5
  release, the one TFDS reads): datasets ``imgs``, ``latents/classes``,
  ``latents/values`` with the same shapes.

The format is recognised from the file's first bytes. The constant colour
latent (size 1) is dropped; the factors are shape 3, scale 6, orientation 40,
pos_x 32, pos_y 32 in file (row-major) order.

The images are streamed (``_streaming``: a few thousand rows at a time) and
written straight into shards in row-major order, so a build's memory does not
grow with the file. A file whose rows are not in row-major order is still
accepted: each example's key is its row-major index and TFDS's writer sorts
them (in memory, as TFDS always does).

Deviations from TFDS's own ``dsprites``: images are stored as 0/255 (not 0/1)
so that ``image / 255`` is the binary sprite, and the factor sizes are taken
from ``latents_classes`` (max + 1) instead of unpickling ``metadata`` (the
official values equal ``latents_sizes``; a file one did not make should not be
unpickled). The builder is not put in TFDS's registry because TFDS ships a
builder of the same name; use the class.
"""

import contextlib
import functools
from typing import Iterator, Tuple

from etils import epath
import numpy as np
import tensorflow_datasets as tfds

from tfds_builders import _common
from tfds_builders import _streaming

FILENAME = "dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz"
URL = ("https://github.com/deepmind/dsprites-dataset/raw/master/"
       "dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz")
HDF5_FILENAME = "dsprites_ndarray_co1sh3sc6or40x32y32_64x64.hdf5"
# TFDS's URL for the HDF5 release (its checksums.tsv records this URL).
HDF5_URL = ("https://github.com/deepmind/dsprites-dataset/blob/master/"
            "dsprites_ndarray_co1sh3sc6or40x32y32_64x64.hdf5?raw=true")
FACTOR_NAMES = ("shape", "scale", "orientation", "pos_x", "pos_y")
FACTOR_SIZES = (3, 6, 40, 32, 32)
SHAPE_NAMES = ("square", "ellipse", "heart")
MANUAL_FILES = {FILENAME: URL}
CHUNK_ROWS = 8192  # 32 MB of 64x64 uint8 images per read

_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
_NPZ_EXPECTED = "dSprites npz (arrays imgs, latents_classes, latents_values)"
_HDF5_EXPECTED = ("dSprites HDF5 file (datasets imgs, latents/classes, "
                  "latents/values)")


def file_format(path) -> str:
  """"hdf5" or "npz", from the file's first bytes (npz if unknown)."""
  with epath.Path(path).open("rb") as f:
    return "hdf5" if f.read(8) == _HDF5_MAGIC else "npz"


class DSpritesFile:
  """An open dSprites file: labels/values in memory, images streamed.

  ``labels`` int64 [N, 5] and ``values`` float32 [N, 5] (colour dropped) are
  read whole (35 MB each at full size); ``image_chunks`` yields the images in
  file order, ``CHUNK_ROWS`` at a time.
  """

  def __init__(self, path):
    self.path = epath.Path(path)
    self.format = file_format(path)
    expected, source = ((_HDF5_EXPECTED, HDF5_URL) if self.format == "hdf5"
                        else (_NPZ_EXPECTED, URL))
    self.reading = functools.partial(_common.reading_official_file, path,
                                     expected, source)
    self._stack = contextlib.ExitStack()
    try:
      self._open()
    except BaseException:
      self._stack.close()
      raise

  def _open(self) -> None:
    path = self.path
    with self.reading():
      if self.format == "hdf5":
        h5py = tfds.core.lazy_imports.h5py
        f = self._stack.enter_context(self.path.open("rb"))
        h5 = self._stack.enter_context(h5py.File(f, "r"))
        self._images = h5["imgs"]
        classes = np.asarray(h5["latents/classes"])
        values = np.asarray(h5["latents/values"])
        num_images = self._images.shape[0]
        image_shape = self._images.shape[1:]
      else:
        archive = self._stack.enter_context(_streaming.NpzArchive(path))
        classes = archive.array("latents_classes").read_all()
        values = archive.array("latents_values").read_all()
        self._images = archive.array("imgs")
        num_images, image_shape = len(self._images), self._images.shape[1:]
      if tuple(image_shape) != (64, 64):
        raise ValueError(f"expected imgs [N, 64, 64], got [N, "
                         f"{', '.join(map(str, image_shape))}]")
      if classes.ndim != 2 or classes.shape[1] != 6 or len(
          classes) != num_images:
        raise ValueError(f"expected latents_classes [N, 6] for {num_images} "
                         f"images, got {classes.shape}")
      if values.shape != classes.shape:
        raise ValueError(f"expected latents_values {classes.shape}, got "
                         f"{values.shape}")
    self.labels = classes[:, 1:].astype(np.int64)
    self.values = values[:, 1:].astype(np.float32)
    self.sizes = self.labels.max(axis=0) + 1
    if (self.sizes > np.asarray(FACTOR_SIZES)).any() or (self.labels < 0).any():
      raise _common.OfficialFileError(
          f"{path}: factor sizes {self.sizes.tolist()} exceed dSprites' "
          f"{list(FACTOR_SIZES)}")
    # Raises if two rows share their factors (not a grid).
    with self.reading():
      order = _common.row_major_order(self.labels, self.sizes,
                                      self.path.name)
    self.row_major = bool((order == np.arange(len(order))).all())
    self.keys = (np.arange(len(self.labels)) if self.row_major else
                 _streaming.row_major_keys(self.labels, self.sizes))

  def __len__(self) -> int:
    return len(self.labels)

  def image_chunks(self, rows: int = CHUNK_ROWS
                   ) -> Iterator[Tuple[int, np.ndarray]]:
    """(start, uint8 [n, 64, 64] in {0, 1}) in file order."""
    for start in range(0, len(self), rows):
      with self.reading():
        if self.format == "hdf5":
          chunk = np.asarray(self._images[start:start + rows])
        else:
          chunk = self._images.read(rows)
      yield start, chunk

  def close(self) -> None:
    self._stack.close()

  def __enter__(self) -> "DSpritesFile":
    return self

  def __exit__(self, *exc) -> None:
    self.close()


def open_dsprites(path) -> DSpritesFile:
  """Opens either release; failures are one ``OfficialFileError``."""
  try:
    return DSpritesFile(path)
  except _common.OfficialFileError:
    raise
  except Exception as e:  # pylint: disable=broad-except
    # Opening itself failed (e.g. not a zip/HDF5 at all): same message.
    with _common.reading_official_file(
        path, _HDF5_EXPECTED if str(path).endswith(".hdf5") else
        _NPZ_EXPECTED, URL):
      raise e


def read_dsprites(path) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
  """(images uint8 [N, 64, 64] in {0, 1}, labels [N, 5], values [N, 5]).

  The whole file in memory, rows in row-major factor order (sorted if the
  file is not); for tests and small files — the builders stream instead.
  """
  with open_dsprites(path) as source:
    images = np.concatenate([c for _, c in source.image_chunks()])
    order = np.argsort(source.keys, kind="stable")
    return images[order], source.labels[order], source.values[order]


def dsprites_examples(path, image_fn=None, rows: int = CHUNK_ROWS
                      ) -> Iterator:
  """(key, example) for every row of ``path``, streamed in file order.

  ``image_fn(binary uint8 [n, 64, 64]) -> uint8 [n, ...]`` makes the stored
  images of a chunk of ``rows`` rows (default: the sprite as 0/255, one
  channel).
  """
  with open_dsprites(path) as source:
    for start, chunk in source.image_chunks(rows):
      stop = start + len(chunk)
      images = (chunk[..., None] * np.uint8(255) if image_fn is None else
                image_fn(chunk))
      yield from _common.grid_examples(
          images, source.labels[start:stop], source.values[start:stop],
          FACTOR_NAMES, keys=source.keys[start:stop])


def split_generator(path, image_fn=None, rows: int = CHUNK_ROWS):
  """The ``train`` generator; ``KeyOrdered`` when the file is row-major."""
  with open_dsprites(path) as source:  # reads the labels once to decide
    row_major = source.row_major
  examples = dsprites_examples(path, image_fn, rows)
  return _streaming.KeyOrdered(examples) if row_major else examples


class Builder(_common.CodePathMixin, _streaming.StreamingSplitsMixin,
              tfds.core.GeneratorBasedBuilder, skip_registration=True):
  """dSprites from the official npz or HDF5 file."""

  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": "Initial release (tfdis)."}
  MANUAL_DOWNLOAD_INSTRUCTIONS = (
      f"Download {FILENAME} from {URL} (or {HDF5_FILENAME} from {HDF5_URL}) "
      "and place it in the manual directory.")
  MANUAL_FILES = MANUAL_FILES

  def _info(self) -> tfds.core.DatasetInfo:
    factors = [("shape", SHAPE_NAMES)] + list(
        zip(FACTOR_NAMES[1:], FACTOR_SIZES[1:]))
    return self.dataset_info_from_configs(
        features=_common.factor_features(_common.png_image((64, 64, 1)),
                                         factors),
        homepage="https://github.com/deepmind/dsprites-dataset",
        metadata=_common.factor_metadata(FACTOR_NAMES),
        disable_shuffling=True,
    )

  def _split_generators(self, dl_manager):
    root = _common.require_manual_files(dl_manager, self.name, MANUAL_FILES)
    return {"train": split_generator(root / FILENAME)}

  def _generate_examples(self, path):
    return dsprites_examples(path)
