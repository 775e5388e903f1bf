"""tfdis_udr: Unsupervised Disentanglement Ranking over SavedModels.

  tfdis_udr --model_dirs='runs/x/*' --output_dir=runs/x/udr --mode=hyper

Writes udr.json, udr.csv, similarity.npz and heat-maps (paper 001; see
tfdis.udr.run_udr_study).

A SavedModel is a program (TensorFlow's security policy): run UDR on models
you did not train only from a trusted source or in a sandbox
(docs/cluster.md, "Scoring models from others").
"""

from __future__ import annotations

import math
import sys

from absl import app, flags, logging

from tfdis import config_flags
from tfdis.errors import run_main
from tfdis.export import code_cache

FLAGS = flags.FLAGS

flags.DEFINE_list("model_dirs", None,
                  "Comma-separated model directories (or SavedModels); each "
                  "item may be a glob, e.g. 'runs/x/*'.")
flags.DEFINE_string("output_dir", None, "Where udr.json, udr.csv, "
                    "similarity.npz and the PNG heat-maps go.")
flags.DEFINE_enum("mode", "hyper", ["hyper", "a2a"],
                  "hyper: compare with models of the same hyperparameters "
                  "(other seeds); a2a: compare with any other model.")
flags.DEFINE_enum("correlation", "lasso", ["lasso", "spearman"],
                  "Similarity matrix: lasso (UDR_L) or spearman (UDR_S).")
flags.DEFINE_integer("num_pairs", None, "Partners P per model, sampled with "
                     "--seed; default: all available.", lower_bound=1,
                     upper_bound=2 ** 31 - 1)
flags.DEFINE_integer("num_data_points", 10000, "Images encoded by every model "
                     "(paper A.5: 10000 for lasso).", lower_bound=2,
                     upper_bound=2 ** 31 - 1)
flags.DEFINE_integer("seed", 0, "Seeds the image draw, partner sampling and "
                     "the lasso.", lower_bound=0, upper_bound=2 ** 31 - 1)
flags.DEFINE_float("kl_filter_threshold", 0.01, "A latent is informative if "
                   "its KL exceeds this (paper Eq. 3).", lower_bound=0.0)
flags.register_validator(
    "kl_filter_threshold", math.isfinite,
    message="--kl_filter_threshold must be a finite number >= 0 (e.g. 0.01).")
flags.DEFINE_bool("filter_low_kl", True, "Score only informative latents.")
flags.DEFINE_string("alpha", "0.1", "Lasso penalty (a positive float) or "
                    "'cv' for MultiTaskLassoCV.")
flags.DEFINE_enum("aggregation", "relative_strength",
                  ["relative_strength", "paper"],
                  "Pair score: dlib's relative strength or paper Eq. 2.")
flags.DEFINE_string("dataset", "auto", "'auto' (from the models' metadata) or "
                    "a registered dataset name.")
flags.DEFINE_integer("batch_size", 256, "Encoder batch size.", lower_bound=1,
                     upper_bound=2 ** 31 - 1)
flags.DEFINE_enum("cache_encodings", "disk", list(code_cache.MODES),
                  code_cache.FLAG_HELP)

flags.mark_flags_as_required(["model_dirs", "output_dir"])


def _parse_alpha(value: str):
  if value == "cv":
    return "cv"
  try:
    alpha = float(value)
  except ValueError:
    return None
  return alpha if alpha > 0 else None


flags.register_validator(
    "alpha", lambda v: _parse_alpha(v) is not None,
    message="--alpha must be a positive number (e.g. 0.1) or 'cv'.")


flags.register_validator("dataset", config_flags.validate_dataset_or_auto)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  from tfdis.export.load import expand_model_dirs
  from tfdis.io_utils import ensure_writable_dir

  # Both checks are cheap (no TensorFlow import): fail before loading models.
  model_dirs = expand_model_dirs(FLAGS.model_dirs, min_count=2)
  ensure_writable_dir(FLAGS.output_dir)
  logging.info("UDR over %d models -> %s", len(model_dirs), FLAGS.output_dir)
  from tfdis.udr.study import GroupSkippedError

  try:
    result = _run(model_dirs)
  except GroupSkippedError as e:  # a model failed, not the request: exit 1
    logging.error("%s", e)
    sys.stderr.write(f"tfdis_udr: {e}\n")
    sys.exit(1)
  for model_dir, score in result["model_scores"].items():
    logging.info("UDR %.4f  %s", score, model_dir)
  print(f"UDR written to {FLAGS.output_dir}: "
        + ", ".join(sorted(result["outputs"])))


def _run(model_dirs):
  from tfdis.udr import run_udr_study

  return run_udr_study(
      model_dirs, FLAGS.output_dir, mode=FLAGS.mode,
      correlation=FLAGS.correlation, num_pairs=FLAGS.num_pairs,
      num_data_points=FLAGS.num_data_points, seed=FLAGS.seed,
      kl_filter_threshold=FLAGS.kl_filter_threshold,
      filter_low_kl=FLAGS.filter_low_kl, alpha=_parse_alpha(FLAGS.alpha),
      aggregation=FLAGS.aggregation, dataset=FLAGS.dataset,
      batch_size=FLAGS.batch_size, cache_encodings=FLAGS.cache_encodings)


def run():
  run_main(main)


if __name__ == "__main__":
  run()
