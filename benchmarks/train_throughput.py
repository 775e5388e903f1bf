r"""Training throughput per model family, with and without XLA.

Measures steps/s of ``model.train_step`` (one tf.function, batch 64 on a fixed
batch of procedural dSprites images, so the input pipeline is excluded), with
``jit_compile`` off and on, and images/s of the exported ``mean_encoder``
signature loaded back through ``tfdis.export.load``. Prints the figures, XLA
ratios and each family's speed relative to beta_vae.

  python benchmarks/train_throughput.py --steps=20 --warmup=3
  python benchmarks/train_throughput.py --models=beta_vae,factor_vae --no_xla
"""

from __future__ import annotations

import json
import os
import tempfile
import time

from absl import app, flags

from train_speed import time_steps  # benchmarks/ is the script's directory

flags.DEFINE_list("models", None, "Families to time (default: all).")
flags.DEFINE_integer("batch_size", 64, "Batch size.")
flags.DEFINE_integer("steps", 30, "Timed steps per configuration.")
flags.DEFINE_integer("warmup", 3, "Untimed steps (tracing/compilation).")
flags.DEFINE_string("architecture", "conv", "Architecture.")
flags.DEFINE_bool("xla", True, "Also time jit_compile=True.")
flags.DEFINE_integer("encode_images", 2048, "Images for the encoder timing.")
flags.DEFINE_string("output", None, "Optional JSON file for the figures.")
FLAGS = flags.FLAGS


def main(argv):
  del argv
  import numpy as np
  import tensorflow as tf

  from tfdis import io_utils
  from tfdis.data import get_dataset
  from tfdis.export.load import load_saved_model
  from tfdis.export.saved_model import build_metadata, export_saved_model
  from tfdis.models import build_model, model_names

  data = get_dataset("procedural_dsprites_small")
  rs = np.random.RandomState(0)
  images = tf.constant(data.sample_observations(FLAGS.batch_size, rs))
  labels = tf.constant(data.sample_factors(FLAGS.batch_size, rs) /
                       np.asarray(data.factor_sizes), tf.float32)
  names = FLAGS.models or model_names()
  results = {"device": tf.config.list_logical_devices()[-1].device_type,
             "batch_size": FLAGS.batch_size, "steps": FLAGS.steps,
             "families": {}}
  for name in names:
    row = {}
    for xla in ([False, True] if FLAGS.xla else [False]):
      model = build_model(name, data.observation_shape,
                          architecture=FLAGS.architecture,
                          dataset_size=data.num_examples)
      batch = images
      if model.supervision is not None:
        batch = {"images": images, "labels": labels,
                 "mask": tf.ones_like(labels)}
      step = tf.function(model.train_step, jit_compile=xla)
      row["xla" if xla else "no_xla"] = time_steps(
          step, batch, FLAGS.warmup, FLAGS.steps)
    if "xla" in row:
      row["xla_speedup"] = row["xla"] / row["no_xla"]
    results["families"][name] = row
    print(f"{name:20s} " + "  ".join(f"{k}={v:.2f}" for k, v in row.items()),
          flush=True)

  # Exported mean_encoder throughput (the last model built).
  with tempfile.TemporaryDirectory() as tmp:
    export_saved_model(model, os.path.join(tmp, "saved_model"),
                       build_metadata(model, data.info()))
    loaded = load_saved_model(tmp, batch_size=256)
    sample = data.sample_observations(FLAGS.encode_images, rs)
    loaded.mean_encoder(sample[:256])  # warm-up
    start = time.perf_counter()
    loaded.mean_encoder(sample)
    results["mean_encoder_images_per_sec"] = (
        len(sample) / (time.perf_counter() - start))
  base = results["families"].get("beta_vae", {}).get("no_xla")
  if base:
    for name, row in results["families"].items():
      row["relative_to_beta_vae"] = row["no_xla"] / base
  print(f"mean_encoder (SavedModel): "
        f"{results['mean_encoder_images_per_sec']:.0f} images/s")
  if base:
    print("steps/s relative to beta_vae (no XLA): " + ", ".join(
        f"{n}={r['relative_to_beta_vae']:.2f}"
        for n, r in results["families"].items()))
  if FLAGS.output:
    io_utils.write_json(FLAGS.output, results)
  print(json.dumps(results, indent=1))


if __name__ == "__main__":
  app.run(main)
