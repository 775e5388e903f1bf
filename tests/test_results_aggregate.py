"""tfdis.results on a synthetic directory tree of result JSONs (no training)."""

import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from tfdis.io_utils import read_json, write_json
from tfdis.results import aggregate, collect_results, find_model_dirs, spearman
from tfdis.results.collect import metric_scores

FAMILIES = {"beta_vae": ("beta", (1.0, 8.0)),
            "factor_vae": ("gamma", (10.0, 30.0))}
SEEDS = (0, 1, 2)


def _metric_json(scores, **parameters):
  # The layout tfdis.metrics writes: scores at the top level beside the
  # reserved keys parameters/versions/notes.
  return dict(scores, parameters=dict(parameters, seed=0),
              versions={"numpy": np.__version__}, notes=[])


def _write_model(model_dir, family, hp_name, hp, seed, mig, with_visuals):
  write_json(os.path.join(model_dir, "config.json"), {
      "model": family, "dataset": "procedural_dsprites_small",
      "hyperparameters": {hp_name: hp, "fixed": 3.0}, "seed": seed,
      "steps": 100, "batch_size": 64, "learning_rate": 1e-4,
      "latent_dim": 10, "architecture": {"encoder": "conv",
                                         "decoder": "deconv"}})
  os.makedirs(os.path.join(model_dir, "checkpoints"), exist_ok=True)
  write_json(os.path.join(model_dir, "results", "train.json"), {
      "steps": 100, "train_seconds": 1.5, "hyperparameters": {hp_name: hp},
      "final_losses": {"elbo": -100.0 - hp, "reconstruction_loss": 90.0},
      "versions": {"tensorflow": "x"}, "notes": {}})
  write_json(os.path.join(model_dir, "metrics", "mean", "mig.json"),
             _metric_json({"discrete_mig": mig}, num_train=100, num_bins=20))
  write_json(os.path.join(model_dir, "metrics", "mean", "dci.json"),
             _metric_json({"disentanglement": 1 - mig, "completeness": 0.5,
                           "informativeness_train": 0.9,
                           "informativeness_test": 0.8}, num_train=100))
  write_json(os.path.join(model_dir, "metrics", "sampled", "mig.json"),
             _metric_json({"discrete_mig": mig / 2}, num_train=100))
  if with_visuals:
    vis = os.path.join(model_dir, "visualizations")
    os.makedirs(os.path.join(vis, "animated_traversals"))
    frames = [Image.fromarray(np.full((8, 8), v, np.uint8)) for v in (0, 255)]
    frames[0].save(os.path.join(vis, "animated_traversals", "latent_0.gif"),
                   save_all=True, append_images=frames[1:])
    frames[1].save(os.path.join(vis, "reconstructions.png"))


def make_tree(root, with_udr=True):
  """2 families x 2 settings x 3 seeds; UDR (beta_vae only) rises with MIG."""
  udr_models = []
  k = 0
  for family, (hp_name, values) in FAMILIES.items():
    for hp in values:
      for seed in SEEDS:
        model_id = f"{family}-{hp_name}={hp:g}-seed={seed}"
        model_dir = os.path.join(root, model_id)
        mig = 0.05 * (k + 1)
        _write_model(model_dir, family, hp_name, hp, seed, mig,
                     with_visuals=(family == "beta_vae"))
        if family == "beta_vae":
          # Absolute paths as tfdis.udr writes them; score monotone in MIG.
          udr_models.append({"model_dir": os.path.abspath(model_dir),
                             "name": model_id, "udr": mig + 0.3,
                             "num_informative": 2 + seed, "seed": seed,
                             "pair_scores": [0.1, 0.2], "kl": [0.1] * 10})
        k += 1
  # A model directory from a separate tfdis_train run: no metrics at all.
  write_json(os.path.join(root, "extra", "lonely", "results", "train.json"),
             {"steps": 5})
  if with_udr:
    write_json(os.path.join(root, "udr", "beta_vae", "udr.json"),
               {"settings": {"mode": "hyper", "correlation": "lasso"},
                "models": udr_models})


def test_metric_scores_skips_parameters():
  scores = metric_scores(_metric_json({"IRS": 0.4, "num_active_dims": 3},
                                      num_train=10, diff_quantile=0.99))
  assert scores == {"IRS": 0.4, "num_active_dims": 3.0}


def test_spearman_known_answers():
  assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
  assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
  assert np.isnan(spearman([1, 1, 1, 1], [1, 2, 3, 4]))  # constant: undefined
  assert np.isnan(spearman([1, 2], [1, 2]))


def test_aggregate_writes_table_plots_and_report(tmp_path):
  root = str(tmp_path / "study")
  make_tree(root)
  assert len(find_model_dirs(root)) == 13
  frame = aggregate(root)

  assert len(frame) == 13
  csv = pd.read_csv(os.path.join(root, "results.csv"))
  assert len(csv) == 13 and "mig.discrete_mig" in csv.columns
  row = frame.set_index("model_id").loc["beta_vae-beta=8-seed=1"]
  assert row["model"] == "beta_vae" and row["seed"] == 1
  assert row["hyperparameters"] == "beta=8"  # 'fixed' does not vary: omitted
  assert row["mig.discrete_mig"] == pytest.approx(0.25)
  assert row["mig[sampled].discrete_mig"] == pytest.approx(0.125)
  assert row["dci.disentanglement"] == pytest.approx(0.75)
  assert row["train.final_losses.elbo"] == pytest.approx(-108.0)
  assert "train.hyperparameters.beta" not in frame.columns
  assert "train.versions.tensorflow" not in frame.columns
  assert "mig.parameters.num_train" not in frame.columns
  assert row["udr"] == pytest.approx(0.55)
  assert row["udr.num_informative"] == 3
  assert row["udr.num_pairs"] == 2
  # factor_vae has no UDR; the lonely model has nothing but train stats.
  assert frame.loc[frame["model"] == "factor_vae", "udr"].isna().all()
  lonely = frame.set_index("model_id").loc["lonely"]
  assert np.isnan(lonely["mig.discrete_mig"]) and lonely["train.steps"] == 5

  plots = frame.attrs["plots"]
  names = sorted(os.path.basename(p) for p in plots)
  assert "boxes_procedural_dsprites_small.png" in names
  assert "udr_vs_metrics_procedural_dsprites_small.png" in names
  assert "rank_correlation_procedural_dsprites_small.png" in names
  for p in plots:
    with Image.open(p) as im:
      assert im.size[0] > 200 and im.size[1] > 100

  html = open(frame.attrs["report"]).read()
  assert html.count("data:image/png;base64,") >= len(plots) + 2
  assert html.count("data:image/gif;base64,") == 2  # best and worst by UDR
  assert "beta_vae-beta=8-seed=2" in html  # best UDR
  assert "beta_vae-beta=1-seed=0" in html  # worst UDR


def test_rank_correlation_values(tmp_path):
  from tfdis.results import rank_correlation_matrix
  root = str(tmp_path / "study")
  make_tree(root)
  frame = collect_results(root)
  matrix = rank_correlation_matrix(frame)
  assert matrix.loc["UDR", "MIG"] == pytest.approx(1.0)
  assert matrix.loc["MIG", "DCI disentanglement"] == pytest.approx(-1.0)


def test_aggregate_without_udr_and_empty_root(tmp_path):
  root = str(tmp_path / "no_udr")
  make_tree(root, with_udr=False)
  out = str(tmp_path / "report")
  frame = aggregate(root, output_dir=out)
  assert "udr" not in frame.columns and len(frame) == 13
  names = [os.path.basename(p) for p in frame.attrs["plots"]]
  assert not any(n.startswith("udr_vs") for n in names)
  assert os.path.isfile(os.path.join(out, "report.html"))
  assert os.path.isfile(os.path.join(out, "results.csv"))
  assert not os.path.exists(os.path.join(root, "results.csv"))

  empty = tmp_path / "empty"
  empty.mkdir()
  frame = aggregate(str(empty))
  assert len(frame) == 0 and os.path.isfile(frame.attrs["report"])
  with pytest.raises(FileNotFoundError, match="not a directory"):
    collect_results(str(tmp_path / "missing"))


def test_udr_matched_after_moving_the_study(tmp_path):
  root = str(tmp_path / "before")
  make_tree(root)
  moved = str(tmp_path / "after")
  os.rename(root, moved)  # udr.json still holds the old absolute paths
  frame = collect_results(moved)
  assert frame["udr"].notna().sum() == 6


def test_aggregate_cli(tmp_path):
  root = str(tmp_path / "study")
  make_tree(root)
  out = subprocess.run(
      [sys.executable, "-m", "tfdis.bin.aggregate", f"--root={root}"],
      capture_output=True, text=True, timeout=120)
  assert out.returncode == 0, out.stderr
  assert "Report: " in out.stdout and "13 models" in out.stdout
  bad = subprocess.run(
      [sys.executable, "-m", "tfdis.bin.aggregate",
       f"--root={tmp_path / 'nope'}"], capture_output=True, text=True,
      timeout=120)
  assert bad.returncode != 0 and "--root must be an existing" in bad.stderr


def test_report_tables_show_both_representations_with_readable_headers(
    tmp_path):
  from tfdis.results.report import model_table, summary_table

  root = str(tmp_path / "study")
  make_tree(root)
  frame = collect_results(root)
  mean = summary_table(frame, "mean")
  sampled = summary_table(frame, "sampled")
  assert list(mean.index.names) == ["Dataset", "Family", "Hyperparameters"]
  assert list(mean.columns) == ["Models", "UDR", "MIG", "DCI", "ELBO",
                                "Reconstruction"]
  # The heading names the representation; the columns do not repeat it.
  assert list(sampled.columns) == ["Models", "UDR", "MIG", "ELBO",
                                   "Reconstruction"]
  key = ("procedural_dsprites_small", "beta_vae", "beta=8")
  assert mean.loc[key, "MIG"] == pytest.approx(0.25)  # median of 3 seeds
  assert sampled.loc[key, "MIG"] == pytest.approx(0.125)
  assert mean.loc[key, "ELBO"] == pytest.approx(-108.0)
  models = model_table(frame)
  assert {"MIG", "DCI", "UDR", "Seed"} <= set(models.columns)
  assert models.loc["beta_vae-beta=8-seed=1", "Seed"] == "1"
  assert model_table(frame, "sampled").loc["beta_vae-beta=8-seed=1",
                                           "MIG"] == pytest.approx(0.125)
  html = open(aggregate(root).attrs["report"]).read()
  assert "sampled representation</h2>" in html
  assert "mean representation</h2>" in html
  assert "train.final_losses" not in html
  assert "<div class='scroll'>" in html
