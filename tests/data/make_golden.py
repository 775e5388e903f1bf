"""Writes the golden artifacts under tests/data/golden_v1/ (run once, commit).

  PYTHONPATH=. python tests/data/make_golden.py

The files were written by tfdis at commit c022732 (TrainConfig/train of that
time): a beta_vae (β = 4, conv/deconv, d = 10) trained 3 steps on
procedural_dsprites_small with seed 0, its model directory's config.json,
latest checkpoint and SavedModel, plus ``expected.npz``: fixed input images and
the encoder means/log-variances and decoder logits the live model gave for
them. tests/test_golden_artifacts.py checks that today's code still restores
that checkpoint and loads that SavedModel to the same numbers; do not
regenerate these files to make that test pass.
"""

import os
import shutil

import numpy as np

from tfdis.training import TrainConfig, train

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden_v1")


def main():
  import tensorflow as tf

  model_dir = os.path.join(HERE, "model")
  shutil.rmtree(model_dir, ignore_errors=True)
  config = TrainConfig(model="beta_vae", dataset="procedural_dsprites_small",
                       hyperparameters={"beta": 4.0}, steps=3, batch_size=8,
                       seed=0, model_dir=model_dir, checkpoint_every=3,
                       log_every=1, image_summary_every=1000,
                       keep_checkpoints=1)
  train(config)
  shutil.rmtree(os.path.join(model_dir, "tensorboard"), ignore_errors=True)
  from tfdis.data import get_dataset

  data = get_dataset("procedural_dsprites_small")
  images = data.images_from_indices(np.arange(0, 2304, 461),
                                    np.random.RandomState(0))
  images = images.astype(np.float32) / 255.0
  loaded = tf.saved_model.load(os.path.join(model_dir, "saved_model"))
  enc = loaded.signatures["gaussian_encoder"](images=tf.constant(images))
  dec = loaded.signatures["decoder"](latents=enc["mean"])
  np.savez_compressed(os.path.join(HERE, "expected.npz"), images=images,
                      mean=enc["mean"].numpy(), logvar=enc["logvar"].numpy(),
                      logits=dec["images"].numpy())


if __name__ == "__main__":
  main()
