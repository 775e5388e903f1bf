"""tfdis_evaluate: score SavedModels with disentanglement metrics.

  tfdis_evaluate --model_dirs='runs/x/*' --metrics=all
  tfdis_evaluate --model_dirs=runs/x/0,runs/x/1 --metrics=mig,dci \
      --representation=sampled --metric_params='{"dci": {"num_train": 1000}}'

Every flag but the dataset-source ones (--nodownload, --dataset_mirror, ...)
is a field of ``tfdis.evaluate_spec.EvaluateSpec``.

Writes <model_dir>/metrics/<representation>/<metric>.json (scores, parameters,
library versions) and skips metrics already scored with the same parameters
unless --overwrite (see tfdis.evaluate.evaluate_model_dirs).

A SavedModel is a program (TensorFlow's security policy): score models you
did not train only from a trusted source or in a sandbox (docs/cluster.md,
"Scoring models from others").
"""

from __future__ import annotations

import os

from absl import app, flags, logging

from tfdis import config_flags
from tfdis.data import sources as data_sources
from tfdis.errors import run_main
from tfdis.evaluate_spec import EvaluateSpec

FLAGS = flags.FLAGS
data_sources.define_flags()  # --nodownload, --dataset_mirror, ...
config_flags.define_config_flags(EvaluateSpec)
flags.adopt_module_key_flags(config_flags)  # listed by --help


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  # Every check of the request (models, metric names and parameters, dataset)
  # before any work or TensorFlow import.
  spec = config_flags.config_from_flags(EvaluateSpec).validate()
  data_sources.apply_flags()  # to the environment: workers see them too
  from tfdis.io_utils import ensure_writable_dir

  model_dirs = spec.model_dir_list()
  for model_dir in model_dirs:  # before any work
    ensure_writable_dir(os.path.join(model_dir, "metrics"),
                        f"the metrics directory of {model_dir!r}:")
  frame = spec.evaluate(keep_going=True)
  failed = frame.attrs.get("failures", {})
  if spec.tensorboard_hparams:
    from tfdis.results.hparams import write_model_dirs_hparams
    written = write_model_dirs_hparams(
        [d for d in model_dirs if d not in failed])
    if written:
      logging.info("TensorBoard HParams: %d model(s), tensorboard "
                   "--logdir=%s", written["sessions"], written["root"])
  score_columns = [c for c in frame.columns if "." in c
                   and not c.endswith(".elapsed_s") and ":" not in c]
  if len(frame):
    logging.info("scores:\n%s", frame[["model_dir"] + score_columns]
                 .to_string(index=False))
  from tfdis.failures import ModelFailures

  failures = ModelFailures("models")
  failures.failed.update(frame.attrs.get("failures", {}))
  failures.exit_if_any("tfdis_evaluate", frame.attrs.get("num_models"))


def run():
  run_main(main)


if __name__ == "__main__":
  run()
