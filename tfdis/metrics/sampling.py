"""Sampling of (codes, factors) in dlib's draw order, encoded in large batches.

The sampling helpers draw factor rows from a ``GroundTruthData``, render them
and call ``representation_fn(images) -> codes`` on chunks of
``encode_batch_size`` images, so SavedModel encoders run full batches instead
of dlib's 16, while the random draws follow dlib call for call
(``RNG_ORDER``). Row-cached representations (``tfdis.export.code_cache``)
are looked up instead of rendered.
"""

from __future__ import annotations

from typing import Callable, List, Tuple

import numpy as np

from tfdis.checks import check_count
from tfdis.metrics.factor_types import factor_values_where_continuous

RepresentationFn = Callable[[np.ndarray], np.ndarray]


# Images per representation_fn call in the sampling wrappers. Large enough to
# keep an encoder busy, small enough for 64x64 float images (16 MB per chunk).
DEFAULT_ENCODE_BATCH_SIZE = 1024


# Points per ``ground_truth_data.sample(...)`` call in dlib's
# ``utils.generate_batch_factor_code`` (its ``batch_size=16`` default, never
# overridden by the published configs). It fixes the ORDER of random draws
# (dSprites draws each factor per call: randint(size_0, 16), randint(size_1,
# 16), ...), so it is part of the result; the encoder batch is not.
DLIB_SAMPLING_BATCH_SIZE = 16

# Recorded as parameters["rng_order"] by every sampling wrapper: its random
# draws follow dlib's wrapper call for call, so the same seed gives dlib's
# samples (encoder calls are batched independently of the draws).
RNG_ORDER = "disentanglement_lib"


def as_random_state(random_state) -> np.random.RandomState:
  """An int seed, None, a RandomState or a Generator -> one RNG object.

  Wrappers call this once so that successive draws (train, then test) differ;
  passing an int to every ``sample_factors`` call would repeat the draw.
  """
  if isinstance(random_state, (np.random.RandomState, np.random.Generator)):
    return random_state
  return np.random.RandomState(random_state)


def randint(random_state, high: int) -> int:
  """One uniform integer in [0, high) from either numpy RNG flavour.

  ``RandomState.randint(high)`` exactly as dlib calls it, so the stream stays
  aligned with dlib's.
  """
  if isinstance(random_state, np.random.Generator):
    return int(random_state.integers(0, high))
  return int(random_state.randint(high))


def encode(representation_fn: RepresentationFn, observations: np.ndarray,
           encode_batch_size: int = DEFAULT_ENCODE_BATCH_SIZE) -> np.ndarray:
  """Codes [N, d] of observations, ``encode_batch_size`` images per call."""
  encode_batch_size = check_count("encode_batch_size", encode_batch_size)
  chunks = []
  for start in range(0, len(observations), encode_batch_size):
    chunks.append(_call(representation_fn,
                        observations[start:start + encode_batch_size]))
  return np.concatenate(chunks, axis=0)


def _call(representation_fn: RepresentationFn, images: np.ndarray
          ) -> np.ndarray:
  codes = np.asarray(representation_fn(images))
  if codes.ndim != 2 or codes.shape[0] != len(images):
    raise ValueError(
        f"representation_fn must map {len(images)} images to codes of shape "
        f"[{len(images)}, num_codes]; it returned shape {codes.shape}")
  return codes


def looks_up_rows(ground_truth_data, representation_fn) -> bool:
  """True when codes can be looked up by factor row instead of rendered and
  encoded: the representation offers ``codes_of_factors`` (an encoding
  cache, ``tfdis.export.code_cache``) and the dataset's observations are a
  function of the factors alone, so its renderer draws nothing from the
  metric's random stream and skipping it leaves dlib's draw order intact."""
  return (hasattr(representation_fn, "codes_of_factors") and
          bool(getattr(ground_truth_data, "observations_are_deterministic",
                       False)))


class BatchedEncoder:
  """Collects observations in draw order and encodes them in large batches.

  The randomness of a metric is consumed in dlib's order, small call by small
  call (``add_factors``); images wait here until ``encode_batch_size`` of
  them are buffered and then go through the encoder in one call. ``codes()``
  returns the codes of everything added, in order. Only one batch of images
  is held. With a row-cached representation (``looks_up_rows``) nothing is
  rendered: the factor rows are kept and their codes looked up at the end.
  """

  def __init__(self, representation_fn: RepresentationFn,
               encode_batch_size: int = DEFAULT_ENCODE_BATCH_SIZE):
    self._fn = representation_fn
    self._batch = check_count("encode_batch_size", encode_batch_size)
    self._pending: List[np.ndarray] = []
    self._num_pending = 0
    self._codes: List[np.ndarray] = []
    self._rows: List[np.ndarray] = []

  def add_factors(self, ground_truth_data, factors: np.ndarray,
                  random_state) -> None:
    """Adds the observations of ``factors`` (rendered with ``random_state``
    unless their codes are looked up)."""
    if looks_up_rows(ground_truth_data, self._fn):
      self._rows.append(factors)  # checked by the lookup (factors_to_index)
      return
    self.add(ground_truth_data.sample_observations_from_factors(
        factors, random_state))

  def add(self, observations: np.ndarray) -> None:
    self._pending.append(np.asarray(observations))
    self._num_pending += len(observations)
    if self._num_pending >= self._batch:
      self._flush()

  def _flush(self) -> None:
    if not self._pending:
      return
    images = np.concatenate(self._pending, axis=0)
    self._pending, self._num_pending = [], 0
    self._codes.append(encode(self._fn, images, self._batch))

  def codes(self) -> np.ndarray:
    if self._rows:
      return np.asarray(self._fn.codes_of_factors(
          np.concatenate(self._rows, axis=0)))
    self._flush()
    return np.concatenate(self._codes, axis=0)


def encode_factors(ground_truth_data, representation_fn: RepresentationFn,
                   factors: np.ndarray, random_state,
                   encode_batch_size: int = DEFAULT_ENCODE_BATCH_SIZE
                   ) -> np.ndarray:
  """Renders factor rows in ONE ``sample_observations_from_factors`` call
  (dlib's granularity wherever it renders a given factor array) and encodes
  them in ``encode_batch_size`` chunks (codes [N, d]); looks them up instead
  with a row-cached representation (``looks_up_rows``)."""
  if looks_up_rows(ground_truth_data, representation_fn):
    return np.asarray(representation_fn.codes_of_factors(factors))
  obs = ground_truth_data.sample_observations_from_factors(factors,
                                                           random_state)
  return encode(representation_fn, obs, encode_batch_size)


def sample_codes_and_factors(ground_truth_data,
                             representation_fn: RepresentationFn,
                             num_points: int, random_state,
                             encode_batch_size: int = DEFAULT_ENCODE_BATCH_SIZE,
                             sampling_batch_size: int = (
                                 DLIB_SAMPLING_BATCH_SIZE)
                             ) -> Tuple[np.ndarray, np.ndarray]:
  """(codes [N, d], factors [N, K]) for N uniform factor rows.

  dlib ``utils.generate_batch_factor_code``: ``ground_truth_data.sample(n)``
  (factors, then their observations) for consecutive chunks of
  ``sampling_batch_size`` points, so the same seed gives dlib's samples; the
  observations are encoded ``encode_batch_size`` at a time. Factors are int
  indices; if the dataset declares continuous factors
  (``ground_truth_data.factor_types``) the array is float64 and those
  columns hold the factor VALUES (``values_of_factors``).
  """
  num_points = check_count("num_points", num_points, 1)
  sampling_batch_size = check_count("sampling_batch_size",
                                    sampling_batch_size, 1)
  encoder = BatchedEncoder(representation_fn, encode_batch_size)
  factors = []
  for start in range(0, num_points, sampling_batch_size):
    n = min(sampling_batch_size, num_points - start)
    f = ground_truth_data.sample_factors(n, random_state)
    encoder.add_factors(ground_truth_data, f, random_state)
    factors.append(f)
  return encoder.codes(), factor_values_where_continuous(
      ground_truth_data, np.concatenate(factors, axis=0))


def sample_train_test(ground_truth_data, representation_fn: RepresentationFn,
                      num_train: int, num_test: int, random_state,
                      encode_batch_size: int = DEFAULT_ENCODE_BATCH_SIZE,
                      sampling_batch_size: int = DLIB_SAMPLING_BATCH_SIZE):
  """(codes_train, factors_train, codes_test, factors_test), train drawn first."""
  train = sample_codes_and_factors(ground_truth_data, representation_fn,
                                   num_train, random_state, encode_batch_size,
                                   sampling_batch_size)
  test = sample_codes_and_factors(ground_truth_data, representation_fn,
                                  num_test, random_state, encode_batch_size,
                                  sampling_batch_size)
  return train + test
