"""scream_dsprites: dSprites on crops of Munch's "The Scream", sprite inverted.

Locatello et al. 2019, Sec. 5 (dlib's ScreamDSprites): background = (random
64×64 crop of the painting fitted into 350×274 + one U(0, 1)^3 colour) / 2;
sprite pixels 1 − background. Needs the official dSprites npz and the
painting (The_Scream.jpg) in the manual directory; one seeded random draw per
image, see ``tfds_builders/_dsprites_variant.py``.
"""

from PIL import Image
import tensorflow_datasets as tfds

from tfdis.data import dsprites_variants
from tfds_builders import _common
from tfds_builders import _dsprites_variant
from tfds_builders import _streaming
from tfds_builders.dsprites import dsprites_dataset_builder as dsprites

MANUAL_FILES = dict(dsprites.MANUAL_FILES)
MANUAL_FILES[dsprites_variants.SCREAM_FILENAME] = dsprites_variants.SCREAM_URL


class Builder(_common.CodePathMixin, _streaming.StreamingSplitsMixin,
              tfds.core.GeneratorBasedBuilder):
  """scream_dsprites."""

  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": "Initial release (tfdis)."}
  MANUAL_DOWNLOAD_INSTRUCTIONS = (
      f"Download {dsprites.FILENAME} from {dsprites.URL} and "
      f"{dsprites_variants.SCREAM_FILENAME} from {dsprites_variants.SCREAM_URL}"
      " and place both in the manual directory.")
  MANUAL_FILES = MANUAL_FILES

  def _info(self) -> tfds.core.DatasetInfo:
    return _dsprites_variant.variant_info(self, "scream")

  def _split_generators(self, dl_manager):
    root = _common.require_manual_files(dl_manager, self.name, MANUAL_FILES)
    return {"train": self._generate_examples(
        root / dsprites.FILENAME, root / dsprites_variants.SCREAM_FILENAME)}

  def _generate_examples(self, path, scream_path):
    with scream_path.open("rb") as f:
      with Image.open(f) as image:
        scream = dsprites_variants.fit_scream(image)
    return _dsprites_variant.variant_examples(path, "scream", scream)
