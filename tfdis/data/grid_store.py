"""A uint8 image grid read by row from a file on disk, in bounded memory.

The official grids are too large to hold in RAM on a workstation (MPI3D real:
1,036,800 x 64x64x3 = 12.7 GB). ``GridStore`` keeps them in a raw file of
row-major uint8 rows and answers the batch gathers every consumer makes
(``images[rows]``, see ``GroundTruthData.images_from_indices``) with
positional reads (``os.preadv``) into the batch's output array: one system
call per run of consecutive rows (a batch in grid order is one call),
announced to the kernel together first (``POSIX_FADV_WILLNEED``) so the
disk reads of rows not yet in the page cache overlap, no decoding, and
nothing of the file stays in the process. The kernel's page
cache keeps the file's hot part in otherwise free memory, as for any file.

Why not a memory map: pages of a file mapping count in the process's resident
set size (RSS) while mapped, and Linux maps the page cache's large folios
whole (2 MiB per fault for 12 KiB rows, measured on Linux 6.18 / ext4), so a
random-order pass over a mapped 12.7 GB grid showed 12.7 GB of RSS; dropping
the mapping after each batch bounded the RSS but cost a 2 MiB mapping per row
(measured 3-8x slower than these reads).

``GridWriter`` writes batches of rows at their row-major positions the same
way (never the whole grid in memory); the TFDS grid cache
(``tfdis.data.grid_cache``) uses it.
"""

from __future__ import annotations

import os
from typing import Sequence

import numpy as np


_WILLNEED = getattr(os, "POSIX_FADV_WILLNEED", None)


def _runs(rows: np.ndarray):
  """(start, stop) positions of runs of consecutive values in sorted rows."""
  if not len(rows):
    return []
  breaks = np.flatnonzero(np.diff(rows) != 1) + 1
  return zip(np.concatenate([[0], breaks]).tolist(),
             np.concatenate([breaks, [len(rows)]]).tolist())


class GridStore:
  """Read-only uint8 rows [N, *row_shape] of the raw file ``path``.

  Supports what the ground-truth classes need of an image array: ``shape``,
  ``dtype``, ``ndim``, ``len`` and ``store[index]`` (an int, a slice, a
  boolean mask or an integer array; returns a new in-memory array of just
  those rows). ``np.asarray(store)`` reads the whole grid into memory (avoid
  it on big grids). Safe to use from several threads (positional reads).
  """

  def __init__(self, path: str, shape: Sequence[int], readahead: bool = True):
    self.path = os.fspath(path)
    self.shape = tuple(int(s) for s in shape)
    # Announce a gather's runs to the kernel before reading them (see the
    # module docstring); False reads run by run (benchmarks' baseline).
    self.readahead = bool(readahead) and _WILLNEED is not None
    self.dtype = np.dtype(np.uint8)
    self.ndim = len(self.shape)
    self.nbytes = int(np.prod(self.shape, dtype=np.int64))
    self._row_bytes = int(np.prod(self.shape[1:], dtype=np.int64))
    size = os.path.getsize(self.path)
    if size != self.nbytes:
      raise ValueError(f"{self.path}: {size} bytes, expected {self.nbytes} "
                       f"for uint8 rows of shape {self.shape}")
    self._fd = os.open(self.path, os.O_RDONLY)
    if hasattr(os, "posix_fadvise"):  # rows come in random order
      os.posix_fadvise(self._fd, 0, 0, os.POSIX_FADV_RANDOM)

  def __len__(self) -> int:
    return self.shape[0]

  def _rows(self, index) -> np.ndarray:
    if isinstance(index, slice):
      return np.arange(*index.indices(self.shape[0]), dtype=np.int64)
    index = np.asarray(index)
    if index.dtype == bool:
      if index.shape != (self.shape[0],):
        raise IndexError(f"boolean index of shape {index.shape} for "
                         f"{self.shape[0]} rows")
      return np.flatnonzero(index)
    if not np.issubdtype(index.dtype, np.integer):
      raise IndexError(f"rows must be integers, got {index.dtype}")
    rows = index.astype(np.int64)
    n = self.shape[0]
    if rows.size and (rows.min() < -n or rows.max() >= n):
      raise IndexError(f"row index out of range for {n} rows")
    return np.where(rows < 0, rows + n, rows)

  def __getitem__(self, index) -> np.ndarray:
    if isinstance(index, tuple):  # rows first, then numpy on the rest
      return self[index[0]][(slice(None),) + index[1:]]
    if isinstance(index, (int, np.integer)):
      return self[np.array([index])][0]
    rows = self._rows(index)
    flat = rows.reshape(-1)
    order = None
    if len(flat) > 1 and not (np.diff(flat) > 0).all():
      order = np.argsort(flat, kind="stable")
      flat = flat[order]
    buf = np.empty((len(flat), self._row_bytes), np.uint8)
    runs = [(start, stop, int(flat[start]) * self._row_bytes)
            for start, stop in _runs(flat)]
    if len(runs) > 1 and self.readahead:
      # Announce every run before reading any: the kernel starts all their
      # disk reads at once, so rows not in the page cache cost about one
      # read's latency per batch instead of one per run (measured 2.8x the
      # rows/s on a cold 12.7 GB grid; warm, 0.9 us more per row, which an
      # encoder's ~130 us per row hides: benchmarks/grid_full_size.py).
      for start, stop, offset in runs:
        os.posix_fadvise(self._fd, offset, (stop - start) * self._row_bytes,
                         _WILLNEED)
    for start, stop, offset in runs:
      self._read(buf[start:stop], offset)
    if order is not None:
      out = np.empty_like(buf)
      out[order] = buf
      buf = out
    return buf.reshape(rows.shape + self.shape[1:])

  def _read(self, out: np.ndarray, offset: int) -> None:
    view = memoryview(out).cast("B")
    while len(view):
      got = os.preadv(self._fd, [view], offset)
      if got <= 0:
        raise IOError(f"{self.path}: unexpected end of file at byte {offset}")
      view, offset = view[got:], offset + got

  def __array__(self, dtype=None, copy=None):
    out = self[:]
    return out if dtype is None else out.astype(dtype)

  def __repr__(self) -> str:
    return f"GridStore({self.path!r}, shape={self.shape})"

  def __reduce__(self):  # pickles by path (e.g. to Ray or spawn workers)
    return (GridStore, (self.path, self.shape, self.readahead))

  def __del__(self):
    fd = getattr(self, "_fd", None)
    if fd is not None:
      os.close(fd)
      self._fd = None


class GridWriter:
  """Writes uint8 rows of an [N, *row_shape] grid into a new raw file.

  ``write(rows, images)`` puts each image at its row (one positional write
  per run of consecutive rows). The file's space is reserved up front, so a
  full disk fails at once with ``OSError`` (ENOSPC) instead of on a later
  write.
  """

  def __init__(self, path: str, shape: Sequence[int]):
    self.path = os.fspath(path)
    self.shape = tuple(int(s) for s in shape)
    self.nbytes = int(np.prod(self.shape, dtype=np.int64))
    self._row_bytes = int(np.prod(self.shape[1:], dtype=np.int64))
    self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
      if self.nbytes:
        os.posix_fallocate(self._fd, 0, self.nbytes)
    except BaseException:
      self.abort()
      raise

  def write(self, rows: np.ndarray, images: np.ndarray) -> None:
    rows = np.asarray(rows, dtype=np.int64).reshape(-1)
    images = np.ascontiguousarray(images, dtype=np.uint8).reshape(
        len(rows), self._row_bytes)
    if rows.size and (rows.min() < 0 or rows.max() >= self.shape[0]):
      raise IndexError(f"rows out of range for {self.shape[0]} rows")
    if len(rows) > 1 and not (np.diff(rows) > 0).all():
      order = np.argsort(rows, kind="stable")
      rows, images = rows[order], images[order]
    for start, stop in _runs(rows):
      view = memoryview(images[start:stop]).cast("B")
      offset = int(rows[start]) * self._row_bytes
      while len(view):
        done = os.pwritev(self._fd, [view], offset)
        view, offset = view[done:], offset + done

  def close(self) -> None:
    """Flushes the rows to disk and closes the file."""
    if self._fd is not None:
      os.fsync(self._fd)
      os.close(self._fd)
      self._fd = None

  def abort(self) -> None:
    if self._fd is not None:
      os.close(self._fd)
      self._fd = None


def write_grid(path: str, shape: Sequence[int], batches) -> None:
  """Writes ``(rows, images)`` batches into the raw grid file ``path``."""
  writer = GridWriter(path, shape)
  try:
    for rows, images in batches:
      writer.write(rows, images)
  except BaseException:
    writer.abort()
    raise
  writer.close()


def open_grid(path: str, shape: Sequence[int]) -> GridStore:
  return GridStore(path, shape)
