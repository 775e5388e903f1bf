"""Results of many models in one table: ``aggregate(root)`` -> CSV, plots, HTML.

``collect_results`` reads the artifacts every tfdis step writes
(config.json, results/train.json, metrics/<representation>/<metric>.json,
udr/udr.json) without TensorFlow; ``aggregate`` also writes results.csv, the
plots and a self-contained report.html.
"""

from tfdis.results.aggregate import (PLOT_DIR, REPORT_HTML, RESULTS_CSV,
                                     aggregate)
from tfdis.results.collect import collect_results, find_model_dirs
from tfdis.results.plots import rank_correlation_matrix, spearman

__all__ = ["aggregate", "collect_results", "find_model_dirs",
           "rank_correlation_matrix", "spearman", "RESULTS_CSV", "REPORT_HTML",
           "PLOT_DIR"]
