"""Array-level UDR (paper 001 Eq. 2-3, dlib relative strength): closed forms,
permutation/sign invariance, KL filtering, partners and speed."""

import time

import warnings

import numpy as np
import pytest
from scipy.stats import spearmanr
from sklearn.linear_model import Lasso

from tfdis.udr import (informative_latents, lasso_similarity, pair_score,
                       paper_score, rank_representation, relative_strength,
                       spearman_similarity, standardize_representation,
                       udr_from_representations)
from tfdis.udr import similarity


def _copy(base, rs, noise=0.0):
  """A permuted, sign-flipped and rescaled copy of ``base``."""
  d = base.shape[1]
  perm = rs.permutation(d)
  scale = rs.choice([-1.0, 1.0], d) * rs.uniform(0.2, 5.0, d)
  return base[:, perm] * scale + 3.0 + noise * rs.randn(*base.shape), perm


# ---- relative strength: closed forms ---------------------------------------
def test_relative_strength_closed_forms():
  assert relative_strength(np.eye(10)) == pytest.approx(1.0)
  assert relative_strength(np.eye(4)[[2, 0, 3, 1]] * 0.9) == pytest.approx(0.9)
  # All-equal c (m x n): columns c²/(m c) = c/m, rows c/n.
  assert relative_strength(np.ones((10, 10))) == pytest.approx(0.1)
  assert relative_strength(np.full((4, 6), 0.5)) == pytest.approx(
      0.5 * (0.5 / 4 + 0.5 / 6))
  assert relative_strength(np.zeros((5, 5))) == 0.0
  assert relative_strength(np.zeros((0, 3))) == 0.0
  # One empty column counts as 0: ½(2/3 + 2/2).
  subset = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
  assert relative_strength(subset) == pytest.approx(0.5 * (2 / 3 + 1.0))
  # Eq. 2 divides by d_a + d_b instead: (2 + 2) / (2 + 3).
  assert paper_score(subset) == pytest.approx(0.8)
  square = np.random.RandomState(0).rand(5, 5)
  assert paper_score(square) == pytest.approx(relative_strength(square))
  with pytest.raises(ValueError, match="absolute"):
    relative_strength(-np.eye(3))


# ---- similarity matrices ---------------------------------------------------
def test_similarity_orientation_and_spearman_known_answer():
  rs = np.random.RandomState(0)
  z_i = rs.randn(400, 4)
  perm = np.array([2, 0, 3, 1])
  z_j = z_i[:, perm]  # latent b of j is latent perm[b] of i
  lasso = lasso_similarity(z_i, z_j, alpha=0.1)
  assert lasso.shape == (4, 4)
  np.testing.assert_allclose(lasso[perm, np.arange(4)], 0.9, atol=0.02)
  noisy = z_j + 0.5 * rs.randn(400, 4) ** 3
  reference = np.abs(spearmanr(z_i, noisy)[0][:4, 4:])
  np.testing.assert_allclose(spearman_similarity(z_i, noisy), reference,
                             atol=1e-10)
  # A constant latent has an undefined correlation: NaN -> 0.
  z_i[:, 1] = 0.0
  assert np.all(spearman_similarity(z_i, noisy)[1] == 0.0)


# ---- invariances and ranges --------------------------------------------------
@pytest.mark.parametrize("correlation", ["lasso", "spearman"])
def test_permuted_sign_flipped_rescaled_copy_scores_high(correlation):
  rs = np.random.RandomState(1)
  base = rs.randn(5000, 10)
  copy, _ = _copy(base, rs)
  out = udr_from_representations([base, copy], [np.ones(10)] * 2,
                                 correlation=correlation)
  assert out["model_scores"].shape == (2,)
  assert out["pairwise_scores"].shape == (2, 2)
  assert out["similarity_matrices"].shape == (2, 2, 10, 10)
  assert np.isnan(out["pairwise_scores"][0, 0])
  assert np.all(out["model_scores"] >= 0.8), out["model_scores"]
  if correlation == "lasso":  # standardised copy: coefficient 1 - alpha
    np.testing.assert_allclose(out["model_scores"], 0.9, atol=0.01)


@pytest.mark.parametrize("correlation", ["lasso", "spearman"])
def test_unrelated_representations_score_low(correlation):
  rs = np.random.RandomState(2)
  reps = [rs.randn(2000, 10) for _ in range(3)]
  out = udr_from_representations(reps, [np.ones(10)] * 3,
                                 correlation=correlation)
  assert np.all(out["model_scores"] < 0.1), out["model_scores"]


def test_alpha_cv_and_paper_aggregation():
  rs = np.random.RandomState(3)
  base = rs.randn(500, 6)
  copy, _ = _copy(base, rs, noise=0.05)
  cv = udr_from_representations([base, copy], [np.ones(6)] * 2, alpha="cv")
  assert np.all(cv["model_scores"] >= 0.8)
  paper = udr_from_representations([base, copy], [np.ones(6)] * 2,
                                   aggregation="paper")
  default = udr_from_representations([base, copy], [np.ones(6)] * 2)
  # Same number of informative latents: Eq. 2 == relative strength.
  np.testing.assert_allclose(paper["model_scores"], default["model_scores"])


# ---- informative-latent filtering (Eq. 3) ----------------------------------
def test_kl_filter_moves_planted_uninformative_latents():
  rs = np.random.RandomState(4)
  base = rs.randn(3000, 10)
  base[:, 5:] *= 0.01  # collapsed latents: tiny noise around the prior mean
  copy = base[:, ::-1] * -2.0
  copy[:, :5] = rs.randn(3000, 5) * 0.01  # its own, unrelated noise latents
  kls = [np.r_[np.ones(5), np.full(5, 1e-3)],
         np.r_[np.full(5, 1e-3), np.ones(5)]]
  on = udr_from_representations([base, copy], kls, filter_low_kl=True)
  off = udr_from_representations([base, copy], kls, filter_low_kl=False)
  np.testing.assert_array_equal(on["num_informative"], [5, 5])
  assert np.all(on["model_scores"] >= 0.85), on["model_scores"]
  # Unfiltered, the 5 zeroed rows and columns count 0: ½(5·0.9/10 · 2).
  np.testing.assert_allclose(off["model_scores"], 0.45, atol=0.02)


def test_kl_threshold_parameter_is_used_for_zeroing():
  """dlib zeroed latents with KL <= 0.01 whatever the threshold; we don't."""
  rs = np.random.RandomState(5)
  base = rs.randn(2000, 6)
  copy = base[:, [1, 0, 2, 3, 4, 5]]
  kls = [np.r_[np.ones(3), np.full(3, 0.1)]] * 2  # weak latents: KL 0.1
  out = udr_from_representations([base, copy], kls, filter_low_kl=False,
                                 kl_filter_threshold=0.5)
  sim = out["similarity_matrices"][0, 1]
  assert np.all(sim[3:] == 0) and np.all(sim[:, 3:] == 0)
  np.testing.assert_allclose(out["model_scores"], 0.45, atol=0.01)
  low = udr_from_representations([base, copy], kls, filter_low_kl=False,
                                 kl_filter_threshold=0.01)
  np.testing.assert_allclose(low["model_scores"], 0.9, atol=0.01)


# ---- partners and the column convention -------------------------------------
def test_partners_restriction_and_column_convention():
  rs = np.random.RandomState(6)
  a, b = rs.randn(1500, 6), rs.randn(1500, 6)
  reps = [a, _copy(a, rs)[0], b, _copy(b, rs)[0]]
  kls = [np.ones(6)] * 4
  full = udr_from_representations(reps, kls)
  pairwise = full["pairwise_scores"]
  for i in range(4):
    np.testing.assert_allclose(full["model_scores"][i],
                               np.median(np.delete(pairwise[:, i], i)))
  assert np.all(full["model_scores"] < 0.1)  # 2 of 3 partners unrelated
  restricted = udr_from_representations(reps, kls,
                                        partners=[[1], [0], [3], [2]])
  np.testing.assert_allclose(restricted["model_scores"], 0.9, atol=0.01)
  computed = np.isfinite(restricted["pairwise_scores"])
  assert computed.sum() == 4 and computed[1, 0] and computed[0, 1]
  with pytest.raises(ValueError, match="partners of model 0"):
    udr_from_representations(reps, kls, partners=[[0], [0], [3], [2]])
  with pytest.raises(ValueError, match="one list of model indices"):
    udr_from_representations(reps, kls, partners=[[1]])


def test_bad_inputs_fail_early():
  rs = np.random.RandomState(7)
  with pytest.raises(ValueError, match="same latent size"):
    udr_from_representations([rs.randn(50, 4), rs.randn(50, 5)],
                             [np.ones(4), np.ones(5)])
  with pytest.raises(ValueError, match="KL vector"):
    udr_from_representations([rs.randn(50, 4)] * 2, [np.ones(4)])
  with pytest.raises(ValueError, match="correlation"):
    udr_from_representations([rs.randn(50, 4)] * 2, [np.ones(4)] * 2,
                             correlation="pearson")


# ---- the fast path equals the straightforward computation, bit for bit -----
def _reference_udr(reps, kls, partners, correlation, filter_low_kl,
                   aggregation):
  """UDR as first written: one ``Lasso(alpha=0.1, random_state=0)`` (or one
  Spearman matrix) per ordered pair, scored one pair at a time."""
  masks = [informative_latents(k, 0.01) for k in kls]
  scaled = [standardize_representation(r, m) for r, m in zip(reps, masks)]
  if correlation == "spearman":
    scaled = [rank_representation(z) for z in scaled]
  num = len(reps)
  similarity_matrices = np.zeros((num, num) + (reps[0].shape[1],) * 2)
  pairwise = np.full((num, num), np.nan)
  for i in range(num):
    for j in partners[i]:
      if correlation == "lasso":
        with warnings.catch_warnings():
          warnings.simplefilter("ignore", category=UserWarning)
          fit = Lasso(alpha=0.1, random_state=0).fit(scaled[j], scaled[i])
        matrix = np.abs(fit.coef_).T
      else:
        matrix = spearman_similarity(scaled[j], scaled[i], ranked=True)
      similarity_matrices[j, i] = matrix
      pairwise[j, i] = pair_score(
          matrix[masks[j]][:, masks[i]] if filter_low_kl else matrix,
          aggregation)
  scores = [np.median(pairwise[partners[i], i]) for i in range(num)]
  return np.array(scores), pairwise, similarity_matrices


@pytest.mark.parametrize(
    "correlation,filter_low_kl,aggregation,subset,n_jobs", [
        ("lasso", True, "relative_strength", False, None),
        ("lasso", False, "paper", True, 2),  # worker processes
        ("spearman", True, "relative_strength", True, None),
    ])
def test_scores_bit_identical_to_one_fit_per_pair(correlation, filter_low_kl,
                                                  aggregation, subset, n_jobs,
                                                  monkeypatch):
  """One stacked lasso per model (in chunks, in this process), zero targets
  skipped, one throwaway RNG: the same numbers as a fresh seeded Lasso per
  pair."""
  rs = np.random.RandomState(9)
  factors = rs.randn(400, 5)
  reps, kls = [], []
  for m in range(7):
    code = 0.01 * rs.randn(400, 8)
    used = rs.choice(8, 5, replace=False)
    code[:, used] = factors * rs.uniform(0.3, 3, 5) + 0.3 * rs.randn(400, 5)
    kl = np.full(8, 1e-3)
    kl[used[:4 if m % 3 == 0 else 5]] = 1.0  # differing informative sets
    reps.append(code)
    kls.append(kl)
  kls[6][:] = 1e-3  # a fully collapsed model: no informative latent
  partners = [[j for j in range(7) if j != i] for i in range(7)]
  if subset:
    partners = [[(i + 1) % 7, (i + 3) % 7] for i in range(7)]
  # Chunks of 7 target columns: several fits per model, split partners.
  monkeypatch.setattr(similarity, "_MAX_STACKED_TARGET_BYTES", 8 * 400 * 7)
  np.random.seed(0)
  global_state = np.random.get_state()[1].copy()
  out = udr_from_representations(
      reps, kls, correlation=correlation, filter_low_kl=filter_low_kl,
      aggregation=aggregation, partners=partners, n_jobs=n_jobs)
  # No draw from NumPy's global RNG (None would have made sklearn use it).
  np.testing.assert_array_equal(np.random.get_state()[1], global_state)
  scores, pairwise, matrices = _reference_udr(
      reps, kls, partners, correlation, filter_low_kl, aggregation)
  np.testing.assert_array_equal(out["similarity_matrices"], matrices)
  np.testing.assert_array_equal(out["pairwise_scores"], pairwise)
  np.testing.assert_array_equal(out["model_scores"], scores)
  assert np.all(np.isfinite(scores)) and np.ptp(scores) > 0


def test_fast_enough_for_pbt_ensembles():
  """PBT-U-VAE scores K=5 models on 1000 points inside every evaluation."""
  rs = np.random.RandomState(8)
  base = rs.randn(1000, 10)
  reps = [base] + [_copy(base, rs, noise=0.1)[0] for _ in range(4)]
  udr_from_representations(reps, [np.ones(10)] * 5)  # warm up sklearn
  start = time.perf_counter()
  out = udr_from_representations(reps, [np.ones(10)] * 5)
  elapsed = time.perf_counter() - start
  assert np.all(out["model_scores"] > 0.8)
  assert elapsed < 1.0, f"{elapsed:.2f} s for 5 models x 1000 x 10"
