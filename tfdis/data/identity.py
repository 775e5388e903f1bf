"""The "identity" dataset: observations are the factors themselves.

For known-answer tests of the metrics (dlib ``dummy_data.
IdentityObservationsData``): 10 factors with 10 values each by default; the
observation of a factor row is that row, one value per "pixel", shape
(K, 1, 1). Values are stored as uint8 images like every dataset: factor index
v of a factor with n values becomes round(255 · v / (n − 1)), so the float
observation is v / (n − 1) ∈ [0, 1] up to rounding — a strictly monotone map
of the factor, which is all the metrics can see.
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

from tfdis.data.ground_truth import GroundTruthData


class IdentityData(GroundTruthData):
  """Observation = factor row, shape (num_factors, 1, 1)."""

  observations_are_deterministic = True

  def __init__(self, factor_sizes: Optional[Sequence[int]] = None,
               num_factors: int = 10, num_values: int = 10):
    if factor_sizes is None:
      factor_sizes = [int(num_values)] * int(num_factors)
    sizes = tuple(int(s) for s in factor_sizes)
    if not sizes or min(sizes) < 1 or max(sizes) > 256:
      raise ValueError(
          f"identity: factor_sizes must be 1..256 values per factor (they are "
          f"stored as uint8 pixels), got {list(sizes)}")
    self.name = "identity"
    self.factor_sizes = sizes
    self.factor_names = tuple(f"factor_{i}" for i in range(len(sizes)))
    self.observation_shape = (len(sizes), 1, 1)
    self._scale = np.array([255.0 / max(s - 1, 1) for s in sizes])

  def images_from_factors(self, factors, random_state=None) -> np.ndarray:
    factors = np.asarray(factors, dtype=np.int64)
    pixels = np.round(factors * self._scale).astype(np.uint8)
    return pixels.reshape((len(factors),) + self.observation_shape)
