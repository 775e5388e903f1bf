"""PBT stop rules, checked after every generation (spec pbt_rpu.md).

The controller runs for real; a scripted executor stands in for the workers
(it returns each member's score of a generation and declines exports), so
only the generation loop is exercised — no training.
"""

import os

import pytest

from tfdis.pbt import PBTConfig, run_pbt
from tfdis.execution.base import InProcessExecutor


class ScriptedExecutor(InProcessExecutor):
  """Step tasks score ``scores[generation - 1]`` (+ a per-member offset)."""

  def __init__(self, scores):
    super().__init__()
    self.scores = scores
    self.generations = []

  def _wait(self):
    handle, _, (task,) = self._queue.popleft()
    if task["op"] != "step":
      return handle, {"status": "error", "error": "no export in this test"}
    g = task["generation"]
    self.generations.append(g)
    member = int(os.path.basename(task["member_dir"])[1:])
    return handle, {"status": "ok", "step": g,
                    "score": self.scores[g - 1] - 0.001 * member}


def _config(tmp_path, **kw):
  base = dict(output_dir=str(tmp_path / "pbt"),
              dataset="procedural_dsprites_small", eval="udr",
              population_size=2, max_generations=None,
              convergence_threshold=0.005, convergence_patience=2,
              export_every_generation=False)
  base.update(kw)
  return PBTConfig(**base)


def test_score_below_threshold_stops_after_any_generation(tmp_path):
  # Best UDR 0.5, then 0.05 < 0.1: the run ends after generation 2 (not only
  # at the end of a metaEpoch).
  ex = ScriptedExecutor([0.5, 0.05, 0.6, 0.6, 0.6, 0.6])
  res = run_pbt(_config(tmp_path, stop_below_score=0.1), executor=ex)
  assert res["stop_reason"] == "score_below_threshold"
  assert res["generations"] == 2 and max(ex.generations) == 2
  assert res["best_score"] == pytest.approx(0.05)


def test_no_generation_cap_runs_until_converged(tmp_path):
  # Constant best scores: |Δ| < 0.005 for 2 differences first holds after
  # generation 3; there is no cap (max_generations=None).
  ex = ScriptedExecutor([0.5] * 20)
  res = run_pbt(_config(tmp_path, stop_below_score=0.1), executor=ex)
  assert res["stop_reason"] == "converged" and res["generations"] == 3
