"""The ground-truth data interface every metric, model and controller uses.

A labelled benchmark is a finite grid of discrete generative factors (Locatello
et al. 2019, Sec. 5; dlib ``ground_truth_data.GroundTruthData``). Rows of every
array are samples; factors are 0-based indices into each factor's values and
the row-major index over the grid is the row order of the official files.
"""

from __future__ import annotations

from typing import Optional, Sequence, Tuple, Union

import numpy as np

RandomState = Union[np.random.RandomState, np.random.Generator]


def as_random_state(random_state) -> RandomState:
  """Accepts a RandomState, a Generator, an int seed or None."""
  if isinstance(random_state, (np.random.RandomState, np.random.Generator)):
    return random_state
  return np.random.RandomState(random_state)


def randint(random_state: RandomState, high, size) -> np.ndarray:
  """Uniform integers in [0, high) from either numpy RNG flavour."""
  if isinstance(random_state, np.random.Generator):
    return random_state.integers(0, high, size=size)
  return random_state.randint(0, high, size=size)


def uniform(random_state: RandomState, low, high, size) -> np.ndarray:
  return random_state.uniform(low, high, size=size)


class GroundTruthData:
  """Base class: a factor grid plus a way to get images for factor rows.

  Subclasses set ``name``, ``factor_names``, ``factor_sizes``,
  ``observation_shape`` and implement :meth:`images_from_factors` (uint8 images,
  nuisance factors drawn from ``random_state``). Everything else derives.
  """

  name: str = "ground_truth"
  factor_names: Tuple[str, ...] = ()
  factor_sizes: Tuple[int, ...] = ()
  observation_shape: Tuple[int, int, int] = (64, 64, 1)
  # Values of each factor (for metadata and plots); defaults to range(size).
  factor_values: Optional[Tuple[np.ndarray, ...]] = None
  # True when ``images_from_factors`` ignores ``random_state``: an
  # observation is a function of its factor row, so a model's code of a row
  # can be computed once and looked up (tfdis.export.code_cache). False for
  # renderers with random nuisance (colour, noise, scream, hidden factors).
  observations_are_deterministic: bool = False
  # "discrete" or "continuous" per factor; None = all discrete. Metrics get
  # a continuous factor's VALUES (``factor_values``) instead of its indices
  # and use their regression form (tfdis.metrics.factor_types.FACTOR_TYPES).
  _factor_types: Optional[Tuple[str, ...]] = None

  @property
  def factor_types(self) -> Tuple[str, ...]:
    return self._factor_types or ("discrete",) * len(self.factor_sizes)

  def declare_continuous(self, continuous_factors: Sequence[str]) -> None:
    """Declares the named factors continuous (metrics then see their values).

    Used by the datasets' ``continuous_factors`` option; the images and the
    grid are unchanged.
    """
    names = list(continuous_factors or ())
    unknown = sorted(set(names) - set(self.factor_names))
    if unknown:
      raise ValueError(f"continuous_factors {unknown} are not factors of "
                       f"{self.name}; its factors are "
                       f"{', '.join(self.factor_names)}")
    self._factor_types = tuple("continuous" if n in names else "discrete"
                               for n in self.factor_names)

  def values_of_factors(self, factors) -> np.ndarray:
    """float64 [num, K]: each factor index replaced by its value."""
    factors = self.check_factors(factors)
    values = self.factor_values or tuple(
        np.arange(s) for s in self.factor_sizes)
    return np.stack([np.asarray(values[j], dtype=np.float64)[factors[:, j]]
                     for j in range(self.num_factors)], axis=1).reshape(
                         factors.shape)

  # ---- to implement -------------------------------------------------------
  def images_from_factors(self, factors: np.ndarray,
                          random_state: RandomState) -> np.ndarray:
    """uint8 [num, H, W, C] images (0..255) for int factor rows [num, K]."""
    raise NotImplementedError

  # ---- derived ------------------------------------------------------------
  @property
  def num_factors(self) -> int:
    return len(self.factor_sizes)

  @property
  def num_examples(self) -> int:
    return int(np.prod(self.factor_sizes, dtype=np.int64))

  def _strides(self) -> np.ndarray:
    return row_strides(self.factor_sizes)

  def sample_factors(self, num: int, random_state) -> np.ndarray:
    """int64 [num, K]: each factor uniform over its values."""
    rs = as_random_state(random_state)
    return np.stack(
        [randint(rs, size, num) for size in self.factor_sizes],
        axis=1).astype(np.int64).reshape(num, self.num_factors)

  def sample_observations_from_factors(self, factors,
                                       random_state) -> np.ndarray:
    """float32 [num, H, W, C] in [0, 1]."""
    factors = self.check_factors(factors)
    images = self.images_from_factors(factors, as_random_state(random_state))
    return images.astype(np.float32) / np.float32(255.0)

  def sample(self, num: int, random_state) -> Tuple[np.ndarray, np.ndarray]:
    rs = as_random_state(random_state)
    factors = self.sample_factors(num, rs)
    return factors, self.sample_observations_from_factors(factors, rs)

  def sample_observations(self, num: int, random_state) -> np.ndarray:
    return self.sample(num, random_state)[1]

  def factors_to_index(self, factors) -> np.ndarray:
    """Row-major index over the full grid (the official files' row order)."""
    factors = self.check_factors(factors)
    return factors @ self._strides()

  def index_to_factors(self, index) -> np.ndarray:
    index = np.asarray(index, dtype=np.int64)
    if index.size and (index.min() < 0 or index.max() >= self.num_examples):
      raise ValueError(
          f"index out of range [0, {self.num_examples}) for {self.name}")
    sizes = np.asarray(self.factor_sizes, dtype=np.int64)
    return ((index[..., None] // self._strides()) % sizes).astype(np.int64)

  def images_from_indices(self, index, random_state=None) -> np.ndarray:
    """uint8 images of grid rows (used by the tf.data pipeline)."""
    rs = as_random_state(0 if random_state is None else random_state)
    return self.images_from_factors(self.index_to_factors(index), rs)

  def check_factors(self, factors) -> np.ndarray:
    factors = np.asarray(factors)
    if factors.ndim != 2 or factors.shape[1] != self.num_factors:
      raise ValueError(
          f"{self.name}: factors must have shape [num, {self.num_factors}] "
          f"({', '.join(self.factor_names)}), got {factors.shape}")
    factors = factors.astype(np.int64)
    if factors.size and ((factors < 0).any() or
                         (factors >= np.asarray(self.factor_sizes)).any()):
      raise ValueError(
          f"{self.name}: factor indices out of range; sizes are "
          f"{dict(zip(self.factor_names, self.factor_sizes))}")
    return factors

  def info(self) -> dict:
    """What SavedModel metadata and results JSON record about the data."""
    spec = getattr(self, "spec", None) or {"name": self.name, "options": {}}
    return {
        "name": spec["name"],
        "options": dict(spec["options"]),
        "factor_names": list(self.factor_names),
        "factor_sizes": [int(s) for s in self.factor_sizes],
        "observation_shape": [int(s) for s in self.observation_shape],
    }

  def __repr__(self) -> str:
    factors = ", ".join(f"{n}={s}" for n, s in
                        zip(self.factor_names, self.factor_sizes))
    return (f"{type(self).__name__}({self.name!r}, {factors}, "
            f"obs={tuple(self.observation_shape)})")


def row_strides(sizes) -> np.ndarray:
  """int64 strides of a row-major factor grid: row = factors @ strides."""
  sizes = np.asarray(sizes, dtype=np.int64)
  return np.concatenate([np.cumprod(sizes[::-1])[::-1][1:], [1]]).astype(
      np.int64)


class InMemoryGroundTruthData(GroundTruthData):
  """A grid held fully in memory as uint8 images in row-major factor order."""

  observations_are_deterministic = True

  def __init__(self, name: str, images: np.ndarray,
               factor_names: Sequence[str], factor_sizes: Sequence[int],
               factor_values: Optional[Sequence[np.ndarray]] = None):
    images = np.asarray(images)
    if images.dtype != np.uint8:
      raise ValueError(f"{name}: images must be uint8, got {images.dtype}")
    if images.ndim == 3:
      images = images[..., None]
    self.name = name
    self.factor_names = tuple(factor_names)
    self.factor_sizes = tuple(int(s) for s in factor_sizes)
    self.observation_shape = tuple(int(s) for s in images.shape[1:])
    self.factor_values = (None if factor_values is None else
                          tuple(np.asarray(v) for v in factor_values))
    if images.shape[0] != self.num_examples:
      raise ValueError(
          f"{name}: {images.shape[0]} images but the factor grid "
          f"{self.factor_sizes} has {self.num_examples} rows")
    self.images = images

  def images_from_factors(self, factors, random_state):
    return self.images[self.factors_to_index(factors)]

  def images_from_indices(self, index, random_state=None):
    return self.images[np.asarray(index, dtype=np.int64)]
