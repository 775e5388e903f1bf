"""Writes dummy_data/: the tiny official-format dSprites npz and a small
stand-in painting (The_Scream.jpg, a 120×96 colour gradient JPEG).

Run from the repository root:
python -m tfds_builders.scream_dsprites.make_dummy_data
"""

import os

import numpy as np
from PIL import Image
from tfds_builders.dsprites import make_dummy_data as dsprites_dummy

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "dummy_data")

if __name__ == "__main__":
  dsprites_dummy.make(os.path.join(HERE, dsprites_dummy.FILENAME))
  yy, xx = np.mgrid[0:96, 0:120]
  painting = np.stack([xx * 2, yy * 2, 255 - xx - yy], -1)
  Image.fromarray(np.clip(painting, 0, 255).astype(np.uint8)).save(
      os.path.join(HERE, "The_Scream.jpg"), quality=80)
