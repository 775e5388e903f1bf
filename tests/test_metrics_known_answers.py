"""Known-answer tests of every metric (spec metrics.md, idea from dlib's tests).

The "identity" dataset's observations are its factors (10 factors x 10
values), so an identity representation is perfectly disentangled, an
all-zeros one carries nothing, and duplicated codes [f, f] split each factor
over two codes. DCI, whose per-factor GBTs cost ~1 s per class on 2 cores,
runs on a 5 x 4 identity grid; with 10 codes the duplicated closed form is
exactly C = 1 - ln 2 / ln 10 there. Sample counts are tiny via parameters.
"""

import math

import numpy as np
import pytest

from tfdis import metrics as M
from tfdis.data import get_dataset
from tfdis.metrics import parallel
from tfdis.registry import METRICS


def identity_rep(x):
  return x.reshape(len(x), -1)


def zeros_rep(x):
  return np.zeros((len(x), 10))


def duplicated_rep(x):
  x = identity_rep(x)
  return np.hstack([x, x])


@pytest.fixture(scope="module")
def identity():
  return get_dataset("identity")


@pytest.fixture(scope="module")
def small_identity():
  return get_dataset("identity", factor_sizes=[4] * 5)


SMALL = {
    "beta_vae": dict(num_train=200, num_eval=100, batch_size=16),
    "factor_vae": dict(num_train=200, num_eval=100, batch_size=16,
                       num_variance_estimate=1000),
    "mig": dict(num_train=2000),
    "sap_score": dict(num_train=1000, num_test=500, continuous_factors=True),
    "modularity_explicitness": dict(num_train=1000, num_test=500, n_jobs=1),
    "irs": dict(num_train=2000),
}


# --------------------------------------------------------------------------
# identity / zeros / duplicated representations through the wrappers
# --------------------------------------------------------------------------
@pytest.mark.parametrize("metric,key", [
    ("beta_vae", "eval_accuracy"), ("factor_vae", "eval_accuracy"),
    ("mig", "discrete_mig"), ("sap_score", "SAP_score"),
    ("modularity_explicitness", "modularity_score"), ("irs", "IRS")])
def test_identity_representation_scores_high(identity, metric, key):
  result = METRICS.get(metric)(identity, identity_rep, 0, **SMALL[metric])
  assert 0.9 <= result[key] <= 1.0 + 1e-9, result
  assert result["parameters"]["seed"] == 0
  assert "scikit-learn" in result["versions"] and "numpy" in result["versions"]


def test_identity_representation_dci(small_identity):
  result = M.compute_dci(small_identity, identity_rep, 0, num_train=300,
                         num_test=200, n_jobs=1)
  assert 0.9 <= result["disentanglement"] <= 1.0 + 1e-9
  assert 0.9 <= result["completeness"] <= 1.0 + 1e-9
  assert result["informativeness_test"] >= 0.9
  assert result["parameters"]["num_train"] == 300


@pytest.mark.parametrize("metric,key,bound", [
    ("factor_vae", "eval_accuracy", 0.2), ("mig", "discrete_mig", 0.2),
    ("irs", "IRS", 0.1)])
def test_zero_representation_scores_low(identity, metric, key, bound):
  result = METRICS.get(metric)(identity, zeros_rep, 0, **SMALL[metric])
  assert 0.0 <= result[key] <= bound, result


def test_zero_representation_sap_discrete(identity):
  result = M.compute_sap_score(identity, zeros_rep, 0, num_train=200,
                               num_test=100, n_jobs=1)
  assert result["parameters"]["continuous_factors"] is False
  assert 0.0 <= result["SAP_score"] <= 0.2


def test_zero_representation_counts_no_active_dims(identity):
  fvae = M.compute_factor_vae(identity, zeros_rep, 0, **SMALL["factor_vae"])
  irs = M.compute_irs(identity, zeros_rep, 0, **SMALL["irs"])
  assert fvae["num_active_dims"] == 0 and irs["num_active_dims"] == 0
  assert any("num_active_dims" in note for note in fvae["notes"])
  assert any("num_active_dims" in note for note in irs["notes"])


def test_duplicated_codes_mig(identity):
  result = M.compute_mig(identity, duplicated_rep, 0, num_train=2000)
  assert result["discrete_mig"] <= 0.1


def test_duplicated_codes_dci(small_identity):
  # 5 factors duplicated -> 10 codes; each factor's importance splits evenly
  # over its two copies: C = 1 - H(1/2, 1/2) in base 10 = 1 - ln2/ln10.
  codes_tr, f_tr = M.sample_codes_and_factors(small_identity, duplicated_rep,
                                              300, np.random.RandomState(0))
  codes_te, f_te = M.sample_codes_and_factors(small_identity, duplicated_rep,
                                              100, np.random.RandomState(1))
  importance, _, _ = M.dci_importance_matrix(codes_tr, f_tr, codes_te, f_te,
                                             random_state=0, n_jobs=1)
  disentanglement = M.dci_disentanglement(importance)
  completeness = M.dci_completeness(importance)
  assert 0.9 <= disentanglement <= 1.0 + 1e-9
  target = 1.0 - math.log(2) / math.log(10)
  assert abs(completeness - target) <= 0.05, (completeness, target)
  # The array-level function agrees with the building blocks.
  scores = M.dci_from_codes(codes_tr, f_tr, codes_te, f_te, 0, n_jobs=1)
  assert scores["completeness"] == pytest.approx(completeness)


def test_permuted_rows_dci_low(small_identity):
  rs = np.random.RandomState(0)
  codes, factors = M.sample_codes_and_factors(small_identity, identity_rep,
                                              400, rs)
  codes = codes[rs.permutation(len(codes))]  # codes unrelated to factors
  scores = M.dci_from_codes(codes[:300], factors[:300], codes[300:],
                            factors[300:], 0, n_jobs=1)
  assert scores["disentanglement"] <= 0.2
  assert scores["completeness"] <= 0.2


# --------------------------------------------------------------------------
# closed forms
# --------------------------------------------------------------------------
def test_diagonal_importance_is_perfect():
  for r in (np.eye(5), np.diag([0.1, 2.0, 3.0, 0.5])):
    assert M.dci_disentanglement(r) == pytest.approx(1.0, abs=1e-8)
    assert M.dci_completeness(r) == pytest.approx(1.0, abs=1e-8)
  # Uniform importance: nothing is disentangled or complete.
  assert M.dci_disentanglement(np.ones((4, 4))) == pytest.approx(0, abs=1e-8)
  assert M.dci_completeness(np.ones((4, 4))) == pytest.approx(0, abs=1e-8)
  # A dead code (zero row) does not change D; all-zero R is finite.
  r = np.vstack([np.eye(3), np.zeros((1, 3))])
  assert M.dci_disentanglement(r) == pytest.approx(1.0, abs=1e-8)
  assert np.isfinite(M.dci_disentanglement(np.zeros((3, 3))))


def test_modularity_closed_forms():
  mi = np.zeros((10, 10))
  mi[0, :2] = 0.7  # one code carries two factors equally
  mi[1:, 2] = 0.0
  assert M.modularity_from_mutual_info(mi[:1]) == pytest.approx(1 - 1 / 9)
  # Perfectly modular codes score 1; a code without information scores 0.
  assert M.modularity_from_mutual_info(np.eye(10)) == pytest.approx(1.0)
  assert M.modularity_from_mutual_info(np.zeros((1, 10))) == 0.0


def test_mig_closed_form():
  # factor 0 carried by code 0 (MI = H), factor 1 split over two codes.
  mi = np.array([[1.0, 0.0], [0.0, 0.5], [0.0, 0.5]])
  assert M.mig_from_mutual_info(mi, np.array([1.0, 1.0])) == pytest.approx(0.5)


def test_sap_closed_form():
  s = np.array([[0.9, 0.2], [0.1, 0.6], [0.0, 0.5]])
  assert M.sap_from_matrix(s) == pytest.approx(((0.9 - 0.1) + 0.1) / 2)


def test_factor_vae_votes_closed_form():
  votes_train = np.array([[5, 0, 1], [0, 4, 0]])
  votes_eval = np.array([[2, 1, 0], [1, 3, 0]])
  scores = M.factor_vae_from_votes(votes_train, votes_eval)
  assert scores["train_accuracy"] == pytest.approx(10 / 10)
  assert scores["eval_accuracy"] == pytest.approx(5 / 7)
  # Votes go to the real code index even when code 0 is pruned.
  local = np.zeros((2, 4, 3))
  local[:, :, 0] = np.arange(4)   # pruned code, would look "varying"
  local[0, :, 1] = 0.0            # code 1 fixed in group 0
  local[0, :, 2] = np.arange(4)
  local[1, :, 1] = np.arange(4)
  local[1, :, 2] = 1.0            # code 2 fixed in group 1
  votes = M.factor_vae_votes(local, [0, 1], np.ones(3),
                             np.array([False, True, True]), 2)
  np.testing.assert_array_equal(votes, [[0, 1, 0], [0, 0, 1]])


def test_irs_counts_active_dims_not_values():
  rs = np.random.RandomState(0)
  factors = rs.randint(0, 5, (500, 2))
  codes = np.column_stack([factors * 100.0, np.full(500, 7.0)])
  scores = M.irs_from_codes(codes, factors)
  assert scores["num_active_dims"] == 2  # dlib summed the values instead
  assert scores["IRS"] >= 0.9


def test_unsupervised_independent_vs_correlated():
  rs = np.random.RandomState(0)
  n, rho = 20000, 0.8
  independent = rs.normal(size=(n, 2))
  cov = np.array([[1.0, rho], [rho, 1.0]])
  correlated = rs.multivariate_normal([0, 0], cov, size=n)
  ind = M.unsupervised_from_codes(independent)
  cor = M.unsupervised_from_codes(correlated)
  assert abs(ind["gaussian_total_correlation"]) < 0.01
  assert abs(ind["gaussian_wasserstein_correlation"]) < 0.01
  assert cor["gaussian_total_correlation"] == pytest.approx(
      -0.5 * math.log(1 - rho**2), rel=0.05)
  # W2² between N(0, C) and N(0, I) for unit variances.
  expected_w = 4 - 2 * (math.sqrt(1 + rho) + math.sqrt(1 - rho))
  assert cor["gaussian_wasserstein_correlation"] == pytest.approx(
      expected_w, rel=0.05)
  assert cor["gaussian_wasserstein_correlation_norm"] == pytest.approx(
      expected_w / 2, rel=0.05)
  assert cor["mutual_info_score"] > 5 * ind["mutual_info_score"]
  # Closed-form building blocks on the exact covariance.
  assert M.gaussian_total_correlation(cov) == pytest.approx(
      -0.5 * math.log(1 - rho**2))
  assert M.gaussian_wasserstein_correlation(cov) == pytest.approx(expected_w)


def test_fairness_closed_forms():
  # Predictions independent of the sensitive value: perfectly fair.
  assert M.inter_group_fairness(np.full((3, 4), 5)) == (0.0, 0.0)
  # Prediction = sensitive value (2 x 2): each group is TV 1/2 from overall.
  mean, worst = M.inter_group_fairness(np.array([[10, 0], [0, 10]]))
  assert mean == pytest.approx(0.5) and worst == pytest.approx(0.5)
  scores = M.fairness_scores_dict(np.array([[0, 0.2], [0.4, 0]]), "mean")
  assert scores["mean:mean_sens:mean_pred"] == pytest.approx(0.3)
  assert scores["mean:max_pred:max_sens"] == pytest.approx(0.4)


def test_building_blocks():
  rs = np.random.RandomState(0)
  codes = rs.uniform(size=(1000, 3))
  d = M.discretize(codes, 20)
  assert d.dtype == np.int64 and d.min() == 1 and d.max() == 20
  factors = rs.randint(0, 10, (5000, 2))
  entropy = M.discrete_entropy(factors)
  np.testing.assert_allclose(entropy, math.log(10), rtol=0.01)
  mi = M.discrete_mutual_info(factors, factors)
  assert mi.shape == (2, 2)
  np.testing.assert_allclose(np.diag(mi), entropy)
  assert mi[0, 1] < 0.05


# --------------------------------------------------------------------------
# robustness: dead codes, bad input, parallel fits
# --------------------------------------------------------------------------
def test_constant_code_never_gives_nan():
  rs = np.random.RandomState(0)
  factors = rs.randint(0, 3, (150, 2))
  codes = np.column_stack([factors[:, 0] + rs.normal(0, .1, 150),
                           np.zeros(150), factors[:, 1] * 1.0])
  tr, te = slice(0, 100), slice(100, 150)
  results = [
      M.mig_from_codes(codes, factors),
      M.dci_from_codes(codes[tr], factors[tr], codes[te], factors[te],
                       n_jobs=1),
      M.sap_from_codes(codes[tr], factors[tr], codes[te], factors[te],
                       n_jobs=1),
      M.sap_from_codes(codes[tr], factors[tr], codes[te], factors[te],
                       continuous_factors=True),
      M.modularity_explicitness_from_codes(codes[tr], factors[tr], codes[te],
                                           factors[te], n_jobs=1),
      M.irs_from_codes(codes, factors),
      M.unsupervised_from_codes(codes),
      M.downstream_task_from_codes(codes[tr], factors[tr], codes[te],
                                   factors[te], "boosted_trees", n_jobs=1),
  ]
  for scores in results:
    for key, value in scores.items():
      assert np.isfinite(value), (key, scores)
  assert np.isfinite(list(M.unsupervised_from_codes(np.zeros((50, 3)))
                          .values())).all()


def test_downstream_logistic_regression_on_noisy_codes():
  rs = np.random.RandomState(0)
  factors = rs.randint(0, 2, (120, 2))
  codes = factors + rs.normal(0, 0.3, factors.shape)
  scores = M.downstream_task_from_codes(codes[:80], factors[:80], codes[80:],
                                        factors[80:], n_jobs=1)
  assert scores["min_test_accuracy"] >= 0.8
  assert set(scores) >= {"mean_train_accuracy", "test_accuracy_factor_1"}


def test_bad_input_is_explained():
  with pytest.raises(ValueError, match="rows are samples"):
    M.mig_from_codes(np.zeros(10), np.zeros((10, 1), int))
  with pytest.raises(ValueError, match="rows"):
    M.mig_from_codes(np.zeros((10, 2)), np.zeros((9, 1), int))
  with pytest.raises(ValueError, match="NaN"):
    M.unsupervised_from_codes(np.full((10, 2), np.nan))
  with pytest.raises(ValueError, match="integer factor indices"):
    M.mig_from_codes(np.zeros((10, 2)), np.full((10, 1), 0.5))


def test_parallel_fits_match_sequential():
  """Fits start largest first (more classes) but come back in input order."""
  rs = np.random.RandomState(0)
  factors = np.stack([rs.randint(0, k, 200) for k in (2, 5, 3)], axis=1)
  assert [parallel.classifier_cost(f) for f in factors.T] == [200, 1000, 600]
  assert parallel.parallel_map(divmod, [(7, 2), (9, 4), (5, 5)], n_jobs=2,
                               costs=[1, 3, 2]) == [(3, 1), (2, 1), (1, 0)]
  # dSprites' DCI fits (3, 6, 40, 32, 32 classes) dealt largest first to 2
  # cores: {40, 6, 3} and {32, 32}; in input order {6, 32, 32} = 70.
  assert parallel.longest_first_makespan([3, 6, 40, 32, 32], 2) == 64
  codes = factors + rs.normal(0, 0.5, factors.shape)
  one = M.sap_score_matrix(codes[:150], factors[:150], codes[150:],
                           factors[150:], n_jobs=1)
  two = M.sap_score_matrix(codes[:150], factors[:150], codes[150:],
                           factors[150:], n_jobs=2)
  np.testing.assert_array_equal(one, two)
  dci = [M.dci_from_codes(codes[:150], factors[:150], codes[150:],
                          factors[150:], 0, n_jobs=n) for n in (1, 2)]
  assert dci[0] == dci[1]


def test_registry_holds_every_metric():
  assert set(METRICS.names()) >= {
      "beta_vae", "factor_vae", "mig", "dci", "sap_score",
      "modularity_explicitness", "irs", "unsupervised", "downstream_task",
      "fairness"}


def test_identity_dataset_observations_are_factors(identity):
  factors = identity.sample_factors(50, 0)
  obs = identity.sample_observations_from_factors(factors, 0)
  assert obs.shape == (50, 10, 1, 1)
  np.testing.assert_allclose(obs.reshape(50, 10), factors / 9.0, atol=2e-3)
