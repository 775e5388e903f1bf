"""Ray's overhead: the same tiny study with the local pool and with Ray.

  python benchmarks/ray_overhead.py                     # 6 models x 200 steps
  python benchmarks/ray_overhead.py --models=6 --steps=200 --workers=2 \\
      --output=ray_overhead.json

Both runs train, export and evaluate (MIG at the quickstart's sample count)
the same ``--models`` beta-VAEs (seeds 0..N-1) on procedural_dsprites_small
with ``--workers`` concurrent tasks of one CPU each: ``--workers`` spawned
processes, then a local Ray instance of ``--workers`` CPUs started by this
script (its start-up is timed separately and included in Ray's wall time, as
a user pays it). Prints the wall times and their ratio (Ray / local), and
optionally writes them as JSON. On a shared machine the ratio is only as
stable as the load: run it on an idle one.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _study(output_dir: str, args, executor):
  from tfdis.study import run_study

  start = time.monotonic()
  result = run_study(
      "quickstart", output_dir, aggregate=False, executor=executor,
      steps=args.steps, seeds=args.models, sweep={"beta_vae": [{"beta": 4.0}]},
      metrics=["mig"], udr=(), visualize=False)
  wall = time.monotonic() - start
  if result["failed"] or result["completed"] != args.models:
    raise SystemExit(f"benchmark run failed: {result['failed']}")
  return wall


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--models", type=int, default=6)
  parser.add_argument("--steps", type=int, default=200)
  parser.add_argument("--workers", type=int, default=2)
  parser.add_argument("--output", default=None, help="JSON file to write")
  args = parser.parse_args()

  import ray
  from tfdis.execution import ExecutionConfig

  with tempfile.TemporaryDirectory(prefix="ray_overhead_") as root:
    local = _study(os.path.join(root, "local"), args,
                   ExecutionConfig(num_workers=args.workers, cpus_per_task=1))
    start = time.monotonic()
    ray.init(address="local", num_cpus=args.workers, include_dashboard=False,
             logging_level="error", log_to_driver=False)
    ray_start = time.monotonic() - start
    try:
      remote = _study(os.path.join(root, "ray"), args,
                      ExecutionConfig(executor="ray", cpus_per_task=1))
    finally:
      ray.shutdown()
  out = {"models": args.models, "steps": args.steps,
         "concurrent_tasks": args.workers, "local_wall_s": round(local, 1),
         "ray_start_s": round(ray_start, 1),
         "ray_wall_s": round(ray_start + remote, 1),
         "ratio_ray_over_local": round((ray_start + remote) / local, 3),
         "per_model_local_s": round(local * args.workers / args.models, 1),
         "load_average_1min": round(os.getloadavg()[0], 2),
         "ray": ray.__version__}
  print(f"{args.models} models x {args.steps} steps, {args.workers} tasks at "
        f"a time: local {local:.1f} s; Ray {ray_start + remote:.1f} s "
        f"(start-up {ray_start:.1f} s); ratio Ray/local "
        f"{out['ratio_ray_over_local']:.2f} (1-min load {out['load_average_1min']})")
  if args.output:
    with open(args.output, "w") as f:
      json.dump(out, f, indent=2)


if __name__ == "__main__":
  main()
