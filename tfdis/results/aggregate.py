"""``aggregate(root)``: results table (CSV), plots and the HTML report of a root."""

from __future__ import annotations

import os
from typing import Optional

import pandas as pd
from absl import logging

from tfdis.io_utils import write_csv
from tfdis.results.collect import collect_results
from tfdis.results.plots import make_plots
from tfdis.results.report import write_html_report

RESULTS_CSV = "results.csv"
REPORT_HTML = "report.html"
PLOT_DIR = "plots"


def aggregate(root: str, output_dir: Optional[str] = None, plots: bool = True,
              report: bool = True, title: Optional[str] = None
              ) -> pd.DataFrame:
  """Collects every model under ``root`` into one DataFrame and writes it.

  Writes (atomically) ``<output_dir>/results.csv`` and, unless disabled,
  ``<output_dir>/plots/*.png`` and ``<output_dir>/report.html``;
  ``output_dir`` defaults to ``root``. The frame's ``attrs`` hold the paths
  (``csv``, ``report``, ``plots``). Columns: see :mod:`tfdis.results.columns`.
  """
  root = os.path.abspath(os.fspath(root))
  output_dir = os.path.abspath(output_dir or root)
  frame = collect_results(root)
  collected = dict(frame.attrs)
  if not len(frame):
    logging.warning("No model directories under %s (looked for "
                    "results/train.json or saved_model/saved_model.pb).", root)
  csv_path = os.path.join(output_dir, RESULTS_CSV)
  write_csv(csv_path, frame)
  attrs = {"csv": csv_path, "plots": [], "report": None}
  plot_list, matrices = [], {}
  if plots and len(frame):
    plot_list, matrices = make_plots(frame, os.path.join(output_dir, PLOT_DIR))
    attrs["plots"] = [p for _, p in plot_list]
  if report:
    attrs["report"] = write_html_report(
        os.path.join(output_dir, REPORT_HTML), root, frame, plot_list,
        matrices, csv_path=csv_path, title=title)
  logging.info("Aggregated %d models under %s -> %s%s", len(frame), root,
               csv_path, f", {attrs['report']}" if attrs["report"] else "")
  frame.attrs.update(collected)
  frame.attrs.update(attrs)
  return frame
