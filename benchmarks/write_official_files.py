"""Writes full-size synthetic files in the official formats (for benchmarks).

  python benchmarks/write_official_files.py --out=/scratch/official \\
      --datasets=dsprites,shapes3d,mpi3d_real,smallnorb,cars3d

Each dataset gets a folder usable as ``--manual_dir`` of
``python -m tfds_builders.build``: the official file names, keys, dtypes,
shapes and row order (docs/spec of each builder), with synthetic but valid
content (a shape whose position, size and colours follow the factors, so
PNG compression behaves like on real images rather than on noise). Files are
written in chunks (never a whole array in memory) and under a temporary name
renamed at the end. Sizes written: dSprites npz (deflated, like the
official) 737,280 rows; 3dshapes.h5 480,000 rows; mpi3d_real.npz 1,036,800
rows (12.7 GB, stored, like the official); smallNORB six .mat matrices,
2 x 24,300 rows; Cars3D 183 .mat files. Delete the folder when done.
"""

from __future__ import annotations

import argparse
import os
import time
import zipfile

import numpy as np

CHUNK = 8192


def _factors(index: np.ndarray, sizes) -> np.ndarray:
  strides = np.concatenate([np.cumprod(np.asarray(sizes)[::-1])[::-1][1:],
                            [1]])
  return (index[:, None] // strides) % np.asarray(sizes)


def _scene(f: np.ndarray, sizes, hw: int, channels: int) -> np.ndarray:
  """uint8 [n, hw, hw, channels]: a square on a gradient, set by factors."""
  n, k = f.shape
  u = f / np.maximum(np.asarray(sizes) - 1, 1)  # each factor in [0, 1]
  yy, xx = np.mgrid[0:hw, 0:hw] / (hw - 1)
  cx = 0.2 + 0.6 * u[:, -2 % k]
  cy = 0.2 + 0.6 * u[:, -1 % k]
  half = 0.08 + 0.1 * u[:, min(1, k - 1)]
  inside = ((np.abs(xx[None] - cx[:, None, None]) < half[:, None, None]) &
            (np.abs(yy[None] - cy[:, None, None]) < half[:, None, None]))
  out = np.empty((n, hw, hw, channels), np.uint8)
  for c in range(channels):
    back = 40 + 120 * u[:, c % k, None, None] * (0.5 + 0.5 * yy[None])
    fore = 255 - 100 * u[:, (c + 2) % k, None, None]
    out[..., c] = np.where(inside, fore, back).astype(np.uint8)
  return out


def _npz_member(zf: zipfile.ZipFile, key: str, shape, dtype, chunks) -> None:
  """Streams one .npy member of an npz (as np.savez lays it out)."""
  with zf.open(f"{key}.npy", "w", force_zip64=True) as fh:
    np.lib.format.write_array_header_2_0(fh, {
        "descr": np.lib.format.dtype_to_descr(np.dtype(dtype)),
        "fortran_order": False, "shape": tuple(shape)})
    for chunk in chunks:
      fh.write(np.ascontiguousarray(chunk, dtype=dtype).tobytes())


def _chunks(n: int, fn):
  for start in range(0, n, CHUNK):
    yield fn(np.arange(start, min(n, start + CHUNK)))


def _renamed(path: str):
  tmp = path + ".tmp"
  return tmp, lambda: os.replace(tmp, path)


def write_dsprites(out: str) -> None:
  sizes = (1, 3, 6, 40, 32, 32)
  n = int(np.prod(sizes))
  values = [np.ones(1), np.arange(1.0, 4.0), np.linspace(0.5, 1, 6),
            np.linspace(0, 2 * np.pi, 40), np.linspace(0, 1, 32),
            np.linspace(0, 1, 32)]
  path = os.path.join(out, "dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz")
  tmp, done = _renamed(path)
  with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as z:
    _npz_member(z, "imgs", (n, 64, 64), np.uint8, _chunks(
        n, lambda i: (_scene(_factors(i, sizes)[:, 1:], sizes[1:], 64,
                             1)[..., 0] > 200).astype(np.uint8)))
    _npz_member(z, "latents_classes", (n, 6), np.int64,
                _chunks(n, lambda i: _factors(i, sizes)))
    _npz_member(z, "latents_values", (n, 6), np.float64, _chunks(
        n, lambda i: np.stack([v[f] for v, f in zip(
            values, _factors(i, sizes).T)], 1)))
    metadata = {"latents_sizes": np.array(sizes), "latents_names": (
        "color", "shape", "scale", "orientation", "posX", "posY"),
                "description": "synthetic dSprites (tfdis benchmark)"}
    with z.open("metadata.npy", "w") as fh:
      # NumPy >= 2 passes protocol=4 itself (a pickle_kwargs protocol
      # clashes with it); dlib's file is a protocol-2 pickle, readable alike.
      np.lib.format.write_array(
          fh, np.array(metadata, dtype=object), allow_pickle=True)
  done()


def write_shapes3d(out: str) -> None:
  import h5py  # pylint: disable=g-import-not-at-top
  from tfds_builders.shapes3d import shapes3d_dataset_builder as b  # pylint: disable=g-import-not-at-top
  sizes = tuple(len(v) for v in b.FACTOR_VALUES)
  n = int(np.prod(sizes))
  path = os.path.join(out, b.FILENAME)
  tmp, done = _renamed(path)
  with h5py.File(tmp, "w") as h5:
    images = h5.create_dataset("images", (n, 64, 64, 3), np.uint8,
                               chunks=(1, 64, 64, 3), compression="gzip",
                               compression_opts=4)
    labels = h5.create_dataset("labels", (n, 6), np.float64)
    for start in range(0, n, CHUNK):
      i = np.arange(start, min(n, start + CHUNK))
      f = _factors(i, sizes)
      images[start:start + len(i)] = _scene(f, sizes, 64, 3)
      labels[start:start + len(i)] = np.stack(
          [v[c] for v, c in zip(b.FACTOR_VALUES, f.T)], 1)
  done()


def write_mpi3d_real(out: str) -> None:
  sizes = (6, 6, 2, 3, 3, 40, 40)
  n = int(np.prod(sizes))
  path = os.path.join(out, "mpi3d_real.npz")
  tmp, done = _renamed(path)
  with zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED, allowZip64=True) as z:
    _npz_member(z, "images", (n, 64, 64, 3), np.uint8, _chunks(
        n, lambda i: _scene(_factors(i, sizes), sizes, 64, 3)))
  done()


def write_smallnorb(out: str) -> None:
  from tfds_builders.smallnorb import smallnorb_dataset_builder as b  # pylint: disable=g-import-not-at-top
  instances = {b.PARTS[0]: (4, 6, 7, 8, 9), b.PARTS[1]: (0, 1, 2, 3, 5)}
  magic = {np.dtype(np.uint8): 0x1E3D4C55, np.dtype(np.int32): 0x1E3D4C54}
  for part, inst in instances.items():
    # (category, instance, elevation, azimuth, lighting), row-major.
    f = _factors(np.arange(5 * 5 * 9 * 18 * 6), (5, 5, 9, 18, 6))
    f[:, 1] = np.asarray(inst)[f[:, 1]]
    dat = _scene(f, (5, 10, 9, 18, 6), 96, 2).transpose(0, 3, 1, 2)
    info = np.stack([f[:, 1], f[:, 2], 2 * f[:, 3], f[:, 4]], 1)
    for kind, array in (("dat", dat), ("cat", f[:, 0].astype(np.int32)),
                        ("info", info.astype(np.int32))):
      array = np.ascontiguousarray(array)
      dims = list(array.shape) + [1] * max(0, 3 - array.ndim)
      header = np.array([magic[array.dtype], array.ndim] + dims, "<i4")
      path = os.path.join(out, f"{part}-{kind}.mat")
      tmp, done = _renamed(path)
      with open(tmp, "wb") as fh:
        fh.write(header.tobytes())
        fh.write(array.astype(array.dtype.newbyteorder("<")).tobytes())
      done()


def write_cars3d(out: str) -> None:
  import scipy.io  # pylint: disable=g-import-not-at-top
  cars = os.path.join(out, "cars")
  os.makedirs(cars, exist_ok=True)
  for car in range(183):
    # [elevation 4, azimuth 24] views -> im [128, 128, 3, 24, 4].
    f = _factors(np.arange(4 * 24), (4, 24))
    f = np.concatenate([f, np.full((len(f), 1), car)], 1)
    views = _scene(f, (4, 24, 183), 128, 3).reshape(4, 24, 128, 128, 3)
    path = os.path.join(cars, f"car_{car:03d}_mesh.mat")
    tmp, done = _renamed(path)
    with open(tmp, "wb") as fh:
      scipy.io.savemat(fh, {"im": views.transpose(2, 3, 4, 1, 0)})
    done()


WRITERS = {"dsprites": write_dsprites, "shapes3d": write_shapes3d,
           "mpi3d_real": write_mpi3d_real, "smallnorb": write_smallnorb,
           "cars3d": write_cars3d}


def folder_size(path: str) -> int:
  return sum(os.path.getsize(os.path.join(d, f))
             for d, _, files in os.walk(path) for f in files)


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--out", required=True)
  parser.add_argument("--datasets", default=",".join(WRITERS))
  args = parser.parse_args()
  for name in args.datasets.split(","):
    if name not in WRITERS:
      parser.error(f"unknown dataset {name!r}; known: {list(WRITERS)}")
    folder = os.path.join(args.out, name)
    os.makedirs(folder, exist_ok=True)
    t = time.time()
    WRITERS[name](folder)
    print(f"{name}: {folder_size(folder) / 1e9:.3f} GB in "
          f"{time.time() - t:.0f} s -> {folder}", flush=True)


if __name__ == "__main__":
  main()
