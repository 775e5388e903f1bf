"""Dataset reduction of rPU-VAE (Estermann et al. 2020, Sec. 4.2 and Fig. 3).

After a metaEpoch the surrogate labels L (means of the active latents over the
rows of the current subset ``d``, in d's order) cut ``d`` down to a region
where the learned factors hardly vary, so that the next metaEpoch has to learn
new factors. The default is the authors' code (``RPUVAEExplorer.
reduce_dataset``, ``get_peak`` and ``find_nonempty_intersections`` of
besterma/robust_disentanglement), so that the same labels give the same
subset; spec ``pbt_rpu.md`` "Reduction", steps 1-9:

1. per latent j: ``order = argsort(L[:, j])`` (NumPy's default kind, on
   float64 as the authors), ``Δ`` = first differences of the sorted codes
   (length m = n − 1). Δ at position p is the jump between sorted rows p and
   p + 1;
2. ``e = m // 15``, ``g = m // 50``, ``T = Δ[e : m − e]`` (empty when e = 0:
   then there are no peaks);
3. ``h = median(T) + 7·σ`` with ``σ = std({t ∈ T : t < median(T) +
   4·std(T)})`` — the 4·std(T) only selects the values whose (population)
   std is taken, it is never added to the threshold;
4. peaks ``P = find_peaks(T, height=h, distance=g) + e``, heights
   ``H = Δ[P]``, interval means ``M_i = mean(Δ[P_i : P_{i+1}])`` (the
   authors' slice, which includes the left peak);
5. a latent with zero peaks stops the whole reduction (reason ``no_peak``);
6. one peak P₀: the candidates are the two halves, lower then upper, with
   ``M = [mean(Δ[:P₀]), mean(Δ[P₀:])]``. One active latent: at the first
   reduction of a leaf-run the x_peak-th half (x_peak ≤ 1), afterwards the
   half with the smaller M — on ties the *upper* one, as the authors'
   ``0 if M[0] < M[1] else 1`` (the spec's "first on ties" misreads it);
7. two or more peaks: with several active latents and at most 3 peaks the
   dataset edges become peaks of height 1 (``P = [0] + P + [m − 1]``,
   ``H = [1] + H + [1]``, ``M = [mean(Δ[:P₀])] + M + [mean(Δ[P_last:])]``).
   Interval i has ``v_i = min(H_i, H_{i+1}) / M_i``, ranked by
   ``argsort(v)[::-1]`` (NumPy's default argsort, reversed). One latent: the
   ranked intervals are the candidates. Several latents: the latent's
   candidate sets are its top ``min(5, |P| − 1)`` ranked intervals;
8. several latents: every combination of one candidate set per latent,
   latent 0's choice varying fastest, is intersected; intersections with
   more than 5 rows are kept in that enumeration order and sorted *stably* by
   ``|size − median size|`` (``rule="median"``; the paper's "as large as
   possible" is ``rule="largest"``: stably by size, descending). None kept →
   stop (reason ``no_intersection``);
9. the caller takes candidate ``x_peak`` at a leaf-run's first reduction and
   candidate 0 afterwards, and stops the leaf-run when it has fewer than
   ``min_dataset_size`` (10) rows (``tfdis.rpu.controller``).

So :func:`reduce_labels` returns the candidates in the order the authors pick
from; ``first_reduction`` matters only for a single latent with one peak
(both halves by position vs. the smaller-M half).

Row slices (``slices``). The authors slice the sorted rows of the interval
between peaks ``a < b`` as ``order[a : b]``, but Δ[a] is the jump *after*
sorted row a, so row a belongs to the cluster on the left and the interval
starts one row early; the right dataset edge ``m − 1`` drops the last two
sorted rows (except for the upper half of a one-peak latent when several
latents are active, which the authors slice to the end). ``slices=
"corrected"`` (default, a documented fix the spec allows) takes ``order[a + 1
: b + 1]``, starts the left edge at row 0 and ends the right edge at row n;
the chosen subset then differs from the authors' by at most two rows per
latent and nothing else: M, v, the ranking, which intersections are kept
(> 5 rows) and their order are computed on the authors' slices, only the
rows of the chosen sets are corrected. ``slices="authors"`` reproduces their
rows exactly.

Other departures, all documented and recorded by the controller:

* the authors call ``find_peaks(..., distance=0)`` for 16 ≤ n ≤ 50, which
  SciPy rejects; here ``g < 1`` means no distance constraint;
* where the authors' code raises an IndexError (x_peak beyond the
  candidates of a single latent; x_peak ≥ 2 with a one-peak latent among
  several) the reduction simply has too few candidates and the leaf-run ends;
* ``zero_peak_latent="unrestricted"`` (tfdis's earlier behaviour, an option):
  with several latents a latent without peaks offers all rows as its only
  candidate set (the reduction still stops when no latent has a peak).

Everything here is pure NumPy/SciPy; :class:`Reduction` keeps the
diagnostics the report plots (paper Fig. 3).
"""

from __future__ import annotations

import dataclasses
from typing import Dict, List, Optional, Tuple

import numpy as np
from scipy import signal

from tfdis.registry import check_choice

RULES = ("median", "largest")
SLICES = ("corrected", "authors")
ZERO_PEAK_LATENT = ("stop", "unrestricted")


@dataclasses.dataclass(frozen=True)
class ReductionParams:
  """Every constant of the reduction, defaults = the authors' code."""
  trim_denominator: int = 15          # e = m // 15 differences per end
  peak_distance_denominator: float = 50.0  # find_peaks distance g = m // 50
  median_sigma_factor: float = 7.0    # h = median(T) + 7·σ
  global_std_factor: float = 4.0      # σ over t < median(T) + 4·std(T)
  edge_peak_height: float = 1.0       # height of the dataset edges as peaks
  edge_max_peaks: int = 3             # edges count when a latent has ≤ 3
  top_intervals: int = 5              # candidate sets per latent
  min_subset_size: int = 5            # keep intersections with > 5 rows
  rule: str = "median"                # order of the kept intersections
  slices: str = "corrected"           # corrected | authors (see module doc)
  zero_peak_latent: str = "stop"      # stop (authors) | unrestricted

  def __post_init__(self):
    def need(cond, msg):
      if not cond:
        raise ValueError(f"ReductionParams: {msg}")
    check_choice("intersection rule", self.rule, RULES, error=ValueError)
    check_choice("slices", self.slices, SLICES, error=ValueError)
    check_choice("zero_peak_latent", self.zero_peak_latent,
                 ZERO_PEAK_LATENT, error=ValueError)
    need(self.trim_denominator >= 2, "trim_denominator must be >= 2 (m // 15 "
         f"per end by default), got {self.trim_denominator}")
    need(self.peak_distance_denominator > 0, "peak_distance_denominator must "
         f"be > 0, got {self.peak_distance_denominator}")
    need(self.top_intervals >= 1,
         f"top_intervals must be >= 1, got {self.top_intervals}")
    need(self.min_subset_size >= 0,
         f"min_subset_size must be >= 0, got {self.min_subset_size}")
    need(self.edge_max_peaks >= 1,
         f"edge_max_peaks must be >= 1, got {self.edge_max_peaks}")
    need(self.median_sigma_factor >= 0 and self.global_std_factor >= 0,
         "threshold factors must be >= 0")

  @classmethod
  def from_config(cls, config) -> "ReductionParams":
    """The params of a config holding them as fields (``RPUConfig``: the
    same names, except :data:`CONFIG_NAMES`)."""
    return cls(**{f.name: getattr(config, CONFIG_NAMES.get(f.name, f.name))
                  for f in dataclasses.fields(cls)})


# RPUConfig's names (its flags) of the ReductionParams fields named
# differently there.
CONFIG_NAMES = {"min_subset_size": "min_intersection_size",
                "rule": "intersection_rule", "slices": "reduction_slices"}


@dataclasses.dataclass
class Interval:
  """A candidate set of one latent: sorted positions ``[start, stop)``."""
  start: int                  # rows taken (``slices``)
  stop: int
  authors_start: int          # the authors' slice (decides the choice)
  authors_stop: int
  left_height: float
  right_height: float
  mean_delta: float           # M of the authors' slice
  ratio: Optional[float]      # v = min(walls) / M (None for one-peak halves)
  low: float                  # smallest code inside (NaN if empty)
  high: float                 # largest code inside (NaN if empty)

  @property
  def size(self) -> int:
    return self.stop - self.start

  def to_dict(self) -> Dict:
    d = dataclasses.asdict(self)
    d["size"] = self.size
    return d


@dataclasses.dataclass
class LatentReduction:
  """Diagnostics of one active latent (what paper Fig. 3 shows)."""
  latent: int                 # column of the label matrix (not the z index)
  order: np.ndarray           # argsort of the codes (positions -> rows of d)
  sorted_codes: np.ndarray    # [n]
  delta: np.ndarray           # [m = n - 1]
  trim: int                   # e
  distance: int               # g
  threshold: float            # h (NaN when T is empty or constant)
  peaks: np.ndarray           # positions in delta of the real peaks
  peak_heights: np.ndarray
  edges_added: bool
  intervals: List[Interval]   # this latent's candidate sets, in pick order

  def summary(self) -> Dict:
    return {
        "latent": self.latent, "trim": self.trim, "distance": self.distance,
        "threshold": float(self.threshold),
        "peaks": [int(p) for p in self.peaks],
        "peak_heights": [float(h) for h in self.peak_heights],
        "edges_added": bool(self.edges_added),
        "intervals": [iv.to_dict() for iv in self.intervals],
    }


@dataclasses.dataclass
class Candidate:
  """A candidate reduced subset: ``indices`` are sorted rows of ``d``."""
  indices: np.ndarray
  intervals: Tuple[int, ...]   # per latent: index into its ``intervals``

  @property
  def size(self) -> int:
    return int(len(self.indices))

  def summary(self) -> Dict:
    return {"size": self.size, "intervals": [int(i) for i in self.intervals]}


@dataclasses.dataclass
class Reduction:
  """Candidates in pick order plus per-latent diagnostics."""
  candidates: List[Candidate]
  latents: List[LatentReduction]
  params: ReductionParams
  num_rows: int
  first_reduction: bool
  reason: Optional[str] = None   # no_peak | no_intersection | None

  @property
  def rule(self) -> str:
    return self.params.rule

  def summary(self) -> Dict:
    return {
        "num_rows": self.num_rows, "rule": self.params.rule,
        "slices": self.params.slices,
        "zero_peak_latent": self.params.zero_peak_latent,
        "first_reduction": self.first_reduction, "reason": self.reason,
        "num_candidates": len(self.candidates),
        "candidates": [c.summary() for c in self.candidates[:20]],
        "latents": [lat.summary() for lat in self.latents],
    }

  def diagnostics_arrays(self) -> Dict[str, np.ndarray]:
    """Flat arrays for an npz (the report plots them)."""
    out: Dict[str, np.ndarray] = {}
    for j, lat in enumerate(self.latents):
      out[f"latent_{j}_sorted_codes"] = lat.sorted_codes.astype(np.float32)
      out[f"latent_{j}_delta"] = lat.delta.astype(np.float32)
      out[f"latent_{j}_peaks"] = lat.peaks.astype(np.int64)
      out[f"latent_{j}_threshold"] = np.float64(lat.threshold)
      out[f"latent_{j}_trim"] = np.int64(lat.trim)
      out[f"latent_{j}_intervals"] = np.array(
          [[iv.start, iv.stop] for iv in lat.intervals],
          dtype=np.int64).reshape(-1, 2)
      out[f"latent_{j}_ratios"] = np.array(
          [np.nan if iv.ratio is None else iv.ratio for iv in lat.intervals],
          dtype=np.float64)
    out["num_latents"] = np.int64(len(self.latents))
    if self.candidates:
      out["chosen_intervals"] = np.array(self.candidates[0].intervals,
                                         dtype=np.int64)
    return out


def peak_threshold(trimmed: np.ndarray, params: ReductionParams) -> float:
  """h = median(T) + 7·std(T[T < median(T) + 4·std(T)]) (step 3).

  NaN when T is empty (e = 0) or constant (nothing is selected): no peak.
  """
  trimmed = np.asarray(trimmed, dtype=np.float64)
  if trimmed.size == 0:
    return float("nan")
  median = float(np.median(trimmed))
  selected = trimmed[trimmed < median + params.global_std_factor *
                     float(np.std(trimmed))]
  if selected.size == 0:
    return float("nan")
  return median + params.median_sigma_factor * float(np.std(selected))


def find_code_peaks(delta: np.ndarray, params: ReductionParams
                    ) -> Tuple[np.ndarray, float, int, int]:
  """Steps 2-4: (peak positions in Δ, threshold h, trim e, distance g)."""
  m = len(delta)
  trim = m // params.trim_denominator
  distance = int(m // params.peak_distance_denominator)
  trimmed = delta[trim:m - trim]  # the authors' slice: empty when trim = 0
  threshold = peak_threshold(trimmed, params)
  if not np.isfinite(threshold):
    return np.zeros(0, np.int64), threshold, trim, distance
  # distance < 1 is rejected by SciPy (the authors' code fails there).
  peaks, _ = signal.find_peaks(trimmed, height=threshold,
                               distance=distance if distance >= 1 else None)
  return peaks.astype(np.int64) + trim, threshold, trim, distance


def _mean(values: np.ndarray) -> float:
  return float(np.mean(values)) if values.size else float("nan")


def _interval(bounds: Tuple[Tuple[int, int], Tuple[int, int]], slices: str,
              left: float, right: float, mean: float, ratio: Optional[float],
              sorted_codes: np.ndarray) -> Interval:
  """``bounds`` = ((authors' start, stop), (corrected start, stop))."""
  (a_start, a_stop), (c_start, c_stop) = bounds
  start, stop = (a_start, a_stop) if slices == "authors" else (c_start, c_stop)
  inside = sorted_codes[start:stop]
  return Interval(
      start=int(start), stop=int(stop), authors_start=int(a_start),
      authors_stop=int(a_stop), left_height=float(left),
      right_height=float(right), mean_delta=float(mean),
      ratio=None if ratio is None else float(ratio),
      low=float(inside[0]) if inside.size else float("nan"),
      high=float(inside[-1]) if inside.size else float("nan"))


def _bounds(a: int, a_kind: str, b: int, b_kind: str, n: int
            ) -> Tuple[Tuple[int, int], Tuple[int, int]]:
  """Sorted positions of the rows between walls a < b: the authors'
  ``order[a : b]`` and the corrected slice (see module doc).

  Kinds: 'left_edge' (0), 'right_edge' (the authors' m − 1) or 'peak'.
  """
  def corrected(p, kind):
    return {"left_edge": 0, "right_edge": n}.get(kind, p + 1)
  return (a, b), (corrected(a, a_kind), corrected(b, b_kind))


def latent_candidates(codes: np.ndarray, params: ReductionParams,
                      several_latents: bool, first_reduction: bool,
                      latent: int = 0) -> LatentReduction:
  """Steps 1-7 for one latent: its peaks and candidate sets in pick order.

  With one latent and ≥ 2 peaks the sets are all ranked intervals; with one
  latent and one peak [lower, upper] at the first reduction, else only the
  smaller-M half; with several latents the top ``top_intervals`` ranked sets
  (one peak: [lower, upper]). No peak: no set (``unrestricted``: all rows).
  """
  codes = np.asarray(codes, dtype=np.float64).reshape(-1)
  n = codes.size
  order = np.argsort(codes)  # the authors' default (non-stable) kind
  sorted_codes = codes[order]
  delta = sorted_codes[1:] - sorted_codes[:-1]
  m = len(delta)
  peaks, threshold, trim, distance = find_code_peaks(delta, params)
  heights = delta[peaks].astype(np.float64)
  lat = LatentReduction(
      latent=latent, order=order, sorted_codes=sorted_codes, delta=delta,
      trim=trim, distance=distance, threshold=threshold, peaks=peaks,
      peak_heights=heights, edges_added=False, intervals=[])
  slices = params.slices

  if len(peaks) == 0:
    if several_latents and params.zero_peak_latent == "unrestricted":
      lat.intervals = [_interval(((0, n), (0, n)), slices, np.nan, np.nan,
                                 _mean(delta), None, sorted_codes)]
    return lat

  if len(peaks) == 1:
    p0 = int(peaks[0])
    # The authors slice the upper half to m − 1 for one latent, to the end
    # for several.
    upper_end = ((n, "right_edge") if several_latents else
                 (m - 1, "right_edge"))
    lower = _interval(_bounds(0, "left_edge", p0, "peak", n), slices,
                      params.edge_peak_height, heights[0], _mean(delta[:p0]),
                      None, sorted_codes)
    upper = _interval(_bounds(p0, "peak", *upper_end, n), slices, heights[0],
                      params.edge_peak_height, _mean(delta[p0:]), None,
                      sorted_codes)
    lat.edges_added = True
    if several_latents or first_reduction:
      lat.intervals = [lower, upper]
    else:
      # Authors: ``0 if M[0] < M[1] else 1`` (ties -> the upper half).
      lat.intervals = [lower if lower.mean_delta < upper.mean_delta
                       else upper]
    return lat

  walls = [int(p) for p in peaks]
  kinds = ["peak"] * len(walls)
  wall_heights = [float(h) for h in heights]
  means = [_mean(delta[a:b]) for a, b in zip(walls[:-1], walls[1:])]
  if several_latents and len(peaks) <= params.edge_max_peaks:
    means = [_mean(delta[:walls[0]])] + means + [_mean(delta[walls[-1]:])]
    walls = [0] + walls + [m - 1]
    kinds = ["left_edge"] + kinds + ["right_edge"]
    wall_heights = ([params.edge_peak_height] + wall_heights +
                    [params.edge_peak_height])
    lat.edges_added = True
  with np.errstate(divide="ignore", invalid="ignore"):
    ratios = (np.minimum(wall_heights[:-1], wall_heights[1:]) /
              np.asarray(means, dtype=np.float64))
  ranking = np.argsort(ratios)[::-1]  # the authors' get_peak
  if several_latents:
    ranking = ranking[:min(params.top_intervals, len(walls) - 1)]
  for i in ranking:
    lat.intervals.append(_interval(
        _bounds(walls[i], kinds[i], walls[i + 1], kinds[i + 1], n), slices,
        wall_heights[i], wall_heights[i + 1], means[i], ratios[i],
        sorted_codes))
  return lat


def _membership(lat: LatentReduction, n: int, authors: bool) -> np.ndarray:
  """Per row of d: index of the candidate set holding it, or -1.

  A latent's sets are disjoint runs of its sorted order, so a row lies in at
  most one of them. ``authors``: the authors' slices, else the rows taken.
  """
  position = np.empty(n, dtype=np.int64)
  position[lat.order] = np.arange(n)
  member = np.full(n, -1, dtype=np.int64)
  for index, iv in enumerate(lat.intervals):
    start, stop = ((iv.authors_start, iv.authors_stop) if authors
                   else (iv.start, iv.stop))
    member[(position >= start) & (position < stop)] = index
  return member


def _numbers(latents: List[LatentReduction], n: int, authors: bool,
             weights: np.ndarray) -> np.ndarray:
  """Enumeration number of each row's combination (-1: in none)."""
  members = np.stack([_membership(lat, n, authors) for lat in latents], 1)
  return np.where((members >= 0).all(axis=1), members @ weights, -1)


def _intersections(latents: List[LatentReduction], n: int,
                   params: ReductionParams) -> List[Candidate]:
  """Step 8: kept intersections in the authors' order.

  The combination (c_0, …, c_{k−1}) has enumeration number Σ_j c_j·Π_{i<j}
  R_i (R_i = sets of latent i): latent 0 varies fastest, as the authors'
  ``product`` over the reversed latents. Each row falls in exactly one
  combination, so grouping rows by that number gives every intersection at
  once (O(n·k) instead of Π R_i set intersections); ascending numbers are
  the enumeration order. Which combinations are kept and their order come
  from the authors' slices; a candidate's rows from ``params.slices``.
  """
  radices = [len(lat.intervals) for lat in latents]
  weights = np.concatenate([[1], np.cumprod(radices[:-1])]).astype(np.int64)
  numbers = _numbers(latents, n, True, weights)
  rows_numbers = (numbers if params.slices == "authors" else
                  _numbers(latents, n, False, weights))
  combos, counts = np.unique(numbers[numbers >= 0], return_counts=True)
  kept = combos[counts > params.min_subset_size]
  sizes = counts[counts > params.min_subset_size].astype(np.float64)
  if not len(kept):
    return []
  if params.rule == "median":
    order = np.argsort(np.abs(sizes - np.median(sizes)), kind="stable")
  else:  # largest
    order = np.argsort(-sizes, kind="stable")
  candidates = []
  for number in kept[order]:
    rows = np.flatnonzero(rows_numbers == number)  # ascending rows of d
    combo = tuple(int(number // w % r) for w, r in zip(weights, radices))
    candidates.append(Candidate(indices=rows, intervals=combo))
  return candidates


def reduce_labels(labels: np.ndarray,
                  params: Optional[ReductionParams] = None,
                  first_reduction: bool = False) -> Reduction:
  """Candidate subsets of ``d`` from its surrogate labels, in pick order.

  Args:
    labels: float [n, k] means of the k active latents over the rows of d.
    params: the constants (defaults: the authors').
    first_reduction: True for the first reduction of a leaf-run (the root
      metaEpoch's labels), whose candidate ``x_peak`` starts leaf-run
      x_peak + 1; False afterwards (candidate 0 is taken).

  Returns:
    A :class:`Reduction`; ``candidates[i].indices`` index rows of ``labels``
    (map them through d's original indices). No candidate comes with a
    ``reason``: 'no_peak' (a latent without peaks, step 5) or
    'no_intersection' (no intersection with more than 5 rows, step 8).
  """
  params = params or ReductionParams()
  labels = np.asarray(labels, dtype=np.float64)
  if labels.ndim == 1:
    labels = labels[:, None]
  if labels.ndim != 2 or labels.shape[1] == 0:
    raise ValueError(
        f"labels must be [num_rows, num_active_latents] with at least one "
        f"active latent, got shape {labels.shape}")
  if not np.all(np.isfinite(labels)):
    raise ValueError("labels contain NaN/Inf; the encoder diverged — check "
                     "the metaEpoch's best model before reducing.")
  n, k = labels.shape
  several = k > 1
  latents = [latent_candidates(labels[:, j], params, several, first_reduction,
                               latent=j) for j in range(k)]

  def result(candidates, reason=None):
    return Reduction(candidates, latents, params, n, bool(first_reduction),
                     reason=None if candidates else reason)

  no_peak = [len(lat.peaks) == 0 for lat in latents]
  if all(no_peak) or (any(no_peak) and params.zero_peak_latent == "stop"):
    return result([], "no_peak")
  if not several:
    lat = latents[0]
    return result([Candidate(indices=np.sort(lat.order[iv.start:iv.stop]),
                             intervals=(i,))
                   for i, iv in enumerate(lat.intervals)], "no_peak")
  return result(_intersections(latents, n, params), "no_intersection")
