"""Encode-once cache of a Python-callable encoder's codes of a dataset's grid.

The SavedModel cache (``tfdis.export.code_cache``) is keyed by the model's
files; a Python callable has no files, so this cache lives in memory for one
``score_encoder`` call, or on disk under a key the user chooses (e.g. a hash
of the checkpoint) in a directory the user chooses.

Rows are encoded in fixed blocks of ``encode_batch_size`` consecutive grid
rows (block b = rows [b·B, (b+1)·B)), whichever metric asks first: a row's
code is always computed in the same batch, so the scores do not depend on
the order in which metrics run or on which rows they request (an encoder
whose output depends on the batch, e.g. through float reductions, still
gives the same numbers from run to run). Only datasets whose observations
are a function of the factors (``observations_are_deterministic``) can be
cached; others are encoded sample by sample as the metrics draw them.

A disk cache is checked before use: the first ``PROBE_ROWS`` grid rows are
encoded again and compared with the stored codes; a mismatch (the key was
reused for other weights) discards the file with a warning.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from typing import Any, Callable, Dict, Optional

import numpy as np

from tfdis.checks import check_count

FORMAT = "tfdis.callable_code_cache.v1"
PROBE_ROWS = 16


def _check_codes(codes, num_images: int) -> np.ndarray:
  codes = np.asarray(codes)
  if codes.ndim != 2 or codes.shape[0] != num_images:
    raise ValueError(
        f"the encoder must map {num_images} images to a NumPy array of codes "
        f"of shape [{num_images}, num_codes]; it returned shape "
        f"{codes.shape}")
  if codes.dtype.kind not in "fiu":
    raise ValueError(f"the encoder returned dtype {codes.dtype}; codes must "
                     "be numbers")
  return codes


def cache_file(cache_dir: str, cache_key: str, data) -> str:
  """``<cache_dir>/<cache_key>-<dataset>-<options hash>.npz``."""
  if not cache_key or any(c in str(cache_key) for c in "/\\"):
    raise ValueError(f"cache_key must be a non-empty name without path "
                     f"separators, got {cache_key!r}")
  info = data.info()
  options = json.dumps(info.get("options") or {}, sort_keys=True, default=str)
  tag = hashlib.sha1(options.encode()).hexdigest()[:8]
  return os.path.join(cache_dir, f"{cache_key}-{info['name']}-{tag}.npz")


class CallableRowCache:
  """Codes of grid rows from ``encoder(images) -> codes``, each row once.

  Args:
    encoder: images float32 [N, H, W, C] in [0, 1] -> codes [N, d].
    data: a ``GroundTruthData`` with ``observations_are_deterministic``.
    encode_batch_size: images per encoder call (and the block size).
    path: an ``.npz`` file (None: memory only).
    key: the user's name for the encoder's weights (stored in the header).
  """

  def __init__(self, encoder: Callable, data, encode_batch_size: int,
               path: Optional[str] = None, key: Optional[str] = None):
    if not getattr(data, "observations_are_deterministic", False):
      raise ValueError(f"dataset {data.name!r} renders observations with "
                       "random nuisance; its codes cannot be cached per row")
    self.encoder = encoder
    self.data = data
    self.block = check_count("encode_batch_size", encode_batch_size)
    self.path = path
    self.num_rows = int(data.num_examples)
    info = data.info()
    self.header: Dict[str, Any] = {
        "format": FORMAT, "key": key,
        "dataset": {"name": info["name"], "options": info.get("options")},
        "num_rows": self.num_rows, "block": self.block,
    }
    self.codes: Optional[np.ndarray] = None
    self.encoded_blocks = np.zeros(-(-self.num_rows // self.block), bool)
    self.stats = {"rows_encoded": 0, "rows_looked_up": 0}
    self._dirty = False
    if path:
      self._load()

  # ---- encoding ------------------------------------------------------------
  def encode_images(self, images: np.ndarray) -> np.ndarray:
    return _check_codes(self.encoder(images), len(images))

  def _encode_block(self, b: int) -> None:
    rows = np.arange(b * self.block, min((b + 1) * self.block, self.num_rows))
    images = self.data.sample_observations_from_factors(
        self.data.index_to_factors(rows), 0)
    codes = self.encode_images(images)
    if self.codes is None:
      self.codes = np.zeros((self.num_rows, codes.shape[1]), codes.dtype)
    elif codes.shape[1] != self.codes.shape[1]:
      raise ValueError(f"the encoder returned {codes.shape[1]} codes per "
                       f"image, before {self.codes.shape[1]}")
    self.codes[rows] = codes
    self.encoded_blocks[b] = True
    self.stats["rows_encoded"] += len(rows)
    self._dirty = True

  def codes_of_rows(self, rows) -> np.ndarray:
    rows = np.asarray(rows, dtype=np.int64).reshape(-1)
    for b in np.unique(rows // self.block):
      if not self.encoded_blocks[b]:
        self._encode_block(int(b))
    self.stats["rows_looked_up"] += len(rows)
    return self.codes[rows]

  # ---- persistence -----------------------------------------------------------
  def _probe(self) -> np.ndarray:
    rows = np.arange(min(PROBE_ROWS, self.num_rows))
    images = self.data.sample_observations_from_factors(
        self.data.index_to_factors(rows), 0)
    return self.encode_images(images)

  def _load(self) -> None:
    if not os.path.isfile(self.path):
      return
    try:
      with np.load(self.path) as z:
        header = json.loads(str(z["header"]))
        codes, blocks = z["codes"], z["encoded_blocks"].astype(bool)
    except (OSError, ValueError, KeyError) as e:
      warnings.warn(f"ignoring unreadable code cache {self.path}: {e}")
      return
    if header != json.loads(json.dumps(self.header, default=str)):
      warnings.warn(f"code cache {self.path} was written for another dataset "
                    "or batch size; it will be replaced")
      return
    probe = self._probe()
    stored = codes[:len(probe)]
    n = min(PROBE_ROWS, self.num_rows)
    if (not blocks[0] or probe.shape != stored.shape or
        not np.allclose(probe, stored, rtol=1e-5, atol=1e-6)):
      warnings.warn(f"code cache {self.path}: the encoder's codes of the first "
                    f"{n} grid rows differ from the stored ones, so the key "
                    "names other weights; the cache will be replaced (use a "
                    "new cache_key per set of weights)")
      return
    self.codes, self.encoded_blocks = codes, blocks

  def flush(self) -> None:
    """Writes the cache (atomically) if rows were added since the last write."""
    if not self.path or not self._dirty or self.codes is None:
      return
    from tfdis import io_utils

    if not self.encoded_blocks[0]:
      self._encode_block(0)  # the probe rows a later load checks
    os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
    with io_utils.atomic_path(self.path, suffix=".npz") as tmp:
      np.savez(tmp, header=np.array(json.dumps(self.header, default=str)),
               codes=self.codes, encoded_blocks=self.encoded_blocks)
    self._dirty = False


class CachedEncoder:
  """A ``representation_fn`` for the metrics: encodes images when called and
  looks grid rows up in a :class:`CallableRowCache` (``codes_of_factors``,
  used by ``tfdis.metrics.sampling`` instead of rendering)."""

  def __init__(self, cache: CallableRowCache):
    self.cache = cache

  def __call__(self, images: np.ndarray) -> np.ndarray:
    return self.cache.encode_images(images)

  def codes_of_factors(self, factors: np.ndarray) -> np.ndarray:
    return self.cache.codes_of_rows(self.cache.data.factors_to_index(factors))
