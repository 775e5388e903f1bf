"""Streaming builds: npz rows read in chunks, shards written as examples come.

Memory is the growth of the process's resident set during a build (RSS
sampled from /proc every few ms, minus RSS before the build; the process's
lifetime peak would hide it behind earlier tests) while a tiny builder
writes N examples of 64 KB each: 50, then 1,000 (64 MB of examples) through
the ``KeyOrdered`` path, whose growth must not depend on N; then the same
1,000 through TFDS's own writer (the builder without ``KeyOrdered``), which
holds them all, showing that the measurement sees the difference.
"""

import os
import threading
import time
import zipfile

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from tfds_builders import _common
from tfds_builders import _streaming

ROW_BYTES = 64 << 10  # one 64 KB bytes feature per example (cheap to encode)


class _Builder(_common.CodePathMixin, _streaming.StreamingSplitsMixin,
               tfds.core.GeneratorBasedBuilder, skip_registration=True):
  """N rows of random bytes; ``key_ordered`` picks the writer."""

  VERSION = tfds.core.Version("1.0.0")
  num_rows = 10
  key_ordered = True

  def _info(self):
    return self.dataset_info_from_configs(
        features=tfds.features.FeaturesDict({
            "x": tfds.features.Tensor(shape=(), dtype=tf.string)}),
        disable_shuffling=True)

  def _split_generators(self, dl_manager):
    examples = self._generate_examples()
    return {"train": _streaming.KeyOrdered(examples) if self.key_ordered
            else examples}

  def _generate_examples(self):
    for i in range(self.num_rows):
      yield i, {"x": _row(i)}


def _row(i: int) -> bytes:
  return np.random.RandomState(i).bytes(ROW_BYTES)


def _rss_mb() -> float:
  with open("/proc/self/statm") as f:
    return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _build_growth_mb(tmp_path, num_rows, key_ordered):
  """Builds; the largest RSS growth over the start of the build, in MB."""
  builder = _Builder(data_dir=str(tmp_path / f"{num_rows}-{key_ordered}"))
  builder.num_rows, builder.key_ordered = num_rows, key_ordered
  start, peak, done = _rss_mb(), [0.0], threading.Event()

  def sample():
    while not done.is_set():
      peak[0] = max(peak[0], _rss_mb())
      time.sleep(0.002)

  sampler = threading.Thread(target=sample, daemon=True)
  sampler.start()
  try:
    builder.download_and_prepare(
        download_config=tfds.download.DownloadConfig(
            compute_stats=tfds.download.ComputeStatsMode.SKIP,
            try_download_gcs=False))
  finally:
    done.set()
    sampler.join()
  assert builder.info.splits["train"].num_examples == num_rows
  return max(peak[0], _rss_mb()) - start


def test_key_ordered_build_memory_does_not_grow_with_rows(tmp_path):
  _build_growth_mb(tmp_path, 20, True)  # warm-up (imports, first trace)
  small = _build_growth_mb(tmp_path, 50, True)
  large = _build_growth_mb(tmp_path, 1000, True)  # 64 MB of examples
  assert large - small < 16, (small, large)
  tfds_path = _build_growth_mb(tmp_path, 1000, False)
  assert tfds_path - large > 40, (large, tfds_path)


def test_small_shards_split_and_reload_in_order(tmp_path):
  builder = _Builder(data_dir=str(tmp_path))
  builder.num_rows = 50
  old = _streaming.SHARD_BYTES
  _streaming.SHARD_BYTES = 1 << 20  # 16 examples of 64 KB (+ framing)
  try:
    builder.download_and_prepare(download_config=tfds.download.DownloadConfig(
        try_download_gcs=False))
  finally:
    _streaming.SHARD_BYTES = old
  info = builder.info.splits["train"]
  assert info.num_examples == 50
  assert info.shard_lengths == [16, 16, 16, 2]  # a shard ends past 1 MB
  data = tfds.as_numpy(builder.as_dataset(split="train", batch_size=-1,
                                          shuffle_files=False))
  assert list(data["x"]) == [_row(i) for i in range(50)]


@pytest.mark.parametrize("compression", [zipfile.ZIP_STORED,
                                         zipfile.ZIP_DEFLATED])
def test_npz_rows_stream_in_chunks(tmp_path, compression):
  images = np.random.RandomState(1).randint(0, 256, (37, 8, 8, 3),
                                            dtype=np.uint8)
  path = tmp_path / "x.npz"
  (np.savez if compression == zipfile.ZIP_STORED else np.savez_compressed)(
      path, images=images, other=np.arange(3))
  with _streaming.NpzArchive(path) as archive:
    assert sorted(archive.keys) == ["images", "other"]
    stream = archive.array("images")
    assert stream.shape == images.shape and stream.dtype == np.uint8
    chunks = list(stream.chunks(10))
    assert [start for start, _ in chunks] == [0, 10, 20, 30]
    np.testing.assert_array_equal(np.concatenate([c for _, c in chunks]),
                                  images)
    with pytest.raises(KeyError, match="imgs is not a file"):
      archive.array("imgs")


def test_truncated_npy_member_names_the_row(tmp_path):
  images = np.zeros((10, 4, 4), np.uint8)
  path = tmp_path / "t.npz"
  with zipfile.ZipFile(path, "w") as z:
    with z.open("images.npy", "w") as f:
      np.lib.format.write_array_header_1_0(f, {
          "descr": "|u1", "fortran_order": False, "shape": (10, 4, 4)})
      f.write(images[:6].tobytes())  # the header says 10 rows
  with _streaming.NpzArchive(path) as archive:
    stream = archive.array("images")
    with pytest.raises(ValueError, match="says 10 rows .* ends at row 6"):
      stream.read_all()
