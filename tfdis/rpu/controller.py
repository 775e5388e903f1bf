"""The rPU-VAE recursion (Estermann et al. 2020, Algorithm 1).

```
labels_0 <- PBT-U-VAE(UDR)(D)                       # root metaEpoch
for i in 1..MaxNrLeafRuns:                          # leaf-runs
  d <- reduce(D, labels_0, i)                       # i-th ranked candidate
  while |d| >= min_dataset_size and not stopped:
    labels <- PBT-U-VAE(UDR)(d)                     # one metaEpoch
    d <- reduce(d, labels, best candidate)
theta <- PBT-S-VAE(D, surrogate labels)             # final model
```

A metaEpoch is one ``tfdis.pbt.run_pbt`` call with ``eval="udr"`` and the
caller's convergence rule (|Δ best UDR| < 0.005 for 6 generations; no
generation cap unless ``max_generations`` is set, as the authors) on the
subset ``d`` (an npz of rows of the ORIGINAL dataset). The leaf-run stop
rule (best UDR < ``udr_stop_threshold``) is checked after every generation
(PBT's ``stop_below_score``), as the authors' ``end_condition``. The best VAE of the best member gives the active latents
(:mod:`tfdis.rpu.labels`) and the surrogate labels; :mod:`tfdis.rpu.reduction`
turns them into ranked candidate subsets.

Stop rules of a leaf-run: best UDR < ``udr_stop_threshold`` (0.1) after any
generation, no active latent, a latent without peaks or no intersection (no
candidate subset, :mod:`tfdis.rpu.reduction`), ``|d| < min_dataset_size``
(10). The root's reduction is each leaf-run's first (candidate x_peak =
leaf − 1); later metaEpochs take candidate 0.

Choices the paper leaves open (recorded in ``rpu_results.json``):

* The root metaEpoch's labels (``labels_0``) are stored as
  ``surrogate_labels/leaf_0.npz`` (one metaEpoch) next to ``leaf_<i>.npz``
  for i = 1…MaxNrLeafRuns, exactly mirroring Algorithm 1's list
  ``surrogateLabels = [labels_0, leafLabels_1, …]``: with the PBT surrogate
  eval (median over leaf-runs) the root counts as one leaf-run, and
  "0 leaf-runs" (paper Fig. 6) is ``leaf_0`` alone.
* Algorithm 1 appends a metaEpoch's labels before testing the stop rule; a
  metaEpoch whose best UDR is below the threshold has, by the paper's own
  argument, "only learned noise", so its labels are NOT stored (and a
  metaEpoch without an active latent has none). All other labels are.
* Each metaEpoch's PBT gets the seed ``seed + 1000·leaf + metaEpoch`` so
  populations differ between metaEpochs but a run is reproducible.

Resume: every step writes its outputs atomically (tfdis.io_utils) and then a
``result.json`` marker; a step whose marker exists is skipped, a PBT run that
was killed resumes itself from its ``controller_state.json``. ``state.json``
records the phase, leaf-run, metaEpoch and current subset path.

Layout under ``output_dir`` (normally ``runs/<experiment>/rpu``)::

  state.json, config.json, rpu_results.json
  leaf_<i>/metaepoch_<j>/{subset.npz, pbt/, labels.npz, reduction.npz,
                          reduction.json, result.json}
  leaf_0/metaepoch_0/candidates.npz     ranked subsets that start leaf-runs
  surrogate_labels/leaf_<i>.npz, surrogate_labels/manifest.json
  final/                                the final PBT-S-VAE (run_pbt output)
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
from absl import logging

from tfdis import io_utils
from tfdis.pbt.config import PBTConfig, PopulationSpec
from tfdis.registry import check_choice
from tfdis.rpu import labels as labels_lib
from tfdis.rpu import reduction as reduction_lib
from tfdis.specs import (ConfigError, DataSpec, ModelSpec, Spec,
                                  check_compatible, need, redefault,
                                  spec_field)

FINAL_SUPERVISION = ("eval", "eval+loss")
STATE_FORMAT = "tfdis.rpu.state.v1"
MANIFEST_FORMAT = "tfdis.rpu.surrogate_labels.v1"



@dataclasses.dataclass
class RPUConfig(DataSpec, ModelSpec, PopulationSpec, Spec):
  """An rPU-VAE run (spec pbt_rpu.md) = DataSpec + ModelSpec + PopulationSpec
  (every metaEpoch is a PBT-U-VAE run, and the final model a PBT-S-VAE run,
  each a PBTConfig composed from these: :meth:`metaepoch_pbt_config`,
  :meth:`final_pbt_config`)
  + the recursion and reduction settings below, each with the authors'
  default."""

  model: str = redefault(ModelSpec, "model", "beta_tc_vae")
  architecture: Union[str, Dict[str, str]] = redefault(
      ModelSpec, "architecture", "conv_bn")
  convergence_threshold: Optional[float] = redefault(
      PopulationSpec, "convergence_threshold", 0.005)
  output_dir: str = spec_field(
      "runs/rpu/rpu", "rPU directory (state.json, leaf_<i>/metaepoch_<j>/, "
      "surrogate_labels/, final/), e.g. runs/<experiment>/rpu.",
      immutable=True)
  seed: int = spec_field(0, "Base seed (metaEpoch seed = seed + 1000·leaf "
                         "+ metaEpoch).", immutable=True)
  # --- recursion (Algorithm 1) ---
  max_leaf_runs: int = spec_field(3, "MaxNrLeafRuns (paper: 3).",
                                  immutable=True)
  udr_stop_threshold: float = spec_field(
      0.1, "A leaf-run ends when the best UDR of a metaEpoch is below this "
      "(checked after every generation).", immutable=True)
  min_dataset_size: int = spec_field(
      10, "A leaf-run ends when |d| is below this.", immutable=True)
  active_kl_threshold: float = spec_field(
      1.0, "A latent is active if its mean KL exceeds this (authors' code: "
      "1.0; the paper cites 0.01).", immutable=True)
  # --- reduction (tfdis.rpu.reduction.ReductionParams) ---
  intersection_rule: str = spec_field(
      "median", "Order of interval intersections: median (authors: "
      "|size - median size|) | largest (paper).", immutable=True)
  min_intersection_size: int = spec_field(
      5, "Keep intersections with more than this many rows.",
      immutable=True)
  top_intervals: int = spec_field(
      5, "Intervals per latent that enter the intersections.",
      immutable=True)
  trim_denominator: int = spec_field(
      15, "Trim |d|/N differences from each end before peak finding.",
      immutable=True)
  median_sigma_factor: float = spec_field(
      7.0, "Peak threshold h = median(T) + F·σ.", immutable=True)
  global_std_factor: float = spec_field(
      4.0, "σ = std of the T values below median(T) + G·std(T).",
      immutable=True)
  peak_distance_denominator: float = spec_field(
      50.0, "find_peaks distance = |d|/N.", immutable=True)
  edge_peak_height: float = spec_field(
      1.0, "Height of the dataset edges when they count as peaks.",
      immutable=True)
  edge_max_peaks: int = spec_field(
      3, "Edges count as peaks when a latent has at most this many "
      "(several active latents).", immutable=True)
  reduction_slices: str = spec_field(
      "corrected", "corrected (default) | authors (their one-row offset).",
      immutable=True)
  zero_peak_latent: str = spec_field(
      "stop", "A latent without peaks: stop (authors) | unrestricted.",
      immutable=True)
  pbt_options: Dict[str, Any] = spec_field(
      dict, "Further PBTConfig fields for every PBT run, as a JSON object "
      "(e.g. {\"mig_num_train\": 10000}).", immutable=True)
  # --- final PBT-S-VAE on all of D ---
  final_supervision: str = spec_field(
      "eval", "Surrogate labels as PBT eval only (authors) or also as a "
      "masked semi-supervised loss (paper): eval | eval+loss.",
      immutable=True)
  final_population_size: Optional[int] = spec_field(
      None, "Default: population_size.", immutable=True)
  final_max_generations: Optional[int] = spec_field(
      15, "Generations of the final PBT-S-VAE (the authors' supervised "
      "config: 15). None: max_generations.", immutable=True)
  final_convergence_threshold: Optional[float] = spec_field(
      None, "Optional convergence rule for the final PBT-S-VAE.",
      immutable=True)
  leaf_run_curve: bool = spec_field(
      False, "Paper Fig. 6: also train the final PBT-S-VAE on the labels of "
      "the root and the first k leaf-runs only (k = 0 .. max_leaf_runs; the "
      "k using every label file is final/). May be switched on when "
      "resuming a finished run.")

  def __post_init__(self):
    self.validate()

  def _check(self) -> None:
    need(self.max_leaf_runs >= 0, f"max_leaf_runs must be >= 0, got "
         f"{self.max_leaf_runs}")
    need(self.min_dataset_size >= 1, "min_dataset_size must be >= 1")
    need(self.active_kl_threshold >= 0, "active_kl_threshold must be >= 0")
    check_choice("final_supervision", self.final_supervision,
                 FINAL_SUPERVISION, error=ConfigError)
    check_choice("intersection_rule", self.intersection_rule,
                 reduction_lib.RULES, error=ConfigError)
    need(self.max_generations is not None or
         self.convergence_threshold is not None,
         "the metaEpochs have no stop rule: set convergence_threshold (the "
         "authors: 0.005) or max_generations")
    need(self.ensemble_size >= 2, "ensemble_size must be >= 2 (UDR compares "
         "pairs of models)")
    need(self.final_population_size is None or self.final_population_size >= 2,
         "final_population_size must be >= 2")
    need(self.final_max_generations is None or self.final_max_generations >= 1,
         "final_max_generations must be >= 1")
    need(self.final_max_generations is not None or
         self.max_generations is not None or
         self.final_convergence_threshold is not None,
         "the final PBT-S-VAE has no stop rule: set final_max_generations "
         "(the authors: 15), max_generations or final_convergence_threshold")
    reserved = {"output_dir", "dataset", "dataset_options", "indices_path",
                "eval", "surrogate_labels", "final_supervision", "seed"}
    clash = reserved.intersection(self.pbt_options)
    need(not clash, f"pbt_options may not set {sorted(clash)}: the rPU "
         "controller sets them")
    for name in ("final_convergence_threshold", "udr_stop_threshold"):
      value = getattr(self, name, None)
      need(value is None or value >= 0, f"{name} must be a number >= 0 or "
           f"None, got {value!r}")
    try:
      self.reduction_params()  # validates the reduction thresholds
    except ValueError as e:
      raise ConfigError(str(e)) from None

  def reduction_params(self) -> reduction_lib.ReductionParams:
    return reduction_lib.ReductionParams.from_config(self)

  # ---- PBT configurations ---------------------------------------------------
  def pbt_config(self) -> PBTConfig:
    """The PBTConfig every PBT run of this rPU run starts from: this
    config's DataSpec, ModelSpec and PopulationSpec parts."""
    return PBTConfig(**self.population_fields())

  def metaepoch_pbt_config(self, output_dir: str,
                           indices_path: Optional[str], seed: int
                           ) -> PBTConfig:
    """A metaEpoch: PBT-U-VAE (eval ``udr``) on the subset, stopped by the
    leaf-run rule; ``pbt_options`` last."""
    return self.pbt_config().replace(
        output_dir=output_dir, indices_path=indices_path, eval="udr",
        stop_below_score=self.udr_stop_threshold, seed=seed
    ).replace(**self.pbt_options)

  def final_pbt_config(self, output_dir: str, label_paths: Sequence[str]
                       ) -> PBTConfig:
    """The final PBT-S-VAE on all of D (eval ``surrogate_mig``);
    ``pbt_options`` last."""
    return self.pbt_config().replace(
        output_dir=output_dir, indices_path=None, eval="surrogate_mig",
        surrogate_labels=tuple(label_paths),
        final_supervision=self.final_supervision,
        population_size=self.final_population_size or self.population_size,
        max_generations=(self.max_generations
                         if self.final_max_generations is None
                         else self.final_max_generations),
        convergence_threshold=self.final_convergence_threshold,
        seed=self.seed).replace(**self.pbt_options)


# A PBT runner takes a PBTConfig and returns run_pbt's dict.
PBTRunner = Callable[[PBTConfig], Dict[str, Any]]
# A labeler maps (best_saved_model dir, data, rows of D, KL threshold, KL
# estimator) to the active latents and surrogate labels.
Labeler = Callable[[str, Any, np.ndarray, float, str],
                   labels_lib.SubsetLabels]


def run_pbt_config(config: PBTConfig, executor=None) -> Dict[str, Any]:
  """The default runner: ``tfdis.pbt.run_pbt(config)``."""
  from tfdis.pbt.controller import run_pbt  # local: TensorFlow only here
  return run_pbt(config, executor=executor)


def label_with_saved_model(model_dir: str, data, indices: np.ndarray,
                           active_kl_threshold: float,
                           kl_estimator: str = "analytic"
                           ) -> labels_lib.SubsetLabels:
  """The default labeler: encode d with the SavedModel's gaussian_encoder."""
  from tfdis.export.load import load_saved_model
  model = load_saved_model(model_dir)
  return labels_lib.label_subset(model, data, indices, active_kl_threshold,
                                 kl_estimator)


def _metaepoch_dir(root: str, leaf: int, metaepoch: int) -> str:
  return os.path.join(root, f"leaf_{leaf}", f"metaepoch_{metaepoch}")


def _read_indices(path: str) -> np.ndarray:
  with np.load(path) as f:
    return np.asarray(f["indices"], dtype=np.int64)


class _Controller:
  """Holds the paths and the state file of one rPU run."""

  def __init__(self, config: RPUConfig, pbt_runner: PBTRunner,
               labeler: Labeler):
    from tfdis.data import get_dataset
    self.config = config
    self.root = os.path.abspath(config.output_dir)
    self.pbt_runner = pbt_runner
    self.labeler = labeler
    self.data = get_dataset(config.dataset, **config.dataset_options)
    self.num_rows = int(self.data.num_examples)
    self.params = config.reduction_params()
    self.state_path = os.path.join(self.root, "state.json")
    self.labels_dir = os.path.join(self.root, "surrogate_labels")
    self.state = self._load_state()

  # ---- state ---------------------------------------------------------------
  def _load_state(self) -> Dict[str, Any]:
    cfg = self.config.to_dict()
    if os.path.isfile(self.state_path):
      state = io_utils.read_json(self.state_path)
      # Fields added after the run started count as their defaults; only
      # fields not marked immutable (workers, caps, leaf_run_curve, ...)
      # may change.
      stored = dict(state.get("config", {}))
      stored["output_dir"] = self.config.output_dir
      check_compatible(RPUConfig.from_dict(stored), self.config, self.root,
                       overwrite_hint=None)
      logging.info("rPU: resuming %s (phase %s, leaf %s, metaEpoch %s)",
                   self.root, state.get("phase"), state.get("leaf"),
                   state.get("metaepoch"))
      return state
    os.makedirs(self.root, exist_ok=True)
    io_utils.write_json(os.path.join(self.root, "config.json"), cfg)
    return {"format": STATE_FORMAT, "config": cfg, "phase": "root",
            "leaf": 0, "metaepoch": 0, "subset_path": None,
            "completed": [], "leaves": {}, "final": None,
            "started": time.time()}

  def _save_state(self, **updates) -> None:
    self.state.update(updates)
    self.state["updated"] = time.time()
    io_utils.write_json(self.state_path, self.state)

  # ---- one metaEpoch ---------------------------------------------------------
  def metaepoch(self, leaf: int, j: int, indices: np.ndarray) -> Dict:
    """Runs (or reloads) metaEpoch j of leaf-run ``leaf`` on rows ``indices``.

    Returns the record of result.json: best UDR, active latents, stop reason
    (None if the recursion goes on) and the candidate subsets' paths.
    """
    directory = _metaepoch_dir(self.root, leaf, j)
    marker = os.path.join(directory, "result.json")
    if os.path.isfile(marker):
      return io_utils.read_json(marker)
    cfg = self.config
    subset_path = os.path.join(directory, "subset.npz")
    if not os.path.isfile(subset_path):
      io_utils.write_npz(subset_path, indices=indices.astype(np.int64))
    self._save_state(phase="root" if leaf == 0 else "leaf", leaf=leaf,
                     metaepoch=j, subset_path=subset_path)
    start = time.time()
    logging.info("rPU leaf %d metaEpoch %d: PBT-U-VAE (UDR) on |d| = %d",
                 leaf, j, len(indices))
    full = len(indices) == self.num_rows
    pbt_config = cfg.metaepoch_pbt_config(
        os.path.join(directory, "pbt"), None if full else subset_path,
        seed=cfg.seed + 1000 * leaf + j)
    result = io_utils.to_jsonable(self.pbt_runner(pbt_config))
    udr = float(result["best_score"])
    record: Dict[str, Any] = {
        "leaf": leaf, "metaepoch": j, "size": int(len(indices)),
        "subset": os.path.relpath(subset_path, self.root),
        "pbt": result, "udr": udr, "best_saved_model":
        result.get("best_saved_model"), "active_latents": [], "kl": None,
        "labels_stored": False, "stop_reason": None, "candidates": [],
        "reduction": None}

    if not np.isfinite(udr) or udr < cfg.udr_stop_threshold:
      record["stop_reason"] = "udr_below_threshold"
    else:
      sub = self.labeler(result["best_saved_model"], self.data, indices,
                         cfg.active_kl_threshold, cfg.kl_estimator)
      record["kl"] = [float(v) for v in sub.kl]
      record["active_latents"] = [int(a) for a in sub.active]
      if sub.active.size == 0:
        record["stop_reason"] = "no_active_latent"
      else:
        io_utils.write_npz(os.path.join(directory, "labels.npz"),
                           indices=indices.astype(np.int64),
                           labels=sub.labels.astype(np.float32),
                           active=sub.active, kl=sub.kl)
        record["labels_stored"] = True
        # The root's reduction is every leaf-run's first (spec step 6-8).
        red = reduction_lib.reduce_labels(sub.labels, self.params,
                                          first_reduction=leaf == 0)
        io_utils.write_npz(os.path.join(directory, "reduction.npz"),
                           **red.diagnostics_arrays())
        io_utils.write_json(os.path.join(directory, "reduction.json"),
                            red.summary())
        record["reduction"] = "reduction.json"
        if not red.candidates:
          record["stop_reason"] = red.reason or "no_candidate"
        else:
          # The root keeps one ranked candidate per leaf-run, a leaf-run
          # metaEpoch only its best one (Algorithm 1 lines 7 and 11).
          keep = max(1, cfg.max_leaf_runs) if leaf == 0 else 1
          subsets = {f"candidate_{r}": indices[c.indices]
                     for r, c in enumerate(red.candidates[:keep])}
          io_utils.write_npz(os.path.join(directory, "candidates.npz"),
                             **subsets)
          record["candidates"] = [c.summary() for c in red.candidates[:keep]]
          record["num_candidates"] = len(red.candidates)
    record["wall_time_s"] = time.time() - start
    io_utils.write_json(marker, record)
    logging.info(
        "rPU leaf %d metaEpoch %d done in %.0f s: UDR %.3f, active %s, "
        "stop %s, next |d| %s", leaf, j, record["wall_time_s"], udr,
        record["active_latents"], record["stop_reason"],
        record["candidates"][0]["size"] if record["candidates"] else "-")
    self.state["completed"] = sorted(
        set(map(tuple, self.state.get("completed", []))) | {(leaf, j)})
    self._save_state()
    return record

  def candidate(self, leaf: int, j: int, rank: int) -> Optional[np.ndarray]:
    path = os.path.join(_metaepoch_dir(self.root, leaf, j), "candidates.npz")
    if not os.path.isfile(path):
      return None
    with np.load(path) as f:
      key = f"candidate_{rank}"
      return np.asarray(f[key], dtype=np.int64) if key in f else None

  # ---- leaf-runs -------------------------------------------------------------
  def leaf_run(self, leaf: int, root_record: Dict) -> Dict:
    """Leaf-run ``leaf`` (1-based) from the root's (leaf-1)-th candidate."""
    summary_path = os.path.join(self.root, f"leaf_{leaf}", "leaf.json")
    if os.path.isfile(summary_path):
      return io_utils.read_json(summary_path)
    records: List[Dict] = []
    d = None
    if root_record["stop_reason"] is None:
      d = self.candidate(0, 0, leaf - 1)
    if d is None:
      reason = ("root_stopped" if root_record["stop_reason"] else
                "no_candidate_for_leaf")
    else:
      reason = None
      j = 0
      while True:
        if len(d) < self.config.min_dataset_size:
          reason = "dataset_too_small"
          break
        rec = self.metaepoch(leaf, j, d)
        records.append(rec)
        if rec["stop_reason"]:
          reason = rec["stop_reason"]
          break
        d = self.candidate(leaf, j, 0)
        j += 1
        if d is None:
          raise RuntimeError(
              f"leaf {leaf} metaEpoch {j - 1} has no candidates.npz although "
              "its result.json names no stop reason; delete that metaEpoch "
              "directory to recompute it.")
    summary = {"leaf": leaf, "stop_reason": reason,
               "metaepochs": [_short(r) for r in records],
               "sizes": [r["size"] for r in records],
               "final_subset_size": None if d is None else int(len(d))}
    summary["labels_file"] = self.write_leaf_labels(leaf, records)
    io_utils.write_json(summary_path, summary)
    logging.info("rPU leaf-run %d ended (%s) after %d metaEpoch(s)", leaf,
                 reason, len(records))
    return summary

  def write_leaf_labels(self, leaf: int, records: Sequence[Dict]
                        ) -> Optional[str]:
    """surrogate_labels/leaf_<leaf>.npz in the docs/design.md format."""
    arrays = {}
    j = 0
    for rec in records:
      if not rec["labels_stored"]:
        continue  # only the last metaEpoch can lack labels (it stopped)
      path = os.path.join(_metaepoch_dir(self.root, leaf, rec["metaepoch"]),
                          "labels.npz")
      with np.load(path) as f:
        arrays[f"metaepoch_{j}_indices"] = np.asarray(f["indices"], np.int64)
        arrays[f"metaepoch_{j}_labels"] = np.asarray(f["labels"], np.float32)
      j += 1
    if not j:
      return None
    arrays["num_metaepochs"] = np.int64(j)
    name = f"leaf_{leaf}.npz"
    io_utils.write_npz(os.path.join(self.labels_dir, name), **arrays)
    return name

  def write_manifest(self, leaves: Sequence[Dict]) -> List[str]:
    """manifest.json; returns the absolute paths of the non-empty files."""
    entries, paths = [], []
    for leaf in leaves:
      metaepochs = [
          {"metaepoch": m["metaepoch"], "size": m["size"], "udr": m["udr"],
           "active_latents": m["active_latents"],
           "labels_stored": m["labels_stored"],
           "stop_reason": m["stop_reason"]} for m in leaf["metaepochs"]]
      entries.append({"leaf": leaf["leaf"], "file": leaf["labels_file"],
                      "num_metaepochs": sum(m["labels_stored"]
                                            for m in metaepochs),
                      "stop_reason": leaf["stop_reason"],
                      "metaepochs": metaepochs})
      if leaf["labels_file"]:
        paths.append(os.path.join(self.labels_dir, leaf["labels_file"]))
    io_utils.write_json(os.path.join(self.labels_dir, "manifest.json"), {
        "format": MANIFEST_FORMAT, "dataset": self.config.dataset,
        "dataset_options": self.config.dataset_options,
        "num_rows": self.num_rows,
        "active_kl_threshold": self.config.active_kl_threshold,
        "files": entries,
        "note": ("leaf_0 holds the root metaEpoch (labels_0 of Algorithm 1); "
                 "metaEpochs with UDR below the stop threshold or without an "
                 "active latent store no labels.")})
    return paths

  def final_pbt(self, directory: str, label_paths: Sequence[str],
                phase: str) -> Dict:
    """Runs (or reloads) a PBT-S-VAE on all of D with these label files."""
    marker = os.path.join(directory, "rpu_final.json")
    if os.path.isfile(marker):
      return io_utils.read_json(marker)
    self._save_state(phase=phase, subset_path=None)
    logging.info("rPU %s: PBT-S-VAE on all %d rows with label file(s) %s, "
                 "supervision %s", phase, self.num_rows,
                 [os.path.basename(p) for p in label_paths],
                 self.config.final_supervision)
    result = io_utils.to_jsonable(self.pbt_runner(
        self.config.final_pbt_config(directory, label_paths)))
    io_utils.write_json(marker, result)
    return result

  def leaf_run_curve(self, leaves: Sequence[Dict], final: Optional[Dict]
                     ) -> List[Dict]:
    """Paper Fig. 6: the final PBT-S-VAE with the labels of k leaf-runs.

    For k = 0 .. max_leaf_runs the final model uses surrogate_labels/leaf_0
    (the root) plus leaf_1 .. leaf_k. A k whose label files equal those of a
    smaller k reuses that run; the k that uses every file is the main final
    model (``final/``). Runs live in ``final_leaf_runs_<k>/``.
    """
    entries: List[Dict] = []
    by_files: Dict[Tuple[str, ...], Dict] = {}
    everything = tuple(sorted(
        x["labels_file"] for x in leaves if x["labels_file"]))
    if final is not None:
      by_files[everything] = {"directory": "final", "result": final}
    for k in range(self.config.max_leaf_runs + 1):
      files = tuple(sorted(x["labels_file"] for x in leaves
                           if x["leaf"] <= k and x["labels_file"]))
      if not files:
        continue
      if files not in by_files:
        name = f"final_leaf_runs_{k}"
        directory = os.path.join(self.root, name)
        result = self.final_pbt(
            directory, [os.path.join(self.labels_dir, f) for f in files],
            f"leaf_run_curve_{k}")
        by_files[files] = {"directory": name, "result": result}
      run = by_files[files]
      entries.append({"num_leaf_runs": k, "label_files": list(files),
                      "directory": run["directory"],
                      "best_score": run["result"].get("best_score"),
                      "best_saved_model":
                      run["result"].get("best_saved_model")})
    io_utils.write_json(os.path.join(self.root, "leaf_run_curve.json"),
                        {"entries": entries})
    return entries

  # ---- everything ------------------------------------------------------------
  def run(self) -> Dict[str, Any]:
    start = time.time()
    cfg = self.config
    all_rows = np.arange(self.num_rows, dtype=np.int64)
    root = self.metaepoch(0, 0, all_rows)
    leaf0 = {"leaf": 0, "stop_reason": root["stop_reason"],
             "metaepochs": [_short(root)], "sizes": [root["size"]],
             "labels_file": self.write_leaf_labels(0, [root])}
    leaves = [leaf0]
    for i in range(1, cfg.max_leaf_runs + 1):
      leaves.append(self.leaf_run(i, root))
      self._save_state(leaves={str(x["leaf"]): x for x in leaves})
    label_paths = self.write_manifest(leaves)
    self._save_state(leaves={str(x["leaf"]): x for x in leaves})

    final = None
    if not label_paths:
      logging.warning(
          "rPU: no surrogate labels were produced (root: %s); the final "
          "PBT-S-VAE is skipped. Lower --udr_stop_threshold or "
          "--active_kl_threshold, or train the metaEpochs longer.",
          root["stop_reason"])
    else:
      final = self.final_pbt(os.path.join(self.root, "final"), label_paths,
                             "final")
    curve = None
    if cfg.leaf_run_curve and label_paths:
      curve = self.leaf_run_curve(leaves, final)
    self._save_state(phase="done", final=final)
    results = {
        "config": cfg.to_dict(), "num_rows": self.num_rows,
        "leaves": leaves, "root": root, "final": final,
        "final_saved_model": None if final is None else
        final.get("best_saved_model"),
        "surrogate_label_files": label_paths,
        "leaf_run_curve": curve,
        "choices": {
            "root_labels": "surrogate_labels/leaf_0.npz (Algorithm 1 "
                           "labels_0 as its own leaf-run)",
            "noise_labels": "metaEpochs with best UDR < udr_stop_threshold "
                            "store no labels",
            "metaepoch_seed": "seed + 1000*leaf + metaepoch",
            "reduction": "the authors' reduce_dataset: h = median(T) + "
                         "7*std(T[T < median(T) + 4*std(T)])",
            "reduction_slices": cfg.reduction_slices,
            "zero_peak_latent": cfg.zero_peak_latent,
            "kl_estimator": cfg.kl_estimator,
            "leaf_run_stop": "best UDR < udr_stop_threshold, checked after "
                             "every generation",
        },
        "wall_time_s_this_call": time.time() - start,
        "versions": io_utils.library_versions(),
    }
    io_utils.write_json(os.path.join(self.root, "rpu_results.json"), results)
    return results


def _short(record: Dict) -> Dict:
  keys = ("leaf", "metaepoch", "size", "udr", "active_latents",
          "labels_stored", "stop_reason", "best_saved_model")
  out = {k: record.get(k) for k in keys}
  out["next_size"] = (record["candidates"][0]["size"]
                      if record.get("candidates") else None)
  return out


def run_rpu(config: RPUConfig, pbt_runner: Optional[PBTRunner] = None,
            labeler: Optional[Labeler] = None, executor=None
            ) -> Dict[str, Any]:
  """Runs (or resumes) the whole rPU-VAE recursion; see the module doc.

  Args:
    config: the RPUConfig.
    pbt_runner: PBTConfig -> run_pbt result (default: tfdis.pbt.run_pbt).
    labeler: (model dir, data, rows, KL threshold) -> SubsetLabels (default:
      encode with the SavedModel).
    executor: a ``tfdis.execution`` ExecutionConfig or Executor shared by
      every PBT run of the default runner (one Ray connection, one pool);
      None: each PBT run opens its own local one.

  Returns:
    The dict also written to ``<output_dir>/rpu_results.json``: per leaf-run
    metaEpoch records, surrogate label files, the final PBT result
    (``final_saved_model`` is the model dir of the final PBT-S-VAE).
  """
  config.validate()
  validate_pbt_configs(config)   # before any state is written
  from tfdis.execution import open_executor
  owned = False
  if executor is not None and pbt_runner is None:
    executor, owned = open_executor(executor, config.num_workers)
    pbt_runner = functools.partial(run_pbt_config, executor=executor)
  from tfdis import rundir

  root = os.path.abspath(config.output_dir)
  os.makedirs(root, exist_ok=True)
  try:
    with rundir.RunLock(root, "tfdis_rpu"):
      rundir.clean_stale_temporaries(root)
      return _Controller(config, pbt_runner or run_pbt_config,
                         labeler or label_with_saved_model).run()
  finally:
    if owned:
      executor.close()


def validate_pbt_configs(config: RPUConfig) -> None:
  """Builds and validates every PBT configuration the run will use (model,
  options, thresholds, data sizes), so a bad setting is refused before the
  first state file is written."""
  root = os.path.abspath(config.output_dir)
  for what, build in (
      ("metaEpoch", lambda: config.metaepoch_pbt_config(root, None,
                                                        config.seed)),
      # The surrogate labels exist only later: check the rest now.
      ("final", lambda: config.final_pbt_config(
          os.path.join(root, "final"), ()).replace(
              eval="mig", final_supervision="eval"))):
    try:
      pbt = build().validate()  # as the runner receives it
    except (TypeError, ValueError) as e:
      raise ConfigError(f"the {what} PBT configuration is invalid: {e} "
                        "(check --pbt_options and the PBT flags)") from None
    pbt._check_data(pbt.build_data())
  if config.final_supervision == "eval+loss":
    from tfdis.models import validate_supervision

    validate_supervision({})
