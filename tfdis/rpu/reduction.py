"""Dataset reduction of rPU-VAE (Estermann et al. 2020, Sec. 4.2 and Fig. 3).

After a metaEpoch the surrogate labels (means of the active latents over the
current subset ``d``) are used to cut ``d`` down to a region where the learned
factors hardly vary, so that the next metaEpoch has to learn new factors.

Per active latent (spec ``pbt_rpu.md``, "Reduction"):

1. sort the codes; first differences ``Δ`` (length ``n - 1``): a large ``Δ``
   is a jump between two clusters of the code, i.e. a change of the factor;
2. trim ``n // 15`` differences from each end (the tails of a code
   distribution always have large gaps that are not factor changes);
3. threshold = ``median(Δ) + 7·σ`` with
   ``σ = std(Δ[Δ < median(Δ)]) + 4·std(Δ)``.
   *Our reading of the spec*: literally as written, i.e. the ``4·std(Δ)``
   term is part of ``σ`` and is therefore multiplied by 7 as well; median and
   both standard deviations are taken over the *trimmed* ``Δ``. The other
   possible reading, ``median + 7·std_below + 4·std(Δ)``, is
   ``global_std_factor=4/7``. With no ``Δ`` strictly below the median
   (more than half of the gaps tied at their minimum) ``std_below = 0``;
4. peaks = ``scipy.signal.find_peaks(Δ_trimmed, height=threshold,
   distance=n/50)`` (positions mapped back to the untrimmed ``Δ``);
5. candidate intervals lie between consecutive peaks. A peak at ``Δ``
   position ``p`` is the jump between sorted elements ``p`` and ``p + 1``, so
   the interval between peaks ``a < b`` holds sorted elements ``a+1 … b``.
   The dataset edges count as peaks of height ``edge_peak_height`` (1, the
   authors' value, in code units) when several latents are active and this
   latent has at most 3 peaks, and always when a latent has exactly one peak
   (then "the two halves are the candidates"). Zero peaks give no interval.
6. rank intervals by ``min(left peak, right peak) / mean(Δ inside)``, higher
   is better (a deep valley between two high walls); a zero mean (all codes
   inside identical) ranks as +inf.

With one active latent the ranked intervals (that keep more than
``min_subset_size`` elements) are the candidates. With several active
latents the top ``top_intervals`` (5) intervals of every latent are
intersected in every combination; intervals of one latent are disjoint, so
every element belongs to at most one combination and all non-empty
intersections come from grouping the elements by their tuple of interval ids
(O(n·k) instead of 5^k set intersections). Intersections with more than
``min_subset_size`` (5) elements are kept and ordered by ``rule``:

* ``median`` (default, the authors' code): ``|size − median size|``
  ascending (median over the kept intersections);
* ``largest`` (the paper's "as large as possible"): size descending;
* ``best_ratio``: the weakest chosen interval's ratio descending.

Ties break on larger size, then higher ratio, then the interval ids.

Extension (documented): with several latents, a latent with zero peaks gets
the whole range as its only interval (the edge rule), i.e. it does not
restrict the subset; if *no* active latent has a peak there is no candidate
("zero peaks → the leaf-run ends").

Everything here is pure NumPy/SciPy; ``Reduction`` keeps the diagnostics the
report plots (paper Fig. 3).
"""

from __future__ import annotations

import dataclasses
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from scipy import signal

RULES = ("median", "largest", "best_ratio")


@dataclasses.dataclass(frozen=True)
class ReductionParams:
  """Every threshold of the reduction, defaults from the spec."""
  trim_denominator: int = 15          # trim n // 15 differences at each end
  median_sigma_factor: float = 7.0    # threshold = median + 7 σ
  global_std_factor: float = 4.0      # σ = std(Δ < median) + 4 std(Δ)
  peak_distance_denominator: float = 50.0  # find_peaks distance = n / 50
  edge_peak_height: float = 1.0       # height of the dataset edges as peaks
  edge_max_peaks: int = 3             # edges count when a latent has ≤ 3
  top_intervals: int = 5              # per latent, for intersections
  min_subset_size: int = 5            # keep candidates with > 5 elements
  rule: str = "median"                # ordering of intersections

  def __post_init__(self):
    if self.rule not in RULES:
      raise ValueError(
          f"Unknown intersection rule {self.rule!r}; use one of {RULES}.")
    if self.trim_denominator < 2:
      raise ValueError("trim_denominator must be >= 2 (n // 15 per end by "
                       f"default), got {self.trim_denominator}")
    if self.peak_distance_denominator <= 0:
      raise ValueError("peak_distance_denominator must be > 0, got "
                       f"{self.peak_distance_denominator}")
    if self.top_intervals < 1:
      raise ValueError(f"top_intervals must be >= 1, got {self.top_intervals}")
    if self.min_subset_size < 0:
      raise ValueError(
          f"min_subset_size must be >= 0, got {self.min_subset_size}")
    if self.median_sigma_factor < 0 or self.global_std_factor < 0:
      raise ValueError("threshold factors must be >= 0")


@dataclasses.dataclass
class Interval:
  """A run of sorted positions ``[start, stop)`` between two peaks."""
  start: int
  stop: int
  left_height: float
  right_height: float
  mean_delta: float
  ratio: float
  low: float    # smallest code inside
  high: float   # largest code inside

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
  delta: np.ndarray           # [n - 1]
  trim: int
  threshold: float
  peaks: np.ndarray           # positions in delta of the real peaks
  peak_heights: np.ndarray
  edges_added: bool
  intervals: List[Interval]   # ranked by ratio, best first

  def summary(self) -> Dict:
    return {
        "latent": self.latent, "trim": self.trim,
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
  intervals: Tuple[int, ...]   # per latent: rank of the interval used
  ratio: float                 # min over latents of the interval ratios

  @property
  def size(self) -> int:
    return int(len(self.indices))

  def summary(self) -> Dict:
    return {"size": self.size, "intervals": [int(i) for i in self.intervals],
            "ratio": float(self.ratio)}


@dataclasses.dataclass
class Reduction:
  """Ranked candidates (best first) plus per-latent diagnostics."""
  candidates: List[Candidate]
  latents: List[LatentReduction]
  rule: str
  num_rows: int
  reason: Optional[str] = None   # why there is no candidate ('no_peak', ...)

  def summary(self) -> Dict:
    return {
        "num_rows": self.num_rows, "rule": self.rule, "reason": self.reason,
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
          [iv.ratio for iv in lat.intervals], dtype=np.float64)
    out["num_latents"] = np.int64(len(self.latents))
    if self.candidates:
      out["chosen_intervals"] = np.array(self.candidates[0].intervals,
                                         dtype=np.int64)
    return out


def peak_threshold(delta: np.ndarray, params: ReductionParams) -> float:
  """``median(Δ) + 7·(std(Δ[Δ < median]) + 4·std(Δ))`` (see module doc)."""
  delta = np.asarray(delta, dtype=np.float64)
  if delta.size == 0:
    return float("inf")
  median = float(np.median(delta))
  below = delta[delta < median]
  std_below = float(np.std(below)) if below.size else 0.0
  sigma = std_below + params.global_std_factor * float(np.std(delta))
  return median + params.median_sigma_factor * sigma


def find_code_peaks(delta: np.ndarray, n: int, params: ReductionParams
                    ) -> Tuple[np.ndarray, np.ndarray, float, int]:
  """Peaks of the trimmed ``Δ``: (positions in Δ, heights, threshold, trim)."""
  trim = n // params.trim_denominator
  trimmed = delta[trim:len(delta) - trim] if trim else delta
  if trimmed.size < 3:
    return (np.zeros(0, np.int64), np.zeros(0), float("inf"), trim)
  threshold = peak_threshold(trimmed, params)
  distance = max(1.0, n / params.peak_distance_denominator)
  peaks, _ = signal.find_peaks(trimmed, height=threshold, distance=distance)
  peaks = peaks.astype(np.int64) + trim
  return peaks, delta[peaks].astype(np.float64), threshold, trim


def _make_interval(a: int, b: int, ha: float, hb: float,
                   sorted_codes: np.ndarray, delta: np.ndarray
                   ) -> Optional[Interval]:
  """Interval between Δ positions a < b (sorted elements a+1 … b)."""
  start, stop = a + 1, b + 1
  if stop - start < 2:
    return None  # no difference inside: mean(Δ) undefined
  mean = float(np.mean(delta[start:stop - 1]))
  walls = min(ha, hb)
  ratio = walls / mean if mean > 0 else float("inf")
  return Interval(start=start, stop=stop, left_height=float(ha),
                  right_height=float(hb), mean_delta=mean, ratio=ratio,
                  low=float(sorted_codes[start]),
                  high=float(sorted_codes[stop - 1]))


def latent_intervals(codes: np.ndarray, params: ReductionParams,
                     several_latents: bool = False, latent: int = 0
                     ) -> LatentReduction:
  """Peaks and ranked intervals of one latent's codes (steps 1-6)."""
  codes = np.asarray(codes, dtype=np.float64).reshape(-1)
  n = codes.size
  order = np.argsort(codes, kind="stable")
  sorted_codes = codes[order]
  delta = np.diff(sorted_codes)
  peaks, heights, threshold, trim = find_code_peaks(delta, n, params)
  edges = (len(peaks) == 1 or
           (several_latents and len(peaks) <= params.edge_max_peaks))
  walls = [(int(p), float(h)) for p, h in zip(peaks, heights)]
  if edges:
    # Edges are virtual peaks just outside the sorted range.
    walls = ([(-1, params.edge_peak_height)] + walls +
             [(n - 1, params.edge_peak_height)])
  intervals = []
  for (a, ha), (b, hb) in zip(walls[:-1], walls[1:]):
    iv = _make_interval(a, b, ha, hb, sorted_codes, delta)
    if iv is not None:
      intervals.append(iv)
  # Stable sort by ratio, best first (ties keep code order).
  intervals.sort(key=lambda iv: -iv.ratio)
  return LatentReduction(
      latent=latent, order=order, sorted_codes=sorted_codes, delta=delta,
      trim=trim, threshold=threshold, peaks=peaks, peak_heights=heights,
      edges_added=bool(edges),
      intervals=intervals)


def _membership(lat: LatentReduction, n: int, top: int) -> np.ndarray:
  """Per row of d: rank (0..top-1) of the interval it lies in, or -1."""
  position = np.empty(n, dtype=np.int64)
  position[lat.order] = np.arange(n)
  member = np.full(n, -1, dtype=np.int64)
  for rank, iv in enumerate(lat.intervals[:top]):
    inside = (position >= iv.start) & (position < iv.stop)
    member[inside] = rank
  return member


def _order_key(rule: str, median: float):
  def key(c: Candidate):
    tail = (-c.size, -c.ratio, c.intervals)
    if rule == "median":
      return (abs(c.size - median),) + tail
    if rule == "largest":
      return tail
    return (-c.ratio, -c.size, c.intervals)  # best_ratio
  return key


def reduce_labels(labels: np.ndarray,
                  params: Optional[ReductionParams] = None) -> Reduction:
  """Ranked candidate subsets of ``d`` from its surrogate labels.

  Args:
    labels: float [n, k] means of the k active latents over the rows of d.
    params: thresholds (spec defaults).

  Returns:
    A :class:`Reduction`; ``candidates[i].indices`` index rows of ``labels``
    (map them through d's original indices). Empty candidates come with a
    ``reason``: 'no_peak' or 'too_small' (all candidates ≤ min_subset_size).
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
  latents = [latent_intervals(labels[:, j], params, several, latent=j)
             for j in range(k)]
  if not any(len(lat.peaks) for lat in latents):
    return Reduction([], latents, params.rule, n, reason="no_peak")

  if not several:
    lat = latents[0]
    candidates = [
        Candidate(indices=np.sort(lat.order[iv.start:iv.stop]),
                  intervals=(rank,), ratio=iv.ratio)
        for rank, iv in enumerate(lat.intervals)
        if iv.size > params.min_subset_size]
    return Reduction(candidates, latents, params.rule, n,
                     reason=None if candidates else "too_small")

  member = np.stack([_membership(lat, n, params.top_intervals)
                     for lat in latents], axis=1)
  valid = np.flatnonzero((member >= 0).all(axis=1))
  candidates = []
  if valid.size:
    combos, inverse, counts = np.unique(
        member[valid], axis=0, return_inverse=True, return_counts=True)
    inverse = inverse.reshape(-1)
    groups = np.argsort(inverse, kind="stable")
    bounds = np.concatenate([[0], np.cumsum(counts)])
    for c, combo in enumerate(combos):
      if counts[c] <= params.min_subset_size:
        continue
      rows = np.sort(valid[groups[bounds[c]:bounds[c + 1]]])
      ratio = min(latents[j].intervals[int(r)].ratio
                  for j, r in enumerate(combo))
      candidates.append(Candidate(indices=rows,
                                  intervals=tuple(int(r) for r in combo),
                                  ratio=float(ratio)))
  median = float(np.median([c.size for c in candidates])) if candidates else 0
  candidates.sort(key=_order_key(params.rule, median))
  return Reduction(candidates, latents, params.rule, n,
                   reason=None if candidates else "too_small")
