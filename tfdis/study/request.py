"""What ``tfdis_study`` is asked to do: :class:`StudyRequest`.

A preset (:mod:`tfdis.study.presets`) plus overrides; an override left at
None keeps the preset's value. The binary's flags are generated from these
fields (``tfdis.config_flags``) and checked by :meth:`Spec.validate` before
anything is imported or written; :meth:`StudyRequest.overrides` turns the
request into the keyword arguments of :func:`tfdis.study.get_study`.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Dict, List, Optional, Tuple

from tfdis.checks import is_int
from tfdis.specs import MAX_INT, Spec, need, spec_field
from tfdis.study.presets import study_names
from tfdis.udr.spec import MAX_COUNT

# Local worker processes: more than this is a typo (and would fork-bomb).
MAX_WORKERS = 65536
SWEEP_EXAMPLE = "'{\"beta_vae\": [{\"beta\": 4}]}'"


def _int_or_none(value, low: int, high: int) -> bool:
  return value is None or is_int(value, low, high)


@dataclasses.dataclass
class StudyRequest(Spec):
  """tfdis_study's flags: which preset, where, how, and its overrides."""

  study: Optional[str] = spec_field(None, "Study preset to run.",
                                    choices=study_names(), required=True)
  output_dir: Optional[str] = spec_field(
      None, "Study root (default runs/<study>). Rerunning with the same "
      "directory resumes the study.")
  num_workers: Optional[int] = spec_field(
      None, "Parallel local worker processes (1 = in this process); the CPU "
      "cores are split between them. Default: the preset's (quickstart: 2, "
      "capped at the cores).")
  overwrite: bool = spec_field(
      False, "Recompute metrics, visualisations and UDR of existing models "
      "(checkpoints are never deleted; delete a model directory to retrain "
      "it).")
  aggregate: bool = spec_field(
      True, "Write results.csv, plots and report.html at the end.")
  # Overrides (None = the preset's value); for demos and tests.
  steps: Optional[int] = spec_field(
      None, "Override: training steps per model.")
  seeds: Optional[int] = spec_field(
      None, "Override: number of seeds per setting (seeds 0..N-1).")
  datasets: Optional[Tuple[str, ...]] = spec_field(
      None, "Override: datasets of the sweep.")
  families: Optional[Tuple[str, ...]] = spec_field(
      None, "Override: keep only these model families of the preset.")
  sweep: Optional[Dict[str, List[Dict[str, Any]]]] = spec_field(
      None, "Override: the sweep as JSON {family: [hyperparameters, ...]}, "
      f"e.g. {SWEEP_EXAMPLE}.")
  metrics: Optional[Tuple[str, ...]] = spec_field(
      None, "Override: metrics to compute ('none' for no evaluation).")
  udr_num_data_points: Optional[int] = spec_field(
      None, "Override: images encoded per model for UDR.")
  udr: bool = spec_field(True, "Run UDR per (dataset, family).")
  visualize: Optional[bool] = spec_field(
      None, "Override: write per-model visualisations.")

  def _check(self) -> None:
    need(_int_or_none(self.num_workers, 1, MAX_WORKERS),
         f"num_workers must be an integer in [1, {MAX_WORKERS}], got "
         f"{self.num_workers!r}")
    need(_int_or_none(self.steps, 1, MAX_INT), f"steps must be an integer "
         f"in [1, {MAX_INT}], got {self.steps!r}")
    need(_int_or_none(self.seeds, 1, MAX_COUNT), f"seeds must be an integer "
         f"in [1, {MAX_COUNT}] (seeds 0..N-1), got {self.seeds!r}")
    need(_int_or_none(self.udr_num_data_points, 2, MAX_COUNT),
         f"udr_num_data_points must be an integer in [2, {MAX_COUNT}], got "
         f"{self.udr_num_data_points!r}")
    need(self.sweep is None or (isinstance(self.sweep, dict) and all(
        isinstance(v, list) and v and all(isinstance(h, dict) for h in v)
        for v in self.sweep.values())),
         "sweep must map each family to a non-empty list of hyperparameter "
         f"dicts, e.g. {SWEEP_EXAMPLE}")

  def overrides(self) -> Dict[str, Any]:
    """The keyword arguments of :func:`tfdis.study.get_study` (only the
    overrides that were given)."""
    out: Dict[str, Any] = {}
    for name in ("steps", "seeds", "datasets", "families",
                 "udr_num_data_points", "visualize", "sweep"):
      value = getattr(self, name)
      if value is not None:
        out[name] = list(value) if isinstance(value, tuple) else value
    if self.metrics is not None:
      out["metrics"] = ([] if list(self.metrics) == ["none"]
                        else list(self.metrics))
    if not self.udr:
      out["udr"] = ()
    return out

  def study_dir(self) -> str:
    return self.output_dir or f"runs/{self.study}"
