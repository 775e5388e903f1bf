"""Speed-up and agreement of the opt-in fast classifier ('hist_gbt').

  python benchmarks/fast_classifier.py --output_dir=runs/fast_classifier
  python benchmarks/fast_classifier.py --output_dir=runs/fast_classifier \
      --summarize_only   # tables from the JSON written so far
  # two processes side by side: --shard=0/2 and --shard=1/2

Trains (one after the other, each scored right after training)
``--num_models`` tiny β-VAEs on procedural_dsprites_small (β from
``--betas``, seeds from ``--seeds``, step counts from ``--steps``, so the
scores vary from model to model), then scores each with DCI, downstream_task
(boosted trees) and fairness twice: with dlib's exact
GradientBoostingClassifier (``classifier='gbt'``, the default) and with the
histogram GBT (``classifier='hist_gbt'``). The codes are encoded once per
model (the disk encoding cache), so the timings are those of the metrics.

Writes ``<output_dir>/fast_classifier.shard<i>of<n>.json`` after every model (a rerun
skips trained models and scored (model, classifier) pairs) and prints, per
score: the Spearman rank correlation across models between the two paths,
the largest absolute difference, and the total seconds of each path per
metric (hence the speed-up); the merged results and the summary go to
``<output_dir>/summary.json``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

METRICS = ("dci", "downstream_task", "fairness")
CLASSIFIERS = ("gbt", "hist_gbt")
# Scores compared between the two paths (summary scores; per-factor and
# per-pair fairness entries follow from these).
SUMMARY_KEYS = {
    "dci": ("disentanglement", "completeness", "informativeness_train",
            "informativeness_test"),
    "downstream_task": None,  # every "...:mean_*_accuracy" key
    "fairness": ("mean_fairness:mean_pred:mean_sens",
                 "mean_fairness:mean_pred:max_sens",
                 "max_fairness:mean_pred:mean_sens",
                 "max_fairness:mean_pred:max_sens"),
}


def metric_params(args, classifier: str):
  return {
      "dci": {"num_train": args.num_train, "num_test": args.num_test,
              "classifier": classifier},
      "downstream_task": {"num_train": args.downstream_sizes,
                          "num_test": args.num_test,
                          "predictors": ["boosted_trees"],
                          "classifier": classifier},
      "fairness": {"num_train": args.num_train,
                   "num_test_points_per_class": args.points_per_class,
                   "classifier": classifier},
  }


def model_grid(args):
  # steps innermost: a run cut short still spans betas and step counts
  grid = [(steps, beta, seed) for seed, beta, steps in itertools.product(
      args.seeds, args.betas, args.steps)]
  return grid[:args.num_models]


def train_model(args, steps, beta, seed):
  from tfdis.training import TrainConfig, train

  path = os.path.join(args.output_dir, "models",
                      f"beta={beta:g}-steps={steps}-seed={seed}")
  if not os.path.isdir(os.path.join(path, "saved_model")):
    t0 = time.monotonic()
    train(TrainConfig(model="beta_vae", dataset="procedural_dsprites_small",
                      latent_dim=args.latent_dim, steps=steps,
                      batch_size=args.batch_size,
                      hyperparameters={"beta": beta}, seed=seed,
                      model_dir=path, log_every=max(steps, 1),
                      summary_every=10**9, image_summary_every=10**9,
                      checkpoint_every=10**9))
    print(f"trained {path} in {time.monotonic() - t0:.0f} s", flush=True)
  return path, dict(beta=beta, steps=steps, seed=seed)


def load(path):
  if os.path.isfile(path):
    with open(path) as f:
      return json.load(f)
  return {"models": {}}


def load_all(output_dir):
  """Every shard's results merged."""
  merged = {"models": {}}
  for name in sorted(os.listdir(output_dir)):
    if name.startswith("fast_classifier") and name.endswith(".json"):
      part = load(os.path.join(output_dir, name))
      merged["models"].update(part.get("models", {}))
      merged.setdefault("settings", part.get("settings"))
  return merged


def save(path, obj):
  from tfdis import io_utils
  io_utils.write_json(path, obj)


def train_and_evaluate(args, out_path):
  """Model by model: train, then score with both classifiers."""
  from tfdis.evaluate import evaluate_model

  results = load(out_path)
  results["settings"] = {k: v for k, v in vars(args).items()
                         if k not in ("summarize_only",)}
  shard, num_shards = args.shard
  for i, (steps, beta, seed) in enumerate(model_grid(args)):
    if i % num_shards != shard:
      continue
    path, hparams = train_model(args, steps, beta, seed)
    entry = results["models"].setdefault(os.path.basename(path),
                                         {"hparams": hparams})
    for classifier in CLASSIFIERS:
      if classifier in entry:
        continue
      row = evaluate_model(path, list(METRICS), overwrite=True,
                           metric_params=metric_params(args, classifier),
                           seed=0, cache_encodings="disk")
      entry[classifier] = {k: v for k, v in row.items()
                           if isinstance(v, float)}
      save(out_path, results)
      print(f"{os.path.basename(path)} {classifier}: " + ", ".join(
          f"{m} {row[m + '.elapsed_s']:.1f} s" for m in METRICS), flush=True)
  return results


def compared_keys(metric, columns):
  prefix = metric + "."
  keys = [c[len(prefix):] for c in columns if c.startswith(prefix)
          and not c.endswith("elapsed_s")]
  wanted = SUMMARY_KEYS[metric]
  if wanted is None:
    return sorted(k for k in keys if ":mean_" in k and "accuracy" in k)
  return [k for k in wanted if k in keys]


def summarize(results):
  import numpy as np
  import scipy.stats

  done = [e for e in results["models"].values()
          if all(c in e for c in CLASSIFIERS)]
  if len(done) < 3:
    print(f"{len(done)} models scored with both classifiers; need >= 3")
    return {}
  summary = {"num_models": len(done), "metrics": {}}
  print(f"\n{len(done)} models, exact 'gbt' vs 'hist_gbt'\n")
  print(f"{'metric':16s} {'gbt s':>9s} {'hist s':>9s} {'speed-up':>8s}")
  for metric in METRICS:
    t_exact = sum(e["gbt"][f"{metric}.elapsed_s"] for e in done)
    t_fast = sum(e["hist_gbt"][f"{metric}.elapsed_s"] for e in done)
    summary["metrics"][metric] = {"gbt_s": t_exact, "hist_gbt_s": t_fast,
                                  "speedup": t_exact / t_fast, "scores": {}}
    print(f"{metric:16s} {t_exact:9.1f} {t_fast:9.1f} "
          f"{t_exact / t_fast:7.1f}x")
  print(f"\n{'score':58s} {'spearman':>8s} {'max|diff|':>9s}")
  for metric in METRICS:
    for key in compared_keys(metric, done[0]["gbt"]):
      col = f"{metric}.{key}"
      a = np.array([e["gbt"][col] for e in done])
      b = np.array([e["hist_gbt"][col] for e in done])
      diff = float(np.max(np.abs(a - b)))
      if np.ptp(a) == 0 or np.ptp(b) == 0:
        rho = float("nan")  # a constant score (e.g. train accuracy 1) has no rank
      else:
        rho = float(scipy.stats.spearmanr(a, b).statistic)
      summary["metrics"][metric]["scores"][key] = {
          "spearman": rho, "max_abs_diff": diff,
          "gbt_range": [float(a.min()), float(a.max())]}
      print(f"{col:58s} {rho:8.3f} {diff:9.4f}")
  return summary


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--output_dir", required=True)
  parser.add_argument("--num_models", type=int, default=20)
  parser.add_argument("--betas", type=float, nargs="+",
                      default=[1, 2, 4, 8, 16])
  parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
  parser.add_argument("--steps", type=int, nargs="+", default=[150, 300])
  parser.add_argument("--latent_dim", type=int, default=10)
  parser.add_argument("--batch_size", type=int, default=64)
  parser.add_argument("--num_train", type=int, default=500)
  parser.add_argument("--num_test", type=int, default=250)
  parser.add_argument("--downstream_sizes", type=int, nargs="+",
                      default=[100, 500])
  parser.add_argument("--points_per_class", type=int, default=5)
  parser.add_argument("--summarize_only", action="store_true")
  parser.add_argument("--shard", default="0/1",
                      help="i/n: this process trains and scores every n-th "
                      "model from the i-th (run n processes side by side)")
  args = parser.parse_args(argv)
  shard, num_shards = (int(v) for v in args.shard.split("/"))
  if not 0 <= shard < num_shards:
    parser.error(f"--shard must be i/n with 0 <= i < n, got {args.shard}")
  args.shard = (shard, num_shards)

  shard, num_shards = args.shard
  out_path = os.path.join(args.output_dir,
                          f"fast_classifier.shard{shard}of{num_shards}.json")
  if not args.summarize_only:
    from tfdis.lean_import import import_tensorflow
    import_tensorflow()
    train_and_evaluate(args, out_path)
  results = load_all(args.output_dir)
  summary = summarize(results)
  if summary:
    results["summary"] = summary
    save(os.path.join(args.output_dir, "summary.json"), results)
  return 0


if __name__ == "__main__":
  sys.exit(main())
