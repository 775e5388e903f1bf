"""Tiny contract-conforming SavedModels for tests (no training, ~1 s each).

``make_linear_saved_model`` writes ``<path>/saved_model/`` with the signatures
``tfdis.export.load`` relies on (gaussian_encoder, mean_encoder,
serving_default, decoder, reconstructions) and the metadata asset. The
encoder is a linear projection of the centred image onto standardised
principal components of the dataset (within a low-frequency cosine basis),
rotated by a random orthogonal matrix
that depends only on the hyperparameters; each seed permutes and sign-flips
its latents. So models of one hyperparameter setting are equal up to
permutation and sign (lasso UDR ≈ 0.9 = 1 - alpha) while different settings
are entangled versions of each other. Latents beyond ``num_active`` are
switched off (mean 0, logvar 0 -> KL 0); the decoder is the PCA
reconstruction, so reconstructions look like blurred sprites.
"""

from __future__ import annotations

import functools
import json
import os
import zlib
from typing import Dict, Optional, Sequence

import numpy as np

from tfdis import io_utils


def _cosine_basis(observation_shape, frequencies: int = 6) -> np.ndarray:
  """Orthonormal low-frequency 2-D DCT-II images, [P, frequencies² * C]."""
  height, width, channels = observation_shape

  def dct(n):
    k = np.arange(frequencies)[None, :]
    x = np.arange(n)[:, None]
    basis = np.cos(np.pi * (2 * x + 1) * k / (2 * n))
    return basis / np.linalg.norm(basis, axis=0)

  planes = np.einsum("hu,wv->hwuv", dct(height), dct(width)).reshape(
      height, width, -1)
  eye = np.eye(channels)
  basis = np.einsum("hwk,cd->hwckd", planes, eye)  # channel-separate
  return basis.reshape(height * width * channels, -1)


@functools.lru_cache(maxsize=4)
def _principal_components(dataset: str, observation_shape):
  """(mean, components [k, P], scales [k]): PCA of 256 seeded dataset images
  inside a low-frequency cosine basis (small matrices only: a full-image SVD
  crawls when BLAS threads compete on a busy CPU)."""
  from threadpoolctl import threadpool_limits
  from tfdis.data import get_dataset
  data = get_dataset(dataset)
  if tuple(data.observation_shape) != tuple(observation_shape):
    return None
  images = data.sample_observations(256, np.random.RandomState(0))
  flat = images.reshape(len(images), -1).astype(np.float64)
  offset = flat.mean(axis=0)
  with threadpool_limits(limits=1):
    basis = _cosine_basis(tuple(observation_shape))
    coefficients = (flat - offset) @ basis
    _, singular, vt = np.linalg.svd(coefficients, full_matrices=False)
    components = (basis @ vt.T).T
  return offset, components, np.maximum(singular / np.sqrt(len(flat)), 1e-3)


def _basis(dataset: Optional[str], observation_shape, num_active: int):
  """(offset [P], components [k, P] orthonormal, scales [k]) of the encoder."""
  pixels = int(np.prod(observation_shape))
  pca = _principal_components(dataset, tuple(observation_shape)) if dataset \
      else None
  if pca is not None and num_active <= len(pca[1]):
    offset, components, scales = pca
    return offset, components[:num_active], scales[:num_active]
  components = _cosine_basis(tuple(observation_shape)).T[:num_active]
  if len(components) < num_active:
    raise ValueError(f"num_active={num_active} exceeds the "
                     f"{len(components)} basis images of this helper")
  return np.full(pixels, 0.5), components, np.full(num_active, 2.0)


def make_linear_saved_model(path: str,
                            observation_shape: Sequence[int] = (64, 64, 1),
                            latent_dim: int = 10, seed: int = 0,
                            hyperparameters: Optional[Dict] = None,
                            dataset: str = "procedural_dsprites_small",
                            num_active: Optional[int] = None,
                            model: str = "linear_test") -> str:
  """Writes a linear VAE SavedModel under ``path``; returns ``path``.

  With a ``dataset`` whose images match ``observation_shape`` the basis is
  the dataset's top principal components (reconstructions look like blurred
  sprites); otherwise low-frequency cosine images.
  """
  import tensorflow as tf

  hyperparameters = dict(hyperparameters or {})
  observation_shape = tuple(int(s) for s in observation_shape)
  num_active = latent_dim if num_active is None else int(num_active)
  if not 0 <= num_active <= latent_dim:
    raise ValueError(f"num_active must be in [0, {latent_dim}]")
  pixels = int(np.prod(observation_shape))
  offset, components, scales = _basis(dataset, observation_shape, num_active)
  # Shared by every seed of one setting: a rotation of the basis, so that
  # different settings are entangled versions of each other.
  setting = json.dumps({"model": model, "hp": hyperparameters,
                        "obs": observation_shape, "d": latent_dim},
                       sort_keys=True)
  base = np.random.RandomState(zlib.crc32(setting.encode()))
  rotation = np.linalg.qr(base.normal(size=(num_active, num_active)))[0] \
      if num_active else np.zeros((0, 0))
  enc = np.zeros((pixels, latent_dim))
  enc[:, :num_active] = (components.T / scales) @ rotation
  dec = np.zeros((latent_dim, pixels))
  dec[:num_active] = rotation.T @ (components * scales[:, None])
  # Each seed: its own permutation and signs of the latents.
  rs = np.random.RandomState(seed)
  order = rs.permutation(latent_dim)
  signs = rs.choice([-1.0, 1.0], size=latent_dim)
  enc = (enc[:, order] * signs).astype(np.float32)
  dec = (dec[order] * signs[:, None]).astype(np.float32)
  active = (np.arange(latent_dim) < num_active)[order]
  logvar = np.where(active, -2.0, 0.0).astype(np.float32)
  offset = offset.astype(np.float32)

  class LinearVAE(tf.Module):

    def __init__(self):
      super().__init__()
      self.enc = tf.Variable(enc, name="encoder")
      self.dec = tf.Variable(dec, name="decoder")
      self.logvar = tf.Variable(logvar, name="logvar")
      self.offset = tf.Variable(offset, name="offset")

    def _mean(self, images):
      flat = tf.reshape(images, [-1, pixels]) - self.offset
      return tf.matmul(flat, self.enc)

    def _decode(self, latents):
      probs = tf.clip_by_value(self.offset + tf.matmul(latents, self.dec),
                               0.02, 0.98)
      logits = tf.math.log(probs) - tf.math.log1p(-probs)
      return tf.reshape(logits, [-1, *observation_shape])

    image_spec = tf.TensorSpec([None, *observation_shape], tf.float32,
                               name="images")

    @tf.function(input_signature=[image_spec])
    def gaussian_encoder(self, images):
      mean = self._mean(images)
      return {"mean": mean,
              "logvar": tf.zeros_like(mean) + self.logvar[None, :]}

    @tf.function(input_signature=[image_spec])
    def mean_encoder(self, images):
      return {"representation": self._mean(images)}

    @tf.function(input_signature=[
        tf.TensorSpec([None, latent_dim], tf.float32, name="latents")])
    def decoder(self, latents):
      return {"images": self._decode(latents)}

    @tf.function(input_signature=[image_spec])
    def reconstructions(self, images):
      return {"images": self._decode(self._mean(images))}

  module = LinearVAE()
  export_dir = os.path.join(os.fspath(path), "saved_model")
  tf.saved_model.save(module, export_dir, signatures={
      "gaussian_encoder": module.gaussian_encoder,
      "mean_encoder": module.mean_encoder,
      "serving_default": module.mean_encoder,
      "decoder": module.decoder,
      "reconstructions": module.reconstructions,
  })
  from tfdis.data import get_dataset
  info = get_dataset(dataset).info() if dataset else {}
  if info:
    info["options"] = {}
  io_utils.write_json(os.path.join(export_dir, "assets",
                                   "tfdis_metadata.json"), {
      "format": "tfdis.saved_model.v1", "model": model,
      "hyperparameters": hyperparameters,
      "architecture": {"encoder": "linear", "decoder": "linear"},
      "latent_dim": int(latent_dim), "reconstruction_loss": "bernoulli",
      "dataset": info, "observation_shape": list(observation_shape),
      "batch_size": 64, "learning_rate": 0.0, "steps": 0, "seed": int(seed),
      "versions": io_utils.library_versions(),
  })
  return os.fspath(path)
