"""Every family trains a few steps and exports; a fresh process that never
imports tfdis reloads all SavedModels and reproduces the live outputs."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from tfdis.export.load import load_saved_model
from tfdis.export.saved_model import build_metadata, export_saved_model
from tfdis.models import build_model, model_names

_RELOAD = r"""
import json, sys
import numpy as np
import tensorflow as tf
spec = json.load(open(sys.argv[1]))
inputs = np.load(spec["inputs"])
images, latents = inputs["images"], inputs["latents"]
out = {}
for name, path in spec["models"].items():
  m = tf.saved_model.load(path)
  s = m.signatures
  g = s["gaussian_encoder"](images=tf.constant(images))
  out[name + "/mean"] = g["mean"].numpy()
  out[name + "/logvar"] = g["logvar"].numpy()
  out[name + "/representation"] = s["serving_default"](
      images=tf.constant(images))["representation"].numpy()
  out[name + "/decoded"] = s["decoder"](
      latents=tf.constant(latents))["images"].numpy()
  out[name + "/reconstructions"] = s["reconstructions"](
      images=tf.constant(images))["images"].numpy()
  out[name + "/has_metadata"] = np.array(
      len(m.metadata_asset.asset_path.numpy()) > 0)
assert not any(k == "tfdis" or k.startswith("tfdis.") for k in sys.modules)
np.savez(spec["outputs"], **out)
"""


@pytest.fixture(scope="module")
def exported(tmp_path_factory, small_dsprites):
  root = tmp_path_factory.mktemp("export")
  rs = np.random.RandomState(0)
  images = small_dsprites.sample_observations(16, rs)
  latents = rs.randn(5, 10).astype(np.float32)
  live, paths = {}, {}
  from tfdis.models import get_model_class
  from tfdis.training.trainer import training_batches

  for name in model_names():
    # Families may take data-dependent arguments (SCAN's vocabulary) and
    # train on their own batches (pairs, single-factor batches, factors).
    hook = getattr(get_model_class(name), "model_kwargs_from_data", None)
    model = build_model(name, small_dsprites.observation_shape,
                        dataset_size=small_dsprites.num_examples,
                        **(dict(hook(small_dsprites)) if hook else {}))
    step = tf.function(model.train_step)
    batch = tf.constant(images)
    if hasattr(type(model), "training_data"):
      batch = next(iter(training_batches(model, small_dsprites, 16, 0, None,
                                         None)))
    elif model.supervision is not None:
      labels = small_dsprites.sample_factors(16, rs) / np.asarray(
          small_dsprites.factor_sizes)
      batch = {"images": batch, "labels": tf.constant(labels, tf.float32),
               "mask": tf.ones((16, 5))}
    terms = [step(batch) for _ in range(2)]
    assert int(model.step.numpy()) == 2
    for t in terms:
      # Every family logs these (a GAN gives them its own meaning).
      for k in ("loss", "reconstruction_loss", "kl_loss", "regularizer"):
        assert np.isfinite(t[k].numpy()), (name, k)
      assert t["per_latent_kl"].shape == (10,)
    meta = build_metadata(model, dict(small_dsprites.info(), options={}),
                          batch_size=16, learning_rate=1e-4, seed=0)
    path = export_saved_model(model, str(root / name / "saved_model"), meta)
    mean, logvar = model.encode(images)
    live[name] = {
        "mean": mean.numpy(), "logvar": logvar.numpy(),
        "decoded": model.decode(latents).numpy(),
        "reconstructions": model(images).numpy()}
    paths[name] = path
  np.savez(root / "inputs.npz", images=images, latents=latents)
  return root, live, paths, images


def test_every_family_exports_and_loads_with_tfdis_loader(exported):
  root, live, paths, images = exported
  for name, path in paths.items():
    loaded = load_saved_model(os.path.dirname(path))
    assert loaded.metadata["format"] == "tfdis.saved_model.v1"
    assert loaded.metadata["model"] == name
    assert loaded.metadata["steps"] == 2
    assert loaded.metadata["dataset"]["name"] == "procedural_dsprites_small"
    assert loaded.latent_dim == 10 and loaded.observation_shape == (64, 64, 1)
    np.testing.assert_allclose(loaded.mean_encoder(images),
                               live[name]["mean"], rtol=1e-4, atol=1e-5)


def test_fresh_process_without_tfdis_reproduces_outputs(exported):
  root, live, paths, _ = exported
  spec = {"inputs": str(root / "inputs.npz"),
          "outputs": str(root / "outputs.npz"), "models": paths}
  (root / "spec.json").write_text(json.dumps(spec))
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
  proc = subprocess.run([sys.executable, "-c", _RELOAD, str(root /
                                                           "spec.json")],
                        cwd=str(root), env=env, capture_output=True,
                        text=True, timeout=300)
  assert proc.returncode == 0, proc.stderr[-3000:]
  out = np.load(root / "outputs.npz")
  for name, values in live.items():
    for key, value in values.items():
      np.testing.assert_allclose(out[f"{name}/{key}"], value, rtol=1e-4,
                                 atol=1e-4, err_msg=f"{name} {key}")
    np.testing.assert_array_equal(out[f"{name}/representation"],
                                  out[f"{name}/mean"])
    assert bool(out[f"{name}/has_metadata"])
