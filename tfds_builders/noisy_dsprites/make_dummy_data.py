"""Writes dummy_data/: the tiny official-format dSprites npz.

Run from the repository root:
python -m tfds_builders.noisy_dsprites.make_dummy_data
"""

import os


from tfds_builders.dsprites import make_dummy_data as dsprites_dummy

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "dummy_data")

if __name__ == "__main__":
  dsprites_dummy.make(os.path.join(HERE, dsprites_dummy.FILENAME))

