"""Builds that stream their source file: bounded memory at any dataset size.

Two pieces:

* ``NpyStream`` / ``npz_array``: the rows of one array of an ``.npz`` read in
  order, a chunk at a time, through ``zipfile`` and the ``.npy`` header
  (``numpy.lib.format``): ``np.load(...)["images"]`` would materialise the
  whole array (12.7 GB for MPI3D-real). Works for stored and deflated members.
* ``StreamingSplitsMixin``: TFDS's sequential writer collects every
  serialised example in a ``Shuffler`` before writing. With
  ``disable_shuffling`` the keys are small integers, so past its 1 GB memory
  buffer all of them land in one on-disk bucket that is then read back and
  sorted in memory: the peak RSS of a build grows with the dataset (several
  GB for MPI3D). A split generator wrapped in ``KeyOrdered`` promises strictly
  increasing keys (the row-major index of the example's factors); the mixin
  then encodes, serialises and writes the examples straight into shards
  (TFDS's own serializer and file adapters, one example in flight), so the
  build's memory does not depend on N. Other generators (e.g. a file whose
  rows are not in row-major order) keep TFDS's path, which sorts them by key.
"""

from __future__ import annotations

import itertools
import os
import zipfile
from typing import Iterable, Iterator, Tuple

from etils import epath
import numpy as np
from tensorflow_datasets.core import example_serializer
from tensorflow_datasets.core import split_builder as split_builder_lib
from tensorflow_datasets.core import splits as splits_lib
from tensorflow_datasets.core import writer as writer_lib

# A new shard starts once this many serialised bytes are in the current one
# (TFDS's own sizing targets 64 MB - 1 GiB shards).
SHARD_BYTES = 256 << 20


class NpyStream:
  """Reads the rows of one ``.npy`` stream in order (C order only)."""

  def __init__(self, fileobj, what: str = "array"):
    self._f = fileobj
    self.what = what
    version = np.lib.format.read_magic(fileobj)
    if version == (1, 0):
      shape, fortran, dtype = np.lib.format.read_array_header_1_0(fileobj)
    elif version == (2, 0):
      shape, fortran, dtype = np.lib.format.read_array_header_2_0(fileobj)
    else:  # 3.0 (utf-8 field names): same layout, no public reader
      shape, fortran, dtype = np.lib.format._read_array_header(  # pylint: disable=protected-access
          fileobj, version)
    if dtype.hasobject:
      raise ValueError(f"{what} holds Python objects, not numbers")
    if fortran and len(shape) > 1:
      raise ValueError(f"{what} is stored in Fortran order; rows cannot be "
                       "streamed (save it in C order)")
    if not shape:
      raise ValueError(f"{what} is a scalar, expected rows")
    self.shape = tuple(int(s) for s in shape)
    self.dtype = dtype
    self.row_bytes = int(dtype.itemsize * np.prod(self.shape[1:],
                                                  dtype=np.int64))
    self.position = 0

  def __len__(self) -> int:
    return self.shape[0]

  def read(self, count: int) -> np.ndarray:
    """The next ``count`` rows (fewer at the end)."""
    count = max(0, min(int(count), self.shape[0] - self.position))
    want = count * self.row_bytes
    buffer = bytearray(want)
    view = memoryview(buffer)
    got = 0
    while got < want:
      block = self._f.read(min(want - got, 64 << 20))
      if not block:
        raise ValueError(
            f"{self.what} is truncated: the header says {self.shape[0]} rows "
            f"of {self.shape[1:]} but the data ends at row "
            f"{self.position + got // max(self.row_bytes, 1)}")
      view[got:got + len(block)] = block
      got += len(block)
    rows = np.frombuffer(buffer, dtype=self.dtype).reshape(
        (count,) + self.shape[1:])
    self.position += count
    return rows

  def read_all(self) -> np.ndarray:
    return self.read(self.shape[0] - self.position)

  def chunks(self, rows: int) -> Iterator[Tuple[int, np.ndarray]]:
    """(start row, rows) in order until the end of the array."""
    while self.position < self.shape[0]:
      start = self.position
      yield start, self.read(rows)


class NpzArchive:
  """An ``.npz`` opened for streaming: ``archive.array(key)`` is a stream."""

  def __init__(self, path):
    self.path = epath.Path(path)
    self._file = self.path.open("rb")
    try:
      self._zip = zipfile.ZipFile(self._file)
    except BaseException:
      self._file.close()
      raise
    self.keys = [n[:-4] for n in self._zip.namelist() if n.endswith(".npy")]

  def array(self, key: str) -> NpyStream:
    if key not in self.keys:
      # Same wording as numpy's np.load(...)[key].
      raise KeyError(f"{key} is not a file in the archive (it holds "
                     f"{self.keys})")
    return NpyStream(self._zip.open(key + ".npy"), f"array {key!r}")

  def close(self) -> None:
    self._zip.close()
    self._file.close()

  def __enter__(self) -> "NpzArchive":
    return self

  def __exit__(self, *exc) -> None:
    self.close()


def row_major_keys(labels: np.ndarray, sizes) -> np.ndarray:
  """The row-major index of each row of factor ``labels`` over ``sizes``."""
  sizes = np.asarray(sizes, dtype=np.int64)
  strides = np.concatenate([np.cumprod(sizes[::-1])[::-1][1:], [1]])
  return np.asarray(labels, dtype=np.int64) @ strides


class KeyOrdered:
  """A split generator whose keys are strictly increasing integers."""

  def __init__(self, examples: Iterable):
    self.examples = examples

  def __iter__(self):
    return iter(self.examples)


def _serialized(builder, examples: Iterable) -> Iterator[Tuple[int, bytes]]:
  features = builder.info.features
  serializer = example_serializer.ExampleSerializer(
      features.get_serialized_info())
  previous = None
  for key, example in examples:
    key = int(key)
    if previous is not None and key <= previous:
      # A builder bug, not a user error: KeyOrdered promised increasing keys.
      raise RuntimeError(f"{builder.name}: example key {key} after "
                         f"{previous}; a KeyOrdered generator must yield "
                         "strictly increasing keys")
    previous = key
    yield key, serializer.serialize_example(features.encode_example(example))


def write_key_ordered_split(builder, split: str, examples: Iterable,
                            shard_bytes: int = SHARD_BYTES
                            ) -> splits_lib.SplitInfo:
  """Writes ``examples`` (increasing keys) as the shards of ``split``."""
  template = builder._get_filename_template(split_name=split)  # pylint: disable=protected-access
  example_writer = builder._example_writer()  # pylint: disable=protected-access
  parts_dir = epath.Path(template.data_dir) / f"_stream_{split}"
  parts_dir.mkdir(parents=True, exist_ok=True)
  stream = _serialized(builder, examples)
  lengths, parts, total = [], [], 0
  for index in itertools.count():
    first = next(stream, None)
    if first is None:
      break
    counter = {"n": 0, "bytes": 0}

    def shard(first=first, counter=counter):
      for item in itertools.chain([first], stream):
        counter["n"] += 1
        counter["bytes"] += len(item[1])
        yield item
        if counter["bytes"] >= shard_bytes:
          return

    path = parts_dir / f"part-{index:05d}"
    record_keys = example_writer.write(path, shard())
    lengths.append(counter["n"])
    total += counter["bytes"]
    parts.append((path, record_keys))
  if not lengths:
    raise AssertionError(f"{builder.name}: no examples were generated for "
                         f"split {split!r}")
  for index, (path, record_keys) in enumerate(parts):
    final = template.sharded_filepath(shard_index=index,
                                      num_shards=len(parts))
    path.rename(final)
    if record_keys:  # random-access formats (array_record) keep an index
      writer_lib._write_index_file(  # pylint: disable=protected-access
          writer_lib._get_index_path(os.fspath(final)), record_keys)  # pylint: disable=protected-access
  parts_dir.rmtree()
  return splits_lib.SplitInfo(name=split, shard_lengths=lengths,
                              num_bytes=total, filename_template=template)


class StreamingSplitsMixin:
  """Writes ``KeyOrdered`` split generators straight to shards (see above)."""

  def _generate_splits(self, dl_manager, download_config):
    generators = self._split_generators(dl_manager)
    infos, others = [], {}
    for split, generator in generators.items():
      if (isinstance(generator, KeyOrdered) and
          download_config.max_examples_per_split is None):
        infos.append(write_key_ordered_split(self, split, generator))
      else:
        others[split] = iter(generator)
    if others:  # TFDS's own writer (sorts by key in its Shuffler)
      split_builder = split_builder_lib.SplitBuilder(
          split_dict=self.info.splits, features=self.info.features,
          dataset_size=self.info.dataset_size,
          max_examples_per_split=download_config.max_examples_per_split,
          beam_options=None, beam_runner=None,
          shard_config=download_config.get_shard_config(),
          example_writer=self._example_writer(),
          ignore_duplicates=download_config.ignore_duplicates)
      futures = [split_builder.submit_split_generation(
          split_name=split, generator=generator,
          filename_template=self._get_filename_template(split_name=split),
          disable_shuffling=self.info.disable_shuffling,
          nondeterministic_order=False) for split, generator in others.items()]
      infos.extend(f.result() for f in futures)
    return infos


__all__ = ["NpyStream", "NpzArchive", "KeyOrdered", "StreamingSplitsMixin",
           "row_major_keys", "write_key_ordered_split", "SHARD_BYTES"]
