"""Active latents and surrogate labels of rPU-VAE (Estermann et al. 2020, 4.2).

"We identify the most active latent variables z of this model by their
respective KL divergence to the prior, if KL(q(z_a|x) || p(z_a)) >
threshold, z_a is active … we map the whole dataset onto z_active using the
encoder q(z|x) … We use the resulting latent encoding values as labels."

KL per latent (``kl_estimator``, :func:`tfdis.kl.per_latent_kl`):
``analytic`` (default, tfdis's documented fix) is the Gaussian KL to N(0, 1)
averaged over the rows of the subset d, ``mean_x ½(μ² + exp(ℓ) − ℓ − 1)``;
``authors`` is the authors' batch-of-32 formula (d in its order, per batch
the |mean log σ| used as a shared log-variance). The threshold defaults to
1.0 (the authors' code); the paper cites 0.01, the "informative" threshold of
UDR (Duan et al. 2019) — a flag of RPUConfig.
"""

from __future__ import annotations

import dataclasses
from typing import Tuple

import numpy as np

from tfdis.kl import per_latent_kl  # noqa: F401  (re-exported)
from tfdis.pbt import evaluation

# Images encoded per chunk: bounds host memory (a dSprites row is 16 KiB as
# float32, so 4096 rows are 64 MiB) while the LoadedModel batches inside.
ENCODE_CHUNK = 4096


def active_latents(kl: np.ndarray, threshold: float) -> np.ndarray:
  """int64 indices of the latents whose KL exceeds ``threshold``."""
  return np.flatnonzero(np.asarray(kl) > threshold).astype(np.int64)


def encode_indices(model, data, indices: np.ndarray,
                   chunk: int = ENCODE_CHUNK) -> Tuple[np.ndarray, np.ndarray]:
  """(mean, logvar) of the grid rows ``indices``, chunked over the rows.

  ``model`` is a :class:`tfdis.export.load.LoadedModel`; images come from
  ``data.images_from_indices`` (uint8) and are scaled to [0, 1] exactly as
  the training pipeline does.
  """
  indices = np.asarray(indices, dtype=np.int64)
  means, logvars = [], []
  for start in range(0, len(indices), chunk):
    images = data.images_from_indices(indices[start:start + chunk])
    mean, logvar = model.gaussian_encoder(
        images.astype(np.float32) / np.float32(255.0))
    means.append(mean)
    logvars.append(logvar)
  if not means:
    raise ValueError("no rows to encode (empty subset)")
  return np.concatenate(means), np.concatenate(logvars)


@dataclasses.dataclass
class SubsetLabels:
  """What one metaEpoch's best VAE says about its subset d."""
  kl: np.ndarray          # [num_latents] mean KL per latent
  active: np.ndarray      # int64 indices of the active latents
  labels: np.ndarray      # float32 [|d|, len(active)]: means of active latents


def label_subset(model, data, indices: np.ndarray,
                 active_kl_threshold: float = 1.0,
                 kl_estimator: str = "analytic") -> SubsetLabels:
  """Encodes d, finds the active latents and returns the surrogate labels."""
  mean, logvar = encode_indices(model, data, indices)
  return labels_from_encoding(mean, logvar, active_kl_threshold, kl_estimator)


def labels_from_encoding(mean: np.ndarray, logvar: np.ndarray,
                         active_kl_threshold: float = 1.0,
                         kl_estimator: str = "analytic") -> SubsetLabels:
  kl = per_latent_kl(mean, logvar, kl_estimator,
                     evaluation.AUTHORS_LABEL_BATCH)
  active = active_latents(kl, active_kl_threshold)
  labels = np.asarray(mean, dtype=np.float32)[:, active]
  return SubsetLabels(kl=kl, active=active, labels=labels)
