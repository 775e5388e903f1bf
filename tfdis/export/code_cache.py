"""Encode each grid row once: a model's codes of a dataset, kept beside it.

The published metrics encode far more images than a dataset has: BetaVAE at
dlib's counts renders and encodes 1.28 M dSprites images and FactorVAE
0.65 M, although dSprites has 737,280 distinct ones. Where an observation is
a function of its factors alone (``GroundTruthData.
observations_are_deterministic``: dSprites, Shapes3D, SmallNORB, Cars3D,
MPI3D and the procedural grids; not the colour/noisy/scream variants, whose
renderer draws from the metric's random stream), a row's code is a function
of the row, so each row needs encoding once per model.

:class:`RowCodeCache` holds the Gaussian encoder's mean and log-variance of
the rows encoded so far, in ``<model_dir>/encodings/<dataset>.npz`` (written
atomically; a cache whose model fingerprint, dataset or encoding context does
not match is ignored and replaced). :class:`CachedRepresentation` is a
``representation_fn`` for the metrics that also offers
``codes_of_factors``: the sampling helpers of :mod:`tfdis.metrics.sampling`
then skip rendering and look their rows up.

Bit-identity with the uncached path rests on
:meth:`tfdis.export.load.LoadedModel._batched`: every encoder call runs on
batches of exactly ``batch_size`` rows, so a row's code does not depend on
the rows it is encoded with. It does depend on the batch size and on the
TensorFlow intra-op thread count (measured: 1 vs 2 threads differ by
~7e-7), so both are part of the cache's ``context``.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from typing import Any, Dict, Optional, Tuple

from absl import logging

import numpy as np

from tfdis import io_utils
from tfdis.registry import check_choice

CACHE_DIR = "encodings"
FORMAT = "tfdis.code_cache.v1"
# Rows rendered per encoder hand-off when the cache fills itself; the next
# chunk is rendered while TensorFlow encodes this one.
RENDER_CHUNK = 8192
# A request that needs at least this share of the rows not yet encoded
# encodes all of them: the rest costs little more, and later metrics (and
# UDR) then find every row.
FULL_GRID_SHARE = 0.5


def model_fingerprint(saved_model_path: str) -> str:
  """SHA-1 of the graph and variable index: changes when a model is re-exported."""
  digest = hashlib.sha1()
  for rel in ("saved_model.pb", os.path.join("variables", "variables.index")):
    path = os.path.join(saved_model_path, rel)
    if os.path.isfile(path):
      with open(path, "rb") as f:
        digest.update(f.read())
  return digest.hexdigest()


def encoding_context(batch_size: int) -> Dict[str, Any]:
  """What besides the model and the row determines a code's bits."""
  import tensorflow as tf

  threads = tf.config.threading.get_intra_op_parallelism_threads()
  return {
      "batch_size": int(batch_size),
      # 0 = TensorFlow's default, one thread per core.
      "intra_op_threads": int(threads or os.cpu_count() or 1),
      "tensorflow": tf.__version__,
      "onednn": os.environ.get("TF_ENABLE_ONEDNN_OPTS", "default"),
  }


def supports_cache(data) -> bool:
  return bool(getattr(data, "observations_are_deterministic", False))


def cache_path(saved_model_path: str, dataset_info: Dict[str, Any]) -> str:
  """``<model_dir>/encodings/<dataset>-<options hash>.npz`` (beside the
  SavedModel when it sits in a model directory's ``saved_model/``)."""
  model_dir = os.path.normpath(saved_model_path)
  if os.path.basename(model_dir) == "saved_model":
    model_dir = os.path.dirname(model_dir)
  options = json.dumps(io_utils.to_jsonable(dataset_info.get("options") or {}),
                       sort_keys=True)
  tag = hashlib.sha1(options.encode()).hexdigest()[:8]
  return os.path.join(model_dir, CACHE_DIR,
                      f"{dataset_info['name']}-{tag}.npz")


MODES = ("disk", "memory", "off")
FLAG_HELP = ("Encode each grid row once per model (datasets whose images are "
             "a function of the factors; identical numbers): 'disk' also "
             "keeps the codes in <model_dir>/encodings/ for later metrics "
             "and UDR (~60 MB per model on the full dSprites "
             "grid), 'memory' for this run only, 'off' renders and encodes "
             "every sample.")


def check_mode(mode: str) -> str:
  return check_choice("cache_encodings", mode, MODES)


def open_cache(loaded, data, mode: str = "disk") -> Optional["RowCodeCache"]:
  """The cache of ``loaded``'s codes of ``data`` (None when ``mode`` is 'off'
  or the dataset's observations are not a function of the factors)."""
  if check_mode(mode) == "off" or not supports_cache(data):
    return None
  path = cache_path(loaded.path, data.info()) if mode == "disk" else None
  return RowCodeCache(loaded, data, path)


class RowCodeCache:
  """Gaussian-encoder outputs (mean, log-variance) of a dataset's grid rows.

  Args:
    loaded: a :class:`tfdis.export.load.LoadedModel`.
    data: a ``GroundTruthData`` with ``observations_are_deterministic``.
    path: the ``.npz`` file (None: in memory only).
  """

  def __init__(self, loaded, data, path: Optional[str] = None):
    if not supports_cache(data):
      raise ValueError(
          f"dataset {data.name!r} renders observations with random nuisance "
          "(its observations are not a function of the factors), so codes "
          "cannot be cached per row")
    self.loaded = loaded
    self.data = data
    self.path = path
    self.num_rows = int(data.num_examples)
    self.header = {
        "format": FORMAT,
        "model_fingerprint": model_fingerprint(loaded.path),
        "dataset": io_utils.to_jsonable(
            {k: data.info()[k] for k in ("name", "options")}),
        "num_rows": self.num_rows,
        "latent_dim": int(loaded.latent_dim),
        "context": encoding_context(loaded.batch_size),
    }
    self.mean = self.logvar = None
    self.encoded = np.zeros(self.num_rows, dtype=bool)
    self._dirty = False
    self.stats = {"rows_encoded": 0, "rows_looked_up": 0, "encode_s": 0.0}
    self._load()

  # ---- persistence --------------------------------------------------------
  def _load(self) -> None:
    if not self.path or not os.path.isfile(self.path):
      return
    try:
      with np.load(self.path) as z:
        header = json.loads(str(z["header"]))
        if header != self.header:
          logging.info("code cache %s belongs to another model, dataset or "
                       "encoding context; it will be replaced", self.path)
          return
        self.mean, self.logvar = z["mean"], z["logvar"]
        self.encoded = z["encoded"].astype(bool)
    except (OSError, ValueError, KeyError) as e:  # truncated or foreign
      logging.warning("ignoring unreadable code cache %s: %s", self.path, e)
      self.mean = self.logvar = None
      self.encoded = np.zeros(self.num_rows, dtype=bool)

  def flush(self) -> None:
    """Writes the cache if rows were added since the last write (atomic).

    Writers hold the lock of the ``encodings/`` directory, so the
    temporaries of a killed writer (tens of MB) are removed by the next one.
    If another process is writing, this one keeps its rows in memory and
    tries again at its next flush: the cache is an accelerator, never a
    reason to fail a metric."""
    if not self.path or not self._dirty:
      return
    from tfdis import rundir

    directory = os.path.dirname(self.path)
    lock = rundir.RunLock(directory, "tfdis code cache")
    try:
      lock.acquire()
    except rundir.RunDirectoryLockedError:
      logging.info("code cache %s is being written by another process; "
                   "this one's rows stay in memory for now", self.path)
      return
    try:
      rundir.clean_stale_temporaries(directory)
      with io_utils.atomic_path(self.path, suffix=".npz") as tmp:
        np.savez(tmp, header=np.array(json.dumps(self.header,
                                                 sort_keys=True)),
                 mean=self.mean, logvar=self.logvar, encoded=self.encoded)
    finally:
      lock.release()
    self._dirty = False

  # ---- lookups ------------------------------------------------------------
  def gaussian_of_rows(self, rows: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """(mean, logvar) float32 [len(rows), d] of grid rows, encoding the
    missing ones first."""
    rows = np.asarray(rows, dtype=np.int64).reshape(-1)
    self._fill(rows)
    self.stats["rows_looked_up"] += len(rows)
    return self.mean[rows], self.logvar[rows]

  def _fill(self, rows: np.ndarray) -> None:
    missing = np.unique(rows[~self.encoded[rows]])
    if not len(missing):
      return
    todo = np.flatnonzero(~self.encoded)
    if len(missing) >= FULL_GRID_SHARE * len(todo):
      missing = todo
    if self.mean is None:
      d = int(self.loaded.latent_dim)
      self.mean = np.zeros((self.num_rows, d), np.float32)
      self.logvar = np.zeros((self.num_rows, d), np.float32)
    start = time.monotonic()
    self._encode(missing)
    elapsed = time.monotonic() - start
    self.stats["rows_encoded"] += len(missing)
    self.stats["encode_s"] += elapsed
    logging.info("code cache: encoded %d rows of %s in %.1f s (%.0f rows/s; "
                 "%d of %d rows cached)", len(missing), self.data.name,
                 elapsed, len(missing) / max(elapsed, 1e-9),
                 int(self.encoded.sum()), self.num_rows)

  def _encode(self, rows: np.ndarray) -> None:
    """Renders chunk i+1 in a thread while chunk i is encoded (TensorFlow
    releases the GIL)."""
    from concurrent.futures import ThreadPoolExecutor

    chunks = [rows[i:i + RENDER_CHUNK]
              for i in range(0, len(rows), RENDER_CHUNK)]

    def render(chunk):
      factors = self.data.index_to_factors(chunk)
      return self.data.sample_observations_from_factors(factors, 0)

    with ThreadPoolExecutor(1) as pool:
      pending = pool.submit(render, chunks[0])
      for i, chunk in enumerate(chunks):
        images = pending.result()
        if i + 1 < len(chunks):
          pending = pool.submit(render, chunks[i + 1])
        mean, logvar = self.loaded.gaussian_encoder(images)
        self.mean[chunk], self.logvar[chunk] = mean, logvar
        self.encoded[chunk] = True
        self._dirty = True


class CachedRepresentation:
  """``representation_fn`` backed by a :class:`RowCodeCache`.

  Called with images, it encodes them (datasets the cache cannot serve);
  ``codes_of_factors(factors)`` looks the rows up instead. ``sampled`` draws
  ``mean + exp(logvar / 2) * eps`` with eps from ``random_state`` in row
  order, exactly as :meth:`LoadedModel.sampled_encoder` does chunk by chunk.
  """

  def __init__(self, cache: RowCodeCache, representation: str = "mean",
               random_state: Optional[np.random.RandomState] = None):
    check_choice("representation", representation, ("mean", "sampled"))
    self.cache = cache
    self.representation = representation
    # one noise stream for both paths, as one sampled_encoder would use
    self._rs = (np.random.RandomState(0) if random_state is None
                else random_state)
    self._plain = cache.loaded.representation_fn(representation, self._rs)

  def __call__(self, images: np.ndarray) -> np.ndarray:
    return self._plain(images)

  def codes_of_factors(self, factors: np.ndarray) -> np.ndarray:
    rows = self.cache.data.factors_to_index(factors)
    mean, logvar = self.cache.gaussian_of_rows(rows)
    if self.representation == "mean":
      return mean
    eps = self._rs.normal(size=mean.shape).astype(np.float32)
    return mean + np.exp(logvar / 2) * eps
