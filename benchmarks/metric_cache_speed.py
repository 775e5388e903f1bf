"""Metric wall time with and without the encode-once cache, on one model.

  python benchmarks/metric_cache_speed.py [--model_dir=DIR] [--quick]

Times ``tfdis.evaluate.evaluate_model_dirs`` on one SavedModel over the full
procedural dSprites grid (737,280 images) at the metrics' published sample
counts, side by side in one run:

* BetaVAE + FactorVAE + MIG, rendering and encoding every sample
  (``cache_encodings='off'``, what tfdis did before) vs the row cache
  starting empty (``'disk'``);
* the whole default suite (every metric) the same two ways.

The scores of both paths are compared too (they must be equal bit for bit).
Without ``--model_dir`` a conv beta-VAE is trained for 200 steps first (the
timings hardly depend on how well a model is trained). ``--quick`` divides
every sample count by 20 (a smoke run, not the published counts).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

DATASET = "procedural_dsprites"
HEADLINE = ("beta_vae", "factor_vae", "mig")


def train_model(path: str) -> str:
  from tfdis.training import TrainConfig, train

  train(TrainConfig(model="beta_vae", dataset=DATASET, architecture="conv",
                    steps=200, batch_size=64, model_dir=path,
                    summary_every=1000, image_summary_every=100000,
                    checkpoint_every=1000))
  return path


def quick_params():
  """Every metric's default counts divided by 20 (smoke runs only)."""
  from tfdis.evaluate import metric_arguments, resolve_metrics

  params = {}
  for metric in resolve_metrics("all"):
    params[metric] = {}
    for name, value in metric_arguments(metric).items():
      if name.startswith("num_") and isinstance(value, int):
        params[metric][name] = max(value // 20, 20)
      elif name == "num_train" and isinstance(value, (list, tuple)):
        params[metric][name] = [max(v // 20, 20) for v in value]
  return params


def _results(model_dir, metrics):
  """{metric: (scores, elapsed_s)} of the JSONs just written."""
  out = {}
  for metric in metrics:
    with open(os.path.join(model_dir, "metrics", "mean",
                           f"{metric}.json")) as f:
      result = json.load(f)
    out[metric] = (result["scores"], float(result["elapsed_s"]))
  return out


def time_suite(model_dir: str, metrics, mode: str, params) -> tuple:
  from tfdis.evaluate import evaluate_model_dirs

  shutil.rmtree(os.path.join(model_dir, "encodings"), ignore_errors=True)
  start = time.monotonic()
  evaluate_model_dirs([model_dir], metrics, overwrite=True,
                      metric_params=params, cache_encodings=mode)
  return time.monotonic() - start, _results(model_dir, metrics)


def run(model_dir=None, quick: bool = False, headline_only: bool = False,
        suite_only: bool = False):
  """Rows (name, baseline_s, new_s) and whether all scores were equal.

  For the whole suite, one row per metric follows (its own ``elapsed_s``
  both ways: what the cache saves and what stays, e.g. scikit-learn fits).
  """
  from tfdis.evaluate import resolve_metrics

  work = tempfile.mkdtemp(prefix="metric_cache_speed_")
  try:
    if model_dir is None:
      model_dir = train_model(os.path.join(work, "trained"))
    copy = os.path.join(work, "model")
    shutil.copytree(model_dir, copy, ignore=shutil.ignore_patterns(
        "metrics", "encodings", "checkpoints", "logs", "visualizations"))
    params = quick_params() if quick else {}
    rows, equal = [], True
    suites = [] if suite_only else [("BetaVAE+FactorVAE+MIG",
                                      list(HEADLINE))]
    if not headline_only:
      suites.append(("default metric suite", resolve_metrics("all")))
    for name, metrics in suites:
      off_s, off = time_suite(copy, metrics, "off", params)
      on_s, on = time_suite(copy, metrics, "disk", params)
      equal &= all(off[m][0] == on[m][0] for m in metrics)
      rows.append((f"{name} (uncached -> cached)", off_s, on_s))
      if len(metrics) > len(HEADLINE):
        rows += [(f"  {m}", off[m][1], on[m][1]) for m in metrics]
    return rows, equal
  finally:
    shutil.rmtree(work, ignore_errors=True)


def print_rows(rows) -> None:
  print(f"{'':44s} {'baseline s':>11s} {'new s':>9s} {'speed-up':>9s}")
  for name, base, new in rows:
    print(f"{name:44s} {base:11.1f} {new:9.1f} {base / new:8.2f}x")


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--model_dir", default=None)
  parser.add_argument("--quick", action="store_true")
  parser.add_argument("--headline_only", action="store_true",
                      help="only BetaVAE+FactorVAE+MIG (skips the ~9 min "
                      "uncached default suite)")
  parser.add_argument("--suite_only", action="store_true",
                      help="only the whole default suite")
  args = parser.parse_args()
  rows, equal = run(args.model_dir, args.quick, args.headline_only,
                    args.suite_only)
  print_rows(rows)
  print("scores identical with and without the cache:", equal)


if __name__ == "__main__":
  main()
