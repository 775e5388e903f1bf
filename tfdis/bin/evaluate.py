"""tfdis_evaluate: score SavedModels with disentanglement metrics.

  tfdis_evaluate --model_dirs='runs/x/*' --metrics=all
  tfdis_evaluate --model_dirs=runs/x/0,runs/x/1 --metrics=mig,dci \
      --representation=sampled --metric_params='{"dci": {"num_train": 1000}}'

Writes <model_dir>/metrics/<representation>/<metric>.json (scores, parameters,
library versions) and skips metrics already scored with the same parameters
unless --overwrite (see tfdis.evaluate.evaluate_model_dirs).

A SavedModel is a program (TensorFlow's security policy): score models you
did not train only from a trusted source or in a sandbox (docs/cluster.md,
"Scoring models from others").
"""

from __future__ import annotations

import json
import os

from absl import app, flags, logging

from tfdis import config_flags
from tfdis.errors import run_main
from tfdis.export import code_cache
from tfdis.data import sources as data_sources

FLAGS = flags.FLAGS
data_sources.define_flags()  # --nodownload, --dataset_mirror, ...

flags.DEFINE_list("model_dirs", None,
                  "Comma-separated model directories (holding saved_model/) "
                  "or SavedModel directories; each item may be a glob, e.g. "
                  "'runs/x/*'.")
flags.DEFINE_list("metrics", ["all"],
                  "Metrics to compute (comma list), 'all' (dlib's ten: "
                  "beta_vae, factor_vae, mig, dci, sap_score, "
                  "modularity_explicitness, irs, unsupervised, "
                  "downstream_task, fairness) or 'every' (every registered "
                  "metric, adding mig_sup, dcimig, jemmig, dci_es, infomec).")
flags.DEFINE_enum("representation", "mean", ["mean", "sampled"],
                  "Score the encoder mean or a sample from its Gaussian.")
flags.DEFINE_string("dataset", "auto",
                    "'auto' (dataset.name + dataset.options from the "
                    "SavedModel metadata) or a registered dataset name.")
flags.DEFINE_string("dataset_options", None,
                    "JSON options of an explicit --dataset, e.g. "
                    "'{\"factor_sizes\": [4, 4, 4]}'.")
flags.DEFINE_bool("overwrite", False,
                  "Recompute metrics already scored with the same parameters.")
flags.DEFINE_string("metric_params", None,
                    "JSON overrides of metric parameters, per metric "
                    "('{\"dci\": {\"num_train\": 1000}}') or shared by every "
                    "metric that takes them ('{\"num_train\": 500}').")
flags.DEFINE_integer("seed", 0, "Seed of every metric's sampling.",
                     lower_bound=0, upper_bound=2 ** 31 - 1)
flags.DEFINE_enum("sklearn_compat", "current", ["current", "dlib"],
                  "Classifier defaults of the metrics that fit a logistic "
                  "regression or linear SVM: 'current' (today's scikit-learn, "
                  "as dlib's code runs now) or 'dlib' (scikit-learn < 0.22: "
                  "liblinear one-vs-rest, behind dlib's published numbers).")

flags.DEFINE_enum("cache_encodings", "disk", list(code_cache.MODES),
                  code_cache.FLAG_HELP)

flags.DEFINE_bool("tensorboard_hparams", True,
                  "Write TensorBoard HParams summaries (each model's "
                  "hyperparameters and scores) under the common parent of "
                  "the model directories: tensorboard --logdir=<parent>.")

flags.mark_flags_as_required(["model_dirs"])


def _json_object(value, flag: str):
  if value is None:
    return {}
  try:
    obj = json.loads(value)
  except json.JSONDecodeError as e:
    raise flags.ValidationError(f"--{flag} is not valid JSON ({e}): {value!r}")
  if not isinstance(obj, dict):
    raise flags.ValidationError(f"--{flag} must be a JSON object, got "
                                f"{value!r}")
  return obj


def _validate_metrics(value) -> bool:
  from tfdis.evaluate import resolve_metrics
  from tfdis.registry import UnknownNameError

  try:
    resolve_metrics(list(value or []))
  except (UnknownNameError, ValueError) as e:
    raise flags.ValidationError(f"--metrics: {e}")
  return True


def _validate_model_dirs(value) -> bool:
  if value is None:
    return True  # mark_flags_as_required reports it
  from tfdis.export.load import NotASavedModelError, expand_model_dirs

  try:
    expand_model_dirs(list(value))  # cheap: no TensorFlow import
  except NotASavedModelError as e:
    raise flags.ValidationError(str(e))
  return True


def _validate_metric_params(flag_values) -> bool:
  from tfdis.evaluate import resolve_metric_params, resolve_metrics

  params = _json_object(flag_values["metric_params"], "metric_params")
  try:
    resolve_metric_params(resolve_metrics(list(flag_values["metrics"])),
                          params)
  except ValueError as e:
    raise flags.ValidationError(f"--metric_params: {e}")
  return True


flags.register_validator("metrics", _validate_metrics)
flags.register_validator("model_dirs", _validate_model_dirs)
flags.register_validator("dataset", config_flags.validate_dataset_or_auto)
flags.register_validator(
    "dataset_options",
    lambda v: _json_object(v, "dataset_options") is not None)
flags.register_multi_flags_validator(["metric_params", "metrics"],
                                     _validate_metric_params)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  data_sources.apply_flags()  # to the environment: workers see them too
  from tfdis.evaluate import evaluate_model_dirs
  from tfdis.export.load import expand_model_dirs
  from tfdis.io_utils import ensure_writable_dir

  for model_dir in expand_model_dirs(FLAGS.model_dirs):  # before any work
    ensure_writable_dir(os.path.join(model_dir, "metrics"),
                        f"the metrics directory of {model_dir!r}:")
  frame = evaluate_model_dirs(
      FLAGS.model_dirs, FLAGS.metrics, representation=FLAGS.representation,
      dataset=FLAGS.dataset, overwrite=FLAGS.overwrite,
      metric_params=_json_object(FLAGS.metric_params, "metric_params"),
      seed=FLAGS.seed, sklearn_compat=FLAGS.sklearn_compat,
      cache_encodings=FLAGS.cache_encodings,
      dataset_options=_json_object(FLAGS.dataset_options, "dataset_options"),
      keep_going=True)
  failed = frame.attrs.get("failures", {})
  if FLAGS.tensorboard_hparams:
    from tfdis.results.hparams import write_model_dirs_hparams
    written = write_model_dirs_hparams(
        [d for d in expand_model_dirs(FLAGS.model_dirs) if d not in failed])
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
