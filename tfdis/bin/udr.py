"""tfdis_udr: Unsupervised Disentanglement Ranking over SavedModels.

  tfdis_udr --model_dirs='runs/x/*' --output_dir=runs/x/udr --mode=hyper

Writes udr.json, udr.csv, similarity.npz and heat-maps (paper 001; see
tfdis.udr.run_udr_study).

A SavedModel is a program (TensorFlow's security policy): run UDR on models
you did not train only from a trusted source or in a sandbox
(docs/cluster.md, "Scoring models from others").
"""

from __future__ import annotations

import sys

from absl import app, flags, logging

from tfdis import config_flags
from tfdis.errors import run_main
from tfdis.udr.spec import UDRConfig

FLAGS = flags.FLAGS

# Every flag is a field of UDRConfig (= the UDRSpec settings + which models,
# where, on which data).
config_flags.define_config_flags(UDRConfig)
flags.adopt_module_key_flags(config_flags)  # listed by --help


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  config = config_flags.config_from_flags(UDRConfig).validate()
  from tfdis.export.load import expand_model_dirs
  from tfdis.io_utils import ensure_writable_dir

  # Both checks are cheap (no TensorFlow import): fail before loading models.
  model_dirs = expand_model_dirs(config.model_dirs, min_count=2)
  ensure_writable_dir(config.output_dir)
  logging.info("UDR over %d models -> %s", len(model_dirs), config.output_dir)
  from tfdis.udr.study import GroupSkippedError

  try:
    result = _run(model_dirs, config)
  except GroupSkippedError as e:  # a model failed, not the request: exit 1
    logging.error("%s", e)
    sys.stderr.write(f"tfdis_udr: {e}\n")
    sys.exit(1)
  for model_dir, score in result["model_scores"].items():
    logging.info("UDR %.4f  %s", score, model_dir)
  print(f"UDR written to {config.output_dir}: "
        + ", ".join(sorted(result["outputs"])))


def _run(model_dirs, config: UDRConfig):
  from tfdis.udr import run_udr_study

  return run_udr_study(model_dirs, config.output_dir, config.udr_spec(),
                       dataset=config.dataset)


def run():
  run_main(main)


if __name__ == "__main__":
  run()
