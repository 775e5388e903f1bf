r"""The grid store at full size, without a TFDS build: MPI3D real, 1,036,800 rows.

A full TFDS build of MPI3D real PNG-encodes a million images in a Python
generator (tens of minutes to hours on a busy two-core machine). This script
measures what tfdis itself does with a grid of that size, from the synthetic
``mpi3d_real.npz`` of ``benchmarks/write_official_files.py``:

1. ``write``: stream the npz's ``images`` into a grid file with
   ``tfdis.data.grid_store.GridWriter`` (what the grid cache does after
   decoding a build; 8,192 rows at a time);
2. ``train``: the real trainer (``tfdis.training.train``, beta_vae,
   ``--steps`` steps) on the grid read by row from that file
   (``store=disk``) or held in memory (``store=memory``);
3. ``evaluate``: MIG on ``--mig_points`` points of the disk run's model
   (``tfdis.evaluate.evaluate_model_dirs``, encoding cache off so every point
   is gathered and encoded), with either store;
4. ``ab``: MIG with both stores in one process, alternating, ``--repeats``
   rounds (the fair throughput comparison on a shared machine); ``--cold``
   evicts the grid file from the page cache before every disk round;
5. ``reads`` (run it by hand with ``--step=reads``): random gathers with
   and without the store's readahead, cold and warm.

Each step runs as its own process under ``/usr/bin/time -v`` (peak RSS).

  python benchmarks/grid_full_size.py \
      --npz=/scratch/official/mpi3d_real/mpi3d_real.npz --work=/scratch/grid
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
import zipfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from dataset_memory import mem_available, timed  # noqa: E402  pylint: disable=g-import-not-at-top

NAMES = ("object_color", "object_shape", "object_size", "camera_height",
         "background_color", "horizontal_axis", "vertical_axis")
DATASET = "mpi3d_real_grid_benchmark"


def _sizes(colours: int):
  """MPI3D real's grid, or its first ``colours`` object colours (a prefix of
  the rows: object_color is the slowest factor)."""
  sizes = (colours, 6, 2, 3, 3, 40, 40)
  return sizes, (int(np.prod(sizes)), 64, 64, 3)


def _register():
  from tfdis.data.tfds_data import TFDSGroundTruthData  # pylint: disable=g-import-not-at-top
  from tfdis.data import grid_store  # pylint: disable=g-import-not-at-top
  from tfdis.registry import DATASETS  # pylint: disable=g-import-not-at-top

  def load(path: str, store: str = "disk", colours: int = 6):
    sizes, shape = _sizes(colours)
    images = (grid_store.GridStore(path, shape) if store == "disk" else
              np.fromfile(path, np.uint8).reshape(shape))
    return TFDSGroundTruthData("mpi3d_real", images, NAMES, sizes)

  DATASETS.register(DATASET, load)


def _evict(path: str) -> None:
  """Drops ``path``'s pages from the page cache (the next reads are cold)."""
  fd = os.open(path, os.O_RDONLY)
  try:
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
  finally:
    os.close(fd)


def step_write(args):
  from tfdis.data import grid_store  # pylint: disable=g-import-not-at-top
  t = time.time()
  _, shape = _sizes(args.colours)
  writer = grid_store.GridWriter(args.grid + ".tmp", shape)
  with zipfile.ZipFile(args.npz) as z, z.open("images.npy") as f:
    version = np.lib.format.read_magic(f)
    read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                   else np.lib.format.read_array_header_2_0)
    stored, _, dtype = read_header(f)
    assert stored[1:] == shape[1:] and stored[0] >= shape[0], stored
    row = int(np.prod(shape[1:]))
    for start in range(0, shape[0], 8192):
      n = min(8192, shape[0] - start)
      chunk = np.frombuffer(f.read(n * row), np.uint8).reshape((n,) +
                                                              shape[1:])
      writer.write(np.arange(start, start + n), chunk)
  writer.close()
  os.replace(args.grid + ".tmp", args.grid)
  print(json.dumps({"write_seconds": round(time.time() - t, 1)}))


def step_train(args):
  _register()
  from tfdis.training.config import TrainConfig  # pylint: disable=g-import-not-at-top
  from tfdis.training import train  # pylint: disable=g-import-not-at-top
  config = TrainConfig(
      model="beta_vae", dataset=DATASET,
      dataset_options={"path": args.grid, "store": args.store,
                       "colours": args.colours},
      steps=args.steps, batch_size=args.batch_size, log_every=50, seed=0,
      model_dir=os.path.join(args.work, f"run-{args.store}"))
  result = train(config, overwrite=True)
  print(json.dumps({"steps_per_sec": result["steps_per_sec"],
                    "train_seconds": result["train_seconds"]}))


def step_evaluate(args):
  _register()
  from tfdis.evaluate import evaluate_model_dirs  # pylint: disable=g-import-not-at-top
  model_dir = os.path.join(args.work, "run-disk")
  shutil.rmtree(os.path.join(model_dir, "metrics"), ignore_errors=True)
  evaluate_model_dirs(
      model_dir, ["mig"], dataset=DATASET,
      dataset_options={"path": args.grid, "store": args.store,
                       "colours": args.colours},
      metric_params={"mig": {"num_train": args.mig_points}},
      cache_encodings="off")
  with open(os.path.join(model_dir, "metrics", "mean", "mig.json")) as f:
    record = json.load(f)
  print(json.dumps({"mig_seconds": record["elapsed_s"],
                    "discrete_mig": record["scores"]["discrete_mig"]}))


def step_ab(args):
  """MIG encoding rows/s of both stores in one process, alternating
  (disk, memory, disk, memory, ...), so the machine's load hits both alike.
  ``--cold`` drops the grid file's pages from the page cache before each
  disk round (the rows of a seed repeat, so later rounds would otherwise
  read warm pages)."""
  from tfdis.data import grid_store  # pylint: disable=g-import-not-at-top
  from tfdis.data.tfds_data import TFDSGroundTruthData  # pylint: disable=g-import-not-at-top
  from tfdis.export.load import load_saved_model  # pylint: disable=g-import-not-at-top
  from tfdis.metrics.mig import compute_mig  # pylint: disable=g-import-not-at-top
  sizes, shape = _sizes(args.colours)
  stores = {"disk": grid_store.GridStore(args.grid, shape),
            "memory": np.fromfile(args.grid, np.uint8).reshape(shape)}
  loaded = load_saved_model(os.path.join(args.work, "run-disk"))
  rep = loaded.representation_fn("mean")
  times = {"disk": [], "memory": []}
  scores = {}
  for _ in range(args.repeats):
    for name, images in stores.items():
      if name == "disk" and args.cold:
        _evict(args.grid)
      data = TFDSGroundTruthData("mpi3d_real", images, NAMES, sizes)
      t = time.perf_counter()
      result = compute_mig(data, rep, np.random.RandomState(0),
                           num_train=args.mig_points)
      times[name].append(time.perf_counter() - t)
      scores[name] = result["discrete_mig"]
  print(json.dumps({
      "cold_disk": bool(args.cold), "seconds": times,
      "discrete_mig": scores,
      "rows_per_s": {k: round(args.mig_points / float(np.median(v)))
                     for k, v in times.items()},
      "ratio_disk_to_memory": float(np.median(times["memory"]) /
                                    np.median(times["disk"]))}))


def step_reads(args):
  """Rows/s of random gathers of ``--read_batch`` rows from the grid file,
  cold (file evicted from the page cache first) and warm, with the store's
  readahead (every run announced with POSIX_FADV_WILLNEED before the reads)
  and without (run by run), alternating ``--repeats`` rounds."""
  from tfdis.data import grid_store  # pylint: disable=g-import-not-at-top
  _, shape = _sizes(args.colours)
  stores = {"readahead": grid_store.GridStore(args.grid, shape),
            "run_by_run": grid_store.GridStore(args.grid, shape,
                                               readahead=False)}
  rates = {}
  for r in range(args.repeats):
    for name, store in stores.items():
      rs = np.random.RandomState(r)
      batches = [rs.randint(0, shape[0], args.read_batch)
                 for _ in range(max(1, 8000 // args.read_batch))]
      for temp in ("cold", "warm"):
        if temp == "cold":
          _evict(args.grid)
        t = time.perf_counter()
        for rows in batches:
          store[rows]
        rates.setdefault(f"{temp}-{name}", []).append(
            len(batches) * args.read_batch / (time.perf_counter() - t))
  median = {k: round(float(np.median(v))) for k, v in rates.items()}
  print(json.dumps({
      "read_batch": args.read_batch, "rows_per_s": median,
      "readahead_speedup": {
          temp: median[f"{temp}-readahead"] / median[f"{temp}-run_by_run"]
          for temp in ("cold", "warm")}}))


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--npz", required=True)
  parser.add_argument("--work", required=True)
  parser.add_argument("--paths", default="disk,memory")
  parser.add_argument("--steps", type=int, default=300)
  parser.add_argument("--batch_size", type=int, default=64)
  parser.add_argument("--mig_points", type=int, default=10000)
  parser.add_argument("--colours", type=int, default=6,
                      help="Object colours of the grid (6: all 1,036,800 "
                      "rows; fewer: a prefix, for an in-memory comparison "
                      "on a machine without 18 GB free).")
  parser.add_argument("--repeats", type=int, default=3,
                      help="Alternating rounds of the in-process A/B.")
  parser.add_argument("--cold", action="store_true",
                      help="A/B: evict the grid file from the page cache "
                      "before each disk round.")
  parser.add_argument("--read_batch", type=int, default=16,
                      help="Rows per gather of --step=reads (16: dlib's "
                      "metric sampling batch; training uses its batch "
                      "size).")
  parser.add_argument("--output", default=None)
  parser.add_argument("--step", default=None, help=argparse.SUPPRESS)
  parser.add_argument("--store", default="disk", help=argparse.SUPPRESS)
  args = parser.parse_args()
  args.grid = os.path.join(args.work, f"mpi3d_real_c{args.colours}.u8")
  sizes, shape = _sizes(args.colours)
  if args.step:
    return {"write": step_write, "train": step_train,
            "evaluate": step_evaluate, "ab": step_ab,
            "reads": step_reads}[args.step](args)

  os.makedirs(args.work, exist_ok=True)
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=REPO + (
      os.pathsep + os.environ["PYTHONPATH"] if os.environ.get("PYTHONPATH")
      else ""))
  me = [sys.executable, os.path.abspath(__file__)] + [
      a for a in sys.argv[1:] if not a.startswith("--output")]
  results = {"rows": shape[0], "grid_gb": round(np.prod(shape) / 1e9, 2),
             "sizes": sizes}

  def save():
    if args.output:
      with open(args.output + ".tmp", "w") as f:
        json.dump(results, f, indent=1)
      os.replace(args.output + ".tmp", args.output)
    print(json.dumps(results), flush=True)

  def run(name, extra):
    r = timed(me + extra, os.path.join(args.work, f"{name}.log"), env)
    last = [l for l in r["log"].splitlines() if l.startswith("{")]
    out = {k: r[k] for k in ("seconds", "cpu_seconds", "peak_rss_gib")}
    if last:
      out.update(json.loads(last[-1]))
    if "steps_per_sec" in out:
      out["rows_per_s"] = round(out["steps_per_sec"] * args.batch_size)
    if "mig_seconds" in out:
      out["rows_per_s"] = round(args.mig_points / out["mig_seconds"])
    results[name] = out
    save()

  if not os.path.exists(args.grid):
    run("write", ["--step=write"])
  for store in args.paths.split(","):
    if store == "memory" and mem_available() < np.prod(shape) * 1.15 + 3e9:
      results[f"{store}"] = {"skipped": "MemAvailable %.1f GB" % (
          mem_available() / 1e9)}
      save()
      continue
    run(f"train-{store}", ["--step=train", f"--store={store}"])
    run(f"evaluate-{store}", ["--step=evaluate", f"--store={store}"])
  if "memory" in args.paths and "skipped" not in results.get("memory", {}):
    run("ab", ["--step=ab"])


if __name__ == "__main__":
  main()
