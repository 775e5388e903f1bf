"""Issue-18 CPU comparison: β-VAE, InfoGAN, SCAN and DARLA on procedural_dsprites.

The ``seed_methods`` preset at 600 steps of batch 32 (19,200 images per
model, every stage included: SCAN's visual β-VAE gets 480 of the steps,
DARLA's DAE 200), 2 seeds, MIG and DCI with the quickstart's reduced sample
counts, UDR (lasso, hyper mode, 1,000 points), traversals; then SCAN's
img2sym accuracy on 2,000 random images and a sym2img grid per SCAN model.

  PYTHONPATH=. python scripts/seed_methods_cpu_runs.py OUTPUT_DIR
"""

import json
import os
import sys

STEPS = 600


def main(output_dir):
  from tfdis.models.scan_report import scan_report
  from tfdis.study import run_study

  result = run_study(
      "seed_methods", output_dir, num_workers=2, steps=STEPS,
      datasets=["procedural_dsprites"], metrics=["mig", "dci"],
      # The cheap families first, InfoGAN (~2.5x the cost per step) last.
      sweep={"beta_vae": [{"beta": 4.0}], "scan": [{"beta": 1.0}],
             "darla": [{"beta": 1.0}], "info_gan": [{"lambda_info": 1.0}]},
      fixed_hyperparameters={
          "scan": {"visual_beta": 4.0, "visual_steps": 480},
          "darla": {"dae_steps": 200, "feature_depth": 3}})
  print(json.dumps({k: result[k] for k in ("completed", "failed")}))
  for name in sorted(os.listdir(output_dir)):
    if name.startswith("scan-"):
      report = scan_report(os.path.join(output_dir, name))
      print(name, json.dumps(report["img2sym_accuracy"]))


if __name__ == "__main__":
  main(sys.argv[1])
