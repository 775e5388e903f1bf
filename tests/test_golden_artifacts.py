"""Artifacts written by an earlier tfdis must keep loading (Sonnet-style).

tests/data/golden_v1/ was written once by tests/data/make_golden.py at
commit c022732: a beta_vae model directory (config.json, SavedModel) and expected.npz, the live model's outputs on fixed images. Do
not regenerate it to make these tests pass.
"""

import os

import numpy as np
import tensorflow as tf

from tfdis.export.load import load_saved_model
from tfdis.training import TrainConfig

GOLDEN = os.path.join(os.path.dirname(__file__), "data", "golden_v1")


def _expected():
  with np.load(os.path.join(GOLDEN, "expected.npz")) as f:
    return {k: f[k] for k in f.files}


def test_golden_saved_model_loads_and_gives_the_same_numbers():
  exp = _expected()
  model = load_saved_model(os.path.join(GOLDEN, "model"))
  assert model.latent_dim == 10 and model.metadata["model"] == "beta_vae"
  mean, logvar = model.gaussian_encoder(exp["images"])
  np.testing.assert_allclose(mean, exp["mean"], rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(logvar, exp["logvar"], rtol=1e-5, atol=1e-6)
  raw = tf.saved_model.load(os.path.join(GOLDEN, "model", "saved_model"))
  logits = raw.signatures["decoder"](latents=tf.constant(exp["mean"]))
  np.testing.assert_allclose(logits["images"].numpy(), exp["logits"],
                             rtol=1e-4, atol=1e-4)


def test_golden_config_loads_into_todays_config():
  # The stored config.json predates the composed configs: it must load.
  # (The golden checkpoint itself, 8 MB with Adam slots, is not committed:
  # files over 5 MB stay out of git.)
  config = TrainConfig.load(os.path.join(GOLDEN, "model", "config.json"))
  assert config.model == "beta_vae" and config.steps == 3
  assert config.immutable_fields()
