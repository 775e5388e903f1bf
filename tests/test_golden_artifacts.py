"""Artifacts written by an earlier tfdis must keep loading (Sonnet-style).

tests/data/golden_v1/ was written once by tests/data/make_golden.py at
commit c022732: a beta_vae model directory (config.json, checkpoint,
SavedModel) and expected.npz, the live model's outputs on fixed images. Do
not regenerate it to make these tests pass.
"""

import os
import shutil

import numpy as np
import tensorflow as tf

from tfdis.export.load import load_saved_model
from tfdis.training import TrainConfig, restore_for_export

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


def test_golden_checkpoint_restores_into_todays_model(tmp_path):
  exp = _expected()
  # The stored config.json predates the composed configs: it must load.
  config = TrainConfig.load(os.path.join(GOLDEN, "model", "config.json"))
  assert config.model == "beta_vae" and config.steps == 3
  model_dir = tmp_path / "model"
  shutil.copytree(os.path.join(GOLDEN, "model"), model_dir)
  model, metadata = restore_for_export(str(model_dir))
  assert int(model.step.numpy()) == 3 and metadata["steps"] == 3
  mean, logvar = model.encode(tf.constant(exp["images"]))
  np.testing.assert_allclose(mean.numpy(), exp["mean"], rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(logvar.numpy(), exp["logvar"], rtol=1e-5,
                             atol=1e-6)
  np.testing.assert_allclose(model.decode(mean).numpy(), exp["logits"],
                             rtol=1e-4, atol=1e-4)
