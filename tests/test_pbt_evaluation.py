"""PBT eval functions on codes (no model): surrogate MIG, UDR mean, rows."""

import numpy as np
import pytest

from tfdis import io_utils
from tfdis.pbt import PBTConfig, evaluation


def test_surrogate_mig_median_over_leaves_of_metaepoch_means(tmp_path):
  rs = np.random.RandomState(0)
  n = 400
  truth = rs.rand(2 * n, 2).astype(np.float32)
  codes_of_row = np.concatenate([truth, rs.rand(2 * n, 1)], axis=1)
  paths = []
  for leaf, noise in enumerate((0.0, 0.0, 10.0)):
    rows = np.sort(rs.choice(2 * n, n, replace=False))
    labels = truth[rows] + noise * rs.rand(n, 2).astype(np.float32)
    path = str(tmp_path / f"leaf_{leaf}.npz")
    io_utils.write_npz(path, num_metaepochs=np.int64(2),
                       metaepoch_0_indices=rows, metaepoch_0_labels=labels,
                       metaepoch_1_indices=rows[: n // 2],
                       metaepoch_1_labels=labels[: n // 2, :1])
    paths.append(path)
  leaves = evaluation.load_surrogate_labels(paths)
  score, details = evaluation.surrogate_mig_score(
      lambda rows: codes_of_row[rows], leaves)
  from tfdis.metrics.mig import mig_from_codes
  from tfdis.metrics.information import discretize
  expect = []
  for leaf in leaves:
    expect.append(np.mean([mig_from_codes(codes_of_row[r], discretize(l, 20),
                                          20)["discrete_mig"]
                           for r, l in leaf]))
  assert details["leaf_scores"] == pytest.approx(expect)
  assert score == pytest.approx(np.median(expect))
  assert expect[0] > 0.5 > expect[2]   # labels = codes vs. noisy labels


def test_surrogate_subsample_is_fixed_and_keeps_row_label_pairs():
  rows = np.arange(100, 400, dtype=np.int64)
  labels = rows[:, None].astype(np.float32) * 2
  leaves = [[(rows, labels), (rows[:10], labels[:10])]]
  assert evaluation.subsample_surrogate_labels(leaves, None, 0) is leaves
  a = evaluation.subsample_surrogate_labels(leaves, 50, seed=3)
  b = evaluation.subsample_surrogate_labels(leaves, 50, seed=3)
  (r0, l0), (r1, l1) = a[0]
  assert len(r0) == 50 and np.all(np.diff(r0) > 0)
  np.testing.assert_array_equal(l0[:, 0], r0 * 2)       # pairs stay together
  np.testing.assert_array_equal(r0, b[0][0][0])          # same every call
  np.testing.assert_array_equal(r1, rows[:10])           # small block: kept
  c = evaluation.subsample_surrogate_labels(leaves, 50, seed=4)
  assert not np.array_equal(c[0][0][0], r0)


def test_udr_score_is_mean_of_model_scores():
  rs = np.random.RandomState(0)
  z = rs.randn(300, 3)
  means = np.stack([z[:, [0, 1, 2]], z[:, [2, 0, 1]], -z[:, [1, 2, 0]]],
                   axis=1)  # [N, K=3, d]: permuted copies -> UDR near 1
  kls = np.ones([3, 3])
  score, details = evaluation.udr_score(means, kls)
  assert score == pytest.approx(np.mean(details["model_scores"]))
  assert score > 0.8 and len(details["model_scores"]) == 3


def test_eval_rows_fixed_by_seed(tmp_path):
  pool = np.arange(5000)
  cfg = PBTConfig(output_dir=str(tmp_path), mig_num_train=300)
  a = evaluation.choose_eval_indices(cfg, pool)["indices"]
  b = evaluation.choose_eval_indices(cfg, pool)["indices"]
  np.testing.assert_array_equal(a, b)
  assert len(a) == 300 and len(np.unique(a)) == 300
  few = evaluation.choose_eval_indices(cfg.replace(num_labels=100), pool)
  assert len(few["indices"]) == 100
  dci = evaluation.choose_eval_indices(
      cfg.replace(eval="dci", dci_num_train=200, dci_num_test=50), pool)
  assert len(dci["indices"]) == 250 and int(dci["num_train"]) == 200


def test_kl_estimators_on_a_constructed_encoding():
  # 40 rows -> the authors' batches of 32: rows 0-31 and 32-39.
  # Latent 0: μ = 0, log σ = −1 (ℓ = −2) in batch 1 and +1 (ℓ = 2) in
  #   batch 2: v = |mean log σ| = 1 in both, KL_b = ½(e − 1 − 1) each.
  # Latent 1: μ = 1 in batch 1, 3 in batch 2, log σ = 0: KL_b = ½μ² = 0.5 and
  #   4.5, unweighted mean 2.5 (row-weighted it would be 1.3).
  # Latent 2: log σ = −2 and 0 alternating (mean −1, v = 1), μ = 0.
  mean = np.zeros([40, 3])
  mean[:32, 1], mean[32:, 1] = 1.0, 3.0
  logvar = np.zeros([40, 3])
  logvar[:32, 0], logvar[32:, 0] = -2.0, 2.0
  logvar[::2, 2] = -4.0
  authors = evaluation.per_latent_kl(mean, logvar, "authors")
  np.testing.assert_allclose(
      authors, [0.5 * (np.e - 2), 2.5, 0.5 * (np.e - 2)], rtol=1e-12)
  # The analytic KL: mean over rows of ½(μ² + e^ℓ − ℓ − 1).
  analytic = evaluation.per_latent_kl(mean, logvar)
  np.testing.assert_allclose(analytic, [
      (32 * 0.5 * (np.exp(-2) + 1) + 8 * 0.5 * (np.exp(2) - 3)) / 40,
      (32 * 0.5 + 8 * 4.5) / 40,
      0.5 * 0.5 * (np.exp(-4) + 3)], rtol=1e-12)
  # [N, K, d] ensembles: per model; the UDR filter's batch of 10.
  stacked = evaluation.per_latent_kl(
      np.stack([mean, 2 * mean], 1), np.stack([logvar, logvar], 1),
      "authors", batch_size=10)
  assert stacked.shape == (2, 3)
  # Batches of 10, latent 1: mean μ² = 1, 1, 1 and (2·1 + 8·9)/10 = 7.4
  # (doubled μ: 4×).
  np.testing.assert_allclose(
      stacked[:, 1], [0.5 * (3 + 7.4) / 4, 4 * 0.5 * (3 + 7.4) / 4])
  with pytest.raises(ValueError, match="kl_estimator"):
    evaluation.per_latent_kl(mean, logvar, "sampled")
