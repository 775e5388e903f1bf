"""Heat-maps of UDR results (matplotlib, no pyplot: safe in any backend)."""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

from tfdis.io_utils import save_figure


def _figure(width: float, height: float):
  from matplotlib.figure import Figure  # Agg canvas, never a GUI backend
  return Figure(figsize=(width, height))


def plot_pairwise_scores(path: str, pairwise: np.ndarray,
                         labels: Sequence[str], title: str = "") -> None:
  """M x M matrix of pair scores; entry [i, j] has rows of R from model i."""
  num = len(labels)
  size = max(4.0, 0.45 * num + 2.0)
  fig = _figure(size + 1.0, size)
  ax = fig.add_subplot()
  masked = np.ma.masked_invalid(pairwise)
  image = ax.imshow(masked, vmin=0.0, vmax=1.0, cmap="viridis")
  ax.set_xticks(range(num), labels, rotation=90, fontsize=7)
  ax.set_yticks(range(num), labels, fontsize=7)
  ax.set_xlabel("model j (columns of R; model scores use this column)")
  ax.set_ylabel("model i (rows of R)")
  if num <= 12:
    for i in range(num):
      for j in range(num):
        if np.isfinite(pairwise[i, j]):
          ax.text(j, i, f"{pairwise[i, j]:.2f}", ha="center", va="center",
                  fontsize=7, color="w" if pairwise[i, j] < 0.6 else "k")
  ax.set_title(title or "UDR pair scores")
  fig.colorbar(image, ax=ax, fraction=0.046)
  save_figure(path, fig)


def plot_similarity_matrix(path: str, matrix: np.ndarray, row_label: str,
                           col_label: str, score: float,
                           row_informative: Optional[np.ndarray] = None,
                           col_informative: Optional[np.ndarray] = None,
                           ) -> None:
  """One R (rows latents of i, columns latents of j); '*' marks informative."""
  rows, cols = matrix.shape
  fig = _figure(max(4.0, 0.4 * cols + 2.0), max(3.5, 0.4 * rows + 1.5))
  ax = fig.add_subplot()
  image = ax.imshow(matrix, vmin=0.0, vmax=max(1.0, float(np.max(matrix))),
                    cmap="magma")

  def names(n, informative):
    return [f"z{a}" + ("*" if informative is not None and informative[a]
                       else "") for a in range(n)]

  ax.set_xticks(range(cols), names(cols, col_informative), fontsize=7)
  ax.set_yticks(range(rows), names(rows, row_informative), fontsize=7)
  ax.set_xlabel(f"{col_label} (j)")
  ax.set_ylabel(f"{row_label} (i)")
  ax.set_title(f"R, pair score {score:.3f} (* informative)", fontsize=9)
  fig.colorbar(image, ax=ax, fraction=0.046)
  save_figure(path, fig)
