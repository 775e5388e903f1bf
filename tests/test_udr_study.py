"""Study-level UDR over tiny SavedModels: the library driver and tfdis_udr."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from helpers_savedmodel import make_linear_saved_model

OUTPUTS = ("udr.json", "udr.csv", "similarity.npz", "pairwise.png",
           "similarity_most.png", "similarity_least.png")


@pytest.fixture(scope="module")
def model_dirs(tmp_path_factory):
  """2 hyperparameter settings x 2 seeds (+ one model of another size)."""
  root = tmp_path_factory.mktemp("udr_models")
  dirs = [make_linear_saved_model(str(root / f"beta{beta}_seed{seed}"),
                                  latent_dim=6, seed=seed,
                                  hyperparameters={"beta": beta},
                                  num_active=num_active)
          for beta, num_active in ((1.0, 5), (8.0, 3)) for seed in range(2)]
  odd = make_linear_saved_model(str(root / "odd_latent"), latent_dim=4)
  return dirs, odd


def _check_outputs(output_dir, model_dirs):
  for name in OUTPUTS:
    assert os.path.isfile(os.path.join(output_dir, name)), name
  for name in OUTPUTS[3:]:
    with Image.open(os.path.join(output_dir, name)) as image:
      assert image.format == "PNG" and min(image.size) > 100
  with open(os.path.join(output_dir, "udr.json")) as f:
    report = json.load(f)
  assert [m["model_dir"] for m in report["models"]] == list(model_dirs)
  with np.load(os.path.join(output_dir, "similarity.npz")) as npz:
    m, d = len(model_dirs), 6
    assert npz["similarity_matrices"].shape == (m, m, d, d)
    assert npz["pairwise_scores"].shape == (m, m)
    np.testing.assert_allclose(npz["model_scores"],
                               [x["udr"] for x in report["models"]])
  assert not [f for f in os.listdir(output_dir) if f.endswith(".tmp")]
  return report


def test_hyper_mode_in_process(model_dirs, tmp_path):
  from tfdis.udr import run_udr_study

  dirs, _ = model_dirs
  out = run_udr_study(dirs, str(tmp_path), mode="hyper",
                      num_data_points=400, seed=1)
  report = _check_outputs(str(tmp_path), dirs)
  by_dir = {m["model_dir"]: m for m in report["models"]}
  for model_dir in dirs:
    entry = by_dir[model_dir]
    same = [d for d in dirs if d != model_dir and
            d.split("_seed")[0] == model_dir.split("_seed")[0]]
    assert sorted(entry["partners"]) == sorted(same)
    assert len(entry["pair_scores"]) == 1
    # Seeds of one setting are equal up to permutation and sign.
    assert entry["udr"] == pytest.approx(0.9, abs=0.02)
    assert out["model_scores"][model_dir] == pytest.approx(entry["udr"])
  assert [by_dir[d]["num_informative"] for d in dirs] == [5] * 2 + [3] * 2
  settings = report["settings"]
  assert settings["num_data_points"] == 400 and settings["mode"] == "hyper"
  assert settings["kl_filter_threshold"] == 0.01 and report["fixes"]


def test_latent_size_mismatch_is_a_clear_error(model_dirs, tmp_path):
  from tfdis.udr import run_udr_study

  dirs, odd = model_dirs
  with pytest.raises(ValueError, match="odd_latent.*latent size 4"):
    run_udr_study(dirs[:2] + [odd], str(tmp_path), num_data_points=50)
  with pytest.raises(ValueError, match="num_pairs=2"):
    run_udr_study(dirs, str(tmp_path), num_pairs=2, num_data_points=50)
  assert not os.listdir(tmp_path)


@pytest.mark.parametrize("mode", ["hyper", "a2a"])
def test_tfdis_udr_cli(model_dirs, tmp_path, mode):
  dirs, _ = model_dirs
  root = os.path.dirname(dirs[0])
  args = [sys.executable, "-m", "tfdis.bin.udr",
          f"--model_dirs={os.path.join(root, 'beta*')}",
          f"--output_dir={tmp_path}", f"--mode={mode}",
          "--num_data_points=300", "--seed=3"]
  if mode == "a2a":
    args += ["--correlation=spearman", "--num_pairs=2"]
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
  proc = subprocess.run(args, capture_output=True, text=True, env=env,
                        timeout=300)
  assert proc.returncode == 0, proc.stderr[-3000:]
  report = _check_outputs(str(tmp_path), sorted(dirs))
  assert report["settings"]["mode"] == mode
  partners = [len(m["partners"]) for m in report["models"]]
  assert partners == ([2] * 4 if mode == "a2a" else [1] * 4)
  if mode == "a2a":
    assert report["settings"]["correlation"] == "spearman"
    # Partners are drawn across settings, not only within one.
    groups = {m["model_dir"]: m["hyperparameters"]["beta"]
              for m in report["models"]}
    assert any(groups[p] != groups[m["model_dir"]]
               for m in report["models"] for p in m["partners"])


def test_readme_sequence_udr_then_evaluate_on_the_same_glob(model_dirs,
                                                             tmp_path):
  """README: `tfdis_udr --model_dirs='demo/*' --output_dir=demo/udr`, then
  `tfdis_evaluate --model_dirs='demo/*'`: the glob now also matches udr/,
  which is skipped (with an info log) instead of failing the command. The
  UDR step runs in-process (the CLI is covered above) to save a process."""
  import shutil

  from tfdis.export.load import expand_model_dirs
  from tfdis.udr import run_udr_study

  dirs, _ = model_dirs
  demo = tmp_path / "demo"
  for d in dirs[:2]:  # one setting, two seeds: hyper mode has partners
    shutil.copytree(d, demo / os.path.basename(d))
  run_udr_study(expand_model_dirs(f"{demo}/*", min_count=2),
                str(demo / "udr"), num_data_points=300)
  assert os.path.isfile(demo / "udr" / "udr.json")
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
  evaluate = subprocess.run(
      [sys.executable, "-m", "tfdis.bin.evaluate", f"--model_dirs={demo}/*",
       "--metrics=mig", '--metric_params={"mig": {"num_train": 200}}'],
      capture_output=True, text=True, env=env, timeout=300)
  assert evaluate.returncode == 0, evaluate.stderr[-3000:]
  assert f"skipping {demo}/udr (no SavedModel in it)" in evaluate.stderr
  for d in dirs[:2]:
    assert os.path.isfile(demo / os.path.basename(d) / "metrics" / "mean" /
                          "mig.json")
  assert not os.path.exists(demo / "udr" / "metrics")
