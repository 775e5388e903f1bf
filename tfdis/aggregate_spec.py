"""AggregateSpec: what tfdis_aggregate collects and writes.

The fields are tfdis_aggregate's flags (``tfdis.config_flags`` generates
them) and the arguments of :func:`tfdis.results.aggregate`::

  AggregateSpec(root="runs/quickstart").validate().run()

A module of its own, not part of ``tfdis.results``: importing that package
loads pandas and matplotlib, and the binary checks its flags before that.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Optional

from tfdis.specs import Spec, need, spec_field


@dataclasses.dataclass
class AggregateSpec(Spec):
  """Every model under ``root`` -> results.csv, plots, report.html."""

  root: Optional[str] = spec_field(
      None, "Directory to search for model directories (a study's "
      "--output_dir, or any parent of tfdis_train model dirs).",
      required=True)
  output_dir: Optional[str] = spec_field(
      None, "Where results.csv, plots/ and report.html go (default: --root).")
  plots: bool = spec_field(True, "Write the PNG plots.")
  report: bool = spec_field(True, "Write report.html.")
  title: Optional[str] = spec_field(
      None, "Report title (default: from --root).")

  def _check(self):
    need(isinstance(self.root, (str, os.PathLike)) and
         os.path.isdir(self.root),
         "--root must be an existing directory (e.g. runs/quickstart).")

  def run(self):
    """Collects the results and writes the table, plots and report
    (:func:`tfdis.results.aggregate`); returns its DataFrame."""
    from tfdis.results import aggregate

    return aggregate(self.root, output_dir=self.output_dir, plots=self.plots,
                     report=self.report, title=self.title)
