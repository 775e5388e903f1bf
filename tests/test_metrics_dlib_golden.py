"""Same seed, same score as disentanglement_lib: golden numbers of dlib's own
metric wrappers.

How the GOLDEN numbers were obtained (offline, once; no dlib code is in this
repository):

* dlib: google-research/disentanglement_lib at commit
  86a644d4ed35c771560dc3360756363d35477357, run unmodified from source in a
  separate virtualenv with numpy 2.4.6, scipy 1.17.1, scikit-learn 1.9.1
  (the versions pinned here), gin-config 0.5.0, six 1.17.0, absl-py 2.5.1.
  TensorFlow was not installed: ``gin.tf`` was aliased to ``gin`` (with
  gin's old ``blacklist=`` keyword mapped to ``denylist=``) and
  ``tensorflow.compat.v1`` to an empty module, both only in that harness;
  the metric code paths do not use TensorFlow.
* gin bindings: ``discretizer.discretizer_fn = @histogram_discretizer``,
  ``discretizer.num_bins = 20``, ``prune_dims.threshold = 0.05`` and, for the
  downstream task, ``predictor.predictor_fn`` = ``logistic_regression_cv`` or
  ``gradient_boosting_classifier`` (two runs, as dlib's two metrics);
  ``gradient_boosting_classifier`` for fairness.
* data: a subclass of dlib's ``GroundTruthData`` with factor sizes
  [3, 6, 4, 5]; ``sample_factors`` is dlib's
  ``util.SplitDiscreteStateSpace(sizes, [0, 1, 2, 3]).sample_latent_factors``
  and ``sample_observations_from_factors`` returns tfdis's identity
  observation (uint8 ``round(255 v / (n - 1))`` / 255 as float32, shape
  (4, 1, 1)) plus ``random_state.uniform(-0.1, 0.1, shape)`` — the
  ``NoisyIdentity`` below, so the observations draw from the metric's
  RandomState as dlib's noisy dSprites does.
* representation: ``representation`` below (a fixed linear map of the
  observation, then tanh plus a square; float64).
* BLAS: OpenBLAS's Haswell kernels (an AVX2 machine). conftest.py pins
  them with ``OPENBLAS_CORETYPE=Haswell``: the AVX-512 kernels sum in
  another order and flip one borderline logistic-regression prediction.
* calls: each dlib wrapper with ``random_state=np.random.RandomState(0)`` and
  the arguments in ``PARAMS`` (dlib's ``batch_size`` sampling default 16),
  ``np.random.seed(7)`` immediately before each call because dlib's
  ``GradientBoostingClassifier()`` is unseeded and draws from NumPy's global
  RNG (a second run with another seed before the calls gave the same numbers
  for every metric; without re-seeding only the GBT metrics change). Wrappers:
  ``beta_vae.compute_beta_vae_sklearn``, ``factor_vae.compute_factor_vae``,
  ``mig.compute_mig``, ``dci.compute_dci``, ``sap_score.compute_sap``,
  ``modularity_explicitness.compute_modularity_explicitness``,
  ``irs.compute_irs``, ``unsupervised_metrics.unsupervised_metrics``,
  ``downstream_task.compute_downstream_task``, ``fairness.compute_fairness``.

tfdis must reproduce every number to 1e-9 (they agree bit for bit). For the
GBT metrics (dci, downstream boosted trees, fairness) that needs
``gbt_seeding="sequential", gbt_seed=7``: one RandomState(7) consumed by the
fits in dlib's order, as dlib's fits consume the global RNG after
``np.random.seed(7)``. With tfdis's default ``gbt_seeding="per_fit"`` the
samples are still dlib's, but ties between equally good tree splits are
broken differently (on this data DCI disentanglement moves by ~2e-3 between
two unseeded dlib runs), so those scores agree only within that noise.

Keys that differ on purpose (dlib bugs fixed and documented in the metric
modules) are not compared: ``irs``'s ``num_active_dims``. dlib's downstream
keys ``"{n}:..."`` are ``"{predictor}:{n}:..."`` in tfdis.
"""

import numpy as np
import pytest

from tfdis.data.identity import IdentityData
import tfdis.metrics as M

SIZES = [3, 6, 4, 5]
SEED = 0
GBT = {"gbt_seeding": "sequential", "gbt_seed": 7, "n_jobs": 1}

W = np.array([[1.3, 0.2, -0.4, 0.0, 0.3],
              [0.1, 1.1, 0.3, -0.2, 0.0],
              [-0.3, 0.0, 1.2, 0.5, 0.2],
              [0.2, -0.5, 0.0, 0.9, 0.8]])
B = np.array([-0.6, -0.5, -0.4, -0.3, -0.2])


def representation(obs):
  """Fixed, deterministic 5-code representation of the 4 observed values."""
  x = np.asarray(obs, np.float64).reshape(len(obs), -1)
  h = x @ W + B
  return np.tanh(2.0 * h) + 0.1 * h ** 2


class NoisyIdentity(IdentityData):
  """Identity observations plus U(-0.1, 0.1) noise from the metric's RNG."""

  def sample_observations_from_factors(self, factors, random_state):
    clean = super().sample_observations_from_factors(factors, random_state)
    return clean + random_state.uniform(-0.1, 0.1, size=clean.shape)


PARAMS = {
    "beta_vae": dict(batch_size=8, num_train=200, num_eval=100),
    "factor_vae": dict(batch_size=8, num_train=200, num_eval=100,
                       num_variance_estimate=500),
    "mig": dict(num_train=1000),
    "dci": dict(num_train=300, num_test=150, **GBT),
    "sap_score": dict(num_train=500, num_test=250, continuous_factors=False,
                      n_jobs=1),
    "modularity_explicitness": dict(num_train=500, num_test=250, n_jobs=1),
    "irs": dict(num_train=500),  # dlib: irs.batch_size=16 (its test config)
    "unsupervised": dict(num_train=500),
    "downstream_task": dict(num_train=[10, 50], num_test=50, **GBT),
    "fairness": dict(num_train=100, num_test_points_per_class=10, **GBT),
}

GOLDEN = {
    "beta_vae": {
        "eval_accuracy": 0.95,
        "train_accuracy": 0.985,
    },
    "factor_vae": {
        "eval_accuracy": 0.92,
        "num_active_dims": 5.0,
        "train_accuracy": 0.975,
    },
    "mig": {
        "discrete_mig": 0.416099011957565,
    },
    "dci": {
        "completeness": 0.450067044130652,
        "disentanglement": 0.4443595811587675,
        "informativeness_test": 0.8033333333333333,
        "informativeness_train": 1.0,
    },
    "sap_score": {
        "SAP_score": 0.128,
    },
    "modularity_explicitness": {
        "explicitness_score_test": 0.9827782087395536,
        "explicitness_score_train": 0.9853735047207857,
        "modularity_score": 0.9649824419843256,
    },
    "irs": {
        "IRS": 0.5354289300822873,
    },
    "unsupervised": {
        "gaussian_total_correlation": 1.9440912145611216,
        "gaussian_wasserstein_correlation": 0.30410518361209427,
        "gaussian_wasserstein_correlation_norm": 0.18015551481875852,
        "mutual_info_score": 0.5105557194737826,
    },
    "downstream_task": {
        "boosted_trees:10:mean_test_accuracy": 0.515,
        "boosted_trees:10:mean_train_accuracy": 1.0,
        "boosted_trees:10:min_test_accuracy": 0.24,
        "boosted_trees:10:min_train_accuracy": 1.0,
        "boosted_trees:50:mean_test_accuracy": 0.64,
        "boosted_trees:50:mean_train_accuracy": 1.0,
        "boosted_trees:50:min_test_accuracy": 0.38,
        "boosted_trees:50:min_train_accuracy": 1.0,
        "logistic_regression:10:mean_test_accuracy": 0.525,
        "logistic_regression:10:mean_train_accuracy": 0.825,
        "logistic_regression:10:min_test_accuracy": 0.28,
        "logistic_regression:10:min_train_accuracy": 0.6,
        "logistic_regression:50:mean_test_accuracy": 0.7549999999999999,
        "logistic_regression:50:mean_train_accuracy": 0.985,
        "logistic_regression:50:min_test_accuracy": 0.42,
        "logistic_regression:50:min_train_accuracy": 0.96,
    },
    "fairness": {
        "max_fairness:max_pred:max_sens": 0.3799999952316284,
        "max_fairness:max_pred:mean_sens": 0.3011111219724019,
        "max_fairness:max_sens:max_pred": 0.3799999952316284,
        "max_fairness:max_sens:mean_pred": 0.25555557012557983,
        "max_fairness:mean_pred:max_sens": 0.29500000923871994,
        "max_fairness:mean_pred:mean_sens": 0.2194444512327512,
        "max_fairness:mean_sens:max_pred": 0.31583333760499954,
        "max_fairness:mean_sens:mean_pred": 0.2194444512327512,
        "max_fairness:pred1:sens3": 0.3199999928474426,
        "max_fairness:pred3:sens0": 0.2666666805744171,
        "mean_fairness:max_pred:max_sens": 0.2888889014720917,
        "mean_fairness:max_pred:mean_sens": 0.24621297170718512,
        "mean_fairness:max_sens:max_pred": 0.2888889014720917,
        "mean_fairness:max_sens:mean_pred": 0.22962963746653664,
        "mean_fairness:mean_pred:max_sens": 0.2027777815858523,
        "mean_fairness:mean_pred:mean_sens": 0.15680787455704476,
        "mean_fairness:mean_sens:max_pred": 0.22615278388063112,
        "mean_fairness:mean_sens:mean_pred": 0.15680787455704476,
        "mean_fairness:pred1:sens3": 0.25599999725818634,
        "mean_fairness:pred3:sens0": 0.2666666706403097,
    },
}


@pytest.fixture(scope="module")
def data():
  return NoisyIdentity(factor_sizes=SIZES)


def test_every_dlib_metric_has_a_golden_number():
  # The default suite is dlib's ten; the newer metrics have their own golden
  # tests (tests/test_metrics_dci_es.py, tests/test_metrics_infomec.py).
  assert sorted(GOLDEN) == sorted(M.default_metric_names())


@pytest.mark.parametrize("metric", sorted(GOLDEN))
def test_same_seed_same_score_as_dlib(data, metric):
  result = M.get_metric(metric)(data, representation, SEED, **PARAMS[metric])
  scores = M.scores_of(result)
  for key, expected in GOLDEN[metric].items():
    assert scores[key] == pytest.approx(expected, abs=1e-9, rel=0), key
  assert result["parameters"]["rng_order"] == "disentanglement_lib"


def test_encoder_batching_does_not_change_the_samples(data):
  """Draw order is fixed by dlib's calls; encoder batches are free."""
  a = M.get_metric("beta_vae")(data, representation, SEED,
                               encode_batch_size=5, **PARAMS["beta_vae"])
  assert M.scores_of(a) == pytest.approx(GOLDEN["beta_vae"], abs=1e-9)
  b = M.get_metric("mig")(data, representation, SEED, encode_batch_size=3,
                          **PARAMS["mig"])
  assert b["discrete_mig"] == pytest.approx(GOLDEN["mig"]["discrete_mig"],
                                            abs=1e-9)


def test_per_fit_gbt_seeding_keeps_dlibs_samples(data):
  """Default GBT seeding: same samples as dlib (informativeness_train, which
  no split tie can change here, is dlib's); the drawn seed is recorded."""
  params = dict(PARAMS["dci"], gbt_seeding="per_fit", gbt_seed=None)
  one = M.get_metric("dci")(data, representation, SEED, **params)
  assert one["parameters"]["gbt_seeding"] == "per_fit"
  assert isinstance(one["parameters"]["gbt_seed"], int)
  assert one["informativeness_train"] == GOLDEN["dci"]["informativeness_train"]
  assert abs(one["disentanglement"] - GOLDEN["dci"]["disentanglement"]) < 0.02


# ---------------------------------------------------------------------------
# sklearn_compat="dlib": scikit-learn < 0.22 classifier defaults
# ---------------------------------------------------------------------------
def _liblinear_ovr_proba(x, y, x_eval):
  """scikit-learn 0.21 ``LogisticRegression()`` predict_proba, written out:
  one liblinear binary fit per class, sigmoid scores normalised per row."""
  from sklearn.linear_model import LogisticRegression

  classes = np.unique(y)
  if len(classes) == 2:
    return LogisticRegression(solver="liblinear").fit(x, y).predict_proba(
        x_eval)
  p = np.stack([LogisticRegression(solver="liblinear").fit(
      x, (y == c).astype(int)).predict_proba(x_eval)[:, 1] for c in classes],
               axis=1)
  return p / p.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("num_classes", [2, 4])
def test_dlib_logistic_regression_is_liblinear_one_vs_rest(num_classes):
  from tfdis.metrics.classifiers import logistic_regression

  rs = np.random.RandomState(1)
  x = rs.normal(size=(300, 3))
  y = np.argmax(x @ rs.normal(size=(3, num_classes)) +
                rs.normal(size=(300, num_classes)), axis=1)
  model = logistic_regression("dlib").fit(x, y)
  np.testing.assert_allclose(model.predict_proba(x),
                             _liblinear_ovr_proba(x, y, x), atol=1e-12)
  current = logistic_regression("current").fit(x, y)
  assert type(current).__name__ == "LogisticRegression"
  assert current.solver == "lbfgs"


def test_dlib_compat_beta_vae_draws_sklearn_021s_liblinear_seed(data):
  """sklearn 0.21's liblinear drew one seed from dlib's RandomState between
  the training and the evaluation points; the dlib mode does the same."""
  from tfdis.metrics.beta_vae import sample_beta_vae_points

  p = PARAMS["beta_vae"]
  result = M.get_metric("beta_vae")(data, representation, SEED,
                                    sklearn_compat="dlib", **p)
  rs = np.random.RandomState(SEED)
  sample_beta_vae_points(data, representation, p["num_train"],
                         p["batch_size"], rs)
  assert result["parameters"]["liblinear_seed"] == rs.randint(
      np.iinfo(np.int32).max)
  assert result["parameters"]["sklearn_compat"] == "dlib"
  assert "liblinear" in result["parameters"]["predictor"]
  assert 0.0 <= result["eval_accuracy"] <= 1.0


def test_dlib_compat_explicitness_uses_liblinear(data):
  p = PARAMS["modularity_explicitness"]
  old = M.get_metric("modularity_explicitness")(
      data, representation, SEED, sklearn_compat="dlib", **p)
  # Same samples: modularity does not involve the classifier.
  assert old["modularity_score"] == pytest.approx(
      GOLDEN["modularity_explicitness"]["modularity_score"], abs=1e-12)
  assert old["explicitness_score_test"] != pytest.approx(
      GOLDEN["modularity_explicitness"]["explicitness_score_test"], abs=1e-6)
  assert old["parameters"]["sklearn_compat"] == "dlib"


def test_unknown_sklearn_compat_is_explained(data):
  with pytest.raises(ValueError, match=r"Unknown sklearn_compat '0.21'.*"
                     "current, dlib"):
    M.get_metric("sap_score")(data, representation, SEED,
                              sklearn_compat="0.21")
