"""tfdis_visualize: pictures of a trained model or of a dataset's factors.

Model mode (reconstructions, samples, latent traversals PNG + GIF):
  tfdis_visualize --model_dir=runs/x/beta_vae_0 [--output_dir=...]
Dataset mode (factor visualisations):
  tfdis_visualize --dataset=procedural_dsprites_small --output_dir=out/ds
Exactly one of --model_dir and --dataset must be given.
"""

from __future__ import annotations

import json

from absl import app, flags, logging

from tfdis.errors import run_main

FLAGS = flags.FLAGS

flags.DEFINE_string("model_dir", None, "Model directory (with saved_model/) "
                    "or SavedModel to visualise (model mode).")
flags.DEFINE_string("dataset", None, "Registered dataset name to visualise "
                    "(dataset mode).")
flags.DEFINE_string("dataset_options", "{}", "JSON dict of keyword options "
                    "for the dataset, e.g. '{\"config\": \"small\"}'.")
flags.DEFINE_string("output_dir", None, "Where the pictures go. Model mode "
                    "default: <model_dir>/visualizations; required in "
                    "dataset mode.")
flags.DEFINE_integer("num_images", 16, "Images in reconstructions.png and "
                     "samples.png.", lower_bound=1, upper_bound=2 ** 31 - 1)
flags.DEFINE_integer("num_traversals", 5, "Base images with a traversal PNG.",
                     lower_bound=0, upper_bound=2 ** 31 - 1)
flags.DEFINE_integer("num_animations", 3, "Base images with traversal GIFs.",
                     lower_bound=0, upper_bound=2 ** 31 - 1)
flags.DEFINE_integer("num_frames", 20, "Frames per GIF.", lower_bound=1,
                     upper_bound=2 ** 31 - 1)
flags.DEFINE_enum("gif_layout", "all", ["all", "per_latent"],
                  "all latents side by side in one GIF, or one GIF each.")
flags.DEFINE_integer("seed", 0, "Seeds the data draw and prior samples.",
                     lower_bound=0, upper_bound=2 ** 31 - 1)


def _json_dict(value: str) -> bool:
  try:
    return isinstance(json.loads(value), dict)
  except ValueError:
    return False


flags.register_validator(
    "dataset_options", _json_dict,
    message="--dataset_options must be a JSON object, e.g. '{}' or "
    "'{\"config\": \"small\"}'.")
def _saved_model(value) -> bool:
  if value is not None:
    from tfdis.export.load import saved_model_dir

    saved_model_dir(value)  # cheap (no TensorFlow); raises with the reason
  return True


flags.register_validator("model_dir", _saved_model)
flags.register_multi_flags_validator(
    ["model_dir", "dataset"],
    lambda f: (f["model_dir"] is None) != (f["dataset"] is None),
    message="Give exactly one of --model_dir (visualise a model) or "
    "--dataset (visualise a dataset's factors).")
flags.register_multi_flags_validator(
    ["dataset", "output_dir"],
    lambda f: f["dataset"] is None or bool(f["output_dir"]),
    message="Dataset mode needs --output_dir.")


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  from tfdis.io_utils import ensure_writable_dir

  if FLAGS.output_dir:
    ensure_writable_dir(FLAGS.output_dir)
  if FLAGS.model_dir is not None:
    from tfdis.visualize.model import visualize_model

    result = visualize_model(
        FLAGS.model_dir, FLAGS.output_dir, num_images=FLAGS.num_images,
        seed=FLAGS.seed, num_traversals=FLAGS.num_traversals,
        num_animations=FLAGS.num_animations, num_frames=FLAGS.num_frames,
        gif_layout=FLAGS.gif_layout)
    logging.info("wrote %d files", len(result["files"]))
    print(f"Visualisations written to {result['output_dir']}")
    return
  from tfdis.data import get_dataset
  from tfdis.visualize.dataset import visualize_dataset

  data = get_dataset(FLAGS.dataset, **json.loads(FLAGS.dataset_options))
  visualize_dataset(data, FLAGS.output_dir)
  print(f"Dataset visualisations written to {FLAGS.output_dir}")


def run():
  run_main(main)


if __name__ == "__main__":
  run()
