"""Pixel grids of images saved as PNG (numpy + Pillow; no per-image loops).

All helpers take float images in [0, 1] shaped [..., H, W, C] with C in
{1, 3} and produce RGB uint8 arrays, so greyscale and colour datasets share
one code path and rows can be tinted (e.g. greyed-out inactive latents).
"""

from __future__ import annotations

import math
from typing import Optional, Sequence, Tuple

import numpy as np

from tfdis import io_utils

PAD = 2
PAD_VALUE = 255
GREY = 170.0


def to_rgb_uint8(images: np.ndarray) -> np.ndarray:
  """float [..., H, W, C] in [0, 1] -> uint8 [..., H, W, 3]."""
  images = np.asarray(images, dtype=np.float32)
  if images.shape[-1] == 1:
    images = np.repeat(images, 3, axis=-1)
  elif images.shape[-1] != 3:
    raise ValueError(f"images need 1 or 3 channels, got shape {images.shape}")
  return np.round(np.clip(images, 0.0, 1.0) * 255.0).astype(np.uint8)


def grey_out(images: np.ndarray, strength: float = 0.7) -> np.ndarray:
  """Blends uint8 images towards grey (marks inactive latents)."""
  blended = (1.0 - strength) * images.astype(np.float32) + strength * GREY
  return np.round(blended).astype(np.uint8)


def grid_shape(num: int, num_cols: int) -> Tuple[int, int]:
  cols = max(1, min(num, num_cols))
  return int(math.ceil(num / cols)), cols


def grid_size(num: int, num_cols: int, height: int, width: int,
              pad: int = PAD) -> Tuple[int, int]:
  """(height, width) in pixels of :func:`image_grid`'s output."""
  rows, cols = grid_shape(num, num_cols)
  return rows * (height + pad) + pad, cols * (width + pad) + pad


def image_grid(images: np.ndarray, num_cols: int, pad: int = PAD,
               pad_value: int = PAD_VALUE) -> np.ndarray:
  """uint8 [N, H, W, 3] -> one uint8 [rows*(H+pad)+pad, cols*(W+pad)+pad, 3].

  Images fill rows left to right; missing cells stay ``pad_value``.
  """
  images = np.asarray(images)
  num, height, width, channels = images.shape
  rows, cols = grid_shape(num, num_cols)
  cells = np.full((rows * cols, height + pad, width + pad, channels),
                  pad_value, dtype=np.uint8)
  cells[:num, pad:, pad:] = images
  grid = cells.reshape(rows, cols, height + pad, width + pad, channels)
  grid = grid.transpose(0, 2, 1, 3, 4).reshape(rows * (height + pad),
                                               cols * (width + pad), channels)
  out = np.full((grid.shape[0] + pad, grid.shape[1] + pad, channels),
                pad_value, dtype=np.uint8)
  out[:-pad or None, :-pad or None] = grid
  return out


def add_row_labels(grid: np.ndarray, labels: Sequence[str], row_height: int,
                   colors: Optional[Sequence[Tuple[int, int, int]]] = None,
                   label_width: int = 120, pad: int = PAD) -> np.ndarray:
  """Prepends a white strip with one text label per grid row."""
  from PIL import Image, ImageDraw, ImageFont

  strip = Image.new("RGB", (label_width, grid.shape[0]), (255, 255, 255))
  draw = ImageDraw.Draw(strip)
  font = ImageFont.load_default()
  for r, label in enumerate(labels):
    color = tuple(colors[r]) if colors is not None else (0, 0, 0)
    y = pad + r * (row_height + pad) + max(0, row_height // 2 - 6)
    draw.text((3, y), label, fill=color, font=font)
  return np.concatenate([np.asarray(strip), grid], axis=1)


def save_png(path: str, image: np.ndarray) -> None:
  """Writes a uint8 [H, W, 3] array as PNG atomically."""
  from PIL import Image

  with io_utils.atomic_path(path, suffix=".png") as tmp:
    Image.fromarray(np.asarray(image, dtype=np.uint8)).save(tmp, format="PNG")
