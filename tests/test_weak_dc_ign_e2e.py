"""ada_gvae, ml_vae and dc_ign through the real pipeline (tiny).

The weak_study preset (shrunk through its overrides) trains both pair
families on their own batches, exports, scores MIG and aggregates; dc_ign
trains through ``train``; UDR (all-to-all) compares the three SavedModels.
"""

import json
import os

import numpy as np
import pandas as pd

TRAIN = {"architecture": "fc", "latent_dim": 5, "batch_size": 8}
MIG = {"mig": {"num_train": 200}}


def test_weak_study_preset_values():
  from tfdis.study import get_study

  spec = get_study("weak_study")
  assert set(spec.sweep) == {"ada_gvae", "ml_vae"}
  for settings in spec.sweep.values():
    assert sorted((h["k"], h["beta"]) for h in settings) == sorted(
        (k, b) for k in (1, -1) for b in (1, 2, 4, 6, 8, 16))
  assert spec.num_models == 5 * 2 * 12 * 10


def test_families_train_export_evaluate_and_udr(tmp_path):
  from tfdis.evaluate import evaluate_model
  from tfdis.export.load import read_metadata
  from tfdis.study import run_study
  from tfdis.training import TrainConfig, train
  from tfdis.udr import run_udr_study

  out = str(tmp_path / "weak")
  result = run_study(
      "weak_study", out, steps=3, seeds=1,
      datasets=("procedural_dsprites_small",),
      sweep={"ada_gvae": [{"beta": 2.0, "k": -1}],
             "ml_vae": [{"beta": 2.0, "k": 1}]},
      metrics=["mig"], metric_params=MIG, udr=(), visualize=False,
      train=TRAIN)
  assert not result["failed"] and result["completed"] == 2
  dirs = [os.path.join(out, m) for m in ("ada_gvae-beta=2-k=-1-seed=0",
                                         "ml_vae-beta=2-k=1-seed=0")]
  for d in dirs:
    train_json = json.load(open(os.path.join(d, "results", "train.json")))
    assert train_json["steps"] == 3
    assert 0 <= train_json["final_losses"]["num_shared_latents"] <= 5
  assert read_metadata(dirs[0])["hyperparameters"] == {"beta": 2.0, "k": -1}
  frame = pd.read_csv(os.path.join(out, "results.csv"))
  assert sorted(frame["model"]) == ["ada_gvae", "ml_vae"]
  assert frame["mig.discrete_mig"].notna().all()

  dc_dir = str(tmp_path / "dc_ign")
  res = train(TrainConfig(
      model="dc_ign", dataset="procedural_dsprites_small", steps=3,
      hyperparameters={"cycle_factors": 1}, model_dir=dc_dir,
      checkpoint_every=3, log_every=3, summary_every=3,
      image_summary_every=3, **TRAIN))
  assert res["final_losses"]["num_clamped_latents"] == 4.0
  row = evaluate_model(dc_dir, ["mig"], metric_params=MIG)
  assert np.isfinite(row["mig.discrete_mig"])

  udr = run_udr_study(dirs + [dc_dir], str(tmp_path / "udr"), mode="a2a",
                      num_data_points=200, plots=False)
  scores = np.array(list(udr["model_scores"].values()), dtype=float)
  assert scores.shape == (3,) and np.all((scores >= 0) & (scores <= 1))
