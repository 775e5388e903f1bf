"""Beam-free parallel generation for the procedural builders.

TFDS's generator path encodes and serialises every example in one Python
process (~0.2–0.3 ms per example with 11 features on this CPU), which alone
would take several minutes for the 737,280 procedural dSprites images. Since a
procedural example is a pure function of its row index, we split the rows
into contiguous ranges, let worker processes (``spawn``: never fork a process
that may hold TensorFlow threads) encode + serialise + write their range with
TFDS's own ``Writer`` into a private directory, then rename the shards into the
split's final file names in row order and report one ``SplitInfo``.
Workers are plain ``python -m tfds_builders._parallel`` subprocesses, so the
caller's ``__main__`` is never re-imported (unlike multiprocessing's spawn). The result
is byte-for-byte what the sequential path writes (same features, same
row-major order), just with more shards.

A builder opts in with ``ParallelRangeMixin`` and implements
``_num_rows()`` and ``_range_examples(start, stop)``.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from typing import List, Tuple

from absl import logging
from etils import epath
import numpy as np
from tensorflow_datasets.core import example_serializer
from tensorflow_datasets.core import naming
from tensorflow_datasets.core import splits as splits_lib
from tensorflow_datasets.core import writer as writer_lib

# Below this many rows the ordinary (sequential) TFDS path is used.
MIN_PARALLEL_ROWS = 50_000
SPLIT = "train"


def default_num_workers() -> int:
  """``TFDIS_TFDS_WORKERS`` if set, else the CPUs this process may use."""
  env = os.environ.get("TFDIS_TFDS_WORKERS")
  if env:
    return max(1, int(env))
  try:
    return max(1, len(os.sched_getaffinity(0)))
  except AttributeError:  # not on Linux
    return max(1, os.cpu_count() or 1)


def _write_range(module: str, config: str, start: int, stop: int,
                 part_dir: str, part: int) -> Tuple[List[str], List[int], int]:
  """Worker: writes rows [start, stop) as shards; returns files and lengths."""
  builder_cls = importlib.import_module(module).Builder
  builder = builder_cls(config=config, data_dir=os.path.join(part_dir, "_b"))
  features = builder.info.features
  template = naming.ShardedFileTemplate(
      data_dir=epath.Path(part_dir), dataset_name=f"part{part:04d}",
      split=SPLIT, filetype_suffix=builder.info.file_format.file_suffix)
  writer = writer_lib.Writer(
      serializer=example_serializer.ExampleSerializer(
          features.get_serialized_info()),
      filename_template=template, hash_salt=SPLIT, disable_shuffling=True,
      example_writer=writer_lib.ExampleWriter(
          file_format=builder.info.file_format))
  for key, example in builder._range_examples(start, stop):  # pylint: disable=protected-access
    writer.write(key, features.encode_example(example))
  shard_lengths, num_bytes = writer.finalize()
  files = [os.fspath(p) for p in template.sharded_filepaths(len(shard_lengths))]
  return files, list(shard_lengths), int(num_bytes)


def _run_workers(module: str, config: str, bounds: np.ndarray,
                 part_root: epath.Path):
  """Runs one worker subprocess per range; returns their results in order."""
  # The package root of tfds_builders and tfdis must be importable there.
  root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  env = dict(os.environ)
  env["PYTHONPATH"] = os.pathsep.join(
      [root] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
  env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
  procs = []
  for w in range(len(bounds) - 1):
    part_dir = part_root / f"w{w:04d}"
    part_dir.mkdir(parents=True, exist_ok=True)
    args = dict(module=module, config=config, start=int(bounds[w]),
                stop=int(bounds[w + 1]), part_dir=os.fspath(part_dir), part=w)
    log = open(os.fspath(part_dir / "worker.log"), "w")  # pylint: disable=consider-using-with
    procs.append((subprocess.Popen(
        [sys.executable, "-m", "tfds_builders._parallel", json.dumps(args)],
        env=env, stdout=log, stderr=subprocess.STDOUT), log, part_dir))
  results, failures = [], []
  for proc, log, part_dir in procs:
    code = proc.wait()
    log.close()
    result_file = part_dir / "result.json"
    if code != 0 or not result_file.exists():
      tail = (part_dir / "worker.log").read_text()[-3000:]
      failures.append(f"worker {part_dir.name} exited with {code}:\n{tail}")
    else:
      results.append(json.loads(result_file.read_text()))
  if failures:
    raise RuntimeError("Parallel TFDS generation failed:\n" +
                       "\n".join(failures))
  return [(r["files"], r["lengths"], r["num_bytes"]) for r in results]


class ParallelRangeMixin:
  """Generates the single ``train`` split in parallel worker processes."""

  # Set on an instance (or via TFDIS_TFDS_WORKERS) to override.
  num_workers = None
  min_parallel_rows = MIN_PARALLEL_ROWS

  def _num_rows(self) -> int:
    raise NotImplementedError

  def _range_examples(self, start: int, stop: int):
    raise NotImplementedError

  def _generate_splits(self, dl_manager, download_config):
    workers = self.num_workers or default_num_workers()
    rows = self._num_rows()
    if (workers <= 1 or rows < self.min_parallel_rows or
        download_config.max_examples_per_split is not None):
      return super()._generate_splits(dl_manager, download_config)
    bounds = np.linspace(0, rows, workers + 1).round().astype(int)
    part_root = self.data_path / "_parallel_parts"
    logging.info("Generating %d %s examples in %d worker processes", rows,
                 self.name, workers)
    results = _run_workers(type(self).__module__, self.builder_config.name,
                           bounds, part_root)
    files = [f for r in results for f in r[0]]
    lengths = [n for r in results for n in r[1]]
    template = self._get_filename_template(split_name=SPLIT)
    for index, path in enumerate(files):
      epath.Path(path).rename(
          template.sharded_filepath(shard_index=index, num_shards=len(files)))
    part_root.rmtree()
    return [splits_lib.SplitInfo(name=SPLIT, shard_lengths=lengths,
                                 num_bytes=sum(r[2] for r in results),
                                 filename_template=template)]


def _main(argv) -> None:
  args = json.loads(argv[1])
  files, lengths, num_bytes = _write_range(**args)
  (epath.Path(args["part_dir"]) / "result.json").write_text(json.dumps(
      dict(files=files, lengths=lengths, num_bytes=num_bytes)))


if __name__ == "__main__":
  _main(sys.argv)

__all__ = ["ParallelRangeMixin", "default_num_workers", "MIN_PARALLEL_ROWS"]
