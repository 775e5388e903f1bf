"""A self-contained HTML report of an aggregated results table.

Tables are HTML; plots (PNG) and the traversal GIFs of the best and worst model
by UDR are embedded as base64 data URIs, so the single ``report.html`` can be
mailed or opened anywhere (the PNGs also stay beside it in ``plots/``).
"""

from __future__ import annotations

import datetime
import glob
import html
import os
from typing import Dict, List, Optional, Sequence, Tuple

import pandas as pd

from tfdis import html_page
from tfdis.io_utils import write_text
from tfdis.results import columns as C

# train.json keeps the final loss terms under final_losses (tfdis.training).
ELBO_COLUMNS = ("train.final_losses.elbo", "train.elbo")
RECONSTRUCTION_COLUMNS = ("train.final_losses.reconstruction_loss",
                          "train.reconstruction_loss")

def _readable(table: pd.DataFrame, representation: str = "mean"
              ) -> pd.DataFrame:
  """Readable column and index headers (``C.short_name``); the table's
  representation is in its heading, so its columns drop the suffix."""
  suffix = f" ({representation})"
  table = table.rename(columns=lambda c: C.short_name(c).replace(suffix, ""))
  names = [C.short_name(n) if n else n for n in table.index.names]
  table.index = table.index.set_names(names)
  return table


def summary_table(frame: pd.DataFrame, representation: str = "mean"
                  ) -> pd.DataFrame:
  """Median of each score per (dataset, family, hyperparameters), with counts.

  Scores of one representation (``mean`` or ``sampled``); UDR and the final
  ELBO / reconstruction loss (properties of the model) are in every table.
  Headers are readable names (``C.short_name``).
  """
  scores = C.udr_columns(frame) + C.headline_columns(frame, representation)
  extra = [c for c in ELBO_COLUMNS if c in frame][:1] + [
      c for c in RECONSTRUCTION_COLUMNS if c in frame][:1]
  keys = [c for c in ("dataset", "model", "hyperparameters") if c in frame]
  if not keys or not len(frame):
    return pd.DataFrame()
  # Models with no config (e.g. a lone tfdis_train run) group under "–".
  frame = frame.assign(**{k: frame[k].fillna("–") for k in keys})
  grouped = frame.groupby(keys, sort=True)
  table = grouped[scores + extra].median() if scores + extra else (
      grouped.size().to_frame("models"))
  if "models" not in table:
    table.insert(0, "models", grouped.size())
  return _readable(table, representation)


def model_table(frame: pd.DataFrame, representation: str = "mean"
                ) -> pd.DataFrame:
  """Per-model rows with the identifying and headline columns of one
  representation, best UDR first."""
  scores = C.udr_columns(frame) + C.headline_columns(frame, representation)
  extra = [c for c in ("udr.num_informative",) + ELBO_COLUMNS + ("steps",)
           if c in frame]
  keep = [c for c in ("model_id", "dataset", "model", "hyperparameters",
                      "seed") if c in frame] + scores + extra
  table = frame[keep].copy()
  for col in ("seed", "steps", "udr.num_informative"):  # counts: 2, not 2.000
    if col in table:
      table[col] = table[col].map(lambda v: "–" if pd.isna(v) else
                                  str(int(v)))
  if "udr" in table:
    table = table.sort_values("udr", ascending=False, na_position="last")
  if "model_id" in table:
    table = table.set_index("model_id")
  return _readable(table, representation)


def _visuals(root: str, model_dir: str) -> Tuple[Optional[str], Optional[str]]:
  """(traversal GIF, reconstructions PNG) of a model, if visualised."""
  base = os.path.join(root, model_dir, "visualizations")
  gifs = sorted(glob.glob(os.path.join(base, "animated_traversals", "*.gif")))
  # tfdis.visualize writes <cycle>_<base>.gif with all latents side by side
  # (or <cycle>_<base>_z<latent>.gif per latent): prefer the Gaussian-quantile
  # cycle of the first base image showing all latents.
  preferred = [g for g in gifs
               if os.path.basename(g).startswith("std_gaussian_cycle")
               and "_z" not in os.path.basename(g)]
  gif = (preferred or gifs or [None])[0]
  recon = os.path.join(base, "reconstructions.png")
  return gif, (recon if os.path.isfile(recon) else None)


def _extremes(root: str, frame: pd.DataFrame) -> str:
  """Best and worst model by UDR (per dataset), with their traversals."""
  if "udr" not in frame or frame["udr"].isna().all():
    return ("<p><i>No UDR scores under this root, so no best/worst model "
            "(run the study's UDR step or tfdis_udr).</i></p>")
  parts = []
  datasets = frame["dataset"].fillna("unknown")
  for dataset in sorted(datasets.unique()):
    data = frame[(datasets == dataset) & frame["udr"].notna()]
    if not len(data):
      continue
    parts.append(f"<h3>{html.escape(str(dataset))}</h3><div class='models'>")
    best, worst = data["udr"].idxmax(), data["udr"].idxmin()
    for title, i in (("Best by UDR", best), ("Worst by UDR", worst)):
      row = data.loc[i]
      gif, recon = _visuals(root, row["model_dir"])
      desc = (f"<b>{title}</b>: <code>{html.escape(str(row['model_id']))}"
              f"</code> (UDR {row['udr']:.3f})")
      block = [f"<div class='model'><p>{desc}</p>"]
      if gif:
        name = html.escape(os.path.basename(gif))
        block.append(f"<p>Latent traversal ({name}):<br><img "
                     f"src='{html_page.data_uri(gif)}' alt='traversal'></p>")
      if recon:
        block.append("<p>Reconstructions:<br><img src='"
                     f"{html_page.data_uri(recon)}' alt='reconstructions'></p>")
      if not gif and not recon:
        block.append("<p><i>(not visualised)</i></p>")
      block.append("</div>")
      parts.append("".join(block))
      if best == worst:
        break
    parts.append("</div>")
  return "\n".join(parts)


def write_html_report(path: str, root: str, frame: pd.DataFrame,
                      plots: Sequence[Tuple[str, str]],
                      rank_matrices: Dict[str, pd.DataFrame],
                      csv_path: Optional[str] = None,
                      title: Optional[str] = None) -> str:
  """Writes ``path`` (atomically) and returns it."""
  title = title or f"tfdis results: {os.path.basename(os.path.abspath(root))}"
  families = sorted(frame["model"].dropna().unique()) if "model" in frame else []
  datasets = sorted(frame["dataset"].dropna().unique()) if "dataset" in frame else []
  body: List[str] = [
      f"<h1>{html.escape(title)}</h1>",
      "<p class='meta'>Root <code>{}</code> · {} models · families: {} · "
      "datasets: {} · generated {}{}</p>".format(
          html.escape(os.path.abspath(root)), len(frame),
          html.escape(", ".join(families) or "–"),
          html.escape(", ".join(datasets) or "–"),
          datetime.datetime.now().strftime("%Y-%m-%d %H:%M"),
          (f" · full table: <code>{html.escape(os.path.basename(csv_path))}"
           "</code>") if csv_path else ""),
  ]
  body.append("<h2>Best and worst model by UDR</h2>")
  body.append(_extremes(root, frame))
  reps = C.representations_in(frame) or ["mean"]
  for rep in reps:
    body.append("<h2>Summary per family and hyperparameter: medians, "
                f"{html.escape(rep)} representation</h2>")
    body.append(html_page.frame_table(summary_table(frame, rep)))
  body.append("<h2>Plots</h2>")
  if plots:
    body.extend(html_page.figure(p, caption) for caption, p in plots)
  else:
    body.append("<p><i>No scores to plot yet.</i></p>")
  if rank_matrices:
    body.append("<h2>Rank correlations (Spearman ρ)</h2>")
    for dataset, matrix in rank_matrices.items():
      body.append(f"<h3>{html.escape(str(dataset))}</h3>")
      body.append(html_page.frame_table(matrix, "{:.2f}"))
  for rep in reps:
    body.append(f"<h2>All models, {html.escape(rep)} representation</h2>")
    body.append(html_page.frame_table(model_table(frame, rep)))
  write_text(path, html_page.page(title, body))
  return path
