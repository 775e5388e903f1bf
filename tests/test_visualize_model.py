"""Model visualisations on a tiny SavedModel: files, formats and sizes."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from helpers_savedmodel import make_linear_saved_model
from tfdis.visualize import gifs, grids

H = W = 64
PAD = grids.PAD


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
  root = tmp_path_factory.mktemp("vis_model")
  return make_linear_saved_model(str(root / "model"), latent_dim=6,
                                 num_active=4, seed=0)


def test_grid_layout_and_cycles():
  images = np.zeros((5, 2, 3, 3), np.uint8)
  images[:, :, :, 0] = np.arange(1, 6)[:, None, None]
  grid = grids.image_grid(images, num_cols=2, pad=1)
  assert grid.shape == (3 * 3 + 1, 2 * 4 + 1, 3)
  assert grids.grid_size(5, 2, 2, 3, pad=1) == grid.shape[:2]
  assert grid[1, 1, 0] == 1 and grid[1, 5, 0] == 2 and grid[4, 1, 0] == 3
  assert grid[7, 5, 0] == 255  # the empty sixth cell stays padding
  interval = gifs.cycle_interval(np.array([0.5]), 9, -2.0, 2.0)[0]
  assert interval[0] == pytest.approx(0.5) and interval[-1] == pytest.approx(
      0.5)
  assert interval.min() == pytest.approx(-2.0, abs=0.6)
  assert interval.max() <= 2.0 and interval.min() >= -2.0
  gauss = gifs.cycle_gaussian(np.array([0.3, -1.0]), 20)
  assert gauss.shape == (2, 20)
  np.testing.assert_allclose(gauss[:, 0], [0.3, -1.0], atol=1e-6)


def test_visualize_model_writes_valid_files(model_dir, tmp_path):
  from tfdis.visualize import visualize_model

  out = visualize_model(model_dir, str(tmp_path), num_images=5, num_cols=4,
                        num_traversals=2, traversal_steps=5,
                        num_animations=1, num_frames=4, num_kl_points=200)
  files = {os.path.relpath(f, tmp_path) for f in out["files"]}
  assert files == {
      "reconstructions.png", "samples.png", "traversals/traversal_0.png",
      "traversals/traversal_1.png",
      "animated_traversals/std_gaussian_cycle_0.gif",
      "animated_traversals/fixed_interval_cycle_0.gif", "visualize.json"}
  expected_png = {
      # 2 rows x 4 cols of [input | reconstruction] cells.
      "reconstructions.png": (4 * (2 * W + PAD) + PAD, 2 * (H + PAD) + PAD),
      "samples.png": (4 * (W + PAD) + PAD, 2 * (H + PAD) + PAD),
      # 120-px label strip, a row per latent (6), a column per value (5).
      "traversals/traversal_0.png": (120 + 5 * (W + PAD) + PAD,
                                     6 * (H + PAD) + PAD),
  }
  for name, size in expected_png.items():
    with Image.open(tmp_path / name) as image:
      assert image.format == "PNG" and image.size == size, name
  for name in ("std_gaussian_cycle_0.gif", "fixed_interval_cycle_0.gif"):
    with Image.open(tmp_path / "animated_traversals" / name) as gif:
      assert gif.format == "GIF" and gif.n_frames == 4
      assert gif.size == (6 * (W + PAD) + PAD, H + 2 * PAD)
  summary = json.loads((tmp_path / "visualize.json").read_text())
  # 4 active latents first (KL order), the 2 switched-off ones last.
  kl = np.array(summary["kl"])
  assert len(summary["active"]) == 4 and np.all(kl[summary["active"]] > 0.01)
  assert list(np.argsort(-kl, kind="stable")) == summary["order"]
  # Inactive rows are greyed out: low contrast around grey.
  with Image.open(tmp_path / "traversals/traversal_0.png") as image:
    pixels = np.asarray(image)[:, 120:]
  last_row = pixels[-(H + PAD):-PAD, PAD:PAD + W]
  assert abs(float(last_row.mean()) - grids.GREY) < 0.35 * grids.GREY


def test_per_latent_gifs_and_default_output_dir(model_dir):
  from tfdis.visualize import visualize_model

  out = visualize_model(model_dir, num_images=2, num_traversals=0,
                        num_animations=1, num_frames=3, num_kl_points=50,
                        gif_layout="per_latent")
  assert out["output_dir"] == os.path.join(model_dir, "visualizations")
  gif_files = [f for f in out["files"] if f.endswith(".gif")]
  assert len(gif_files) == 2 * 6
  with Image.open(gif_files[0]) as gif:
    assert gif.size == (W, H) and gif.n_frames == 3


def test_tfdis_visualize_needs_exactly_one_mode(model_dir, tmp_path):
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
  proc = subprocess.run(
      [sys.executable, "-m", "tfdis.bin.visualize", f"--model_dir={model_dir}",
       "--dataset=procedural_dsprites_small", f"--output_dir={tmp_path}"],
      capture_output=True, text=True, env=env, timeout=120)
  assert proc.returncode != 0
  assert "exactly one of --model_dir" in proc.stderr
