"""tfdis_evaluate / evaluate_model_dirs on a real exported model.

A beta-VAE is trained for 2 steps on the identity dataset (3 factors x 4
values, fc architecture) with tfdis.training and exported by it; the CLI then
scores it with ALL metrics at tiny sample counts in a subprocess. Error paths
(not a SavedModel, SavedModel without the tfdis signatures, unknown metric or
parameter, wrong dataset) are checked without extra TensorFlow processes
where possible.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

TINY = {
    "beta_vae": {"num_train": 40, "num_eval": 20, "batch_size": 8},
    "factor_vae": {"num_train": 40, "num_eval": 20, "batch_size": 8,
                   "num_variance_estimate": 200},
    "mig": {"num_train": 200},
    "dci": {"num_train": 100, "num_test": 50, "n_jobs": 1},
    "sap_score": {"num_train": 100, "num_test": 50, "n_jobs": 1},
    "modularity_explicitness": {"num_train": 100, "num_test": 50,
                                "n_jobs": 1},
    "irs": {"num_train": 200},
    "unsupervised": {"num_train": 200},
    # LogisticRegressionCV (50 lbfgs fits per factor) takes ~10 s per factor
    # on these separable codes; it is covered by test_metrics_known_answers.
    "downstream_task": {"num_train": [20], "num_test": 50, "n_jobs": 1,
                        "predictors": ["boosted_trees"]},
    "fairness": {"num_train": 100, "num_test_points_per_class": 5,
                 "n_jobs": 1},
}
ALL_METRICS = sorted(TINY)
LOGISTIC_OR_SVM = ("beta_vae", "downstream_task", "modularity_explicitness",
                   "sap_score")


def _env():
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
  env["PYTHONPATH"] = REPO_ROOT + os.pathsep + env.get("PYTHONPATH", "")
  return env


def _cli(*args, timeout=300):
  return subprocess.run(
      [sys.executable, "-m", "tfdis.bin.evaluate", *args], cwd=REPO_ROOT,
      env=_env(), capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
  from tfdis.training import TrainConfig, train

  path = str(tmp_path_factory.mktemp("evaluate") / "model")
  train(TrainConfig(model="beta_vae", dataset="identity",
                    dataset_options={"factor_sizes": [4, 4, 4]},
                    architecture="fc", latent_dim=4, steps=2, batch_size=16,
                    model_dir=path, log_every=1, summary_every=1000,
                    image_summary_every=1000, checkpoint_every=1000))
  return path


@pytest.fixture(scope="module")
def scored_model(model_dir):
  proc = _cli(f"--model_dirs={model_dir}", "--metrics=all",
              f"--metric_params={json.dumps(TINY)}", "--seed=3")
  assert proc.returncode == 0, proc.stderr[-3000:]
  return model_dir


def test_cli_writes_scores_parameters_and_versions(scored_model):
  for metric in ALL_METRICS:
    path = os.path.join(scored_model, "metrics", "mean", f"{metric}.json")
    with open(path) as f:
      record = json.load(f)
    assert record["metric"] == metric
    assert record["scores"], metric
    for key, value in record["scores"].items():
      assert isinstance(value, float) and np.isfinite(value), (metric, key)
    params = record["parameters"]
    assert params["seed"] == 3
    for key, value in TINY[metric].items():
      if key != "n_jobs":
        assert params[key] == value, (metric, key)
    for lib in ("numpy", "scikit-learn", "tensorflow"):
      assert lib in record["versions"], (metric, lib)
    assert record["dataset"] == {"name": "identity",
                                 "options": {"factor_sizes": [4, 4, 4]}}
    assert isinstance(record["notes"], list)
    assert record["compatibility"] == {
        "rng_order": "disentanglement_lib", "sklearn_compat": "current",
        "sklearn_compat_applies": metric in LOGISTIC_OR_SVM}, metric
  with open(os.path.join(scored_model, "metrics", "mean",
                         "factor_vae.json")) as f:
    fvae = json.load(f)
  assert 0 <= fvae["scores"]["num_active_dims"] <= 4
  assert any("num_active_dims" in n for n in fvae["notes"])
  assert not [n for n in os.listdir(os.path.join(scored_model, "metrics",
                                                 "mean")) if "tmp" in n]


def test_rescoring_is_skipped_unless_params_change(scored_model):
  from tfdis.evaluate import evaluate_model_dirs

  path = os.path.join(scored_model, "metrics", "mean", "mig.json")
  with open(path) as f:
    before = json.load(f)
  # Every write is a new file renamed over the old one (io_utils.atomic_path):
  # the inode tells a rewrite from a skip, whatever the clock resolution
  # (`created` has whole seconds, so comparing it could not see a rewrite
  # within the same second).
  inode = os.stat(path).st_ino
  frame = evaluate_model_dirs([scored_model], ["mig"], seed=3,
                              metric_params={"mig": TINY["mig"]})
  assert os.stat(path).st_ino == inode  # skipped: not rewritten
  assert frame.loc[0, "mig.discrete_mig"] == before["scores"]["discrete_mig"]
  # Different parameters -> recomputed and rewritten.
  evaluate_model_dirs([scored_model], "mig", seed=3,
                      metric_params={"num_train": 150})
  assert os.stat(path).st_ino != inode
  with open(path) as f:
    assert json.load(f)["parameters"]["num_train"] == 150


def test_dlib_sklearn_compat_is_recorded(scored_model):
  from tfdis.evaluate import evaluate_model_dirs

  evaluate_model_dirs([scored_model], ["beta_vae"], seed=3,
                      metric_params={"beta_vae": TINY["beta_vae"]},
                      sklearn_compat="dlib")
  path = os.path.join(scored_model, "metrics", "mean", "beta_vae.json")
  with open(path) as f:
    record = json.load(f)
  assert record["compatibility"]["sklearn_compat"] == "dlib"
  assert record["parameters"]["sklearn_compat"] == "dlib"
  assert record["request"]["parameters"]["sklearn_compat"] == "dlib"
  with pytest.raises(ValueError, match="sklearn_compat"):
    evaluate_model_dirs([scored_model], ["mig"], sklearn_compat="0.21")


def test_sampled_representation_and_explicit_dataset(model_dir):
  from tfdis.evaluate import evaluate_model_dirs

  frame = evaluate_model_dirs(
      model_dir, ["mig", "irs"], representation="sampled", dataset="identity",
      dataset_options={"factor_sizes": [4, 4, 4]},
      metric_params={"num_train": 100})
  assert os.path.isfile(os.path.join(model_dir, "metrics", "sampled",
                                     "irs.json"))
  assert np.isfinite(frame.loc[0, "irs.IRS"])


def test_cli_rejects_a_directory_that_is_not_a_saved_model(tmp_path):
  proc = _cli(f"--model_dirs={tmp_path}", "--metrics=mig", timeout=120)
  assert proc.returncode == 2  # a user error: one line, no traceback/flags
  assert f"tfdis_evaluate: error: '{tmp_path}' is not a SavedModel" in \
      proc.stderr
  assert "saved_model.pb" in proc.stderr
  assert "Traceback" not in proc.stderr and "flags:" not in proc.stderr


def test_saved_model_without_signatures_is_explained(model_dir, tmp_path):
  import tensorflow as tf

  from tfdis.evaluate import evaluate_model_dirs
  from tfdis.export.load import NotASavedModelError

  module = tf.Module()
  module.w = tf.Variable(tf.ones([4, 3]))

  @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32)])
  def decoder(latents):
    return {"images": tf.reshape(latents @ module.w, [-1, 3, 1, 1])}

  export = str(tmp_path / "foreign" / "saved_model")
  tf.saved_model.save(module, export, signatures={"decoder": decoder})
  with pytest.raises(NotASavedModelError, match="gaussian_encoder"):
    evaluate_model_dirs([os.path.dirname(export)], ["mig"])


def test_bad_requests_are_explained(model_dir):
  from tfdis.evaluate import evaluate_model_dirs
  from tfdis.registry import UnknownNameError

  with pytest.raises(UnknownNameError, match="Known metrics: beta_vae"):
    evaluate_model_dirs([model_dir], ["mgi"])
  with pytest.raises(ValueError, match="accepts"):
    evaluate_model_dirs([model_dir], ["mig"],
                        metric_params={"mig": {"num_tests": 3}})
  with pytest.raises(ValueError, match="taken by none"):
    evaluate_model_dirs([model_dir], ["mig"], metric_params={"bins": 3})
  with pytest.raises(ValueError, match="observations of shape"):
    evaluate_model_dirs([model_dir], ["mig"],
                        dataset="procedural_dsprites_small")


def test_cli_scores_mig_sup_dcimig_jemmig_and_the_table_shows_them(
    model_dir, tmp_path):
  """The metrics of the Carbonneau et al. review run by name (they are not
  in --metrics=all, dlib's ten) and land in the aggregated table."""
  import shutil

  from tfdis.results import collect_results

  copy = str(tmp_path / "model")
  shutil.copytree(model_dir, copy)
  proc = _cli(f"--model_dirs={copy}", "--metrics=mig_sup,dcimig,jemmig",
              '--metric_params={"num_train": 500}', "--seed=2")
  assert proc.returncode == 0, proc.stderr[-3000:]
  for metric in ("mig_sup", "dcimig", "jemmig"):
    with open(os.path.join(copy, "metrics", "mean", f"{metric}.json")) as f:
      record = json.load(f)
    value = record["scores"][metric]
    assert isinstance(value, float) and 0.0 <= value <= 1.0, (metric, value)
    assert record["parameters"]["num_train"] == 500
    assert record["parameters"]["num_bins"] == 10
  frame = collect_results(str(tmp_path))
  for metric in ("mig_sup", "dcimig", "jemmig"):
    assert frame[f"{metric}.{metric}"].notna().all(), metric


def test_cli_writes_tensorboard_hparams(scored_model):
  """--tensorboard_hparams (default): the scored model is an HParams session
  with its hyperparameters and every metric score as a scalar."""
  from test_tensorboard_hparams import hparams_plugin_data

  data = hparams_plugin_data(scored_model)
  assert "experiment" in data["runs"]["."]
  session = data["runs"]["."]["session"]
  assert {"model", "dataset", "seed", "latent_dim"} <= set(session.hparams)
  assert "mig.discrete_mig" in data["scalars"]["."]
  assert "dci.disentanglement" in data["scalars"]["."]


def test_cli_takes_key_value_dataset_options(model_dir, tmp_path):
  """--dataset_options=k=v (tfdis_train's syntax, now tfdis_evaluate's too)
  names the same identity grid as factor_sizes=[4, 4, 4]: the same MIG, and
  the options are recorded as given."""
  import shutil

  from tfdis.evaluate import evaluate_model_dirs

  copy = str(tmp_path / "model")
  shutil.copytree(model_dir, copy)
  proc = _cli(f"--model_dirs={copy}", "--metrics=mig", "--dataset=identity",
              "--dataset_options=num_factors=3,num_values=4",
              "--metric_params=num_train=100", "--seed=1",
              "--notensorboard_hparams")
  assert proc.returncode == 0, proc.stderr[-3000:]
  path = os.path.join(copy, "metrics", "mean", "mig.json")
  with open(path) as f:
    record = json.load(f)
  assert record["dataset"] == {"name": "identity",
                               "options": {"num_factors": 3, "num_values": 4}}
  assert record["parameters"]["num_train"] == 100
  frame = evaluate_model_dirs([copy], ["mig"], dataset="identity",
                              dataset_options={"factor_sizes": [4, 4, 4]},
                              metric_params={"num_train": 100}, seed=1)
  assert frame.loc[0, "mig.discrete_mig"] == record["scores"]["discrete_mig"]
