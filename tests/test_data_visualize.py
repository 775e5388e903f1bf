"""visualize_dataset writes one strip + GIF per factor."""

import os

import numpy as np
from PIL import Image

from tfdis.data import get_dataset
from tfdis.visualize.dataset import visualize_dataset


def test_visualize_dataset_writes_strips_and_gifs(tmp_path):
  data = get_dataset("procedural_shapes3d_small")
  paths = visualize_dataset(data, str(tmp_path), num_values=3, seed=1)
  for name in data.factor_names:
    png = os.path.join(tmp_path, f"{name}.png")
    gif = os.path.join(tmp_path, f"{name}.gif")
    assert png in paths and gif in paths
    with Image.open(gif) as g:
      assert g.n_frames == min(3, data.factor_sizes[data.factor_names.index(
          name)])
  strip = np.asarray(Image.open(os.path.join(tmp_path, "scale.png")))
  assert strip.shape[1] > 3 * 64 and strip.shape[0] < 2 * 64 + 10
  assert os.path.join(tmp_path, "overview.png") in paths
  assert not [f for f in os.listdir(tmp_path) if f.startswith(".")]
