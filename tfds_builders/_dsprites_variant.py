"""Shared body of the colour / noisy / scream dSprites builders.

Each materialises one fixed random draw per image (seeded, so a rebuild is
identical) of the variant's nuisance randomness over the dSprites grid read
from the official file (see ``tfdis.data.dsprites_variants`` for the
definitions, after dlib's ``dsprites.py``). ``tfdis.data.get_dataset`` does
not use these builds: it draws the randomness per sample from dSprites, as
dlib does. These builds are for users who want fixed images (e.g. for TFDS
pipelines). The dSprites images are streamed in chunks of ``_CHUNK`` rows
(the random stream is drawn chunk by chunk in file order, so the chunk size
is part of the build's definition: keep it).
"""

import numpy as np
import tensorflow_datasets as tfds

from tfdis.data import dsprites_variants
from tfds_builders import _common
from tfds_builders.dsprites import dsprites_dataset_builder as dsprites

SEED = 0
_CHUNK = 4096


def variant_info(builder, variant: str) -> tfds.core.DatasetInfo:
  factors = [("shape", dsprites.SHAPE_NAMES)] + list(
      zip(dsprites.FACTOR_NAMES[1:], dsprites.FACTOR_SIZES[1:]))
  return builder.dataset_info_from_configs(
      features=_common.factor_features(_common.png_image((64, 64, 3)),
                                       factors),
      homepage="https://github.com/google-research/disentanglement_lib",
      metadata=_common.factor_metadata(dsprites.FACTOR_NAMES,
                                       variant=variant, seed=SEED),
      disable_shuffling=True,
  )


def variant_examples(path, variant: str, scream=None):
  """The ``train`` split generator (``KeyOrdered`` for a row-major file)."""
  rs = np.random.RandomState(SEED)

  def colour(binary):
    if variant == "color":
      return dsprites_variants.color_images(binary, rs)
    if variant == "noisy":
      return dsprites_variants.noisy_images(binary, rs)
    return dsprites_variants.scream_images(binary, rs, scream)

  return dsprites.split_generator(path, colour, rows=_CHUNK)
