"""Issue 17's CPU comparison: ada_gvae, ml_vae and dc_ign against β-VAE.

Same image budget for every model: 800 steps × 32 images (β-VAE and dc_ign:
batches of 32 images; ada_gvae/ml_vae: batches of 16 pairs), Adam(1e-3),
dlib's conv architecture, d = 10, on procedural_dsprites (the full 737,280
grid), seeds 0 and 1. Scores: MIG (10,000 points), DCI (1,000 train / 500
test points), UDR_L in hyper mode (the two seeds of a family, 1,000 points).

  python scripts/weak_dc_ign_cpu_runs.py train OUT 'beta_vae:0 ada_gvae:0'
  python scripts/weak_dc_ign_cpu_runs.py eval OUT

(run the train stage for all eight family:seed jobs, e.g. in two processes
of four jobs each, then eval). Writes OUT/scores.csv.
"""

import glob
import os
import sys

STEPS = 800
IMAGES_PER_STEP = 32
HYPERPARAMETERS = {"beta_vae": {"beta": 4.0},
                   "ada_gvae": {"beta": 4.0, "k": -1},
                   "ml_vae": {"beta": 4.0, "k": -1},
                   "dc_ign": {}}
METRIC_PARAMS = {"mig": {"num_train": 10000},
                 "dci": {"num_train": 1000, "num_test": 500}}


def train_jobs(out, jobs):
  from tfdis.training import TrainConfig, train

  for job in jobs:
    family, seed = job.split(":")
    pairs = family in ("ada_gvae", "ml_vae")
    train(TrainConfig(
        model=family, dataset="procedural_dsprites",
        batch_size=IMAGES_PER_STEP // 2 if pairs else IMAGES_PER_STEP,
        steps=STEPS, learning_rate=1e-3, seed=int(seed),
        hyperparameters=HYPERPARAMETERS[family], checkpoint_every=STEPS,
        model_dir=os.path.join(out, f"{family}-seed={seed}")))


def evaluate(out):
  import numpy as np
  from tfdis.evaluate import evaluate_model_dirs
  from tfdis.udr import run_udr_study

  dirs = sorted(glob.glob(os.path.join(out, "*-seed=*")))
  frame = evaluate_model_dirs(dirs, ["mig", "dci"],
                              metric_params=METRIC_PARAMS)
  frame["family"] = [os.path.basename(d).split("-")[0]
                     for d in frame["model_dir"]]
  udr = {}
  for family in HYPERPARAMETERS:
    members = [d for d in dirs
               if os.path.basename(d).startswith(family + "-")]
    udr.update(run_udr_study(members, os.path.join(out, "udr", family),
                             num_data_points=1000,
                             plots=False)["model_scores"])
  frame["udr"] = [udr.get(d, np.nan) for d in frame["model_dir"]]
  frame.to_csv(os.path.join(out, "scores.csv"), index=False)
  cols = ["mig.discrete_mig", "dci.disentanglement", "dci.completeness",
          "dci.informativeness_test", "udr"]
  print(frame[["model_dir"] + cols].to_string())
  print(frame.groupby("family")[cols].mean().to_string())


if __name__ == "__main__":
  if sys.argv[1] == "train":
    train_jobs(sys.argv[2], sys.argv[3].split())
  else:
    evaluate(sys.argv[2])
