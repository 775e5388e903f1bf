"""dci_es and infomec through tfdis_evaluate, the encode-once cache and the
results table, on a tiny linear SavedModel of procedural dSprites (no
training; see helpers_savedmodel.py)."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from helpers_savedmodel import make_linear_saved_model

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NEW = ("dci_es", "infomec")
TINY = {
    "dci_es": {"num_train": 200, "num_test": 100, "rf_depths": [1, 4],
               "rf_num_trees": 5, "n_jobs": 1},
    "infomec": {"num_train": 300},
}


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
  root = tmp_path_factory.mktemp("new_metrics")
  model_dir = make_linear_saved_model(str(root / "model"), latent_dim=6,
                                      num_active=5, seed=0)
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
  env["PYTHONPATH"] = REPO_ROOT + os.pathsep + env.get("PYTHONPATH", "")
  proc = subprocess.run(
      [sys.executable, "-m", "tfdis.bin.evaluate", f"--model_dirs={model_dir}",
       "--metrics=dci_es,infomec", f"--metric_params={json.dumps(TINY)}",
       "--seed=2"], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
      timeout=600)
  assert proc.returncode == 0, proc.stderr[-3000:]
  return str(root), model_dir


def _record(model_dir, metric):
  with open(os.path.join(model_dir, "metrics", "mean", f"{metric}.json")) as f:
    return json.load(f)


def test_cli_writes_flat_float_scores(scored):
  _, model_dir = scored
  for metric in NEW:
    record = _record(model_dir, metric)
    assert record["metric"] == metric
    assert record["scores"]
    for key, value in record["scores"].items():
      assert isinstance(value, float) and np.isfinite(value), (metric, key)
    assert record["parameters"]["seed"] == 2
    assert record["notes"]
  assert _record(model_dir, "dci_es")["parameters"]["rf_depths"] == [1, 4]
  # Five active latents of six: the sixth is switched off.
  assert _record(model_dir, "infomec")["scores"]["num_active_latents"] == 5.0


def test_cached_scores_equal_uncached(scored, tmp_path):
  from tfdis.evaluate import evaluate_model_dirs

  _, model_dir = scored
  assert os.listdir(os.path.join(model_dir, "encodings"))
  copy = str(tmp_path / "model")
  shutil.copytree(model_dir, copy, ignore=shutil.ignore_patterns(
      "metrics", "encodings"))
  evaluate_model_dirs([copy], list(NEW), metric_params=TINY, seed=2,
                      cache_encodings="off")
  for metric in NEW:
    assert _record(copy, metric)["scores"] == _record(model_dir,
                                                      metric)["scores"]


def test_results_table_has_the_new_columns(scored):
  from tfdis.results import collect_results
  from tfdis.results.columns import headline_columns

  root, _ = scored
  frame = collect_results(root)
  for column in ("dci_es.explicitness", "dci_es.size",
                 "dci_es.disentanglement", "infomec.infom", "infomec.infoe",
                 "infomec.infoc"):
    assert column in frame.columns, column
    assert np.isfinite(frame[column].iloc[0])
  assert {"dci_es.explicitness", "infomec.infom"} <= set(
      headline_columns(frame))


def test_all_is_the_default_suite_and_every_adds_the_new_metrics():
  from tfdis import metrics as M
  from tfdis.evaluate import resolve_metrics

  assert resolve_metrics("all") == M.default_metric_names()
  assert len(M.default_metric_names()) == 10
  assert not set(NEW) & set(resolve_metrics("all"))
  assert set(NEW) <= set(resolve_metrics("every"))
  assert resolve_metrics("infomec,dci_es") == ["infomec", "dci_es"]


@pytest.mark.parametrize("params,message", [
    ({"dci_es": {"probes": ["svm"]}}, "probes must be"),
    ({"dci_es": {"rf_depths": [8, 4]}}, "rf_depths"),
    ({"infomec": {"n_neighbors": 0}}, "n_neighbors"),
])
def test_bad_option_values_fail_before_loading_the_model(scored, params,
                                                         message):
  _, model_dir = scored
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
  env["PYTHONPATH"] = REPO_ROOT + os.pathsep + env.get("PYTHONPATH", "")
  proc = subprocess.run(
      [sys.executable, "-m", "tfdis.bin.evaluate", f"--model_dirs={model_dir}",
       "--metrics=dci_es,infomec", f"--metric_params={json.dumps(params)}"],
      cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300)
  assert proc.returncode == 2, proc.stderr[-2000:]
  assert message in proc.stderr and "Traceback" not in proc.stderr
