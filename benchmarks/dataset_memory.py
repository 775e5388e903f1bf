r"""Full-size datasets in bounded memory: disk store vs in-memory, measured.

For each dataset: build it from full-size files in the official format
(written beforehand by ``benchmarks/write_official_files.py``) with
``python -m tfds_builders.build``, write its grid cache (first load with
``store="disk"``), then run ``tfdis_train`` (``--steps`` steps) and
``tfdis_evaluate`` (MIG on ``--mig_points`` points, encoding cache off, so
every point is gathered and encoded) once with ``store="disk"`` and once with
``store="memory"``. Every step runs as its own process under
``/usr/bin/time -v`` (peak RSS = "Maximum resident set size"). Prints one
table row per dataset and writes all figures to ``--output`` (JSON).

  python benchmarks/write_official_files.py --out=/scratch/official
  python benchmarks/dataset_memory.py --files=/scratch/official \
      --work=/scratch/bench --datasets=dsprites,mpi3d_real
  rm -r /scratch/official /scratch/bench

The in-memory path needs the whole grid in RAM (MPI3D real: 12.7 GB); it is
skipped (and marked so) when MemAvailable is below the grid size times
``--memory_headroom`` plus 3 GB.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)

# tfdis name -> (builder, config, grid rows, bytes per row)
DATASETS = {
    "dsprites": ("dsprites", None, 737280, 64 * 64),
    "shapes3d": ("shapes3d", None, 480000, 64 * 64 * 3),
    "mpi3d_real": ("mpi3d", "real", 1036800, 64 * 64 * 3),
    "smallnorb": ("smallnorb", None, 48600, 64 * 64),
    "cars3d": ("cars3d", None, 17568, 64 * 64 * 3),
}


def mem_available() -> int:
  with open("/proc/meminfo") as f:
    for line in f:
      if line.startswith("MemAvailable:"):
        return int(line.split()[1]) * 1024
  return 0


def timed(cmd, log_path, env=None) -> dict:
  """Runs ``cmd`` under /usr/bin/time -v; wall seconds, peak RSS, output."""
  start = time.time()
  with open(log_path, "w") as log:
    proc = subprocess.run(["/usr/bin/time", "-v"] + cmd, stdout=log,
                          stderr=subprocess.STDOUT, env=env, check=False)
  wall = time.time() - start
  with open(log_path) as f:
    text = f.read()
  peak = re.search(r"Maximum resident set size \(kbytes\): (\d+)", text)
  cpu = sum(float(x) for x in re.findall(
      r"(?:User|System) time \(seconds\): ([\d.]+)", text))
  if proc.returncode:
    raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}); see "
                       f"{log_path}")
  return {"seconds": round(wall, 1), "cpu_seconds": round(cpu, 1),
          "peak_rss_gib": round(int(peak.group(1)) / 2**20, 3) if peak
                         else None, "log": text}


def _keep(result: dict) -> dict:
  return {k: result[k] for k in ("seconds", "cpu_seconds", "peak_rss_gib")}


def du(path: str, skip: str = "") -> int:
  total = 0
  for d, dirs, files in os.walk(path):
    if skip:
      dirs[:] = [x for x in dirs if x != skip]
    total += sum(os.path.getsize(os.path.join(d, f)) for f in files)
  return total


def run_dataset(name: str, args, env) -> dict:
  builder, config, rows, row_bytes = DATASETS[name]
  py = sys.executable
  data_dir = os.path.join(args.work, "data")
  logs = os.path.join(args.work, "logs")
  os.makedirs(logs, exist_ok=True)
  row = {"dataset": name, "rows": rows,
         "grid_gb": round(rows * row_bytes / 1e9, 2),
         "files_gb": round(du(os.path.join(args.files, name)) / 1e9, 3)}
  build = [py, "-m", "tfds_builders.build", builder,
           f"--manual_dir={os.path.join(args.files, name)}",
           f"--data_dir={data_dir}",
           # Synthetic files: right format, not the official bytes.
           "--noverify_dataset_files"] + ([f"--config={config}"] if config
                                          else [])
  r = timed(build, os.path.join(logs, f"{name}-build.log"), env)
  row["build"] = _keep(r)
  build_dir = os.path.join(data_dir, builder, *(
      [config] if config else []))
  row["build_gb"] = round(du(build_dir, skip="tfdis_grid_cache") / 1e9, 3)
  print(f"{name}: build {row['build']}", flush=True)

  load = [py, "-c", (
      "import sys; from tfdis.data import get_dataset; "
      "d = get_dataset(sys.argv[1], data_dir=sys.argv[2]); "
      "print(d.images.path)"), name, data_dir]
  r = timed(load, os.path.join(logs, f"{name}-cache.log"), env)
  row["cache"] = _keep(r)
  row["cache_gb"] = round(du(os.path.join(build_dir)) / 1e9 - row[
      "build_gb"], 3)
  print(f"{name}: grid cache {row['cache']} {row['cache_gb']} GB",
        flush=True)

  for store in args.paths.split(","):
    need = rows * row_bytes * args.memory_headroom + 3 * 2**30
    if store == "memory" and mem_available() < need:
      row[store] = {"skipped": f"MemAvailable {mem_available() / 2**30:.1f} "
                               f"GiB < {need / 2**30:.1f} GiB"}
      print(f"{name}: {store} skipped: {row[store]['skipped']}", flush=True)
      continue
    options = json.dumps({"data_dir": data_dir, "store": store})
    model_dir = os.path.join(args.work, "runs", f"{name}-{store}")
    shutil.rmtree(model_dir, ignore_errors=True)
    train = [py, "-m", "tfdis.bin.train", "--model=beta_vae",
             f"--dataset={name}", f"--dataset_options={options}",
             f"--steps={args.steps}", f"--batch_size={args.batch_size}",
             "--log_every=50", f"--model_dir={model_dir}", "--seed=0"]
    r = timed(train, os.path.join(logs, f"{name}-{store}-train.log"), env)
    rates = re.findall(r"([\d.]+) steps/s", r["log"])
    out = {"train": _keep(r)}
    if rates:
      out["train"]["rows_per_s"] = round(float(rates[-1]) * args.batch_size)
    # Both paths score the same model (the disk run's) on the same points.
    first = args.paths.split(",")[0]
    scored = os.path.join(args.work, "runs", f"{name}-{first}")
    metrics_dir = os.path.join(scored, "metrics")
    shutil.rmtree(metrics_dir, ignore_errors=True)
    evaluate = [py, "-m", "tfdis.bin.evaluate", f"--model_dirs={scored}",
                "--metrics=mig", f"--dataset={name}",
                f"--dataset_options={options}", "--cache_encodings=off",
                "--metric_params=" + json.dumps(
                    {"mig": {"num_train": args.mig_points}})]
    r = timed(evaluate, os.path.join(logs, f"{name}-{store}-evaluate.log"),
              env)
    out["evaluate"] = _keep(r)
    with open(os.path.join(metrics_dir, "mean", "mig.json")) as f:
      record = json.load(f)
    out["evaluate"]["mig_seconds"] = round(record["elapsed_s"], 2)
    out["evaluate"]["rows_per_s"] = round(args.mig_points /
                                          record["elapsed_s"])
    out["evaluate"]["discrete_mig"] = record["scores"]["discrete_mig"]
    row[store] = out
    print(f"{name}: {store} {out}", flush=True)
  return row


def table(rows) -> str:
  head = ("| dataset | files GB | build s | build peak RSS GiB | build GB | "
          "cache s | cache GB | train peak RSS GiB disk / memory | "
          "train rows/s disk / memory | evaluate peak RSS GiB disk / memory | "
          "MIG encode rows/s disk / memory (ratio) |")
  lines = [head, "|" + "---|" * 11]

  def pair(row, step, key):
    vals = []
    for store in ("disk", "memory"):
      v = row.get(store, {}).get(step, {}).get(key)
      vals.append("skipped" if v is None and "skipped" in row.get(store, {})
                  else ("–" if v is None else f"{v:g}"))
    return " / ".join(vals)

  for row in rows:
    ratio = ""
    try:
      ratio = " ({:.2f})".format(row["disk"]["evaluate"]["rows_per_s"] /
                                 row["memory"]["evaluate"]["rows_per_s"])
    except (KeyError, ZeroDivisionError):
      pass
    lines.append(
        f"| {row['dataset']} | {row['files_gb']} | {row['build']['seconds']} "
        f"| {row['build']['peak_rss_gib']} | {row['build_gb']} | "
        f"{row['cache']['seconds']} | {row['cache_gb']} | "
        f"{pair(row, 'train', 'peak_rss_gib')} | "
        f"{pair(row, 'train', 'rows_per_s')} | "
        f"{pair(row, 'evaluate', 'peak_rss_gib')} | "
        f"{pair(row, 'evaluate', 'rows_per_s')}{ratio} |")
  return "\n".join(lines)


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--files", required=True,
                      help="Output folder of write_official_files.py.")
  parser.add_argument("--work", required=True,
                      help="Scratch folder for builds, caches and runs.")
  parser.add_argument("--datasets", default="dsprites,mpi3d_real")
  parser.add_argument("--paths", default="disk,memory")
  parser.add_argument("--steps", type=int, default=300)
  parser.add_argument("--batch_size", type=int, default=64)
  parser.add_argument("--mig_points", type=int, default=10000)
  parser.add_argument("--memory_headroom", type=float, default=1.2)
  parser.add_argument("--output", default=None)
  args = parser.parse_args()
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=REPO + (
      os.pathsep + os.environ["PYTHONPATH"] if os.environ.get("PYTHONPATH")
      else ""))
  rows = []
  for name in args.datasets.split(","):
    if name not in DATASETS:
      parser.error(f"unknown dataset {name!r}; known: {list(DATASETS)}")
    rows.append(run_dataset(name, args, env))
    if args.output:
      tmp = args.output + ".tmp"
      with open(tmp, "w") as f:
        json.dump(rows, f, indent=1)
      os.replace(tmp, args.output)
  print(table(rows))


if __name__ == "__main__":
  main()
