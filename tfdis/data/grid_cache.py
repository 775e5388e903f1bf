"""The on-disk grid cache of a prepared TFDS build (``store="disk"``).

Training and the metrics read images by grid row. A TFDS build stores PNG
examples in an order of its own, so the first load of a build streams its
``train`` split once (batched reads, each batch written at its row-major
positions; never the whole split in memory) into a raw uint8 file, and every
later load reads rows from that file (``tfdis.data.grid_store.GridStore``)::

  <build dir>/tfdis_grid_cache/<key>/images.u8     N x H x W x C bytes
                                     grid.json     shape, factors, sizes
                                     values.npz    factor values (small)

``<build dir>`` is ``<data_dir>/<name>[/<config>]/<version>``. When it is not
writable the cache goes to ``$TFDIS_GRID_CACHE_DIR`` (default
``~/.cache/tfdis/grid_cache``) under ``<name>/<config>/<version>-<hash of
the build dir>``. ``<key>``
fingerprints the build (name, config, version, data directory,
``dataset_info.json``/``features.json``/``metadata.json`` and the names,
sizes and modification times of its data files), so a rebuilt dataset gets
a new cache and the stale one is removed. The cache is as big as the images
in memory would be (MPI3D real: 12.7 GB); delete the ``tfdis_grid_cache``
folder to remove it (it is rebuilt on the next load).

Concurrent processes are safe: the cache is written under a temporary name
and renamed into place, under an exclusive lock (``fcntl.flock``) so only
one process builds it and the others wait and then read it.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import time
from typing import Sequence

from absl import logging
import numpy as np

from tfdis import io_utils
from tfdis.data import grid_store
from tfdis.data.ground_truth import row_strides

# Bump when the layout of a cache entry changes.
CACHE_FORMAT = 1
CACHE_DIRNAME = "tfdis_grid_cache"
ENV_CACHE_DIR = "TFDIS_GRID_CACHE_DIR"
_INFO_FILES = ("dataset_info.json", "features.json", "metadata.json")


def build_fingerprint(builder) -> str:
  """A key that changes whenever the build at ``builder.data_dir`` does."""
  root = os.fspath(builder.data_dir)
  h = hashlib.sha256()
  h.update(json.dumps({
      "format": CACHE_FORMAT, "name": builder.name,
      "config": builder.builder_config.name if builder.builder_config
                else None,
      "version": str(builder.version), "data_dir": os.path.abspath(root),
  }, sort_keys=True).encode())
  for name in _INFO_FILES:
    path = os.path.join(root, name)
    if os.path.exists(path):
      with open(path, "rb") as f:
        h.update(name.encode() + b"\0" + f.read())
  for name in sorted(os.listdir(root)):
    path = os.path.join(root, name)
    if os.path.isfile(path) and name not in _INFO_FILES:
      st = os.stat(path)
      h.update(f"{name}:{st.st_size}:{st.st_mtime_ns}\n".encode())
  return h.hexdigest()[:16]


def cache_root(builder) -> str:
  """Where the grid cache of ``builder`` lives (see the module docstring)."""
  build_dir = os.fspath(builder.data_dir)
  override = os.environ.get(ENV_CACHE_DIR)
  if not override and os.access(build_dir, os.W_OK):
    return os.path.join(build_dir, CACHE_DIRNAME)
  base = os.path.expanduser(override or os.path.join(
      "~", ".cache", "tfdis", "grid_cache"))
  config = builder.builder_config.name if builder.builder_config else "-"
  # One folder per build directory: two data directories holding the same
  # dataset version must not prune each other's cache.
  where = hashlib.sha256(os.path.abspath(build_dir).encode()).hexdigest()[:8]
  return os.path.join(base, builder.name, config,
                      f"{builder.version}-{where}")


@contextlib.contextmanager
def _locked(path: str):
  with open(path, "a+b") as f:
    fcntl.flock(f.fileno(), fcntl.LOCK_EX)
    try:
      yield
    finally:
      fcntl.flock(f.fileno(), fcntl.LOCK_UN)


def read_split(builder, batch_size: int = 4096, split: str = "train",
               images: bool = True) -> dict:
  """All examples of ``split`` as numpy arrays (one batched pass, in order).

  ``images=False`` skips decoding and keeping the images (the cache's first
  pass needs only the labels and values).
  """
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  num = builder.info.splits[split].num_examples
  if images:
    ds = builder.as_dataset(split=split, batch_size=batch_size,
                            shuffle_files=False)
  else:
    ds = builder.as_dataset(
        split=split, batch_size=batch_size, shuffle_files=False,
        decoders={"image": tfds.decode.SkipDecoding()})
    ds = ds.map(lambda ex: {k: v for k, v in ex.items() if k != "image"})
  out, start = {}, 0
  for batch in tfds.as_numpy(ds):
    n = len(next(iter(batch.values())))
    for key, value in batch.items():
      if key not in out:
        out[key] = np.empty((num,) + value.shape[1:], value.dtype)
      out[key][start:start + n] = value
    start += n
  if start != num:
    raise ValueError(f"{builder.name}: read {start} of {num} examples")
  return out


def grid_rows(name: str, examples: dict, grid_names: Sequence[str],
              num_classes: Sequence[int]):
  """Row-major grid position of each example, the sizes and factor values.

  The factor sizes are the numbers of distinct labels present (a build may
  cover a sub-grid); the build must hold every combination exactly once.
  """
  labels = np.stack([examples[f"label_{n}"] for n in grid_names],
                    axis=1).astype(np.int64)
  dense = np.empty_like(labels)
  sizes, values = [], []
  for k, factor in enumerate(grid_names):
    present, first, inverse = np.unique(labels[:, k], return_index=True,
                                        return_inverse=True)
    dense[:, k] = inverse.reshape(-1)
    sizes.append(len(present))
    values.append(np.asarray(examples[f"value_{factor}"])[first])
    if len(present) != num_classes[k]:
      logging.warning("%s: factor %s has %d of its %d values in this build; "
                      "using the sub-grid", name, factor, len(present),
                      num_classes[k])
  total = int(np.prod(sizes, dtype=np.int64))
  index = dense @ row_strides(sizes)
  counts = np.bincount(index, minlength=total)
  if len(index) != total or (counts != 1).any():
    raise ValueError(
        f"{name}: the build is not a complete factor grid: {len(index)} rows "
        f"for sizes {dict(zip(grid_names, sizes))} ({total} combinations, "
        f"{int((counts == 0).sum())} missing, {int((counts > 1).sum())} "
        f"repeated). Rebuild it from the complete official file.")
  return index, sizes, values


def _write_entry(builder, name: str, tmp: str, grid_names, num_classes,
                 batch_size: int) -> None:
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  t0 = time.time()
  examples = read_split(builder, batch_size, images=False)
  index, sizes, values = grid_rows(name, examples, grid_names, num_classes)
  first = f"label_{grid_names[0]}"
  image_shape = tuple(builder.info.features["image"].shape)
  shape = (len(index),) + image_shape
  needed = int(np.prod(shape, dtype=np.int64))
  # Every write of the entry (the reserved image file first, then the small
  # files) turns a full disk into one DiskFullError naming the cache and the
  # two ways around it.
  hint = (f"Or write the grid cache of {name} elsewhere (point "
          f"${ENV_CACHE_DIR} at a disk with room) or load {name} into memory "
          "(store=\"memory\", on the command line "
          "--dataset_options=store=memory).")
  with io_utils.no_space_as_user_error(os.path.dirname(tmp), needed,
                                       hint=hint):
    os.makedirs(tmp)
    writer = grid_store.GridWriter(os.path.join(tmp, "images.u8"), shape)
    # Pass 2: decode the images batch by batch (same order as pass 1) and
    # put each batch at its rows.
    ds = builder.as_dataset(split="train", batch_size=batch_size,
                            shuffle_files=False)
    start = 0
    try:
      for batch in tfds.as_numpy(ds):
        n = len(batch["image"])
        if not np.array_equal(batch[first],
                              examples[first][start:start + n]):
          raise ValueError(f"{name}: the split's order changed between two "
                           "reads; cannot build the grid cache")
        writer.write(index[start:start + n], batch["image"])
        start += n
    except BaseException:
      writer.abort()
      raise
    writer.close()
    if start != len(index):
      raise ValueError(f"{name}: read {start} of {len(index)} images")
    np.savez(os.path.join(tmp, "values.npz"),
             **{f"value_{n}": v for n, v in zip(grid_names, values)})
    with open(os.path.join(tmp, "grid.json"), "w") as f:
      json.dump({"format": CACHE_FORMAT, "shape": list(shape),
                 "grid_names": list(grid_names), "grid_sizes": sizes,
                 "builder": builder.name, "version": str(builder.version),
                 "data_dir": os.fspath(builder.data_dir),
                 "seconds": round(time.time() - t0, 1)}, f, indent=1)
  logging.info("%s: grid cache of %d rows (%.2f GB) written in %.0f s", name,
               len(index), needed / 1e9, time.time() - t0)


def _prune(root: str, keep: str) -> None:
  """Removes the entries of older builds (and dead temporary folders)."""
  for entry in os.listdir(root):
    path = os.path.join(root, entry)
    if entry == keep or not os.path.isdir(path):
      continue
    shutil.rmtree(path, ignore_errors=True)


def open_grid_cache(builder, name: str, grid_names: Sequence[str],
                    num_classes: Sequence[int], batch_size: int = 4096):
  """(GridStore of the build's images in row-major order, sizes, values).

  Builds the cache on first use (see the module docstring).
  """
  key = build_fingerprint(builder)
  root = cache_root(builder)
  entry = os.path.join(root, key)
  if not os.path.exists(os.path.join(entry, "grid.json")):
    os.makedirs(root, exist_ok=True)
    with _locked(os.path.join(root, ".lock")):
      if not os.path.exists(os.path.join(entry, "grid.json")):
        # Under the lock no other process is writing here: clear leftovers
        # (older builds, a temporary folder of a killed process).
        _prune(root, keep="")
        tmp = os.path.join(root, f".tmp-{key}-{os.getpid()}")
        logging.info("%s: writing the grid cache %s (once per build)", name,
                     entry)
        try:
          _write_entry(builder, name, tmp, grid_names, num_classes,
                       batch_size)
          os.rename(tmp, entry)
        except BaseException:
          shutil.rmtree(tmp, ignore_errors=True)
          raise
  with open(os.path.join(entry, "grid.json")) as f:
    meta = json.load(f)
  if meta["grid_names"] != list(grid_names):
    raise ValueError(f"{entry}: cached factors {meta['grid_names']} differ "
                     f"from the build's {list(grid_names)}; delete {root}")
  with np.load(os.path.join(entry, "values.npz")) as z:
    values = [z[f"value_{n}"] for n in grid_names]
  store = grid_store.open_grid(os.path.join(entry, "images.u8"),
                               meta["shape"])
  return store, meta["grid_sizes"], values
