"""Writes dummy_data/: the six smallNORB matrices with 2 rows per part.

Official NORB binary format (magic number, rank, dims, little-endian data):
dat uint8 [2, 2, 96, 96], cat int32 [2], info int32 [2, 4] (instance,
elevation, azimuth stored as 0..34 even, lighting). Rows are in file (not
row-major) order on purpose so the builder's sorting is exercised. The same
six files are also written gzip-compressed to dummy_data/gz/*.mat.gz (the
form the official downloads have).

Run from the repository root: python -m tfds_builders.smallnorb.make_dummy_data
"""

import gzip
import os

import numpy as np

PARTS = ("smallnorb-5x46789x9x18x6x2x96x96-training",
         "smallnorb-5x01235x9x18x6x2x96x96-testing")
MAGIC = {np.dtype("uint8"): 0x1E3D4C55, np.dtype("int32"): 0x1E3D4C54}


def write_matrix(path: str, array: np.ndarray) -> None:
  dims = list(array.shape) + [1] * max(0, 3 - array.ndim)
  header = np.array([MAGIC[array.dtype], array.ndim] + dims, dtype="<i4")
  with open(path, "wb") as f:
    f.write(header.tobytes())
    f.write(array.astype(array.dtype.newbyteorder("<")).tobytes())


def make(directory: str) -> None:
  os.makedirs(directory, exist_ok=True)
  # (category, instance, elevation, azimuth/2, lighting) per row.
  rows = {PARTS[0]: [(4, 9, 8, 17, 5), (0, 4, 0, 0, 0)],
          PARTS[1]: [(2, 1, 3, 5, 2), (0, 0, 0, 1, 0)]}
  yy, xx = np.mgrid[0:96, 0:96]
  for part, factors in rows.items():
    factors = np.array(factors)
    dat = np.zeros((len(factors), 2, 96, 96), np.uint8)
    for i, f in enumerate(factors):  # a disc whose size encodes the row
      r = 10 + 3 * int(f.sum() % 10)
      disc = ((yy - 48) ** 2 + (xx - 48) ** 2 < r * r) * (80 + 20 * f[0])
      dat[i, 0] = disc
      dat[i, 1] = disc[:, ::-1]
    info = np.stack([factors[:, 1], factors[:, 2], 2 * factors[:, 3],
                     factors[:, 4]], 1).astype(np.int32)
    write_matrix(os.path.join(directory, f"{part}-dat.mat"), dat)
    write_matrix(os.path.join(directory, f"{part}-cat.mat"),
                 factors[:, 0].astype(np.int32))
    write_matrix(os.path.join(directory, f"{part}-info.mat"), info)


def make_gz(directory: str, out: str) -> None:
  """Each .mat of ``directory`` as ``out/<name>.gz`` (mtime 0: reproducible)."""
  os.makedirs(out, exist_ok=True)
  for name in sorted(os.listdir(directory)):
    if name.endswith(".mat"):
      with open(os.path.join(directory, name), "rb") as f:
        data = gzip.compress(f.read(), mtime=0)
      with open(os.path.join(out, name + ".gz"), "wb") as f:
        f.write(data)


if __name__ == "__main__":
  HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                      "dummy_data")
  make(HERE)
  make_gz(HERE, os.path.join(HERE, "gz"))
