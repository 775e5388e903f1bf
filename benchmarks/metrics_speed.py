"""Wall time of every metric at its DEFAULT sample counts, plus encoder speed.

  python benchmarks/metrics_speed.py                      # analytic codes
  python benchmarks/metrics_speed.py --model_dir=runs/x/0 # a SavedModel
  python benchmarks/metrics_speed.py --metrics=mig,dci --n_jobs=2

Without --model_dir the representation is a fast analytic one over
procedural_dsprites (full grid): image moments (mass, centroid, second
moments) plus a dead code, so the timings are those of the metrics, not of a
network. With --model_dir the SavedModel's mean encoder is used and its
dataset is rebuilt from the metadata. Prints a table (seconds per metric and
the total) and optionally writes it as JSON (--output).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def moment_codes(images: np.ndarray) -> np.ndarray:
  """[N, 8] codes: mass, centroid x/y, central moments, one mix, a dead code."""
  x = images.reshape(len(images), images.shape[1], images.shape[2])
  x = x.astype(np.float32)
  h, w = x.shape[1:]
  ys = np.arange(h, dtype=np.float32) / h
  xs = np.arange(w, dtype=np.float32) / w
  mass = x.sum(axis=(1, 2)) + 1e-6
  row = x.sum(axis=2)  # [N, H]
  col = x.sum(axis=1)  # [N, W]
  cy = row @ ys / mass
  cx = col @ xs / mass
  mu20 = col @ (xs**2) / mass - cx**2
  mu02 = row @ (ys**2) / mass - cy**2
  mu11 = np.einsum("nhw,h,w->n", x, ys, xs) / mass - cx * cy
  return np.stack([mass / (h * w), cx, cy, mu20, mu02, mu11, cx + cy,
                   np.zeros_like(cx)], axis=1)


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--model_dir", default=None)
  parser.add_argument("--metrics", default="all")
  parser.add_argument("--n_jobs", type=int, default=None,
                      help="parallel fits (default: all cores)")
  parser.add_argument("--seed", type=int, default=0)
  parser.add_argument("--output", default=None, help="write results as JSON")
  args = parser.parse_args(argv)

  from tfdis import io_utils
  from tfdis.data import get_dataset
  from tfdis.evaluate import resolve_metrics
  from tfdis.metrics import get_metric, scores_of

  if args.model_dir:
    from tfdis.export.load import load_saved_model
    model = load_saved_model(args.model_dir)
    info = model.metadata.get("dataset") or {}
    data = get_dataset(info["name"], **(info.get("options") or {}))
    representation_fn = model.mean_encoder
    source = args.model_dir
  else:
    data = get_dataset("procedural_dsprites")
    representation_fn = moment_codes
    source = "analytic image moments over procedural_dsprites"

  rs = np.random.RandomState(args.seed)
  factors = data.sample_factors(10000, rs)
  start = time.perf_counter()
  images = data.sample_observations_from_factors(factors, rs)
  render_s = time.perf_counter() - start
  start = time.perf_counter()
  for i in range(0, len(images), 1024):
    representation_fn(images[i:i + 1024])
  encode_s = time.perf_counter() - start
  print(f"representation: {source}")
  print(f"rendering: {len(images) / render_s:,.0f} images/s; encoder: "
        f"{len(images) / encode_s:,.0f} images/s (batches of 1024)")
  del images

  rows = []
  total = 0.0
  for name in resolve_metrics(args.metrics):
    fn = get_metric(name)
    kwargs = {}
    if "n_jobs" in fn.__code__.co_varnames:
      kwargs["n_jobs"] = args.n_jobs
    start = time.perf_counter()
    result = fn(data, representation_fn, args.seed, **kwargs)
    seconds = time.perf_counter() - start
    total += seconds
    main_scores = {k: round(v, 4) for k, v in scores_of(result).items()
                   if ":" not in k and "factor_" not in k}
    rows.append({"metric": name, "seconds": seconds,
                 "parameters": result["parameters"], "scores": main_scores})
    print(f"{name:<26s} {seconds:9.1f} s  {main_scores}", flush=True)
  print(f"{'total':<26s} {total:9.1f} s")
  if args.output:
    io_utils.write_json(args.output, {
        "source": source, "render_images_per_s": 10000 / render_s,
        "encoder_images_per_s": 10000 / encode_s, "metrics": rows,
        "total_s": total, "n_jobs": args.n_jobs,
        "versions": io_utils.library_versions()})
  return 0


if __name__ == "__main__":
  sys.exit(main())
