"""color_dsprites: dSprites with one random U(0.5, 1)^3 colour per sprite.

Locatello et al. 2019, Sec. 5 (dlib's ColorDSprites). Built from the official
dSprites npz in the manual directory with one seeded random draw per image;
see tfds_builders/_dsprites_variant.py.
"""

import tensorflow_datasets as tfds

from tfds_builders import _common
from tfds_builders import _dsprites_variant
from tfds_builders import _streaming
from tfds_builders.dsprites import dsprites_dataset_builder as dsprites

MANUAL_FILES = dsprites.MANUAL_FILES


class Builder(_common.CodePathMixin, _streaming.StreamingSplitsMixin,
              tfds.core.GeneratorBasedBuilder):
  """color_dsprites."""

  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": "Initial release (tfdis)."}
  MANUAL_DOWNLOAD_INSTRUCTIONS = dsprites.Builder.MANUAL_DOWNLOAD_INSTRUCTIONS
  MANUAL_FILES = MANUAL_FILES

  def _info(self) -> tfds.core.DatasetInfo:
    return _dsprites_variant.variant_info(self, "color")

  def _split_generators(self, dl_manager):
    root = _common.require_manual_files(dl_manager, self.name, MANUAL_FILES)
    return {"train": self._generate_examples(root / dsprites.FILENAME)}

  def _generate_examples(self, path):
    return _dsprites_variant.variant_examples(path, "color")
