"""rPU-VAE dataset reduction (spec pbt_rpu.md "Reduction", steps 1-9).

Every expected value is derived by hand in the comments from constructed
first differences Δ (codes = cumulative sums of Δ, so every Δ is exact).
"""

import numpy as np
import pytest

from tfdis.rpu import reduction as red

AUTHORS = red.ReductionParams(slices="authors")
CORRECTED = red.ReductionParams()


def _codes(delta, rows=None):
  """Codes whose sorted first differences are ``delta``; ``rows[r]`` = the
  sorted position of row r (default: row r is the r-th smallest)."""
  sorted_codes = np.concatenate([[0.0], np.cumsum(delta)])
  rows = np.arange(len(sorted_codes)) if rows is None else rows
  return sorted_codes[rows]


def _spikes(m, spikes):
  """Δ of length m: ones with ``spikes`` {position: height}."""
  delta = np.ones(m)
  for p, h in spikes.items():
    delta[p] = h
  return delta


def test_threshold_on_constructed_delta():
  # T = ten 0s, ten 2s and one 100: median 2, std(T) = 21.1, so the
  # selection t < 2 + 4·21.1 = 86.4 drops the 100 and σ = std(0s and 2s) = 1:
  # h = 2 + 7·1 = 9 (the earlier reading, 2 + 7·(std + 4·std(T)), was ~600).
  t = np.array([0.0, 2.0] * 5 + [100.0] + [0.0, 2.0] * 5)
  assert red.peak_threshold(t, CORRECTED) == pytest.approx(9.0)
  # Constant or empty T selects nothing: no threshold, no peak.
  assert np.isnan(red.peak_threshold(np.ones(5), CORRECTED))
  assert np.isnan(red.peak_threshold(np.zeros(0), CORRECTED))
  # Through steps 2-4: m = 25 -> e = 1, g = 0; T = Δ[1:24] is t plus one 2
  # at each end (median 2, σ = std of ten 0s and twelve 2s = 0.9959).
  delta = np.concatenate([[2.0], t, [2.0, 2.0, 2.0]])
  peaks, h, trim, distance = red.find_code_peaks(delta, CORRECTED)
  assert (trim, distance) == (1, 0)
  assert h == pytest.approx(2 + 7 * 2 * np.sqrt(10 / 22 * 12 / 22))
  np.testing.assert_array_equal(peaks, [11])


def test_thirty_two_clusters_have_peaks():
  # An x-position-like latent: 32 clusters of 72 rows (2,304 rows; the
  # earlier threshold found no peak here). The 31 jumps sit at sorted
  # positions 71 + 72k; e = 2303 // 15 = 153 trims 71, 143, 2159 and 2231,
  # so the other 27 are the peaks.
  rs = np.random.RandomState(0)
  codes = np.repeat(np.linspace(-2, 2, 32), 72) + rs.normal(0, 0.01, 2304)
  lat = red.reduce_labels(codes).latents[0]
  np.testing.assert_array_equal(lat.peaks, 71 + 72 * np.arange(2, 29))


# One peak: m = 30 (n = 31), e = 2, g = 0. Δ = ten 1s, 50 at position 10,
# nineteen 2s. T = Δ[2:28] = eight 1s, 50, seventeen 2s: median 2, the 50 is
# above 2 + 4·std(T) = 39.2, σ = std(eight 1s, seventeen 2s) = sqrt(.32·.68)
# and h = 2 + 7·0.4665 = 5.27: only the 50 is a peak, P0 = 10.
# M = [mean(Δ[:10]), mean(Δ[10:])] = [1, (50 + 38) / 20 = 4.4].
ONE_PEAK = np.array([1.0] * 10 + [50.0] + [2.0] * 19)


@pytest.mark.parametrize("params,lower,upper", [
    # The authors: order[0:10] and order[10:29] (m − 1 = 29).
    (AUTHORS, range(0, 10), range(10, 29)),
    # Corrected: Δ[10] is the jump after sorted row 10: rows 0-10 | 11-30.
    (CORRECTED, range(0, 11), range(11, 31))])
def test_one_peak_halves(params, lower, upper):
  rows = np.random.RandomState(1).permutation(31)   # row r has rank rows[r]
  codes = _codes(ONE_PEAK, rows)
  to_rows = np.argsort(rows)                        # rank -> row
  first = red.reduce_labels(codes, params, first_reduction=True)
  lat = first.latents[0]
  np.testing.assert_array_equal(lat.peaks, [10])
  assert lat.threshold == pytest.approx(2 + 7 * np.sqrt(0.32 * 0.68))
  assert [iv.mean_delta for iv in lat.intervals] == pytest.approx([1.0, 4.4])
  # First reduction of a leaf-run: [lower, upper] by position (x_peak 0, 1).
  assert len(first.candidates) == 2
  np.testing.assert_array_equal(first.candidates[0].indices,
                                np.sort(to_rows[list(lower)]))
  np.testing.assert_array_equal(first.candidates[1].indices,
                                np.sort(to_rows[list(upper)]))
  # Afterwards: the half with the smaller M, the lower one (1 < 4.4).
  later = red.reduce_labels(codes, params)
  assert len(later.candidates) == 1
  np.testing.assert_array_equal(later.candidates[0].indices,
                                np.sort(to_rows[list(lower)]))


def test_one_peak_tie_takes_the_upper_half():
  # Δ = ten 3.5s, 51, nineteen 1s: P0 = 10 (h = 1 + 7·2.5·0.4665 = 9.16) and
  # M = [3.5, (51 + 19) / 20 = 3.5]. The authors' ``0 if M0 < M1 else 1``
  # takes the upper half on a tie.
  delta = np.array([3.5] * 10 + [51.0] + [1.0] * 19)
  r = red.reduce_labels(_codes(delta), AUTHORS)
  np.testing.assert_array_equal(r.latents[0].peaks, [10])
  np.testing.assert_array_equal(r.candidates[0].indices, np.arange(10, 29))


def test_single_latent_ranks_intervals_between_peaks():
  # m = 300: e = 20, g = 6. Ones with 100 at 60, 150 and 200: the spikes lie
  # above median + 4·std(T) = 1 + 42.3, σ = std(ones) = 0, h = 1 and the three
  # spikes are the peaks. One latent: no edges, intervals [60, 150) with
  # M = (100 + 89) / 90 = 2.1, v = 47.6 and [150, 200) with M = 149 / 50 =
  # 2.98, v = 33.6.
  codes = _codes(_spikes(300, {60: 100.0, 150: 100.0, 200: 100.0}))
  r = red.reduce_labels(codes, AUTHORS, first_reduction=True)
  lat = r.latents[0]
  np.testing.assert_array_equal(lat.peaks, [60, 150, 200])
  assert not lat.edges_added and lat.threshold == pytest.approx(1.0)
  assert [iv.ratio for iv in lat.intervals] == pytest.approx(
      [100 / 2.1, 100 / 2.98])
  np.testing.assert_array_equal(r.candidates[0].indices, np.arange(60, 150))
  np.testing.assert_array_equal(r.candidates[1].indices, np.arange(150, 200))
  corrected = red.reduce_labels(codes, CORRECTED)
  np.testing.assert_array_equal(corrected.candidates[0].indices,
                                np.arange(61, 151))


# Two latents on n = 301 rows, both ranked as their row index (row r is the
# r-th smallest code of both), shuffled by PERM.
# A: ones with 100 at 100 and 80 at 200 -> P = [100, 200] (h = 1). Two peaks
#    with several latents: edges, P = [0, 100, 200, 299], H = [1, 100, 80, 1],
#    M = [mean(Δ[:100]) = 1, (100 + 99)/100 = 1.99, mean(Δ[200:]) = 1.79],
#    v = [1, 80/1.99 = 40.2, 1/1.79 = 0.559] -> ranking [1, 0, 2].
# B: ones with 100 at 150 -> one peak, halves order[:150], order[150:].
DELTA_A = _spikes(300, {100: 100.0, 200: 80.0})
DELTA_B = _spikes(300, {150: 100.0})
PERM = np.random.RandomState(2).permutation(301)


def _shuffled(*columns):
  return np.stack(columns, 1)[PERM]


def _rows(original):
  """Rows of the shuffled labels that hold the given original rows."""
  return np.sort(np.argsort(PERM)[list(original)])


def test_edge_peaks_with_several_latents():
  labels = _shuffled(_codes(DELTA_A), _codes(DELTA_B))
  r = red.reduce_labels(labels, AUTHORS)
  a, b = r.latents
  np.testing.assert_array_equal(a.peaks, [100, 200])
  assert a.edges_added
  assert [iv.ratio for iv in a.intervals] == pytest.approx(
      [80 / 1.99, 1.0, 1 / 1.79])
  assert [iv.mean_delta for iv in a.intervals] == pytest.approx(
      [1.99, 1.0, 1.79])
  assert [(iv.left_height, iv.right_height) for iv in a.intervals] == [
      (100, 80), (1, 100), (80, 1)]
  # The authors' rows: [100, 200), [0, 100), [200, 299); B: [0, 150),
  # [150, 301). Enumeration (A fastest) and intersection sizes:
  # (0,0) 50, (1,0) 100, (2,0) 0, (0,1) 50, (1,1) 0, (2,1) 99. Kept: 50, 100,
  # 50, 99 with median 74.5 and |size − 74.5| = 24.5, 25.5, 24.5, 24.5; the
  # stable sort gives (0,0), (0,1), (2,1), (1,0).
  assert [c.intervals for c in r.candidates] == [(0, 0), (0, 1), (2, 1),
                                                 (1, 0)]
  expected = [range(100, 150), range(150, 200), range(200, 299),
              range(0, 100)]
  for c, rows in zip(r.candidates, expected):
    np.testing.assert_array_equal(c.indices, _rows(rows))
  # Corrected rows: A [101, 201), [0, 101), [201, 301); B [0, 151),
  # [151, 301); the choice and order stay the authors'.
  c = red.reduce_labels(labels, CORRECTED)
  assert [x.intervals for x in c.candidates] == [x.intervals
                                                 for x in r.candidates]
  expected = [range(101, 151), range(151, 201), range(201, 301),
              range(0, 101)]
  for x, rows in zip(c.candidates, expected):
    np.testing.assert_array_equal(x.indices, _rows(rows))
  # The paper's "as large as possible": 100, 99, 50, 50 (stable on ties).
  big = red.reduce_labels(labels, red.ReductionParams(rule="largest",
                                                      slices="authors"))
  assert [x.intervals for x in big.candidates] == [(1, 0), (2, 1), (0, 0),
                                                   (0, 1)]


def test_more_than_three_peaks_get_no_edges():
  # Four spikes: the intervals lie between them only, even with 2 latents.
  delta = _spikes(300, {60: 100.0, 120: 100.0, 180: 100.0, 240: 100.0})
  r = red.reduce_labels(_shuffled(_codes(delta), _codes(DELTA_B)), AUTHORS)
  assert not r.latents[0].edges_added and len(r.latents[0].intervals) == 3


def test_a_latent_without_peaks_stops_the_reduction():
  # Latent B's codes are evenly spaced: T is constant, nothing is selected
  # for σ, no peak -> the whole reduction stops although A has peaks.
  flat = np.arange(301.0)
  labels = _shuffled(_codes(DELTA_A), flat)
  r = red.reduce_labels(labels, AUTHORS)
  assert r.candidates == [] and r.reason == "no_peak"
  assert len(r.latents[1].peaks) == 0 and len(r.latents[0].peaks) == 2
  # tfdis's earlier behaviour as an option: B does not restrict; the
  # candidates are A's intervals (sizes 100, 100, 99 in rank order, median
  # 100): (0,0), (1,0), then (2,0).
  free = red.reduce_labels(labels, red.ReductionParams(
      slices="authors", zero_peak_latent="unrestricted"))
  assert [c.intervals for c in free.candidates] == [(0, 0), (1, 0), (2, 0)]
  np.testing.assert_array_equal(free.candidates[0].indices,
                                _rows(range(100, 200)))
  # A single latent without peaks, and too few rows (e = 0), stop as well.
  assert red.reduce_labels(flat).reason == "no_peak"
  assert red.reduce_labels(_codes(ONE_PEAK[:14])).reason == "no_peak"


def _latent(order, sets):
  """A LatentReduction whose candidate sets are sorted-position ranges."""
  n = len(order)
  intervals = [red.Interval(a, b, a, b, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0)
               for a, b in sets]
  return red.LatentReduction(
      latent=0, order=np.asarray(order), sorted_codes=np.arange(n, dtype=float),
      delta=np.ones(n - 1), trim=1, distance=1, threshold=1.0,
      peaks=np.array([1]), peak_heights=np.array([1.0]), edges_added=False,
      intervals=intervals)


def test_enumeration_order_and_stable_sort_with_tied_sizes():
  # 60 rows. Latent 0 (identity order): sets A0 = rows 0-19, A1 = 20-39,
  # A2 = 40-59. Latent 1: B0 = rows 0-7, 20-27, 40-53 (its 30 smallest),
  # B1 = the other 30. Enumeration, latent 0 fastest, and sizes:
  # (0,0) 8, (1,0) 8, (2,0) 14, (0,1) 12, (1,1) 12, (2,1) 6 — all > 5.
  # Median 10, |size − 10| = 2, 2, 4, 2, 2, 4; the stable sort keeps the
  # enumeration order among ties: (0,0), (1,0), (0,1), (1,1), (2,0), (2,1).
  # (Latent 1 fastest would give (0,0), (0,1), (1,0), (1,1), ...)
  b0 = list(range(0, 8)) + list(range(20, 28)) + list(range(40, 54))
  order_b = b0 + [r for r in range(60) if r not in b0]
  latents = [_latent(np.arange(60), [(0, 20), (20, 40), (40, 60)]),
             _latent(order_b, [(0, 30), (30, 60)])]
  got = red._intersections(latents, 60, AUTHORS)
  assert [c.intervals for c in got] == [(0, 0), (1, 0), (0, 1), (1, 1),
                                        (2, 0), (2, 1)]
  assert [c.size for c in got] == [8, 8, 12, 12, 14, 6]
  np.testing.assert_array_equal(got[0].indices, np.arange(8))
  np.testing.assert_array_equal(got[1].indices, np.arange(20, 28))
  # Only intersections with more than min_subset_size rows are kept: with 6
  # the 6-row one goes, the median becomes 12 and the order is by |Δ12|.
  got = red._intersections(latents, 60, red.ReductionParams(
      slices="authors", min_subset_size=6))
  assert [c.intervals for c in got] == [(0, 1), (1, 1), (2, 0), (0, 0),
                                        (1, 0)]
  # None kept -> no candidate.
  r = red.ReductionParams(slices="authors", min_subset_size=14)
  assert red._intersections(latents, 60, r) == []


def test_diagnostics_arrays_and_summary():
  r = red.reduce_labels(_shuffled(_codes(DELTA_A), _codes(DELTA_B)))
  arrays = r.diagnostics_arrays()
  assert int(arrays["num_latents"]) == 2
  assert arrays["latent_0_sorted_codes"].shape == (301,)
  np.testing.assert_array_equal(arrays["latent_0_intervals"],
                                [[101, 201], [0, 101], [201, 301]])
  assert len(arrays["chosen_intervals"]) == 2
  summary = r.summary()
  assert summary["num_candidates"] == 4 and summary["rule"] == "median"
  assert summary["slices"] == "corrected"


def test_bad_input_errors():
  with pytest.raises(ValueError, match="rule"):
    red.ReductionParams(rule="biggest")
  with pytest.raises(ValueError, match="slices"):
    red.ReductionParams(slices="shifted")
  with pytest.raises(ValueError, match="zero_peak_latent"):
    red.ReductionParams(zero_peak_latent="ignore")
  with pytest.raises(ValueError, match="NaN"):
    red.reduce_labels(np.array([[0.0], [np.nan], [1.0]]))
  with pytest.raises(ValueError, match="active latent"):
    red.reduce_labels(np.zeros((10, 0)))
