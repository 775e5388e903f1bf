"""celeba: aligned CelebA faces at 64×64 (Liu et al. 2015), no labels.

Reads ``img_align_celeba.zip`` (the aligned-and-cropped release, 202,599
JPEGs of 178×218) from the manual directory, takes the central 140×140 square
(the face) and resizes it to 64×64 (PIL Lanczos). There are no generative
factors: this is for qualitative (UDR / rPU-VAE) runs; the tfdis loader is
``tfdis.data.official.load_celeba_images``. All images are in ``train``, in
sorted filename order.
"""

import functools
import io
import zipfile

from etils import epath
import numpy as np
from PIL import Image
import tensorflow_datasets as tfds

from tfds_builders import _common
from tfds_builders import _download

FILENAME = "img_align_celeba.zip"
URL = ("https://drive.google.com/uc?export=download&id="
       "0B7EVK8r0v71pZjFTYXZWM3FlRnM")
HOMEPAGE = "https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html"
# TFDS's catalog (and this folder's checksums.tsv) records its size and
# SHA-256 for this Google Drive URL; Drive throttles large downloads, so a
# manual download or a mirror is often the practical route.
INPUTS = (_download.Input(FILENAME, (_download.Candidate(
    FILENAME, URL, note=f"see {HOMEPAGE}"),)),)
MANUAL_FILES = {FILENAME: f"{URL} (see {HOMEPAGE})"}
CROP = 140


def crop_and_resize(image: Image.Image, crop: int = CROP) -> np.ndarray:
  """uint8 [64, 64, 3]: the central ``crop`` square, resized."""
  image = image.convert("RGB")
  w, h = image.size
  left, top = (w - crop) // 2, (h - crop) // 2
  image = image.crop((left, top, left + crop, top + crop))
  return np.asarray(image.resize((64, 64), Image.LANCZOS), dtype=np.uint8)


class Builder(_common.CodePathMixin, tfds.core.GeneratorBasedBuilder):
  """Aligned CelebA, centre crop, 64×64, unlabelled."""

  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": "Initial release (tfdis)."}
  MANUAL_DOWNLOAD_INSTRUCTIONS = (
      f"Download {FILENAME} (aligned & cropped images) from {HOMEPAGE} and "
      "place it in the manual directory.")
  MANUAL_FILES = MANUAL_FILES

  def _info(self) -> tfds.core.DatasetInfo:
    return self.dataset_info_from_configs(
        features=tfds.features.FeaturesDict({
            "image": _common.png_image((64, 64, 3)),
            "filename": tfds.features.Text(),
        }),
        homepage=HOMEPAGE,
        metadata=_common.factor_metadata([], unlabelled=True, crop=CROP),
        disable_shuffling=True,
    )

  def _split_generators(self, dl_manager):
    paths = _download.resolve(self, dl_manager, INPUTS)
    return {"train": self._generate_examples(paths[FILENAME])}

  def _generate_examples(self, path):
    reading = functools.partial(
        _common.reading_official_file, path,
        "zip archive of the aligned CelebA JPEGs", MANUAL_FILES[FILENAME])
    with epath.Path(path).open("rb") as f:
      with reading():
        archive = zipfile.ZipFile(f)
      with archive:
        names = sorted(n for n in archive.namelist()
                       if n.lower().endswith((".jpg", ".jpeg", ".png")))
        for key, name in enumerate(names):
          with reading():
            image = Image.open(io.BytesIO(archive.read(name)))
            image.load()
          with image:
            yield key, {"image": crop_and_resize(image),
                        "filename": name.rsplit("/", 1)[-1]}
