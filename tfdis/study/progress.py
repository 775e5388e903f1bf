"""Study-wide progress: models done/total, elapsed time and ETA (absl logging)."""

from __future__ import annotations

import time
from typing import Optional

from absl import logging


def format_duration(seconds: Optional[float]) -> str:
  if seconds is None or seconds != seconds:  # None or NaN
    return "?"
  seconds = int(round(max(seconds, 0)))
  hours, rest = divmod(seconds, 3600)
  minutes, secs = divmod(rest, 60)
  if hours:
    return f"{hours}h{minutes:02d}m"
  if minutes:
    return f"{minutes}m{secs:02d}s"
  return f"{secs}s"


class StudyProgress:
  """Counts models over the whole study and logs a line per finished model.

  The ETA extrapolates the wall time per model run in *this* session (models
  skipped because a previous session finished them cost nothing and are left
  out of the rate); with several workers the wall-clock rate already includes
  the parallelism.
  """

  def __init__(self, name: str, total: int, clock=time.monotonic):
    self.name = name
    self.total = int(total)
    self.skipped = 0
    self.completed = 0
    self.failed = 0
    self._clock = clock
    self._start = clock()

  @property
  def done(self) -> int:
    return self.skipped + self.completed + self.failed

  @property
  def elapsed(self) -> float:
    return self._clock() - self._start

  def eta(self) -> Optional[float]:
    run = self.completed + self.failed
    remaining = self.total - self.done
    if remaining <= 0:
      return 0.0
    if run == 0:
      return None
    return self.elapsed / run * remaining

  def line(self) -> str:
    return (f"[study {self.name}] {self.done}/{self.total} models "
            f"({self.completed} run, {self.skipped} already done, "
            f"{self.failed} failed) | elapsed {format_duration(self.elapsed)}"
            f" | ETA {format_duration(self.eta())}")

  def skip(self, count: int = 1) -> None:
    self.skipped += count

  def finish(self, model_id: str, seconds: float, detail: str = "") -> None:
    self.completed += 1
    logging.info("%s | finished %s in %s%s", self.line(), model_id,
                 format_duration(seconds), f" ({detail})" if detail else "")

  def fail(self, model_id: str, error: str) -> None:
    self.failed += 1
    logging.error("%s | FAILED %s: %s", self.line(), model_id, error)
