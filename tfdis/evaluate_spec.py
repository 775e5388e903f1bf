"""EvaluateSpec: what tfdis_evaluate scores, each setting written once.

The fields are tfdis_evaluate's flags (``tfdis.config_flags`` generates them)
and the arguments of :func:`tfdis.evaluate.evaluate_model_dirs`::

  spec = EvaluateSpec(model_dirs=("runs/x/*",), metrics=("mig", "dci"),
                      metric_params={"num_train": 1000}).validate()
  frame = spec.evaluate()

:meth:`EvaluateSpec.validate` refuses a bad request before any model is
loaded (and without importing TensorFlow): model directories that hold no
SavedModel, unknown metric names, metric parameters no selected metric
takes, an unknown dataset or dataset option. The dataset fields are
:class:`tfdis.specs.DataSpec`'s, with ``'auto'`` (the dataset named in each
SavedModel's metadata) as the default.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Dict, Optional, Tuple

from tfdis.evaluate import REPRESENTATIONS
from tfdis.export import code_cache
from tfdis.errors import UserError
from tfdis.specs import (ConfigError, DataSpec, Spec, check_dataset_or_auto,
                         need, redefault, spec_field)

# = tfdis.metrics.classifiers.SKLEARN_COMPAT_MODES (tests/test_binary_specs.py
# checks), not imported from there: tfdis.metrics loads scikit-learn and
# pandas, seconds before tfdis_evaluate could even print --help.
SKLEARN_COMPAT_MODES = ("current", "dlib")


@dataclasses.dataclass
class EvaluateSpec(Spec):
  """One scoring request: models, metrics and how to score them."""

  model_dirs: Optional[Tuple[str, ...]] = spec_field(
      None, "Comma-separated model directories (holding saved_model/) or "
      "SavedModel directories; each item may be a glob, e.g. 'runs/x/*'.",
      required=True)
  metrics: Tuple[str, ...] = spec_field(
      ("all",), "Metrics to compute (comma list), 'all' (dlib's ten: "
      "beta_vae, factor_vae, mig, dci, sap_score, modularity_explicitness, "
      "irs, unsupervised, downstream_task, fairness) or 'every' (every "
      "registered metric, adding mig_sup, dcimig, jemmig, dci_es, infomec).")
  representation: str = spec_field(
      "mean", "Score the encoder mean or a sample from its Gaussian.",
      choices=REPRESENTATIONS)
  dataset: str = redefault(
      DataSpec, "dataset", "auto",
      help="'auto' (dataset.name + dataset.options from the SavedModel "
      "metadata) or a registered dataset name.")
  dataset_options: Dict[str, Any] = redefault(
      DataSpec, "dataset_options", dict,
      help="Options of an explicit --dataset: JSON object or "
      "key=value[,key=value], e.g. '{\"factor_sizes\": [4, 4, 4]}'.")
  overwrite: bool = spec_field(
      False, "Recompute metrics already scored with the same parameters.")
  metric_params: Dict[str, Any] = spec_field(
      dict, "Overrides of metric parameters, per metric "
      "('{\"dci\": {\"num_train\": 1000}}') or shared by every metric that "
      "takes them ('{\"num_train\": 500}' or num_train=500).")
  seed: int = spec_field(0, "Seed of every metric's sampling.")
  sklearn_compat: str = spec_field(
      "current", "Classifier defaults of the metrics that fit a logistic "
      "regression or linear SVM: 'current' (today's scikit-learn, as dlib's "
      "code runs now) or 'dlib' (scikit-learn < 0.22: liblinear one-vs-rest, "
      "behind dlib's published numbers).", choices=SKLEARN_COMPAT_MODES)
  cache_encodings: str = spec_field("disk", code_cache.FLAG_HELP,
                                    choices=code_cache.MODES)
  tensorboard_hparams: bool = spec_field(
      True, "Write TensorBoard HParams summaries (each model's "
      "hyperparameters and scores) under the common parent of the model "
      "directories: tensorboard --logdir=<parent>.")

  def __post_init__(self):
    # The library's forms: a comma list (or one glob) in a string, or a list.
    for name in ("model_dirs", "metrics"):
      value = getattr(self, name)
      if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
      if isinstance(value, list):
        setattr(self, name, tuple(value))

  def _check(self):
    from tfdis.evaluate import resolve_metric_params, resolve_metrics
    from tfdis.export.load import expand_model_dirs

    need(isinstance(self.model_dirs, tuple),
         "model_dirs: give the model directories to score, e.g. "
         "--model_dirs='runs/x/*'")
    expand_model_dirs(self.model_dirs)  # cheap: no TensorFlow
    try:
      metrics = resolve_metrics(self.metrics)
    except ValueError as e:  # an unknown name is already a UserError
      if isinstance(e, UserError):
        raise
      raise ConfigError(f"metrics: {e}") from None
    check_dataset_or_auto(self.dataset, self.dataset_options)
    need(isinstance(self.metric_params, dict),
         f"metric_params must be a JSON object or key=value[,key=value], got "
         f"{self.metric_params!r}")
    try:
      resolve_metric_params(metrics, self.metric_params)
    except ValueError as e:
      raise ConfigError(f"metric_params: {e}") from None

  def model_dir_list(self):
    """The model directories the globs and comma lists name, in order."""
    from tfdis.export.load import expand_model_dirs

    return expand_model_dirs(self.model_dirs)

  def evaluate(self, keep_going: bool = False):
    """Scores the models (:func:`tfdis.evaluate.evaluate_model_dirs`);
    returns its DataFrame."""
    from tfdis.evaluate import evaluate_model_dirs

    return evaluate_model_dirs(
        self.model_dirs, self.metrics, representation=self.representation,
        dataset=self.dataset, overwrite=self.overwrite,
        metric_params=self.metric_params, seed=self.seed,
        dataset_options=self.dataset_options,
        sklearn_compat=self.sklearn_compat,
        cache_encodings=self.cache_encodings, keep_going=keep_going)
