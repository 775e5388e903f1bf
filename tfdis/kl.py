"""KL(q(z|x) ‖ N(0, I)) per latent: the one definition, NumPy and TensorFlow.

The per-latent KL of a Gaussian posterior to the standard normal prior,
½(μ² + e^ℓ − ℓ − 1) with ℓ = log σ² (Kingma & Welling 2014, App. B), serves
four purposes: the models' loss and active-latent count (TensorFlow, in the
compiled step: :func:`per_latent_kl_tf`), UDR's informative-latent filter
(Duan et al. 2020, Eq. 3), PBT-U-VAE's UDR eval and rPU-VAE's active latents
(NumPy, over encoded rows: :func:`per_latent_kl`). The NumPy variant also
holds the rPU-VAE authors' batch estimator (``estimator="authors"``).

This module imports no TensorFlow at import time (the NumPy callers run in
processes that never need it); :func:`per_latent_kl_tf` imports it when
called, i.e. while a model's step is traced.
"""

from __future__ import annotations

import numpy as np

from tfdis.checks import check_count
from tfdis.registry import check_choice

KL_ESTIMATORS = ("analytic", "authors")
# Batch sizes of the authors' KL estimate: rPU's label_dataset encodes d in
# batches of 32; their UDR eval (udr_sklearn.batch_size in the shipped gin
# configs) in batches of 10.
AUTHORS_LABEL_BATCH = 32
AUTHORS_UDR_BATCH = 10


def gaussian_kl_per_latent_tf(mean, logvar):
  """TensorFlow: KL(N(μ, e^ℓ) ‖ N(0, 1)) of every sample and latent [B, d]."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top

  return 0.5 * (tf.square(mean) + tf.exp(logvar) - logvar - 1.0)


def per_latent_kl_tf(mean, logvar):
  """TensorFlow: batch-mean KL of each latent [d] (the active-latent count)."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top

  return tf.reduce_mean(gaussian_kl_per_latent_tf(mean, logvar), axis=0)


def per_latent_kl(mean: np.ndarray, logvar: np.ndarray,
                  estimator: str = "analytic",
                  batch_size: int = AUTHORS_LABEL_BATCH) -> np.ndarray:
  """NumPy: per-latent KL(q(z|x) ‖ N(0, 1)) averaged over the rows (axis 0).

  ``mean``/``logvar`` (log σ²): [N, ...]; returns float64 [...] (e.g. [d],
  or [K, d] for a K-VAE ensemble's [N, K, d]).

  * ``analytic`` (default; tfdis's documented fix for rPU-VAE, and UDR's
    Eq. 3 KL): mean over the rows of ½(μ² + e^ℓ − ℓ − 1).
  * ``authors``: besterma/robust_disentanglement ``_compute_gaussian_kl``
    on ``_representation_function``'s output: the rows in their order in
    batches of ``batch_size`` (the last one may be shorter); per batch
    v = |mean over the batch of the encoder's log σ| (= ½ℓ) is used as a
    *log-variance* shared by the batch, KL_b = mean over the batch of
    ½(μ² + e^v − v − 1); the result is the unweighted mean over batches.
    It ignores each row's own variance (and the sign of log σ), so it is
    not the KL of the posterior; kept to reproduce their active latents.
  """
  check_choice("kl_estimator", estimator, KL_ESTIMATORS)
  mean = np.asarray(mean, dtype=np.float64)
  logvar = np.asarray(logvar, dtype=np.float64)
  if mean.shape != logvar.shape or mean.ndim < 2:
    raise ValueError(f"mean {mean.shape} and logvar {logvar.shape} must have "
                     "the same shape [num_rows, ..., num_latents]")
  if mean.shape[0] == 0:
    raise ValueError("cannot compute KL over an empty subset")
  if estimator == "analytic":
    return np.mean(0.5 * (mean ** 2 + np.exp(logvar) - logvar - 1.0), axis=0)
  check_count("batch_size", batch_size)
  per_batch = []
  for start in range(0, len(mean), int(batch_size)):
    mu = mean[start:start + int(batch_size)]
    v = np.abs(np.mean(0.5 * logvar[start:start + int(batch_size)], axis=0))
    per_batch.append(np.mean(0.5 * (mu ** 2 + np.exp(v) - v - 1.0), axis=0))
  return np.mean(per_batch, axis=0)
