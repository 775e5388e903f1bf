"""Model visualisations from a SavedModel alone (dlib ``visualize_model``).

``visualize_model`` writes into ``<model_dir>/visualizations`` (by default):
  reconstructions.png            input | reconstruction pairs
  samples.png                    decoded prior samples z ~ N(0, I)
  traversals/traversal_<b>.png   one grid per base image: a row per latent
                                 (ordered by KL, high first), columns the
                                 latent set to evenly spaced values;
                                 inactive latents (KL < 0.01) greyed out,
                                 every row labelled with its KL
  animated_traversals/*.gif      std-Gaussian-quantile and fixed-interval
                                 cycles, all latents side by side (or one GIF
                                 per latent with gif_layout="per_latent")
  visualize.json                 settings, per-latent KL and the files
Only the SavedModel signatures (tfdis.export.load) and the dataset named in
its metadata are used, so any exported model can be visualised.
"""

from __future__ import annotations

import json
import os
from typing import Any, Dict, List, Optional

import numpy as np

from tfdis import io_utils
from tfdis.checks import check_count
from tfdis.errors import UserError
from tfdis.registry import check_choice
from tfdis.visualize import gifs, grids

GIF_LAYOUTS = ("all", "per_latent")
CYCLES = ("std_gaussian_cycle", "fixed_interval_cycle")


def _sigmoid(logits: np.ndarray) -> np.ndarray:
  return 1.0 / (1.0 + np.exp(-np.asarray(logits, dtype=np.float64)))


def dataset_for_model(metadata: Dict[str, Any], dataset: Any = "auto"):
  """The GroundTruthData a model was trained on (``dataset='auto'``)."""
  from tfdis.data import GroundTruthData, get_dataset

  if isinstance(dataset, GroundTruthData):
    return dataset
  if dataset != "auto":
    return get_dataset(dataset)
  info = metadata.get("dataset") or {}
  if "name" not in info:
    raise UserError("the SavedModel metadata names no dataset, so "
                    "dataset='auto' cannot rebuild it; pass dataset=NAME")
  return get_dataset(info["name"], **info.get("options", {}))


def traversal_codes(base: np.ndarray, order: np.ndarray,
                    values: np.ndarray) -> np.ndarray:
  """[len(order), len(values), d] codes: row r sets latent order[r] to values.

  ``values`` is [len(values)] (same for every latent) or [len(order), T].
  """
  base = np.asarray(base, dtype=np.float32)
  values = np.asarray(values, dtype=np.float32)
  rows = len(order)
  steps = values.shape[-1]
  codes = np.broadcast_to(base, (rows, steps, base.shape[0])).copy()
  codes[np.arange(rows), :, np.asarray(order)] = np.broadcast_to(
      values, (rows, steps))
  return codes


def _decode(model, codes: np.ndarray) -> np.ndarray:
  """Images in [0, 1] for latent codes of any leading shape."""
  flat = codes.reshape(-1, codes.shape[-1])
  try:
    logits = model.decoder(flat)
  except KeyError as e:
    raise ValueError(f"{model.path} has no 'decoder' signature; tfdis "
                     "visualisations need it (re-export the model)") from e
  return _sigmoid(logits).reshape(codes.shape[:-1] + logits.shape[1:])


def visualize_model(model_dir: str, output_dir: Optional[str] = None,
                    num_images: int = 16, seed: int = 0,
                    num_traversals: int = 5, traversal_steps: int = 11,
                    traversal_range: float = 2.0, num_animations: int = 3,
                    num_frames: int = 20, fps: float = 10.0,
                    gif_layout: str = "all", kl_threshold: float = 0.01,
                    num_kl_points: int = 1000, num_cols: int = 8,
                    dataset: Any = "auto", batch_size: int = 256
                    ) -> Dict[str, Any]:
  """Writes reconstructions, samples, traversals and animations of a model.

  Args:
    model_dir: model directory (with saved_model/) or a SavedModel.
    output_dir: default ``<model_dir>/visualizations``.
    num_images: images in reconstructions.png and samples.png.
    seed: seeds the data draw and the prior samples.
    num_traversals: base images with a traversal PNG each.
    traversal_steps, traversal_range: columns of a traversal PNG, the latent
      set to linspace(-range, range, steps).
    num_animations, num_frames, fps: GIFs per cycle type and their frames.
    gif_layout: "all" (all latents side by side in one GIF) or "per_latent".
    kl_threshold: latents with KL below it are drawn greyed out (Eq. 3 of
      the UDR paper uses 0.01 for "informative").
    num_kl_points: images over which each latent's KL is averaged.
    num_cols: columns of reconstructions.png and samples.png.
    dataset: "auto" (from the metadata), a registered name or a
      GroundTruthData.

  Returns:
    dict with the written ``files`` (paths), ``kl`` per latent and ``order``.
  """
  from tfdis.export.load import check_observation_shape, load_saved_model

  for name, value in (("num_images", num_images),
                      ("num_traversals", num_traversals),
                      ("traversal_steps", traversal_steps),
                      ("num_animations", num_animations),
                      ("num_frames", num_frames), ("num_kl_points",
                                                   num_kl_points),
                      ("num_cols", num_cols)):
    check_count(name, value,
                0 if name in ("num_traversals", "num_animations") else 1)
  check_choice("gif_layout", gif_layout, GIF_LAYOUTS)
  if not traversal_range > 0 or not fps > 0:
    raise ValueError("traversal_range and fps must be > 0")

  model = load_saved_model(model_dir, batch_size=batch_size)
  data = dataset_for_model(model.metadata, dataset)
  check_observation_shape(model, data)
  output_dir = output_dir or os.path.join(os.fspath(model_dir),
                                          "visualizations")
  rs = np.random.RandomState(seed)
  num_base = max(num_images, num_traversals, num_animations)
  images = data.sample_observations(num_base, rs)
  kl_images = data.sample_observations(num_kl_points, rs)

  mean_kl, logvar_kl = model.gaussian_encoder(kl_images)
  kl = np.mean(0.5 * (mean_kl.astype(np.float64) ** 2 + np.exp(logvar_kl)
                      - logvar_kl - 1.0), axis=0)
  order = np.argsort(-kl, kind="stable")
  active = kl[order] >= kl_threshold
  means, _ = model.gaussian_encoder(images)
  latent_dim = means.shape[1]
  files: List[str] = []

  def write_png(name, array):
    path = os.path.join(output_dir, name)
    grids.save_png(path, array)
    files.append(path)

  # Reconstructions: input and reconstruction side by side in each cell.
  inputs = grids.to_rgb_uint8(images[:num_images])
  recons = grids.to_rgb_uint8(_decode(model, means[:num_images]))
  write_png("reconstructions.png", grids.image_grid(
      np.concatenate([inputs, recons], axis=2), num_cols))

  prior = rs.normal(size=(num_images, latent_dim)).astype(np.float32)
  write_png("samples.png", grids.image_grid(
      grids.to_rgb_uint8(_decode(model, prior)), num_cols))

  # Traversals: one decoder call for every base image, latent and value.
  values = np.linspace(-traversal_range, traversal_range, traversal_steps)
  if num_traversals:
    codes = np.stack([traversal_codes(means[b], order, values)
                      for b in range(num_traversals)])
    decoded = grids.to_rgb_uint8(_decode(model, codes))
    height, width = decoded.shape[-3:-1]
    labels = [f"z{a} KL={kl[a]:.3g}" + ("" if on else " (off)")
              for a, on in zip(order, active)]
    colors = [(0, 0, 0) if on else (150, 150, 150) for on in active]
    for b in range(num_traversals):
      rows = decoded[b].copy()
      rows[~active] = grids.grey_out(rows[~active])
      grid = grids.image_grid(rows.reshape((-1,) + rows.shape[2:]),
                              traversal_steps)
      write_png(os.path.join("traversals", f"traversal_{b}.png"),
                grids.add_row_labels(grid, labels, height, colors))

  # Animations: every latent cycles while the others keep the base code.
  schedules = {
      "std_gaussian_cycle": lambda start: gifs.cycle_gaussian(
          start, num_frames),
      "fixed_interval_cycle": lambda start: gifs.cycle_interval(
          start, num_frames, -traversal_range, traversal_range),
  }
  for b in range(num_animations):
    for cycle in CYCLES:
      values_b = schedules[cycle](means[b, order])  # [d, T]
      frames = grids.to_rgb_uint8(_decode(
          model, traversal_codes(means[b], order, values_b)))  # [d, T, ...]
      frames[~active] = grids.grey_out(frames[~active])
      directory = os.path.join(output_dir, "animated_traversals")
      if gif_layout == "all":
        path = os.path.join(directory, f"{cycle}_{b}.gif")
        gifs.save_gif(path, [grids.image_grid(frames[:, t], latent_dim)
                             for t in range(num_frames)], fps)
        files.append(path)
      else:
        for r, a in enumerate(order):
          path = os.path.join(directory, f"{cycle}_{b}_z{a}.gif")
          gifs.save_gif(path, frames[r], fps)
          files.append(path)

  summary = {
      "model_dir": os.fspath(model_dir), "dataset": data.info(),
      "settings": {"num_images": num_images, "seed": seed,
                   "num_traversals": num_traversals,
                   "traversal_values": values.tolist(),
                   "num_animations": num_animations,
                   "num_frames": num_frames, "fps": fps,
                   "gif_layout": gif_layout, "kl_threshold": kl_threshold,
                   "num_kl_points": num_kl_points},
      "kl": kl.tolist(), "order": order.tolist(),
      "active": [int(a) for a in order[active]],
      "files": [os.path.relpath(f, output_dir) for f in files],
  }
  summary_path = os.path.join(output_dir, "visualize.json")
  io_utils.write_json(summary_path, summary)
  return {"output_dir": output_dir, "files": files + [summary_path],
          "kl": kl, "order": order}


__all__ = ["visualize_model", "dataset_for_model", "traversal_codes"]
