"""Colour, noisy and scream dSprites: per-sample randomness applied on demand.

Locatello et al. 2019 (Sec. 5) use three dSprites variants; dlib
(``dsprites.py``: ColorDSprites, NoisyDSprites, ScreamDSprites) draws their
randomness per image at sampling time from the binary dSprites images:

* colour: sprite × one RGB colour per image, U(0.5, 1)^3; background black.
* noisy: background U(0, 1)^3 per pixel; sprite pixels 1
  (``min(sprite + noise, 1)``).
* scream: background = (a random 64×64 crop of "The Scream" fitted into
  350×274 + one U(0, 1)^3 colour) / 2; sprite pixels inverted
  (1 − background).

Unlike dlib, which returns floats, images here are uint8 (the
``GroundTruthData`` contract), i.e. the same values rounded to 1/255.
All functions are vectorised over the batch.
"""

from __future__ import annotations

import os
from typing import Optional

import numpy as np

from tfdis.errors import UserError
from tfdis.data.ground_truth import (GroundTruthData, RandomState,
                                     as_random_state, randint)
from tfdis.registry import check_choice

# Where users get the painting (the URL dlib documents).
SCREAM_URL = ("https://upload.wikimedia.org/wikipedia/commons/f/f4/"
              "The_Scream.jpg")
SCREAM_FILENAME = "The_Scream.jpg"
# dlib: ``scream.thumbnail((350, 274, 3))`` — fit inside 350×274, keeping the
# aspect ratio.
SCREAM_SIZE = (350, 274)


def _sprite_mask(binary: np.ndarray) -> np.ndarray:
  """bool [n, 64, 64, 1] from uint8 binary images ({0, 1} or {0, 255})."""
  binary = np.asarray(binary)
  if binary.ndim == 3:
    binary = binary[..., None]
  return binary > (127 if binary.max(initial=0) > 1 else 0)


def _to_uint8(x: np.ndarray) -> np.ndarray:
  return np.clip(np.round(x * 255.0), 0, 255).astype(np.uint8)


def color_images(binary: np.ndarray, random_state: RandomState) -> np.ndarray:
  """uint8 [n, 64, 64, 3]: sprite × U(0.5, 1)^3 (one colour per image)."""
  mask = _sprite_mask(binary)
  colour = random_state.uniform(0.5, 1.0, size=(len(mask), 1, 1, 3))
  return _to_uint8(mask * colour)


def noisy_images(binary: np.ndarray, random_state: RandomState) -> np.ndarray:
  """uint8 [n, 64, 64, 3]: U(0, 1) noise per pixel and channel, sprite = 1."""
  mask = _sprite_mask(binary)
  noise = random_state.uniform(0.0, 1.0, size=mask.shape[:3] + (3,))
  return _to_uint8(np.minimum(mask + noise, 1.0))


def fit_scream(image) -> np.ndarray:
  """A PIL image as float32 [H, W, 3] in [0, 1], fitted into 350×274."""
  from PIL import Image  # pylint: disable=g-import-not-at-top
  image = image.convert("RGB")
  image.thumbnail(SCREAM_SIZE, Image.LANCZOS)
  scream = np.asarray(image, dtype=np.float32) / 255.0
  if scream.shape[0] < 64 or scream.shape[1] < 64:
    raise ValueError(f"the painting must be at least 64×64 after fitting into "
                     f"{SCREAM_SIZE}, got {scream.shape[:2]}")
  return scream


def load_scream(path: str) -> np.ndarray:
  """The painting file as float32 [H, W, 3] in [0, 1], fitted into 350×274."""
  from PIL import Image  # pylint: disable=g-import-not-at-top
  if not os.path.exists(path):
    raise FileNotFoundError(
        f"scream_dsprites needs the painting {SCREAM_FILENAME!r}, not found at "
        f"{path}. Get it from {SCREAM_URL} and put it in the manual directory "
        f"(pass --manual_dir=DIR / manual_dir=DIR), or pass scream_path=.")
  try:
    image = Image.open(path)
    image.load()
  except (OSError, ValueError) as e:  # truncated, or not an image
    raise UserError(
        f"{path} is not a readable image ({type(e).__name__}: {e}); "
        f"scream_dsprites needs the painting {SCREAM_FILENAME!r}: download "
        f"it again from {SCREAM_URL}.") from None
  with image:
    return fit_scream(image)


def scream_images(binary: np.ndarray, random_state: RandomState,
                  scream: np.ndarray) -> np.ndarray:
  """uint8 [n, 64, 64, 3] on painting crops; sprite pixels inverted."""
  mask = _sprite_mask(binary)
  n, size = len(mask), mask.shape[1]
  # dlib draws randint(0, H - 64) (exclusive upper end), x before y.
  x0 = randint(random_state, scream.shape[0] - size, n)
  y0 = randint(random_state, scream.shape[1] - size, n)
  offset = np.arange(size)
  rows = (x0[:, None] + offset)[:, :, None]
  cols = (y0[:, None] + offset)[:, None, :]
  shift = random_state.uniform(0.0, 1.0, size=(n, 1, 1, 3))
  background = (scream[rows, cols] + shift) / 2.0
  return _to_uint8(np.where(mask, 1.0 - background, background))


VARIANTS = ("color", "noisy", "scream")


class DSpritesVariant(GroundTruthData):
  """A dSprites variant over any binary dSprites ``GroundTruthData``.

  The factors, sizes and values are those of ``base``; only the image changes
  (randomly per sample, from ``random_state``).
  """

  observation_shape = (64, 64, 3)

  def __init__(self, base: GroundTruthData, variant: str,
               scream: Optional[np.ndarray] = None, name: Optional[str] = None):
    check_choice("variant", variant, VARIANTS,
                 error=ValueError)  # get_dataset names the options
    if variant == "scream" and scream is None:
      raise ValueError("the scream variant needs the painting: pass "
                       "scream=load_scream(path)")
    if tuple(base.observation_shape)[-1] != 1:
      raise ValueError(f"{base.name} is not a binary single-channel dataset")
    self.base = base
    self.variant = variant
    self.scream = scream
    self.name = name or f"{variant}_{base.name}"
    self.factor_names = tuple(base.factor_names)
    self.factor_sizes = tuple(base.factor_sizes)
    self.factor_values = base.factor_values
    self.observation_shape = tuple(base.observation_shape[:2]) + (3,)

  def _apply(self, binary, random_state):
    if self.variant == "color":
      return color_images(binary, random_state)
    if self.variant == "noisy":
      return noisy_images(binary, random_state)
    return scream_images(binary, random_state, self.scream)

  def images_from_factors(self, factors, random_state):
    return self._apply(self.base.images_from_factors(factors, random_state),
                       random_state)

  def images_from_indices(self, index, random_state=None):
    rs = as_random_state(0 if random_state is None else random_state)
    return self._apply(self.base.images_from_indices(index, rs), rs)

  def info(self) -> dict:
    info = super().info()
    info["variant_of"] = self.base.name
    return info
