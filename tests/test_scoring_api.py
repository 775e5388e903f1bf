"""The public scoring API (tfdis.scoring): callable encoders, arrays, the
encode-once cache, continuous factors, and no TensorFlow import.

The encoders are NumPy functions of the images (a fixed random projection,
or image moments whose centroid is the sprite position), so the tests need
no trained model; sample counts are tiny.
"""

import json
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Tiny counts per metric; metrics registered later get the shared ones.
TINY = {
    "num_train": 60, "num_test": 30,
    "beta_vae": {"num_train": 16, "num_eval": 8, "batch_size": 4},
    "factor_vae": {"num_train": 16, "num_eval": 8, "batch_size": 4,
                   "num_variance_estimate": 100},
    "mig": {"num_train": 100},
    "dci": {"num_train": 40, "num_test": 20},
    "downstream_task": {"num_train": [20], "num_test": 20,
                        "predictors": ["boosted_trees"]},
    "fairness": {"num_train": 40, "num_test_points_per_class": 2},
}

NO_TF_SCRIPT = r"""
import json, sys
import numpy as np
import tfdis.scoring as scoring

W = np.random.RandomState(0).normal(size=(64 * 64, 6)).astype(np.float32)

def encoder(images):  # NumPy only
  return images.reshape(len(images), -1) @ W

names = scoring.metric_names()
results = scoring.score_encoder(encoder, "procedural_dsprites_small", names,
                                metric_params=json.loads(sys.argv[1]),
                                n_jobs=1)
bad = {m: k for m, r in results.items() for k, v in r["scores"].items()
       if not (isinstance(v, float) and np.isfinite(v))}
heavy = sorted(m for m in ("tensorflow", "keras", "tensorflow_datasets")
               if m in sys.modules)
print(json.dumps({"metrics": sorted(results), "registered": names,
                  "non_finite": bad, "heavy": heavy,
                  "num_scores": {m: len(r["scores"])
                                 for m, r in results.items()}}))
"""


def test_every_metric_scores_a_numpy_encoder_without_tensorflow():
  env = dict(os.environ, PYTHONPATH=REPO_ROOT + os.pathsep +
             os.environ.get("PYTHONPATH", ""))
  out = subprocess.run([sys.executable, "-c", NO_TF_SCRIPT, json.dumps(TINY)],
                       cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                       timeout=900)
  assert out.returncode == 0, out.stderr[-3000:]
  report = json.loads(out.stdout.strip().splitlines()[-1])
  assert report["metrics"] == sorted(report["registered"])
  assert len(report["registered"]) >= 10
  assert report["non_finite"] == {}
  assert all(n > 0 for n in report["num_scores"].values()), report
  assert report["heavy"] == [], report["heavy"]


def test_library_modules_import_without_tensorflow():
  """The import chains under the scoring API (datasets, registry, metrics,
  the SavedModel code cache, evaluate, results HParams) stay TF-free."""
  code = ("import sys\n"
          "import tfdis.scoring, tfdis.data, tfdis.registry, tfdis.metrics\n"
          "import tfdis.export.code_cache, tfdis.evaluate\n"
          "import tfdis.results.hparams\n"
          "from tfdis.data import get_dataset\n"
          "get_dataset('procedural_dsprites_small')\n"
          "get_dataset('procedural_shapes3d_small')\n"
          "print(sorted(m for m in ('tensorflow', 'keras', "
          "'tensorflow_datasets') if m in sys.modules))\n")
  env = dict(os.environ, PYTHONPATH=REPO_ROOT + os.pathsep +
             os.environ.get("PYTHONPATH", ""))
  out = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, env=env,
                       capture_output=True, text=True, timeout=300)
  assert out.returncode == 0, out.stderr[-2000:]
  assert out.stdout.strip().splitlines()[-1] == "[]"


def _projection(seed=0, dim=5):
  w = np.random.RandomState(seed).normal(size=(64 * 64, dim))

  def encoder(images):
    encoder.calls += 1
    encoder.images += len(images)
    return images.reshape(len(images), -1) @ w
  encoder.calls = encoder.images = 0
  return encoder


def test_cache_encodes_each_row_once_and_matches_the_uncached_scores():
  from tfdis.scoring import load_dataset, score_encoder

  metrics = ["mig", "sap_score", "irs"]
  params = {"num_train": 300, "num_test": 100}
  cached_enc, plain_enc = _projection(), _projection()
  cached = score_encoder(cached_enc, "procedural_dsprites_small", metrics,
                         metric_params=params, n_jobs=1, encode_batch_size=256)
  plain = score_encoder(plain_enc, "procedural_dsprites_small", metrics,
                        metric_params=params, n_jobs=1, cache="off",
                        encode_batch_size=256)
  num_rows = load_dataset("procedural_dsprites_small").num_examples
  assert cached_enc.images <= num_rows  # each grid row at most once
  assert plain_enc.images == 300 + 400 + 300  # every sample rendered
  for m in metrics:
    for key, value in plain[m]["scores"].items():
      assert cached[m]["scores"][key] == pytest.approx(value, abs=1e-9), key
  assert cached["mig"]["encoding"]["cache"] == "memory"
  assert plain["mig"]["encoding"]["cache"] is None


def test_disk_cache_is_reused_and_a_reused_key_with_other_weights_is_caught(
    tmp_path):
  from tfdis.scoring import ScoringError, score_encoder

  kw = dict(metric_params={"num_train": 200}, cache="disk",
            cache_dir=str(tmp_path), cache_key="proj0", n_jobs=1)
  first = score_encoder(_projection(0), "procedural_dsprites_small", ["mig"],
                        **kw)
  assert os.path.isfile(first["mig"]["encoding"]["cache"])
  enc = _projection(0)
  again = score_encoder(enc, "procedural_dsprites_small", ["mig"], **kw)
  assert again["mig"]["encoding"]["rows_encoded"] == 0
  assert enc.images == 16  # only the probe rows that check the key
  assert again["mig"]["scores"] == first["mig"]["scores"]
  with pytest.warns(UserWarning, match="differ from the stored ones"):
    other = score_encoder(_projection(1), "procedural_dsprites_small",
                          ["mig"], **kw)
  assert other["mig"]["encoding"]["rows_encoded"] > 0
  with pytest.raises(ScoringError, match="cache_key"):
    score_encoder(_projection(0), "procedural_dsprites_small", ["mig"],
                  cache="disk", cache_dir=str(tmp_path))


def test_bad_encoder_output_and_unknown_metric_say_what_to_fix():
  from tfdis.registry import UnknownNameError
  from tfdis.scoring import ScoringError, score_encoder

  with pytest.raises(ValueError, match=r"shape \[.*, num_codes\]"):
    score_encoder(lambda x: np.zeros(len(x)), "procedural_dsprites_small",
                  ["mig"], metric_params={"num_train": 50})
  with pytest.raises((ScoringError, UnknownNameError), match="Did you mean"):
    score_encoder(_projection(), "procedural_dsprites_small", ["mgi"])
  with pytest.raises(ScoringError, match="callable"):
    score_encoder("not a model", "procedural_dsprites_small", ["mig"])


# ---------------------------------------------------------------------------
# score_arrays: known answers
# ---------------------------------------------------------------------------
def _grid_factors(n=600, seed=0):
  rs = np.random.RandomState(seed)
  return np.stack([rs.randint(0, 4, n), rs.randint(0, 5, n)], axis=1)


def test_score_arrays_perfect_entangled_and_constant_codes():
  from tfdis.scoring import score_arrays

  factors = _grid_factors(300)
  perfect = factors.astype(float)
  rotated = perfect @ np.array([[1.0, 1.0], [1.0, -1.0]]) / np.sqrt(2)
  constant = np.zeros_like(perfect)
  metrics = ["mig", "dci", "sap_score"]
  good = score_arrays(perfect, factors, metrics, n_jobs=1)
  mixed = score_arrays(rotated, factors, metrics, n_jobs=1)
  dead = score_arrays(constant, factors, metrics, n_jobs=1)
  assert good["mig"]["discrete_mig"] > 0.95
  assert good["dci"]["disentanglement"] > 0.95
  assert good["dci"]["informativeness_test"] == 1.0
  assert mixed["dci"]["disentanglement"] < 0.6 * good["dci"]["disentanglement"]
  assert mixed["mig"]["discrete_mig"] < 0.5
  assert dead["mig"]["discrete_mig"] == 0.0
  assert dead["dci"]["disentanglement"] == pytest.approx(0.0, abs=1e-9)
  assert dead["sap_score"]["SAP_score"] == 0.0


def test_score_arrays_refuses_intervention_metrics_with_the_reason():
  from tfdis.scoring import ScoringError, array_metric_names, score_arrays

  assert "fairness" not in array_metric_names()
  assert {"mig", "dci", "sap_score"} <= set(array_metric_names())
  factors = _grid_factors(50)
  with pytest.raises(ScoringError, match="held fixed"):
    score_arrays(factors.astype(float), factors, ["factor_vae"])


# ---------------------------------------------------------------------------
# continuous factors
# ---------------------------------------------------------------------------
def _continuous_arrays(n=900, seed=0, noise=0.02):
  rs = np.random.RandomState(seed)
  factors = np.stack([rs.randint(0, 3, n), rs.uniform(0.0, 1.0, n),
                      rs.uniform(-2.0, 2.0, n)], axis=1)
  scaled = (factors - factors.mean(0)) / factors.std(0)
  return factors, scaled + noise * rs.normal(size=factors.shape)


TYPES = ["discrete", "continuous", "continuous"]


def test_dci_with_regressors_on_continuous_factors():
  """Eastwood & Williams' regression DCI: codes that copy the factors score
  D = C ≈ 1 and a small normalised RMSE; a rotation of the two continuous
  codes is entangled; constant codes have no importance."""
  from tfdis.metrics import dci_from_codes

  factors, codes = _continuous_arrays()
  split = (codes[:600], factors[:600], codes[600:], factors[600:])
  good = dci_from_codes(*split, n_jobs=1, factor_types=TYPES)
  assert good["disentanglement"] > 0.9 and good["completeness"] > 0.9
  assert good["informativeness_test"] == 1.0  # the one discrete factor
  assert good["informativeness_nrmse_test"] < 0.15
  rot = np.array([[1.0, 0, 0], [0, 1, 1], [0, 1, -1]]) / [1, 2**.5, 2**.5]
  mixed = dci_from_codes(codes[:600] @ rot, factors[:600], codes[600:] @ rot,
                         factors[600:], n_jobs=1, factor_types=TYPES)
  assert mixed["disentanglement"] < good["disentanglement"] - 0.2
  dead = dci_from_codes(np.zeros((600, 3)), factors[:600],
                        np.zeros((300, 3)), factors[600:], n_jobs=1,
                        factor_types=TYPES)
  assert dead["disentanglement"] == pytest.approx(0.0, abs=1e-9)
  assert dead["informativeness_nrmse_test"] > 0.95  # predicts the mean
  fast = dci_from_codes(*split, n_jobs=1, factor_types=TYPES,
                        classifier="hist_gbt")
  assert fast["disentanglement"] == pytest.approx(good["disentanglement"],
                                                  abs=0.05)


def test_continuous_factors_in_the_other_metrics():
  from tfdis.errors import UserError
  from tfdis.scoring import score_arrays

  factors, codes = _continuous_arrays()
  out = score_arrays(codes, factors, ["mig", "sap_score",
                                      "modularity_explicitness", "irs"],
                     factor_types=TYPES, n_jobs=1)
  assert out["sap_score"]["SAP_score"] > 0.8  # R² / accuracy gaps
  assert out["modularity_explicitness"]["explicitness_r2_test"] > 0.99
  assert out["modularity_explicitness"]["explicitness_score_test"] > 0.99
  assert out["modularity_explicitness"]["modularity_score"] > 0.9
  assert out["mig"]["discrete_mig"] > 0.5  # values discretised into 20 bins
  with pytest.raises(UserError, match="discrete factors only"):
    score_arrays(codes, factors, ["downstream_task"], factor_types=TYPES)
  with pytest.raises(ValueError, match="integer factor indices"):
    score_arrays(codes, factors, ["mig"])  # values without factor_types


def _moments(images):
  """[N, 3]: mass and centroid (x, y) of the sprite (NumPy, no model)."""
  x = images[..., 0]
  grid = np.arange(x.shape[1], dtype=np.float64)
  mass = x.sum(axis=(1, 2)) + 1e-9
  return np.stack([mass, x.sum(axis=1) @ grid / mass,
                   x.sum(axis=2) @ grid / mass], axis=1)


def test_dataset_option_declares_dsprites_factors_continuous():
  from tfdis.errors import UserError
  from tfdis.metrics import sampling
  from tfdis.scoring import load_dataset, score_encoder

  data = load_dataset("procedural_dsprites_small",
                      continuous_factors=["scale", "pos_x", "pos_y"])
  assert data.factor_types == ("discrete", "continuous", "discrete",
                               "continuous", "continuous")
  _, factors = sampling.sample_codes_and_factors(data, _moments, 50, 0)
  _, rows = sampling.sample_codes_and_factors(
      load_dataset("procedural_dsprites_small"), _moments, 50, 0)
  assert rows.dtype == np.int64  # all-discrete datasets: indices as before
  np.testing.assert_array_equal(factors[:, 0], rows[:, 0])
  np.testing.assert_allclose(factors[:, 3], data.factor_values[3][rows[:, 3]])
  assert set(np.unique(factors[:, 1])) <= set(data.factor_values[1])
  out = score_encoder(_moments, "procedural_dsprites_small", ["dci"],
                      dataset_options={"continuous_factors":
                                       ["scale", "pos_x", "pos_y"]},
                      metric_params={"num_train": 300, "num_test": 150},
                      n_jobs=1)
  dci = out["dci"]
  assert dci["parameters"]["factor_types"] == list(data.factor_types)
  assert dci["parameters"]["regressor"] == "GradientBoostingRegressor()"
  # the centroid codes predict the positions almost exactly
  assert dci["scores"]["informativeness_nrmse_test"] < 0.3
  with pytest.raises(UserError, match="fairness is defined for discrete"):
    score_encoder(_moments, data, ["fairness"],
                  metric_params={"num_train": 20})
  with pytest.raises(ValueError, match="not factors of"):
    load_dataset("procedural_dsprites_small", continuous_factors=["size"])


def test_fast_classifier_is_opt_in_and_recorded():
  from tfdis.scoring import score_encoder

  kw = dict(metric_params={"dci": {"num_train": 60, "num_test": 30}},
            n_jobs=1)
  exact = score_encoder(_moments, "procedural_dsprites_small", ["dci"], **kw)
  assert exact["dci"]["parameters"]["classifier"] == "gbt"
  assert exact["dci"]["parameters"]["predictor"] == (
      "GradientBoostingClassifier()")
  kw["metric_params"]["dci"]["classifier"] = "hist_gbt"
  fast = score_encoder(_moments, "procedural_dsprites_small", ["dci"], **kw)
  assert fast["dci"]["parameters"]["classifier"] == "hist_gbt"
  assert fast["dci"]["parameters"]["predictor"].startswith(
      "HistGradientBoostingClassifier(")
  with pytest.raises(ValueError, match=r"Unknown classifier 'xgboost'.*"
                     "gbt, hist_gbt"):
    kw["metric_params"]["dci"]["classifier"] = "xgboost"
    score_encoder(_moments, "procedural_dsprites_small", ["dci"], **kw)
