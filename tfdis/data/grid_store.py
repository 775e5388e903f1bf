"""A uint8 image grid read by row from a file on disk, in bounded memory.

The official grids are too large to hold in RAM on a workstation (MPI3D real:
1,036,800 x 64x64x3 = 12.7 GB). ``GridStore`` keeps them in a raw file of
row-major uint8 rows and answers the batch gathers every consumer makes
(``images[rows]``, see ``GroundTruthData.images_from_indices``) through a
read-only memory map: a gather costs what an in-memory gather costs plus one
page fault per page (the file stays in the page cache when RAM allows).

Pages a process has touched count in its resident set size (RSS) as long as
they stay mapped, so a random-order pass over the whole file would show the
whole file as RSS even though the kernel can drop those pages at any time.
The store therefore unmaps what it has read (``madvise(MADV_DONTNEED)``,
which for a read-only file mapping only drops the page-table entries; the
data stays in the page cache) once about ``resident_limit`` bytes have been
read, which keeps the process's peak RSS near ``resident_limit`` above its
baseline whatever the grid size.

``write_grid`` streams batches of rows into such a file at their row-major
positions (never the whole grid in memory) and is what the TFDS grid cache
(``tfdis.data.grid_cache``) uses.
"""

from __future__ import annotations

import mmap
import os
from typing import Optional, Sequence

import numpy as np

# Bytes read through the map before it is dropped from the page tables (the
# RSS bound above the process baseline; see the module docstring).
RESIDENT_LIMIT = 128 << 20


def _map_granule() -> int:
  """Bytes one page fault may map: the kernel maps the page cache's large
  folios whole (up to a PMD, 2 MiB on x86-64, measured on Linux 6.18 with
  ext4), not just the 4 KiB page read."""
  try:
    with open("/sys/kernel/mm/transparent_hugepage/hpage_pmd_size") as f:
      return int(f.read())
  except (OSError, ValueError):
    return 2 << 20


class GridStore:
  """Read-only uint8 rows [N, *row_shape] of the raw file ``path``.

  Supports what the ground-truth classes need of an image array: ``shape``,
  ``dtype``, ``ndim``, ``len`` and ``store[index]`` (an int, a slice or an
  integer array; always returns an in-memory copy of just those rows).
  ``np.asarray(store)`` reads the whole grid into memory (avoid it on big
  grids).
  """

  def __init__(self, path: str, shape: Sequence[int],
               resident_limit: int = RESIDENT_LIMIT):
    self.path = os.fspath(path)
    self.shape = tuple(int(s) for s in shape)
    self.dtype = np.dtype(np.uint8)
    self.ndim = len(self.shape)
    self.nbytes = int(np.prod(self.shape, dtype=np.int64))
    self._row_bytes = int(np.prod(self.shape[1:], dtype=np.int64))
    size = os.path.getsize(self.path)
    if size != self.nbytes:
      raise ValueError(f"{self.path}: {size} bytes, expected {self.nbytes} "
                       f"for uint8 rows of shape {self.shape}")
    with open(self.path, "rb") as f:
      self._map = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    # Rows are read in random order: no read-ahead of neighbouring rows.
    self._map.madvise(mmap.MADV_RANDOM)
    self._array = np.frombuffer(self._map, np.uint8).reshape(self.shape)
    self.resident_limit = int(resident_limit)
    self._chunk_rows = max(1, self.resident_limit // max(
        _map_granule(), self._row_bytes))

  def __len__(self) -> int:
    return self.shape[0]

  def __getitem__(self, index) -> np.ndarray:
    if isinstance(index, (int, np.integer)):
      return self[np.array([index])][0]
    if isinstance(index, slice):
      index = np.arange(*index.indices(self.shape[0]), dtype=np.int64)
    index = np.asarray(index)
    if index.dtype == bool:
      index = np.flatnonzero(index)
    flat = index.reshape(-1).astype(np.int64, copy=False)
    out = np.empty((len(flat),) + self.shape[1:], np.uint8)
    # Gather a few rows at a time and drop their pages from the map, so
    # what one gather makes resident is bounded (see _map_granule).
    chunk = self._chunk_rows
    for start in range(0, len(flat), chunk):
      np.take(self._array, flat[start:start + chunk], axis=0,
              out=out[start:start + chunk])
      self._map.madvise(mmap.MADV_DONTNEED)
    return out.reshape(index.shape + self.shape[1:])

  def __array__(self, dtype=None, copy=None):
    out = self[:]
    return out if dtype is None else out.astype(dtype)

  def __repr__(self) -> str:
    return f"GridStore({self.path!r}, shape={self.shape})"

  def __reduce__(self):  # pickles by path (e.g. to Ray or spawn workers)
    return (GridStore, (self.path, self.shape, self.resident_limit))


class GridWriter:
  """Writes uint8 rows of an [N, *row_shape] grid into a new raw file.

  ``write(rows, images)`` puts each image at its row; memory stays bounded
  (written pages are flushed and unmapped every ``resident_limit`` bytes).
  The file's space is reserved up front, so a full disk fails at once with
  ``OSError`` (ENOSPC) instead of a crash on a later write.
  """

  def __init__(self, path: str, shape: Sequence[int],
               resident_limit: int = RESIDENT_LIMIT):
    self.path = os.fspath(path)
    self.shape = tuple(int(s) for s in shape)
    self.nbytes = int(np.prod(self.shape, dtype=np.int64))
    self._row_bytes = int(np.prod(self.shape[1:], dtype=np.int64))
    self._file = open(self.path, "w+b")
    try:
      if self.nbytes:
        os.posix_fallocate(self._file.fileno(), 0, self.nbytes)
      self._map = mmap.mmap(self._file.fileno(), max(self.nbytes, 1))
    except BaseException:
      self._file.close()
      raise
    self._array = np.frombuffer(self._map, np.uint8,
                                count=self.nbytes).reshape(self.shape)
    self.resident_limit = int(resident_limit)
    self._written = 0

  def write(self, rows: np.ndarray, images: np.ndarray) -> None:
    rows = np.asarray(rows, dtype=np.int64)
    if len(rows) and (np.diff(rows) == 1).all():  # a contiguous block
      self._array[rows[0]:rows[-1] + 1] = images
    else:
      self._array[rows] = images
    self._written += len(rows) * max(self._row_bytes, _map_granule())
    if self._written >= self.resident_limit:
      self._map.flush()
      self._map.madvise(mmap.MADV_DONTNEED)
      self._written = 0

  def close(self) -> None:
    """Flushes the rows to disk and closes the file."""
    if self._map.closed:
      return
    self._map.flush()
    del self._array
    self._map.close()
    os.fsync(self._file.fileno())
    self._file.close()

  def abort(self) -> None:
    if not self._map.closed:
      del self._array
      self._map.close()
    self._file.close()


def write_grid(path: str, shape: Sequence[int], batches,
               resident_limit: int = RESIDENT_LIMIT) -> None:
  """Writes ``(rows, images)`` batches into the raw grid file ``path``."""
  writer = GridWriter(path, shape, resident_limit)
  try:
    for rows, images in batches:
      writer.write(rows, images)
  except BaseException:
    writer.abort()
    raise
  writer.close()


def open_grid(path: str, shape: Sequence[int],
              resident_limit: Optional[int] = None) -> GridStore:
  return GridStore(path, shape, RESIDENT_LIMIT if resident_limit is None
                   else resident_limit)
