"""The same tfdis_train command twice gives bit-identical models.

Two separate processes (fresh TensorFlow each), same flags, different model
directories: the final losses and every checkpoint tensor must be equal bit
for bit (CPU, same thread count).
"""

import json
import os
import subprocess
import sys

import numpy as np
import tensorflow as tf

ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")


def _train(model_dir):
  out = subprocess.run(
      [sys.executable, "-m", "tfdis.bin.train", "--model=beta_tc_vae",
       "--beta=4", "--dataset=procedural_dsprites_small",
       "--architecture=conv", "--latent_dim=5", "--batch_size=16",
       "--steps=12", "--checkpoint_every=12", "--log_every=6",
       "--noexport", f"--model_dir={model_dir}"],
      env=ENV, capture_output=True, text=True, timeout=600)
  assert out.returncode == 0, out.stderr[-3000:]
  return json.loads(out.stdout.strip().splitlines()[-1])


def test_two_identical_runs_are_bit_identical(tmp_path):
  a, b = _train(tmp_path / "a"), _train(tmp_path / "b")
  assert a["steps"] == b["steps"] == 12
  assert a["final_losses"] == b["final_losses"]   # exact float equality
  ra = tf.train.load_checkpoint(str(tmp_path / "a" / "checkpoints"))
  rb = tf.train.load_checkpoint(str(tmp_path / "b" / "checkpoints"))
  names = sorted(ra.get_variable_to_shape_map())
  assert names == sorted(rb.get_variable_to_shape_map())
  compared = 0
  for name in names:
    if name.startswith("_CHECKPOINTABLE_OBJECT_GRAPH"):
      continue
    x, y = np.asarray(ra.get_tensor(name)), np.asarray(rb.get_tensor(name))
    assert x.dtype == y.dtype and x.shape == y.shape, name
    assert x.tobytes() == y.tobytes(), f"{name} differs"
    compared += 1
  assert compared > 20   # weights, Adam slots, step, RNG state
