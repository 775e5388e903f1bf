"""rPU-VAE dataset reduction on synthetic codes with planted plateaus."""

import numpy as np
import pytest

from tfdis.rpu import reduction as red


def _clusters(rs, centres, sizes, noises):
  """Codes of planted plateaus, shuffled; returns (codes, cluster id)."""
  codes = np.concatenate([rs.normal(c, s, n)
                          for c, n, s in zip(centres, sizes, noises)])
  ids = np.repeat(np.arange(len(sizes)), sizes)
  perm = rs.permutation(len(codes))
  return codes[perm], ids[perm]


def test_threshold_closed_form():
  delta = np.array([0.0, 1.0, 2.0, 3.0, 10.0])
  # median 2; the values below it, [0, 1], have std 0.5.
  expected = 2.0 + 7.0 * (0.5 + 4.0 * np.std(delta))
  assert red.peak_threshold(delta, red.ReductionParams()) == pytest.approx(
      expected)
  # The other reading of the spec is global_std_factor = 4/7.
  alt = red.ReductionParams(global_std_factor=4.0 / 7.0)
  assert red.peak_threshold(delta, alt) == pytest.approx(
      2.0 + 7.0 * 0.5 + 4.0 * np.std(delta))
  # More than half the gaps tied at the minimum: nothing below the median.
  tied = np.array([0.0, 0.0, 0.0, 5.0])
  assert red.peak_threshold(tied, red.ReductionParams()) == pytest.approx(
      7.0 * 4.0 * np.std(tied))


def test_single_latent_picks_planted_middle_interval(rng):
  codes, ids = _clusters(rng, [-2, 0, 2], [500, 1500, 1000],
                         [0.01, 0.01, 0.05])
  r = red.reduce_labels(codes)
  lat = r.latents[0]
  np.testing.assert_array_equal(lat.peaks, [499, 1999])
  assert not lat.edges_added
  assert lat.trim == len(codes) // 15
  assert len(r.candidates) == 1  # between the two peaks only
  np.testing.assert_array_equal(r.candidates[0].indices,
                                np.flatnonzero(ids == 1))
  # Diagnostics for the report are consistent.
  np.testing.assert_allclose(lat.sorted_codes, np.sort(codes))
  assert lat.delta.shape == (len(codes) - 1,)
  assert lat.threshold < lat.peak_heights.min()


def test_single_latent_ranks_by_wall_over_mean_delta(rng):
  # Two inner plateaus: the tighter one (smaller mean Δ) ranks first.
  codes, ids = _clusters(rng, [0, 1, 2, 3], [1000] * 4,
                         [0.01, 0.05, 0.002, 0.01])
  r = red.reduce_labels(codes)
  assert len(r.candidates) == 2
  np.testing.assert_array_equal(r.candidates[0].indices,
                                np.flatnonzero(ids == 2))
  np.testing.assert_array_equal(r.candidates[1].indices,
                                np.flatnonzero(ids == 1))
  assert r.candidates[0].ratio > r.candidates[1].ratio
  iv = r.latents[0].intervals[0]
  inside = r.latents[0].delta[iv.start:iv.stop - 1]
  assert iv.ratio == pytest.approx(
      min(iv.left_height, iv.right_height) / inside.mean())


def test_one_peak_gives_the_two_halves(rng):
  codes, ids = _clusters(rng, [0, 1], [1200, 800], [0.03, 0.005])
  r = red.reduce_labels(codes)
  assert len(r.latents[0].peaks) == 1 and r.latents[0].edges_added
  assert len(r.candidates) == 2
  # The tight half has the higher ratio (both walls: edge 1 vs the jump).
  np.testing.assert_array_equal(r.candidates[0].indices,
                                np.flatnonzero(ids == 1))
  np.testing.assert_array_equal(r.candidates[1].indices,
                                np.flatnonzero(ids == 0))


@pytest.mark.parametrize("codes", [
    np.random.RandomState(1).uniform(size=3000),
    np.random.RandomState(2).normal(size=3000),
    np.zeros(100)])
def test_zero_peaks_no_candidate(codes):
  r = red.reduce_labels(codes)
  assert r.candidates == [] and r.reason == "no_peak"
  assert len(r.latents[0].peaks) == 0


SIZES = np.array([[600, 300, 5], [400, 900, 200], [250, 450, 895]])


@pytest.fixture(scope="module")
def grid_codes():
  """Two latents, 3 plateaus each; cell (a, b) has SIZES[a, b] rows."""
  rs = np.random.RandomState(0)
  noise_a, noise_b = [0.01, 0.002, 0.03], [0.02, 0.005, 0.001]
  a_codes, b_codes, cells = [], [], []
  for a in range(3):
    for b in range(3):
      n = SIZES[a, b]
      a_codes.append(a + rs.normal(0, noise_a[a], n))
      b_codes.append(b + rs.normal(0, noise_b[b], n))
      cells += [(a, b)] * n
  perm = rs.permutation(SIZES.sum())
  labels = np.stack([np.concatenate(a_codes), np.concatenate(b_codes)], 1)
  return labels[perm], np.array(cells)[perm]


def _cell(cells, candidate):
  got = {tuple(c) for c in cells[candidate.indices]}
  assert len(got) == 1, "a candidate must be exactly one planted cell"
  a, b = got.pop()
  np.testing.assert_array_equal(
      candidate.indices,
      np.flatnonzero((cells[:, 0] == a) & (cells[:, 1] == b)))
  return a, b


@pytest.mark.parametrize("rule,first", [
    # kept sizes 200 250 300 400 450 600 895 900: median 425; 400 and 450
    # tie at 25, the larger wins.
    ("median", (2, 1)),
    ("largest", (1, 1)),
    # Latent A's tightest plateau is a=1, latent B's is b=2: the weakest
    # link of (1, 2) is the strongest.
    ("best_ratio", (1, 2))])
def test_several_latents_intersections_and_rules(grid_codes, rule, first):
  labels, cells = grid_codes
  r = red.reduce_labels(labels, red.ReductionParams(rule=rule))
  assert all(lat.edges_added for lat in r.latents)   # 2 peaks each ≤ 3
  assert all(len(lat.intervals) == 3 for lat in r.latents)
  # 9 cells; the 5-row cell is not > 5 and is dropped.
  assert len(r.candidates) == 8
  got = [_cell(cells, c) for c in r.candidates]
  assert (0, 2) not in got
  assert got[0] == first
  sizes = [c.size for c in r.candidates]
  if rule == "largest":
    assert sizes == sorted(sizes, reverse=True)
  if rule == "median":
    dev = [abs(s - np.median(sizes)) for s in sizes]
    assert dev == sorted(dev)
  if rule == "best_ratio":
    ratios = [c.ratio for c in r.candidates]
    assert ratios == sorted(ratios, reverse=True)
    # Candidate ratio = min of its per-latent interval ratios.
    c = r.candidates[0]
    assert c.ratio == min(r.latents[j].intervals[k].ratio
                          for j, k in enumerate(c.intervals))


def test_min_intersection_size_parameter(grid_codes):
  labels, cells = grid_codes
  r = red.reduce_labels(labels, red.ReductionParams(min_subset_size=4))
  assert (0, 2) in [_cell(cells, c) for c in r.candidates]
  r = red.reduce_labels(labels, red.ReductionParams(min_subset_size=450))
  assert sorted(c.size for c in r.candidates) == [600, 895, 900]
  r = red.reduce_labels(labels, red.ReductionParams(min_subset_size=5000))
  assert r.candidates == [] and r.reason == "too_small"


def test_top_intervals_limits_combinations(grid_codes):
  labels, cells = grid_codes
  r = red.reduce_labels(labels, red.ReductionParams(top_intervals=1))
  # Only the best interval of each latent: A's a=1, B's b=2.
  assert [_cell(cells, c) for c in r.candidates] == [(1, 2)]


def test_latent_without_peak_does_not_restrict(rng):
  codes, ids = _clusters(rng, [-2, 0, 2], [500, 1500, 1000],
                         [0.01, 0.01, 0.05])
  flat = rng.uniform(size=len(codes))
  r = red.reduce_labels(np.stack([codes, flat], 1))
  assert len(r.latents[1].peaks) == 0 and len(r.latents[1].intervals) == 1
  np.testing.assert_array_equal(r.candidates[0].indices
                                if r.candidates[0].size == 1500 else
                                r.candidates[1].indices,
                                np.flatnonzero(ids == 1))
  assert sorted(c.size for c in r.candidates) == [500, 1000, 1500]


def test_diagnostics_arrays_and_summary(grid_codes):
  labels, _ = grid_codes
  r = red.reduce_labels(labels)
  arrays = r.diagnostics_arrays()
  assert int(arrays["num_latents"]) == 2
  assert arrays["latent_0_sorted_codes"].shape == (len(labels),)
  assert arrays["latent_1_intervals"].shape == (3, 2)
  assert len(arrays["chosen_intervals"]) == 2
  summary = r.summary()
  assert summary["num_candidates"] == 8 and summary["rule"] == "median"


def test_bad_input_errors():
  with pytest.raises(ValueError, match="rule"):
    red.ReductionParams(rule="biggest")
  with pytest.raises(ValueError, match="NaN"):
    red.reduce_labels(np.array([[0.0], [np.nan], [1.0]]))
  with pytest.raises(ValueError, match="active latent"):
    red.reduce_labels(np.zeros((10, 0)))


def test_edges_only_for_few_peaks_with_several_latents(rng):
  # Latent 0: 5 plateaus (4 peaks > 3): no edges, 3 inner intervals.
  # Latent 1: 3 plateaus (2 peaks): edges count, 3 intervals.
  a, a_ids = _clusters(rng, [0, 1, 2, 3, 4], [1200] * 5, [0.01] * 5)
  b_ids = rng.randint(0, 3, size=len(a))
  b = b_ids + rng.normal(0, 0.01, len(a))
  r = red.reduce_labels(np.stack([a, b], 1))
  lat_a, lat_b = r.latents
  assert len(lat_a.peaks) == 4 and not lat_a.edges_added
  assert len(lat_a.intervals) == 3
  assert len(lat_b.peaks) == 2 and lat_b.edges_added
  assert len(lat_b.intervals) == 3
  # Only inner plateaus of latent 0 appear in the intersections.
  seen = {int(a_ids[c.indices[0]]) for c in r.candidates}
  assert seen == {1, 2, 3}
  for c in r.candidates:
    assert len(np.unique(a_ids[c.indices])) == 1
    assert len(np.unique(b_ids[c.indices])) == 1
  assert len(r.candidates) == 9
  # A single latent with 4 peaks never gets edges either.
  single = red.reduce_labels(a)
  assert len(single.candidates) == 3 and not single.latents[0].edges_added
