"""Ray's overhead: the same tiny study with the local pool and with Ray.

  python benchmarks/ray_overhead.py                     # 6 models x 200 steps
  python benchmarks/ray_overhead.py --models=6 --steps=200 --workers=2 \\
      --output=ray_overhead.json

Both runs train, export and evaluate (MIG at the quickstart's sample count)
the same ``--models`` beta-VAEs (seeds 0..N-1) on procedural_dsprites_small
with ``--workers`` concurrent tasks of one CPU each: ``--workers`` spawned
processes, then a local Ray instance of ``--workers`` CPUs started by this
script (its start-up is timed separately and included in Ray's wall time, as
a user pays it). Both pin one TensorFlow thread per task
(``cpus_per_task=1``), so the two runs must also give bit-identical MIG
scores; the script checks that. Prints the wall times, their ratio
(Ray / local) and the 1-minute load average before and after, and optionally
writes them as JSON. On a shared machine the ratio is only as stable as the
load: run it on an idle one.
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
  scores = {}
  for model in sorted(os.listdir(output_dir)):
    path = os.path.join(output_dir, model, "metrics", "mean", "mig.json")
    if os.path.isfile(path):
      with open(path) as f:
        scores[model] = json.load(f)["scores"]
  return wall, scores


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--models", type=int, default=6)
  parser.add_argument("--steps", type=int, default=200)
  parser.add_argument("--workers", type=int, default=2)
  parser.add_argument("--output", default=None, help="JSON file to write")
  args = parser.parse_args()

  import ray
  from tfdis.execution import ExecutionConfig

  load_before = os.getloadavg()[0]
  with tempfile.TemporaryDirectory(prefix="ray_overhead_") as root:
    local, local_scores = _study(
        os.path.join(root, "local"), args,
        ExecutionConfig(num_workers=args.workers, cpus_per_task=1))
    start = time.monotonic()
    ray.init(address="local", num_cpus=args.workers, include_dashboard=False,
             logging_level="error", log_to_driver=False)
    ray_start = time.monotonic() - start
    try:
      remote, ray_scores = _study(
          os.path.join(root, "ray"), args,
          ExecutionConfig(executor="ray", cpus_per_task=1))
    finally:
      ray.shutdown()
  ray_wall = ray_start + remote
  out = {"models": args.models, "steps": args.steps,
         "concurrent_tasks": args.workers, "tf_threads_per_task": 1,
         "local_wall_s": round(local, 1), "ray_start_s": round(ray_start, 1),
         "ray_wall_s": round(ray_wall, 1),
         "ratio_ray_over_local": round(ray_wall / local, 3),
         "per_model_local_s": round(local * args.workers / args.models, 1),
         "scores_identical": ray_scores == local_scores,
         "load_average_1min_before": round(load_before, 2),
         "load_average_1min_after": round(os.getloadavg()[0], 2),
         "ray": ray.__version__}
  print(f"{args.models} models x {args.steps} steps, {args.workers} tasks at "
        f"a time, 1 TensorFlow thread each:\n"
        f"  local executor: {local:.1f} s\n"
        f"  Ray executor:   {ray_wall:.1f} s (of which Ray start-up "
        f"{ray_start:.1f} s)\n"
        f"  ratio Ray / local: {out['ratio_ray_over_local']:.2f}\n"
        f"  MIG scores bit-identical: {out['scores_identical']}\n"
        f"  1-min load average: {out['load_average_1min_before']} before, "
        f"{out['load_average_1min_after']} after")
  if args.output:
    with open(args.output, "w") as f:
      json.dump(out, f, indent=2)
  if not out["scores_identical"]:
    raise SystemExit("the local and the Ray run gave different MIG scores "
                     f"at the same thread count: {local_scores} vs "
                     f"{ray_scores}")


if __name__ == "__main__":
  main()
