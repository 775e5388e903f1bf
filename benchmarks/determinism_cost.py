"""Speed cost of TensorFlow op determinism in tfdis_train (CPU).

Runs the same short training with --deterministic and --nodeterministic,
alternating A B A B … in fresh processes (op determinism is process-wide),
and prints each run's steps/s (from results/train.json, training loop only:
process start and tracing excluded) and the median ratio.

  python benchmarks/determinism_cost.py --repeats=3 --steps=300
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile


def run(deterministic: bool, steps: int, workdir: str, i: int) -> float:
  model_dir = os.path.join(workdir, f"{'det' if deterministic else 'nodet'}"
                           f"_{i}")
  cmd = [sys.executable, "-m", "tfdis.bin.train", "--model=beta_vae",
         "--dataset=procedural_dsprites_small", f"--steps={steps}",
         "--batch_size=64", "--log_every=100000", "--summary_every=100000",
         "--image_summary_every=100000", "--checkpoint_every=100000",
         "--noexport", f"--model_dir={model_dir}",
         "--deterministic" if deterministic else "--nodeterministic"]
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
  subprocess.run(cmd, check=True, env=env, capture_output=True)
  with open(os.path.join(model_dir, "results", "train.json")) as f:
    return float(json.load(f)["steps_per_sec"])


def main():
  parser = argparse.ArgumentParser(description=__doc__)
  parser.add_argument("--repeats", type=int, default=3)
  parser.add_argument("--steps", type=int, default=300)
  args = parser.parse_args()
  det, nodet = [], []
  with tempfile.TemporaryDirectory() as workdir:
    for i in range(args.repeats):
      det.append(run(True, args.steps, workdir, i))
      nodet.append(run(False, args.steps, workdir, i))
      print(f"pair {i}: deterministic {det[-1]:.2f} steps/s, "
            f"non-deterministic {nodet[-1]:.2f} steps/s, ratio "
            f"{det[-1] / nodet[-1]:.3f}", flush=True)
  ratios = [a / b for a, b in zip(det, nodet)]
  print(f"median steps/s: deterministic {statistics.median(det):.2f}, "
        f"non-deterministic {statistics.median(nodet):.2f}; median ratio "
        f"(deterministic / non-deterministic) {statistics.median(ratios):.3f}")


if __name__ == "__main__":
  main()
