"""HTML report of an rPU-VAE run (Estermann et al. 2020, Figs. 3, 4, 5).

``write_report(rpu_dir)`` reads what :func:`tfdis.rpu.run_rpu` left on disk
and writes ``<rpu_dir>/report/index.html`` with PNGs next to it (relative
links, so the folder can be copied anywhere):

* a table of every metaEpoch (leaf-run, |d|, best UDR, active latents, the
  ground-truth factor each active latent carries most information about on d
  (:mod:`tfdis.rpu.factors`), stop reason, size of the next subset) and a
  plot of subset sizes per metaEpoch;
* per metaEpoch with a reduction, paper Fig. 3: sorted codes of each active
  latent, their first differences Δ, the peak threshold, the peaks and the
  chosen interval(s) (at the root: the one each leaf-run starts from);
* per metaEpoch, paper Fig. 5: latent traversals of the best VAE, active
  latents at full contrast, inactive ones faded;
* final MIG / DCI disentanglement on the ground-truth factors of the final
  model and, if given, of baseline models (e.g. a β-TCVAE and the PBT-S-VAE
  upper bound) side by side (``scores.json`` too);
* with the leaf-run curve (``RPUConfig.leaf_run_curve``), paper Fig. 6: the
  final model's MIG / DCI against the number of leaf-runs whose surrogate
  labels it used.
"""

from __future__ import annotations

import html
import os
import re
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from tfdis import html_page, io_utils
from tfdis.rpu import factors as factors_lib
from tfdis.rpu.report_spec import RPUReportSpec

TRAVERSAL_VALUES = np.linspace(-2.0, 2.0, 7)
# Points of a sorted-code curve drawn at most (peaks are always drawn).
MAX_PLOT_POINTS = 20000
LEAF_COLOURS = ("tab:red", "tab:orange", "tab:purple", "tab:brown",
                "tab:pink", "tab:olive")


def _plt():
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt
  return plt


def _metaepoch_records(rpu_dir: str) -> List[Dict]:
  """result.json of every metaEpoch, ordered by (leaf, metaEpoch)."""
  records = []
  for name in sorted(os.listdir(rpu_dir)):
    leaf_dir = os.path.join(rpu_dir, name)
    if not re.fullmatch(r"leaf_\d+", name) or not os.path.isdir(leaf_dir):
      continue
    for sub in os.listdir(leaf_dir):
      marker = os.path.join(leaf_dir, sub, "result.json")
      if sub.startswith("metaepoch_") and os.path.isfile(marker):
        rec = io_utils.read_json(marker)
        rec["dir"] = os.path.join(leaf_dir, sub)
        records.append(rec)
  return sorted(records, key=lambda r: (r["leaf"], r["metaepoch"]))


def plot_reduction(directory: str, path: str, chosen: Sequence[Sequence[int]],
                   title: str = "", latent_ids: Optional[Sequence[int]] = None,
                   columns: int = 3) -> Optional[str]:
  """Paper Fig. 3 from ``reduction.npz``; ``chosen``: interval ranks per
  candidate to highlight (one tuple of per-latent ranks per candidate).

  One panel per active latent, ``columns`` per row; ``latent_ids`` (0-based
  indices of the active latents in the VAE) name the panels z1…zd."""
  npz = os.path.join(directory, "reduction.npz")
  if not os.path.isfile(npz):
    return None
  plt = _plt()
  with np.load(npz) as f:
    arrays = {k: f[k] for k in f.files}
  k = int(arrays["num_latents"])
  cols = max(1, min(columns, k))
  rows = -(-k // cols)
  fig, axes = plt.subplots(rows, cols, figsize=(6 * cols, 3.6 * rows),
                           squeeze=False)
  for extra in axes.flat[k:]:
    extra.axis("off")
  for j in range(k):
    ax = axes.flat[j]
    codes = arrays[f"latent_{j}_sorted_codes"]
    delta = arrays[f"latent_{j}_delta"]
    peaks = arrays[f"latent_{j}_peaks"]
    intervals = arrays[f"latent_{j}_intervals"]
    step = max(1, len(codes) // MAX_PLOT_POINTS)
    x = np.arange(len(codes))
    ax.plot(x[::step], codes[::step], color="tab:green", lw=1.2,
            label="sorted code")
    ax.set_xlabel("position in sorted order")
    ax.set_ylabel("code", color="tab:green")
    ax2 = ax.twinx()
    # Δ is spiky: keep the maximum of each plotted bin so peaks stay visible.
    if step > 1:
      m = len(delta) // step * step
      dplot = delta[:m].reshape(-1, step).max(axis=1)
      dx = x[:m:step]
    else:
      dplot, dx = delta, x[:-1]
    ax2.plot(dx, dplot, color="tab:blue", lw=0.8, label="Δ")
    ax2.axhline(float(arrays[f"latent_{j}_threshold"]), color="tab:blue",
                ls="--", lw=0.8, label="threshold")
    ax2.plot(peaks, delta[peaks], "x", color="red", ms=8, label="peaks")
    ax2.set_ylabel("Δ (first difference)", color="tab:blue")
    trim = int(arrays[f"latent_{j}_trim"])
    for edge in (trim, len(delta) - trim):
      ax.axvline(edge, color="grey", lw=0.5, ls=":")
    for c, ranks in enumerate(chosen):
      if j < len(ranks) and ranks[j] < len(intervals):
        start, stop = intervals[ranks[j]]
        colour = LEAF_COLOURS[c % len(LEAF_COLOURS)]
        ax.axvspan(start, stop - 1, color=colour, alpha=0.15)
        ax.hlines(codes[start:stop].mean(), start, stop - 1, color=colour,
                  lw=4)
    name = (f"z{latent_ids[j] + 1}" if latent_ids is not None
            and j < len(latent_ids) else f"active latent #{j}")
    ax.set_title(f"{name}: {len(peaks)} peak(s)")
    if j == 0:
      lines = ax.get_legend_handles_labels()
      lines2 = ax2.get_legend_handles_labels()
      ax.legend(lines[0] + lines2[0], lines[1] + lines2[1], fontsize=7,
                loc="upper left")
  fig.suptitle(title)
  fig.tight_layout()
  io_utils.save_figure(path, fig)
  plt.close(fig)
  return path


def plot_traversals(model_dir: str, data, indices: np.ndarray,
                    active: Sequence[int], kl: Optional[Sequence[float]],
                    path: str, title: str = "") -> str:
  """Paper Fig. 5: rows = latents, columns = values in [-2, 2] around the
  code of one image of d; inactive latents are faded."""
  from tfdis.export.load import load_saved_model
  plt = _plt()
  model = load_saved_model(model_dir)
  image = data.images_from_indices(np.asarray(indices[:1], np.int64))
  mean = model.mean_encoder(image.astype(np.float32) / 255.0)[0]
  d = model.latent_dim
  latents = np.repeat(mean[None, None, :], d * len(TRAVERSAL_VALUES),
                      axis=0).reshape(d, len(TRAVERSAL_VALUES), d)
  for z in range(d):
    latents[z, :, z] = TRAVERSAL_VALUES
  logits = model.decoder(latents.reshape(-1, d))
  images = 1.0 / (1.0 + np.exp(-logits))
  images = images.reshape(d, len(TRAVERSAL_VALUES), *images.shape[1:])
  active = set(int(a) for a in active)
  fig, axes = plt.subplots(d, len(TRAVERSAL_VALUES) + 1,
                           figsize=(1.1 * (len(TRAVERSAL_VALUES) + 1),
                                    1.1 * d), squeeze=False)
  for z in range(d):
    faded = z not in active
    for c in range(len(TRAVERSAL_VALUES) + 1):
      ax = axes[z, c]
      ax.set_xticks([])
      ax.set_yticks([])
      if c == 0:
        img = image[0].astype(np.float32) / 255.0
      else:
        img = images[z, c - 1]
      img = img[..., 0] if img.shape[-1] == 1 else img
      if faded:
        img = 0.3 * img + 0.7 * 0.65  # low contrast: inactive latent
      ax.imshow(img, cmap="gray", vmin=0, vmax=1)
      for spine in ax.spines.values():
        spine.set_edgecolor("red" if not faded else "lightgrey")
        spine.set_linewidth(2 if not faded else 0.5)
    label = f"z{z + 1}"
    if kl is not None:
      label += f"\nKL {kl[z]:.2f}"
    axes[z, 0].set_ylabel(label, fontsize=7,
                          fontweight="bold" if not faded else "normal")
  axes[0, 0].set_title("input", fontsize=7)
  fig.suptitle(title, fontsize=9)
  io_utils.save_figure(path, fig)
  plt.close(fig)
  return path


def plot_subset_sizes(records: Sequence[Dict], path: str) -> str:
  plt = _plt()
  fig, ax = plt.subplots(figsize=(5, 3.2))
  root = [r for r in records if r["leaf"] == 0]
  for leaf in sorted({r["leaf"] for r in records if r["leaf"] > 0}):
    recs = [r for r in records if r["leaf"] == leaf]
    xs = [0] + [r["metaepoch"] + 1 for r in recs]
    ys = [root[0]["size"] if root else np.nan] + [r["size"] for r in recs]
    ax.plot(xs, ys, "o-", label=f"leaf-run {leaf}")
  if root and len({r["leaf"] for r in records}) == 1:
    ax.plot([0], [root[0]["size"]], "o", label="root")
  ax.set_yscale("log")
  ax.xaxis.get_major_locator().set_params(integer=True)
  ax.set_xlabel("metaEpoch (0 = root on all of D)")
  ax.set_ylabel("|d|")
  ax.legend(fontsize=7)
  io_utils.save_figure(path, fig)
  plt.close(fig)
  return path


def plot_leaf_run_curve(entries: Sequence[Dict], path: str) -> str:
  """MIG and DCI disentanglement against the number of leaf-runs."""
  plt = _plt()
  fig, ax = plt.subplots(figsize=(4.5, 3.2))
  k = [e["num_leaf_runs"] for e in entries]
  for key, label, marker in (("mig", "MIG", "o"),
                             ("dci_disentanglement", "DCI dis.", "s")):
    ax.plot(k, [e.get(key, np.nan) for e in entries], marker=marker,
            label=label)
  ax.set_xlabel("leaf-runs whose surrogate labels the final model used")
  ax.set_ylabel("score (ground truth)")
  ax.set_xticks(k)
  ax.legend()
  fig.tight_layout()
  io_utils.save_figure(path, fig)
  plt.close(fig)
  return path


def ground_truth_scores(model_dir: str, data, num_train: int = 10000,
                        num_test: int = 5000, seed: int = 0,
                        dci: bool = True) -> Dict[str, float]:
  """MIG (20 bins) and DCI disentanglement of a SavedModel's mean codes."""
  from tfdis.export.load import load_saved_model
  from tfdis.metrics import dci_from_codes, mig_from_codes

  model = load_saved_model(model_dir)
  rs = np.random.RandomState(seed)
  f_train = data.sample_factors(num_train, rs)
  c_train = model.mean_encoder(data.sample_observations_from_factors(
      f_train, rs))
  out = {"mig": float(mig_from_codes(c_train, f_train)["discrete_mig"]),
         "num_train": num_train, "seed": seed}
  if dci:
    f_test = data.sample_factors(num_test, rs)
    c_test = model.mean_encoder(data.sample_observations_from_factors(
        f_test, rs))
    res = dci_from_codes(c_train, f_train, c_test, f_test, random_state=seed)
    out["dci_disentanglement"] = float(res["disentanglement"])
    out["num_test"] = num_test
  return out


def factors_per_metaepoch(records: Sequence[Dict], data
                          ) -> Dict[Tuple[int, int], List[Dict]]:
  """{(leaf, metaEpoch): factors_found(...)} for metaEpochs with labels."""
  out = {}
  for r in records:
    path = os.path.join(r["dir"], "labels.npz")
    if not r.get("labels_stored") or not os.path.isfile(path):
      continue
    with np.load(path) as f:
      indices, labels = f["indices"], f["labels"]
    out[(r["leaf"], r["metaepoch"])] = factors_lib.factors_found(
        labels, data.index_to_factors(indices), data.factor_names,
        r["active_latents"])
  return out


def peaks_per_latent(record: Dict) -> str:
  """'z4: 5, z6: 3 (+edges)' from a metaEpoch's reduction.json: the peaks
  find_peaks found per active latent (1-based as in the plots); '+edges'
  where the dataset edges were added as peaks (several latents, ≤ 3
  peaks)."""
  path = os.path.join(record["dir"], "reduction.json")
  if not os.path.isfile(path):
    return "–"
  latents = io_utils.read_json(path).get("latents", [])
  active = record["active_latents"]
  return ", ".join(
      f"z{active[l['latent']] + 1}: {len(l['peaks'])}" +
      (" (+edges)" if l.get("edges_added") else "") for l in latents) or "–"


def write_report(rpu_dir: str, output_dir: Optional[str] = None,
                 baselines: Optional[Mapping[str, Sequence[str]]] = None,
                 traversals: bool = True, scores: bool = True,
                 num_train: int = RPUReportSpec.report_num_train,
                 num_test: int = RPUReportSpec.report_num_test,
                 seed: int = 0) -> str:
  """Writes the report; returns the path of ``index.html``.

  Args:
    rpu_dir: an rPU output directory (``RPUConfig.output_dir``).
    output_dir: where to write (default ``<rpu_dir>/report``).
    baselines: {name: [model dirs]} scored next to the rPU-VAE final model,
      e.g. {"beta_tcvae": [...], "pbt_s_vae (upper bound)": [...]}.
    traversals: draw latent traversals of every metaEpoch's best VAE.
    scores: compute MIG/DCI on the ground truth (needs a labelled dataset).
    num_train, num_test, seed: metric sample sizes (spec defaults 10000/5000).
  """
  from tfdis.data import get_dataset

  rpu_dir = os.path.abspath(rpu_dir)
  out = os.path.abspath(output_dir or os.path.join(rpu_dir, "report"))
  os.makedirs(out, exist_ok=True)
  config = io_utils.read_json(os.path.join(rpu_dir, "config.json"))
  results_path = os.path.join(rpu_dir, "rpu_results.json")
  results = (io_utils.read_json(results_path)
             if os.path.isfile(results_path) else {})
  data = get_dataset(config["dataset"], **config.get("dataset_options", {}))
  records = _metaepoch_records(rpu_dir)
  parts = [f"<h1>rPU-VAE report</h1><p>{html.escape(rpu_dir)} — dataset "
           f"{html.escape(config['dataset'])}, {data.num_examples} rows; "
           f"max leaf-runs {config['max_leaf_runs']}, UDR stop "
           f"{config['udr_stop_threshold']}, active KL "
           f"{config['active_kl_threshold']}, rule "
           f"{html.escape(config['intersection_rule'])}.</p>"]
  if not records:
    parts.append("<p>No metaEpoch has finished yet.</p>")

  found = {}
  if scores:
    found = factors_per_metaepoch(records, data)
    io_utils.write_json(os.path.join(out, "factors_found.json"), {
        f"leaf_{k[0]}/metaepoch_{k[1]}": v for k, v in found.items()})
  rows = [(r["leaf"], r["metaepoch"], r["size"], r["udr"],
           ",".join(str(a + 1) for a in r["active_latents"]) or "none",
           factors_lib.summarize(found[(r["leaf"], r["metaepoch"])])
           if (r["leaf"], r["metaepoch"]) in found else "–",
           peaks_per_latent(r), r.get("num_candidates"),
           r["stop_reason"] or "(continue)",
           r["candidates"][0]["size"] if r.get("candidates") else None)
          for r in records]
  header = ["leaf-run", "metaEpoch", "|d|", "best UDR", "active latents (z)",
            "ground-truth factor per active latent (normalised MI on d; "
            "~ = below 0.3, entangled)", "peaks per active latent",
            "candidate subsets", "stop", "next |d|"]
  parts.append("<h2>metaEpochs</h2>" + html_page.table(rows, header))
  markdown = ["## metaEpochs\n\n" + html_page.markdown_table(rows, header)]
  if records:
    plot_subset_sizes(records, os.path.join(out, "subset_sizes.png"))
    parts.append('<img src="subset_sizes.png">')

  leaves = [x["leaf"] for x in results.get("leaves", [])] or sorted(
      {r["leaf"] for r in records})
  for r in records:
    tag = f"leaf{r['leaf']}_me{r['metaepoch']}"
    title = (f"leaf-run {r['leaf']}, metaEpoch {r['metaepoch']}: "
             f"|d| = {r['size']}, UDR {r['udr']:.3f}")
    parts.append(f"<h2>{html.escape(title)}</h2>")
    summary_path = os.path.join(r["dir"], "reduction.json")
    if os.path.isfile(summary_path):
      summary = io_utils.read_json(summary_path)
      cands = summary.get("candidates", [])
      if r["leaf"] == 0:
        n_chosen = max(1, len([x for x in leaves if x > 0]))
        chosen = [c["intervals"] for c in cands[:n_chosen]]
        caption = ("shaded: the interval(s) each leaf-run starts from "
                   "(red = leaf-run 1, orange = 2, purple = 3)")
      else:
        chosen = [c["intervals"] for c in cands[:1]]
        caption = "shaded: the chosen interval"
      png = f"reduction_{tag}.png"
      if plot_reduction(r["dir"], os.path.join(out, png), chosen, title,
                        latent_ids=r["active_latents"]):
        parts.append(f'<p>Fig. 3: sorted codes (green), Δ (blue), threshold '
                     f'(dashed), peaks (x); {caption}; dotted: trimmed '
                     f'ends.</p><img src="{png}">')
    if traversals and r.get("best_saved_model") and os.path.isdir(
        r["best_saved_model"]):
      with np.load(os.path.join(r["dir"], "subset.npz")) as f:
        indices = f["indices"]
      png = f"traversals_{tag}.png"
      plot_traversals(r["best_saved_model"], data, indices,
                      r["active_latents"], r.get("kl"),
                      os.path.join(out, png), title)
      parts.append(f'<p>Fig. 5: traversals of the best VAE (active latents '
                   f'framed red, inactive faded).</p><img src="{png}">')

  # The final model appears in Fig. 4 and Fig. 6: score each model once.
  scored: Dict[str, Dict] = {}

  def score(model_dir: str) -> Dict:
    if model_dir not in scored:
      scored[model_dir] = ground_truth_scores(model_dir, data, num_train,
                                              num_test, seed)
    return scored[model_dir]

  final_model = results.get("final_saved_model")
  if scores and (final_model or baselines):
    table = {}
    models = ([("rPU-VAE", final_model)] if final_model else []) + [
        (name, d) for name, dirs in (baselines or {}).items() for d in dirs]
    for name, model_dir in models:
      table.setdefault(name, []).append(dict(score(model_dir),
                                             model_dir=model_dir))
    io_utils.write_json(os.path.join(out, "scores.json"), table)
    rows = []
    for name, entries in table.items():
      migs = [e["mig"] for e in entries]
      dcis = [e["dci_disentanglement"] for e in entries]
      rows.append((name, len(entries), float(np.mean(migs)),
                   float(np.std(migs)), float(np.mean(dcis)),
                   float(np.std(dcis))))
    header = ["model", "n", "MIG mean", "MIG std", "DCI dis. mean",
              "DCI dis. std"]
    markdown.append(f"\n## Ground-truth scores ({num_train} training / "
                    f"{num_test} test points)\n\n"
                    + html_page.markdown_table(rows, header))
    parts.append(
        "<h2>Ground-truth scores (Fig. 4)</h2>" + html_page.table(rows, header)
        + f"<p>{num_train} training / {num_test} test points, seed {seed}, "
        "mean representation.</p>")
  curve_path = os.path.join(rpu_dir, "leaf_run_curve.json")
  if scores and os.path.isfile(curve_path):
    entries = io_utils.read_json(curve_path)["entries"]
    for e in entries:
      if e.get("best_saved_model"):
        e.update(score(e["best_saved_model"]))
    io_utils.write_json(os.path.join(out, "leaf_run_curve.json"), entries)
    plot_leaf_run_curve(entries, os.path.join(out, "leaf_run_curve.png"))
    parts.append(
        "<h2>Scores vs number of leaf-runs (Fig. 6)</h2>" + html_page.table(
            [(e["num_leaf_runs"], ", ".join(e["label_files"]), e["best_score"],
              e.get("mig"), e.get("dci_disentanglement")) for e in entries],
            ["leaf-runs", "surrogate label files", "final PBT eval "
             "(surrogate MIG)", "MIG (ground truth)",
             "DCI dis. (ground truth)"]) + '<img src="leaf_run_curve.png">')
  page = html_page.page("rPU-VAE report", parts)
  index = os.path.join(out, "index.html")
  io_utils.write_text(os.path.join(out, "summary.md"), "".join(markdown))
  io_utils.write_text(index, page)
  return index
