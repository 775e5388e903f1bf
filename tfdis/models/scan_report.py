"""What a trained SCAN does, read through its SavedModel alone.

:func:`scan_report` measures img2sym (how often the most probable symbol of
each attribute is the true one, on random images of the model's dataset) and
draws sym2img samples: one row per random concept (k-hot symbol of a random
factor combination), the first cell a real image with those factors, then
samples z_y ∼ q(z_y|y) decoded by the visual decoder. Writes
``results/scan_img2sym.json`` and ``visualizations/sym2img.png`` in the
model directory.
"""

from __future__ import annotations

import os
from typing import Any, Dict

import numpy as np

from tfdis import io_utils
from tfdis.models.scan import symbol_accuracy, symbol_vocabulary


def _sigmoid(x: np.ndarray) -> np.ndarray:
  return 0.5 * (1.0 + np.tanh(0.5 * x))  # no overflow for large |x|


def k_hot_symbols(factors: np.ndarray, factor_names, factor_sizes,
                  bins: int) -> np.ndarray:
  """numpy twin of the in-graph rule (``SCAN.symbols``): [N, S]."""
  names, _, lookup = symbol_vocabulary(factor_names, factor_sizes, bins)
  offsets = np.concatenate([[0], np.cumsum(factor_sizes)[:-1]])
  columns = lookup[np.asarray(factors, np.int64) + offsets[None, :]]
  out = np.zeros((len(factors), len(names)), np.float32)
  rows = np.repeat(np.arange(len(factors)), columns.shape[1])
  keep = columns.ravel() >= 0
  out[rows[keep], columns.ravel()[keep]] = 1.0
  return out


def scan_report(model_dir: str, num_images: int = 2000, num_concepts: int = 6,
                samples_per_concept: int = 7, seed: int = 0
                ) -> Dict[str, Any]:
  """img2sym accuracy and a sym2img grid of the SCAN in ``model_dir``."""
  import tensorflow as tf

  from tfdis.data import get_dataset
  from tfdis.export.load import read_metadata, saved_model_dir
  from tfdis.visualize import grids

  meta = read_metadata(model_dir)
  if meta.get("model") != "scan":
    raise ValueError(f"{model_dir!r} is not a SCAN model (metadata model "
                     f"{meta.get('model')!r})")
  module = tf.saved_model.load(saved_model_dir(model_dir))
  sigs = module.signatures
  info = meta["dataset"]
  data = get_dataset(info["name"], **info.get("options", {}))
  bins = int(meta["hyperparameters"]["symbol_bins"])
  names, groups, _ = symbol_vocabulary(data.factor_names, data.factor_sizes,
                                       bins)
  if meta.get("symbols", names) != names:
    raise ValueError(f"{model_dir!r}: the metadata's symbols differ from the "
                     "vocabulary rule on its dataset")
  rs = np.random.RandomState(seed)

  factors, images = data.sample(num_images, rs)
  symbols = k_hot_symbols(factors, data.factor_names, data.factor_sizes, bins)
  probs = np.concatenate([
      sigs["img2sym"](images=tf.constant(images[i:i + 256]))
      ["probabilities"].numpy() for i in range(0, num_images, 256)])
  accuracy = symbol_accuracy(probs, symbols, groups)
  # Chance level: the most frequent symbol of each attribute.
  chance = {name: float(symbols[:, cols].sum(0).max() / num_images)
            for name, cols in groups}

  concept_factors, concept_images = data.sample(num_concepts, rs)
  concept_symbols = k_hot_symbols(concept_factors, data.factor_names,
                                  data.factor_sizes, bins)
  out = sigs["sym2img"](symbols=tf.constant(concept_symbols))
  mean, logvar = out["mean"].numpy(), out["logvar"].numpy()
  eps = rs.normal(size=(num_concepts, samples_per_concept, mean.shape[1]))
  z = (mean[:, None] + np.exp(logvar / 2)[:, None] * eps).astype(np.float32)
  samples = _sigmoid(sigs["decoder"](latents=tf.constant(
      z.reshape(-1, mean.shape[1])))["images"].numpy())
  cells = np.concatenate(
      [concept_images[:, None], samples.reshape(
          (num_concepts, samples_per_concept) + samples.shape[1:])], axis=1)
  grid = grids.image_grid(grids.to_rgb_uint8(
      cells.reshape((-1,) + cells.shape[2:])), samples_per_concept + 1)
  labels = [" ".join(names[j].split("=")[1] for j in np.flatnonzero(row))
            for row in concept_symbols]
  grid = grids.add_row_labels(grid, labels, data.observation_shape[0],
                              label_width=150)
  png = os.path.join(model_dir, "visualizations", "sym2img.png")
  os.makedirs(os.path.dirname(png), exist_ok=True)
  grids.save_png(png, grid)
  report = {"img2sym_accuracy": accuracy, "chance_accuracy": chance,
            "num_images": num_images, "seed": seed,
            "symbols": names, "sym2img_png": png,
            "sym2img_rows": labels,
            "note": ("row = one concept (first cell: a real image with its "
                     "factors; then samples z_y ~ q(z_y|y) through the "
                     "visual decoder); labels list the symbols by attribute "
                     f"order {[n for n, _ in groups]}")}
  io_utils.write_json(os.path.join(model_dir, "results",
                                   "scan_img2sym.json"), report)
  return report
