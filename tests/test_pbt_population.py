"""Tiny PBT populations end to end (in-process): PBT-S-VAE with MIG and a
forced NaN member, and PBT-U-VAE with 5-VAE members scored by UDR."""

import os

import numpy as np
import pandas as pd
import pytest

from tfdis import io_utils
from tfdis.export.load import load_saved_model
from tfdis.pbt import PBTConfig, run_pbt

TINY = dict(dataset="procedural_dsprites_small", population_size=4,
            max_generations=2, interval_steps=2, architecture="fc",
            latent_dim=3, mig_num_train=200, udr_num_data_points=64,
            hyperparameter_space={
                "batch_size": {"initial_values": [8, 16], "low": 8,
                               "high": 32, "kind": "power_of_two"},
                "learning_rate": {"initial_values": [1e-4, 1e-3],
                                  "low": 1e-6, "high": 1e-2}})


def test_pbt_mig_with_nan_member(tmp_path):
  out = str(tmp_path / "pbt")
  cfg = PBTConfig(output_dir=out, eval="mig", max_nan_retries=1, **TINY)
  # In every generation m001 fails every attempt (scored 0, left at its last
  # good checkpoint); m002 fails once, then its retry with a new seed succeeds.
  res = run_pbt(cfg, _force_nan={"m001": 5, "m002": 1})
  assert res["generations"] == 2 and res["stop_reason"] == "max_generations"
  frame = pd.read_csv(res["generations_csv"])
  assert len(frame) == 8 and set(frame.generation) == {1, 2}
  assert {"member", "generation", "score", "parent", "step",
          "hp_learning_rate", "hp_batch_size", "hp_beta"} <= set(frame.columns)
  g1 = frame[frame.generation == 1].set_index("member")
  assert g1.loc["m001", "status"] == "non_finite"
  assert g1.loc["m001", "score"] == 0
  assert g1.loc["m002", "status"] == "ok" and g1.loc["m002", "score"] > 0
  m2 = io_utils.read_json(os.path.join(out, "members", "m002", "member.json"))
  assert g1.loc["m002", "seed"] == m2["seeds"]["1"]   # retried, new seed
  # Steps: interval_steps per generation (m001 stayed at its start state).
  assert g1.loc["m000", "step"] == 2
  # Exactly one clone (ceil(0.2·4) = 1), with a fresh seed and a parent.
  g2 = frame[frame.generation == 2]
  clones = g2[g2.parent.notna()]
  assert len(clones) == 1
  clone = clones.iloc[0]
  donor = g1.loc[clone.parent]
  assert clone.seed != donor.seed
  assert clone.member == "m001"  # the NaN member (score 0) was replaced
  assert clone.step == 2          # it started from its donor's step 2...
  assert clone.status == "non_finite"  # ...and failed again (forced)
  assert g2.set_index("member").loc["m000", "step"] == 4
  assert np.all(frame.hp_batch_size >= 8)
  # Best SavedModel loads with the normal loader.
  loaded = load_saved_model(res["best_saved_model"])
  codes = loaded.representation_fn()(np.zeros([2, 64, 64, 1], np.float32))
  assert np.asarray(codes).shape == (2, 3)
  assert loaded.metadata["pbt"]["eval"] == "mig"
  assert os.path.isdir(os.path.join(out, "best", "generation_0001",
                                    "saved_model"))
  for name in ("scores.png", "hyperparameters.png"):
    assert os.path.isfile(os.path.join(out, "plots", name))
  state = io_utils.read_json(os.path.join(out, "controller_state.json"))
  assert state["phase"] == "done" and len(state["best_scores"]) == 2
  # Rerunning a finished run only re-reads it.
  again = run_pbt(cfg)
  assert again["best_scores"] == res["best_scores"]


def test_pbt_udr_ensemble_members(tmp_path):
  out = str(tmp_path / "pbt_u")
  cfg = PBTConfig(output_dir=out, eval="udr", ensemble_size=5,
                  **dict(TINY, architecture="conv"),
                  export_every_generation=False)
  res = run_pbt(cfg)
  assert res["generations"] == 2
  frame = pd.read_csv(res["generations_csv"])
  assert (frame.status == "ok").all()
  member = io_utils.read_json(os.path.join(out, "members", res["best_member"],
                                           "member.json"))
  details = member["details"]["2"]
  assert len(details["model_scores"]) == 5
  assert res["best_score"] == pytest.approx(np.mean(details["model_scores"]))
  loaded = load_saved_model(res["best_saved_model"])
  assert loaded.metadata["pbt"]["ensemble_index"] == details["best_model"]
  assert loaded.metadata["model"] == "beta_tc_vae"
  assert not os.path.isdir(os.path.join(out, "best", "generation_0001"))


def test_big_initial_population_keeps_best(tmp_path):
  out = str(tmp_path / "pbt_big")
  cfg = PBTConfig(output_dir=out, eval="mig",
                  **dict(TINY, population_size=2, max_generations=1,
                         interval_steps=1),
                  big_init_population_factor=2,
                  export_every_generation=False)
  res = run_pbt(cfg)
  state = io_utils.read_json(os.path.join(out, "controller_state.json"))
  scores = state["scores"]["1"]
  assert len(scores) == 4 and len(state["active"]) == 2
  assert sorted(state["active"]) == sorted(
      sorted(scores, key=lambda m: -scores[m])[:2])
  assert sorted(os.listdir(os.path.join(out, "members"))) == state["active"]
  assert res["best_score"] == max(scores.values())
