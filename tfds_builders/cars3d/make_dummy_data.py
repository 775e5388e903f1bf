"""Writes dummy_data/cars/ (two car .mat files in the official format) and
dummy_data/tarball/nips2015-analogy-data.tar.gz (the same files as the
official tarball's members data/cars/*.mat, plus its data/cars/list.txt).

Key ``im`` uint8 of shape 128×128×3×24×4 (H, W, C, azimuth, elevation),
zlib-compressed MATLAB v5 files; each view is a flat-coloured box whose width
follows the azimuth and height the elevation, so the files stay a few KB.

Run from the repository root: python -m tfds_builders.cars3d.make_dummy_data
"""

import os
import tarfile

import numpy as np
import scipy.io


def make(directory: str) -> None:
  os.makedirs(directory, exist_ok=True)
  for car in range(2):
    im = np.zeros((128, 128, 3, 24, 4), np.uint8)
    for az in range(24):
      for el in range(4):
        w, h = 10 + 2 * az, 20 + 10 * el
        im[64 - h // 2:64 + h // 2, 64 - w // 2:64 + w // 2, :, az, el] = (
            [200, 60, 60] if car == 0 else [60, 60, 200])
    scipy.io.savemat(os.path.join(directory, f"car_{car + 1:03d}_mesh.mat"),
                     {"im": im}, do_compression=True)


def make_tarball(cars_dir: str, path: str) -> None:
  os.makedirs(os.path.dirname(path), exist_ok=True)
  names = sorted(n for n in os.listdir(cars_dir) if n.endswith(".mat"))
  listing = os.path.join(os.path.dirname(path), "list.txt")
  with open(listing, "w") as f:
    f.write("".join(n[:-4] + "\n" for n in names))
  with tarfile.open(path, "w:gz") as tar:
    # Reverse order: the builder must not depend on the archive's order.
    for name in reversed(names):
      tar.add(os.path.join(cars_dir, name), f"data/cars/{name}")
    tar.add(listing, "data/cars/list.txt")
  os.remove(listing)


if __name__ == "__main__":
  HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                      "dummy_data")
  make(os.path.join(HERE, "cars"))
  make_tarball(os.path.join(HERE, "cars"),
               os.path.join(HERE, "tarball", "nips2015-analogy-data.tar.gz"))
