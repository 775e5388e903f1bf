"""dsprites: the official dSprites file as a TFDS dataset (Matthey et al. 2017).

Reads ``dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz`` from the manual
directory: ``imgs`` uint8 [737280, 64, 64] in {0, 1}, ``latents_classes`` int64
[737280, 6], ``latents_values`` float64 [737280, 6], ``metadata`` (pickled
dict). The constant colour latent (size 1) is dropped; the factors are shape 3,
scale 6, orientation 40, pos_x 32, pos_y 32 in file (row-major) order.

Deviations from TFDS's own ``dsprites`` (which reads the HDF5 release): images
are stored as 0/255 (not 0/1) so that ``image / 255`` is the binary sprite,
and the factor sizes are taken from ``latents_classes`` (max + 1) instead of
unpickling ``metadata`` (the official values equal ``latents_sizes``; a file
one did not make should not be unpickled). The builder is not put in TFDS's
registry because TFDS ships a builder of the same name; use the class.
"""

from typing import Tuple

from etils import epath
import numpy as np
import tensorflow_datasets as tfds

from tfds_builders import _common

FILENAME = "dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz"
URL = ("https://github.com/deepmind/dsprites-dataset/raw/master/"
       "dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz")
FACTOR_NAMES = ("shape", "scale", "orientation", "pos_x", "pos_y")
FACTOR_SIZES = (3, 6, 40, 32, 32)
SHAPE_NAMES = ("square", "ellipse", "heart")
MANUAL_FILES = {FILENAME: URL}


def read_dsprites(path) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
  """(images uint8 [N, 64, 64] in {0, 1}, labels [N, 5], values [N, 5]).

  Rows are returned in row-major factor order (sorted if the file is not).
  """
  with _common.reading_official_file(
      path, "dSprites npz (arrays imgs, latents_classes, latents_values)",
      URL):
    with epath.Path(path).open("rb") as f:
      with np.load(f) as data:  # no allow_pickle: metadata is not needed
        images = np.asarray(data["imgs"])
        classes = np.asarray(data["latents_classes"])
        values = np.asarray(data["latents_values"])
    if classes.ndim != 2 or classes.shape[1] != 6 or len(classes) != len(
        images):
      raise ValueError(f"expected latents_classes [N, 6] for {len(images)} "
                       f"images, got {classes.shape}")
  labels = classes[:, 1:].astype(np.int64)
  sizes = labels.max(axis=0) + 1
  if (sizes > np.asarray(FACTOR_SIZES)).any():
    raise ValueError(f"{path}: factor sizes {sizes.tolist()} exceed dSprites' "
                     f"{list(FACTOR_SIZES)}")
  order = _common.row_major_order(labels, sizes, FILENAME)
  return images[order], labels[order], values[order, 1:].astype(np.float32)


class Builder(_common.CodePathMixin, tfds.core.GeneratorBasedBuilder,
              skip_registration=True):
  """dSprites from the official npz file."""

  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": "Initial release (tfdis)."}
  MANUAL_DOWNLOAD_INSTRUCTIONS = (
      f"Download {FILENAME} from {URL} and place it in the manual directory.")
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
    return {"train": self._generate_examples(root / FILENAME)}

  def _generate_examples(self, path):
    images, labels, values = read_dsprites(path)
    return _common.grid_examples(
        images, labels, values, FACTOR_NAMES,
        image_fn=lambda i: images[i][..., None] * np.uint8(255))
