"""Structured samplers: weak-supervision pairs and DC-IGN single-factor batches.

Known answers: shared factors are equal, exactly k differ when resampling
forces a change, random k is uniform on {1, …, K−1} (dlib's mixture puts
½ + ½/(K−1) on 1), "any" resampling keeps a factor with probability 1/size,
each DC-IGN batch varies exactly its one-hot factor over its whole range,
and the images are those the dataset renders for the factors.
"""

import numpy as np
import pytest

from tfdis.data import InMemoryGroundTruthData
from tfdis.data import structured as S

SIZES = (3, 6, 40, 32, 32)  # dSprites


def _pairs(k, n=4000, **kw):
  f1, f2, count = S.sample_pair_factors(SIZES, n, k, seed=7, batch=3, **kw)
  return f1.numpy(), f2.numpy(), count.numpy()


def test_pairs_share_all_but_k_factors():
  for k in (1, 2, 4):
    f1, f2, count = _pairs(k, resample="different")
    assert np.all((f1 != f2).sum(axis=1) == k) and np.all(count == k)
    assert np.all(f1 < SIZES) and np.all(f2 < SIZES) and np.all(f2 >= 0)
  # "any" (dlib): a chosen factor keeps its value with probability 1/size,
  # so with k = 1 a pair is identical with probability mean_f 1/size_f.
  f1, f2, count = _pairs(1, n=20000)
  differ = (f1 != f2).sum(axis=1)
  assert differ.max() == 1 and np.all(count == 1)
  expected = np.mean([1.0 / s for s in SIZES])  # 0.0896
  assert abs(np.mean(differ == 0) - expected) < 0.01
  # Each factor is chosen with probability 1/5 and then differs with
  # probability 1 − 1/size: P(f | one differs) ∝ 1 − 1/size_f.
  changed = np.argmax(f1 != f2, axis=1)[differ == 1]
  expected = 1.0 - 1.0 / np.asarray(SIZES)
  np.testing.assert_allclose(np.bincount(changed, minlength=5) /
                             len(changed), expected / expected.sum(),
                             atol=0.015)


def test_random_k_uniform_and_dlib_mixture():
  f1, f2, count = _pairs(S.RANDOM_K, resample="different")
  np.testing.assert_array_equal((f1 != f2).sum(axis=1), count)
  np.testing.assert_allclose(np.bincount(count, minlength=5)[1:] / 4000,
                             0.25, atol=0.025)
  assert count.min() == 1 and count.max() == 4
  # dlib: choice([1, k_observed]) -> P(1) = 1/2 + 1/2 · 1/4 = 0.625.
  _, _, count = _pairs(S.RANDOM_K, k_distribution="dlib")
  assert abs(np.mean(count == 1) - 0.625) < 0.025
  # ... and even a fixed k = 3 changes one factor in half of the pairs.
  _, _, count = _pairs(3, k_distribution="dlib")
  assert set(np.unique(count)) == {1, 3}
  assert abs(np.mean(count == 1) - 0.5) < 0.025


def test_pair_dataset_images_match_factors_and_is_deterministic(
    small_dsprites):
  ds = S.pair_dataset(small_dsprites, 6, k=S.RANDOM_K, seed=5,
                      with_factors=True)
  it = iter(ds)
  first, second = next(it), next(it)
  del it  # an endless numpy_function pipeline must not outlive the test
  assert first["images"].shape == (6, 2, 64, 64, 1)
  np.testing.assert_array_equal(first["k"].numpy(), -1)
  factors = first["factors"].numpy()
  for half in (0, 1):
    np.testing.assert_array_equal(
        first["images"].numpy()[:, half],
        small_dsprites.sample_observations_from_factors(factors[:, half], 0))
  assert not np.array_equal(factors, second["factors"].numpy())
  again = next(iter(S.pair_dataset(small_dsprites, 6, k=S.RANDOM_K, seed=5,
                                   with_factors=True)))
  np.testing.assert_array_equal(again["factors"].numpy(), factors)


def test_single_factor_batches_vary_exactly_one_factor(small_dsprites):
  sizes = small_dsprites.factor_sizes  # (3, 3, 4, 8, 8)
  seen = []
  for batch in range(25):
    f, varying = S.sample_single_factor_factors(sizes, 16, seed=1,
                                                batch=batch)
    f, varying = f.numpy(), int(varying.numpy())
    constant = [j for j in range(5) if len(np.unique(f[:, j])) == 1]
    assert constant == [j for j in range(5) if j != varying]
    # A batch of 16 covers all values of a factor with <= 16 of them.
    assert len(np.unique(f[:, varying])) == sizes[varying]
    seen.append(varying)
  assert set(seen) == set(range(5))  # random: every factor comes up
  cycle = [int(S.sample_single_factor_factors(sizes, 4, 1, b, schedule=
                                              "cycle")[1]) for b in range(7)]
  assert cycle == [0, 1, 2, 3, 4, 0, 1]
  only = {int(S.sample_single_factor_factors(sizes, 4, 1, b,
                                             factors=[3, 4])[1])
          for b in range(20)}
  assert only == {3, 4}
  ds = S.single_factor_dataset(small_dsprites, 8, seed=2, with_factors=True)
  it = iter(ds)
  out = next(it)
  del it
  f = out["factors"].numpy()
  onehot = out["varying_factor"].numpy()
  assert onehot.shape == (8, 5) and np.all(onehot == onehot[:1])
  varying = int(np.argmax(onehot[0]))
  assert [len(np.unique(f[:, j])) > 1 for j in range(5)] == [
      j == varying for j in range(5)]
  np.testing.assert_array_equal(
      out["images"].numpy(),
      small_dsprites.sample_observations_from_factors(f, 0))


def test_clear_errors_when_data_cannot_supply_batches(small_dsprites):
  with pytest.raises(ValueError, match=r"k must be in \[1, 4\]"):
    S.pair_dataset(small_dsprites, 4, k=5)
  with pytest.raises(ValueError, match="indices"):
    S.pair_dataset(small_dsprites, 4, indices=np.arange(10))
  with pytest.raises(ValueError, match="batch_size >= 2"):
    S.single_factor_dataset(small_dsprites, 1)
  with pytest.raises(ValueError, match="cannot vary factor"):
    S.single_factor_dataset(small_dsprites, 4, factors=[7])
  with pytest.raises(TypeError, match="factor grid"):
    S.single_factor_dataset(np.zeros((4, 64, 64, 1)), 4)
  flat = InMemoryGroundTruthData("flat", np.zeros((1, 4, 4, 1), np.uint8),
                                 ["a", "b"], [1, 1])
  with pytest.raises(ValueError, match="no factor with more than one value"):
    S.single_factor_dataset(flat, 4)
  one = InMemoryGroundTruthData("one", np.zeros((3, 4, 4, 1), np.uint8),
                                ["a", "b"], [3, 1])
  with pytest.raises(ValueError, match="random k needs at least 2"):
    S.pair_dataset(one, 4, k=S.RANDOM_K)
