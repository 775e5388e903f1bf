"""tf.data pipelines over ground-truth data: shapes, dtypes, determinism."""

import numpy as np

from tfdis.data import get_dataset
from tfdis.data.pipeline import evaluation_dataset, training_dataset


def _take(ds, n):
  return [b for b in ds.take(n).as_numpy_iterator()]


def test_training_batches_shapes_and_dtypes(small_dsprites):
  batch = _take(training_dataset(small_dsprites, 16, seed=0), 1)[0]
  assert batch.shape == (16, 64, 64, 1) and batch.dtype == np.float32
  assert set(np.unique(batch)) <= {0.0, 1.0}
  data = get_dataset("procedural_shapes3d_small")
  images, factors = _take(training_dataset(data, 8, seed=1,
                                           with_factors=True), 1)[0]
  assert images.shape == (8, 64, 64, 3) and images.dtype == np.float32
  assert factors.shape == (8, 6) and factors.dtype == np.int64
  np.testing.assert_allclose(
      images, data.sample_observations_from_factors(factors, 0))


def test_training_stream_is_deterministic_given_the_seed(small_dsprites):
  a = _take(training_dataset(small_dsprites, 8, seed=5), 3)
  b = _take(training_dataset(small_dsprites, 8, seed=5), 3)
  c = _take(training_dataset(small_dsprites, 8, seed=6), 3)
  for x, y in zip(a, b):
    np.testing.assert_array_equal(x, y)
  assert any(not np.array_equal(x, z) for x, z in zip(a, c))


def test_subset_indices_restrict_the_rows(small_dsprites):
  indices = np.array([3, 17, 400, 1999])
  ds = training_dataset(small_dsprites, 4, seed=0, indices=indices,
                        with_factors=True)
  for images, factors in _take(ds, 3):
    rows = small_dsprites.factors_to_index(factors)
    assert set(rows.tolist()) == set(indices.tolist())  # one epoch per batch
    np.testing.assert_array_equal(
        images, small_dsprites.sample_observations_from_factors(factors, 0))


def test_evaluation_dataset_covers_the_grid_in_order(small_dsprites):
  rows = []
  for images, factors in evaluation_dataset(small_dsprites, 1000
                                            ).as_numpy_iterator():
    rows.append(small_dsprites.factors_to_index(factors))
  np.testing.assert_array_equal(np.concatenate(rows),
                                np.arange(small_dsprites.num_examples))


def test_large_grids_are_permuted_per_epoch_without_a_buffer():
  """Above FULL_SHUFFLE_MAX_ROWS rows every epoch is a full permutation of
  the rows (stateless index_shuffle keyed by (seed, epoch)), a
  deterministic function of the seed."""
  from tfdis.data import pipeline

  n = pipeline.FULL_SHUFFLE_MAX_ROWS + 1000

  def rows(seed):
    ds = pipeline._permuted_rows(n, seed, repeat=True).batch(n)
    return np.concatenate(_take(ds, 2))

  a, b, c = rows(3), rows(3), rows(4)
  np.testing.assert_array_equal(a, b)
  for epoch in (a[:n], a[n:]):
    np.testing.assert_array_equal(np.sort(epoch), np.arange(n))
  assert not np.array_equal(a[:n], a[n:])   # reshuffled every epoch
  assert not np.array_equal(a[:n], c[:n])   # another seed, another order


def test_full_dsprites_batches_are_valid_and_deterministic():
  data = get_dataset("procedural_dsprites")
  assert data.num_examples > __import__(
      "tfdis.data.pipeline", fromlist=["x"]).FULL_SHUFFLE_MAX_ROWS
  first = _take(training_dataset(data, 8, seed=7, with_factors=True), 2)
  again = _take(training_dataset(data, 8, seed=7, with_factors=True), 2)
  for (xa, fa), (xb, fb) in zip(first, again):
    np.testing.assert_array_equal(fa, fb)
    np.testing.assert_array_equal(xa, xb)
    np.testing.assert_allclose(xa, data.sample_observations_from_factors(
        fa, 0))
