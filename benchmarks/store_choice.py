r"""Random-access stores compared: grid cache vs tfds.data_source vs RAM.

Builds the ``procedural_dsprites`` ``small`` config twice (TFRecord, the
default, and ArrayRecord, the format ``tfds.data_source`` needs) into a
scratch directory, then times random batches of ``--batch`` rows (the
training and metric access pattern) from

- the grid cache (``store="disk"``, ``tfdis.data.grid_store``),
- the whole grid in memory (``store="memory"``),
- ``tfds.data_source`` over the ArrayRecord build (``__getitems__``, which
  decodes each row's PNG),

and prints rows/s for each.

  python benchmarks/store_choice.py --work=/tmp/store_choice
"""

from __future__ import annotations

import argparse
import os
import shutil
import time

import numpy as np


def rate(fn, num_rows: int, batch: int, seed: int = 0) -> float:
  rs = np.random.RandomState(seed)
  batches = [rs.randint(0, num_rows, batch) for _ in range(
      max(1, 20000 // batch))]
  fn(batches[0])  # warm up (first map / open)
  start = time.perf_counter()
  for rows in batches:
    fn(rows)
  return len(batches) * batch / (time.perf_counter() - start)


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--work", required=True)
  parser.add_argument("--batch", type=int, default=64)
  args = parser.parse_args()
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  from tfdis.data.tfds_data import load_tfds_ground_truth  # pylint: disable=g-import-not-at-top
  from tfds_builders.build import builder_class  # pylint: disable=g-import-not-at-top

  cls = builder_class("procedural_dsprites")
  dirs = {}
  for fmt in ("tfrecord", "array_record"):
    dirs[fmt] = os.path.join(args.work, fmt)
    builder = cls(config="small", data_dir=dirs[fmt], file_format=fmt)
    builder.download_and_prepare()
  disk = load_tfds_ground_truth("procedural_dsprites", "p", config="small",
                                data_dir=dirs["tfrecord"], store="disk")
  memory = load_tfds_ground_truth("procedural_dsprites", "p", config="small",
                                  data_dir=dirs["tfrecord"], store="memory")
  n = disk.num_examples
  source = tfds.data_source("procedural_dsprites/small",
                            data_dir=dirs["array_record"], split="train")
  # data_source rows are in the build's order: same cost per row, so time
  # it on raw record positions.
  results = {
      "grid cache (store=disk)": rate(disk.images_from_indices, n,
                                      args.batch),
      "in memory (store=memory)": rate(memory.images_from_indices, n,
                                       args.batch),
      "tfds.data_source (ArrayRecord)": rate(
          lambda rows: np.stack([ex["image"] for ex in
                                 source.__getitems__(rows.tolist())]),
          n, args.batch),
  }
  print(f"{n} rows of {disk.observation_shape}, random batches of "
        f"{args.batch}:")
  for name, value in results.items():
    print(f"  {name:32s} {value:12,.0f} rows/s")
  shutil.rmtree(args.work, ignore_errors=True)


if __name__ == "__main__":
  main()
