"""Active latents and surrogate labels from a tiny real SavedModel."""

import os

import numpy as np
import pytest

from tfdis.rpu import labels as labels_lib


def test_per_latent_kl_closed_form():
  mean = np.array([[0.0, 1.0], [0.0, 3.0]])
  logvar = np.array([[0.0, np.log(2.0)], [0.0, np.log(2.0)]])
  # latent 0: N(0, 1) -> 0; latent 1: ½(μ² + 2 − ln 2 − 1), μ² = 1, 9.
  expected = 0.5 * (np.mean([1.0, 9.0]) + 2.0 - np.log(2.0) - 1.0)
  np.testing.assert_allclose(labels_lib.per_latent_kl(mean, logvar),
                             [0.0, expected])
  np.testing.assert_array_equal(
      labels_lib.active_latents([0.0, 0.5, 2.0, 1.0], 1.0), [2])
  with pytest.raises(ValueError, match="empty"):
    labels_lib.per_latent_kl(np.zeros((0, 2)), np.zeros((0, 2)))


def _linear_saved_model(path, latent_dim=4, active=(1, 3), seed=3):
  """A linear Gaussian VAE with the tfdis signatures; latents outside
  ``active`` are switched off (mean 0, logvar 0 -> KL exactly 0)."""
  import tensorflow as tf

  pixels = 64 * 64
  rs = np.random.RandomState(seed)
  mask = np.isin(np.arange(latent_dim), active).astype(np.float32)
  enc = (rs.normal(size=(pixels, latent_dim)) * 0.2 * mask).astype(np.float32)
  logvar = np.where(mask > 0, -2.0, 0.0).astype(np.float32)
  dec = (enc.T * 2.0).astype(np.float32)
  image_spec = tf.TensorSpec([None, 64, 64, 1], tf.float32, name="images")

  class Linear(tf.Module):

    def __init__(self):
      super().__init__()
      self.enc, self.dec = tf.Variable(enc), tf.Variable(dec)
      self.logvar = tf.Variable(logvar)

    def _mean(self, images):
      return tf.matmul(tf.reshape(images, [-1, pixels]) - 0.5, self.enc)

    @tf.function(input_signature=[image_spec])
    def gaussian_encoder(self, images):
      mean = self._mean(images)
      return {"mean": mean, "logvar": tf.zeros_like(mean) + self.logvar}

    @tf.function(input_signature=[image_spec])
    def mean_encoder(self, images):
      return {"representation": self._mean(images)}

    @tf.function(input_signature=[
        tf.TensorSpec([None, latent_dim], tf.float32, name="latents")])
    def decoder(self, latents):
      return {"images": tf.reshape(tf.matmul(latents, self.dec) - 2.0,
                                   [-1, 64, 64, 1])}

  module = Linear()
  tf.saved_model.save(module, os.path.join(path, "saved_model"), signatures={
      "gaussian_encoder": module.gaussian_encoder,
      "mean_encoder": module.mean_encoder,
      "serving_default": module.mean_encoder, "decoder": module.decoder})
  return path


def test_label_subset_with_saved_model(tmp_path, small_dsprites):
  from tfdis.export.load import load_saved_model
  from tfdis.rpu.report import plot_traversals

  path = _linear_saved_model(str(tmp_path / "m"))
  model = load_saved_model(path)
  indices = np.arange(0, 2304, 7)
  sub = labels_lib.label_subset(model, small_dsprites, indices,
                                active_kl_threshold=0.01)
  images = small_dsprites.images_from_indices(indices) / np.float32(255)
  mean, logvar = model.gaussian_encoder(images)
  kl = np.mean(0.5 * (mean ** 2 + np.exp(logvar) - logvar - 1), axis=0)
  np.testing.assert_allclose(sub.kl, kl, rtol=1e-5)
  # Switched-off latents have mean 0 and logvar 0: KL exactly 0.
  np.testing.assert_array_equal(sub.active, [1, 3])
  np.testing.assert_array_equal(sub.kl[[0, 2]], [0.0, 0.0])
  assert sub.labels.dtype == np.float32
  np.testing.assert_allclose(sub.labels, mean[:, sub.active], rtol=1e-5)
  # Chunking does not change the result.
  m2, _ = labels_lib.encode_indices(model, small_dsprites, indices, chunk=50)
  np.testing.assert_allclose(m2, mean, rtol=1e-5, atol=1e-6)
  # The authors' threshold 1.0 is stricter than the paper's 0.01.
  strict = labels_lib.label_subset(model, small_dsprites, indices, 1e9)
  assert strict.active.size == 0 and strict.labels.shape == (len(indices), 0)
  png = plot_traversals(path, small_dsprites, indices, sub.active, sub.kl,
                        str(tmp_path / "trav.png"), "test")
  assert os.path.getsize(png) > 1000
