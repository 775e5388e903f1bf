"""Plots of an aggregated results table (matplotlib, Agg backend, no display).

- :func:`plot_score_boxes`: each score's distribution per model family and
  hyperparameter setting, one grid per dataset (rows = scores, columns =
  families), the layout of Duan et al. 2020 (UDR paper), Fig. 2.
- :func:`plot_udr_vs_metrics`: UDR against each supervised score with the
  Spearman rank correlation over the models in each panel title (the
  statistic of the UDR paper's Table 1 / Fig. 3).
- :func:`plot_rank_correlation`: the Spearman rank-correlation matrix between
  all scores as an annotated heat-map (Locatello et al. 2019, Fig. 3 style).

Every figure is saved through :func:`tfdis.io_utils.save_figure` (atomic).
"""

from __future__ import annotations

import math
import os
import re
from typing import Dict, List, Sequence, Tuple

import matplotlib

matplotlib.use("Agg")  # headless: never needs a display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from scipy import stats  # noqa: E402

from tfdis.io_utils import save_figure  # noqa: E402
from tfdis.results import columns as C  # noqa: E402

Plot = Tuple[str, str]  # (caption, path)


def _safe(name: str) -> str:
  return re.sub(r"[^A-Za-z0-9_.=-]+", "_", str(name)).strip("_") or "all"


def _by_dataset(frame: pd.DataFrame):
  datasets = frame["dataset"].fillna("unknown") if "dataset" in frame else (
      pd.Series("unknown", index=frame.index))
  for dataset in sorted(datasets.unique()):
    yield dataset, frame[datasets == dataset]


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
  """Spearman ρ over the pairs where both are finite (NaN if undefined)."""
  x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
  keep = np.isfinite(x) & np.isfinite(y)
  if keep.sum() < 3 or np.ptp(x[keep]) == 0 or np.ptp(y[keep]) == 0:
    return float("nan")
  return float(stats.spearmanr(x[keep], y[keep]).statistic)


def _hp_order(sub: pd.DataFrame) -> List[str]:
  """Hyperparameter labels of one family ordered by their numeric values."""
  hp_cols = [c for c in sub.columns if c.startswith("hp.")]
  firsts = sub.groupby("hyperparameters", sort=False).first()

  def key(label):
    values = []
    for c in hp_cols:
      v = firsts.at[label, c] if c in firsts.columns else np.nan
      try:
        values.append(float(v))
      except (TypeError, ValueError):
        values.append(float("inf"))
    values = [v if math.isfinite(v) else float("inf") for v in values]
    return (values, label)

  return sorted(firsts.index, key=key)


def plot_score_boxes(frame: pd.DataFrame, plot_dir: str) -> List[Plot]:
  """Box plots per (family, hyperparameter) of UDR and headline scores."""
  scores = C.udr_columns(frame) + C.headline_columns(frame)
  plots: List[Plot] = []
  if not scores or not len(frame):
    return plots
  all_scores = scores
  for dataset, data in _by_dataset(frame):
    scores = [s for s in all_scores if data[s].notna().any()]
    if not scores:  # e.g. models trained but not evaluated yet
      continue
    families = sorted(data["model"].fillna("?").unique())
    if len(families) == 1:
      # One family: a compact grid of score panels instead of one tall column.
      ncols = min(3, len(scores))
      nrows = int(math.ceil(len(scores) / ncols))
      fig, axes = plt.subplots(nrows, ncols, squeeze=False,
                               figsize=(3.6 * ncols, 2.7 * nrows))
      cells = [(axes[k // ncols, k % ncols], score, families[0], True)
               for k, score in enumerate(scores)]
      for k in range(len(scores), nrows * ncols):
        axes[k // ncols, k % ncols].axis("off")
      title = f"{families[0]}: scores per hyperparameter — {dataset}"
    else:
      # Rows = scores, columns = families (UDR paper, Fig. 2).
      fig, axes = plt.subplots(
          len(scores), len(families), squeeze=False,
          figsize=(max(3.2 * len(families), 4.5), 2.4 * len(scores)))
      cells = [(axes[row, col], score, family, False)
               for col, family in enumerate(families)
               for row, score in enumerate(scores)]
      for col, family in enumerate(families):
        axes[0, col].set_title(family, fontsize=9)
      for row, score in enumerate(scores):
        axes[row, 0].set_ylabel(C.display_name(score), fontsize=8)
      title = f"Scores per family and hyperparameter — {dataset}"
    for ax, score, family, titled in cells:
      sub = data[data["model"].fillna("?") == family]
      order = _hp_order(sub)
      groups = [sub.loc[sub["hyperparameters"] == h, score].dropna().values
                for h in order]
      if any(len(g) for g in groups):
        ax.boxplot([g if len(g) else [np.nan] for g in groups],
                   showfliers=True, widths=0.6)
        # Individual models on top: with few seeds a box alone misleads.
        for k, g in enumerate(groups):
          ax.scatter(np.full(len(g), k + 1.0), g, s=8, alpha=0.6,
                     color="tab:blue", zorder=3)
      ax.set_xticks(range(1, len(order) + 1))
      ax.set_xticklabels(order, rotation=30, ha="right", fontsize=7)
      ax.tick_params(axis="y", labelsize=7)
      if titled:
        ax.set_title(C.display_name(score), fontsize=9)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    path = os.path.join(plot_dir, f"boxes_{_safe(dataset)}.png")
    save_figure(path, fig)
    plt.close(fig)
    plots.append((f"Score distributions per family and hyperparameter "
                  f"({dataset})", path))
  return plots


def plot_udr_vs_metrics(frame: pd.DataFrame, plot_dir: str) -> List[Plot]:
  """Scatter of UDR against each supervised headline score, Spearman ρ titled."""
  plots: List[Plot] = []
  if "udr" not in frame or frame["udr"].isna().all():
    return plots
  metrics = [c for c in C.headline_columns(frame)]
  if not metrics:
    return plots
  for dataset, data in _by_dataset(frame):
    if data["udr"].isna().all():
      continue
    ncols = min(4, len(metrics))
    nrows = int(math.ceil(len(metrics) / ncols))
    fig, axes = plt.subplots(nrows, ncols, squeeze=False,
                             figsize=(3.6 * ncols, 3.2 * nrows))
    data = data[data["udr"].notna()]
    families = sorted(data["model"].fillna("?").unique())
    colours = plt.get_cmap("tab10")
    for k, metric in enumerate(metrics):
      ax = axes[k // ncols, k % ncols]
      for f, family in enumerate(families):
        sub = data[data["model"].fillna("?") == family]
        ax.scatter(sub["udr"], sub[metric], s=14, alpha=0.8,
                   color=colours(f % 10), label=family)
      rho = spearman(data["udr"], data[metric])
      rho_text = "n/a" if math.isnan(rho) else f"{rho:.2f}"
      ax.set_title(f"{C.display_name(metric)}: Spearman ρ = {rho_text}",
                   fontsize=9)
      ax.set_xlabel("UDR", fontsize=8)
      ax.set_ylabel(C.display_name(metric), fontsize=8)
      ax.tick_params(labelsize=7)
    for k in range(len(metrics), nrows * ncols):
      axes[k // ncols, k % ncols].axis("off")
    axes[0, 0].legend(fontsize=7, loc="best")
    fig.suptitle(f"UDR vs supervised scores — {dataset}", fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.96))
    path = os.path.join(plot_dir, f"udr_vs_metrics_{_safe(dataset)}.png")
    save_figure(path, fig)
    plt.close(fig)
    plots.append((f"UDR against each supervised score ({dataset})", path))
  return plots


def rank_correlation_matrix(frame: pd.DataFrame) -> pd.DataFrame:
  """Spearman ρ between every pair of score columns (UDR + headline scores)."""
  cols = C.udr_columns(frame) + C.headline_columns(frame)
  names = [C.display_name(c) for c in cols]
  matrix = pd.DataFrame(np.nan, index=names, columns=names)
  for a, ca in zip(names, cols):
    for b, cb in zip(names, cols):
      matrix.at[a, b] = spearman(frame[ca], frame[cb])
  return matrix


def plot_rank_correlation(frame: pd.DataFrame, plot_dir: str
                          ) -> Tuple[List[Plot], Dict[str, pd.DataFrame]]:
  """Heat-map of the score rank correlations, one per dataset."""
  plots: List[Plot] = []
  matrices: Dict[str, pd.DataFrame] = {}
  for dataset, data in _by_dataset(frame):
    matrix = rank_correlation_matrix(data)
    if matrix.shape[0] < 2:
      continue
    matrices[dataset] = matrix
    n = matrix.shape[0]
    fig, ax = plt.subplots(figsize=(1.0 * n + 2.5, 0.9 * n + 1.8))
    image = ax.imshow(matrix.values.astype(float), vmin=-1, vmax=1,
                      cmap="RdBu_r")
    ax.set_xticks(range(n))
    ax.set_xticklabels(matrix.columns, rotation=40, ha="right", fontsize=8)
    ax.set_yticks(range(n))
    ax.set_yticklabels(matrix.index, fontsize=8)
    for i in range(n):
      for j in range(n):
        v = matrix.values[i, j]
        ax.text(j, i, "–" if not np.isfinite(v) else f"{v:.2f}",
                ha="center", va="center", fontsize=7,
                color="white" if np.isfinite(v) and abs(v) > 0.6 else "black")
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04,
                 label="Spearman ρ")
    ax.set_title(f"Rank correlation between scores — {dataset}", fontsize=10)
    fig.tight_layout()
    path = os.path.join(plot_dir, f"rank_correlation_{_safe(dataset)}.png")
    save_figure(path, fig)
    plt.close(fig)
    plots.append((f"Spearman rank correlation between scores ({dataset})",
                  path))
  return plots, matrices


def make_plots(frame: pd.DataFrame, plot_dir: str
               ) -> Tuple[List[Plot], Dict[str, pd.DataFrame]]:
  """All plots of a results table; returns (captions + paths, ρ matrices)."""
  os.makedirs(plot_dir, exist_ok=True)
  plots = plot_score_boxes(frame, plot_dir)
  plots += plot_udr_vs_metrics(frame, plot_dir)
  rank_plots, matrices = plot_rank_correlation(frame, plot_dir)
  return plots + rank_plots, matrices
