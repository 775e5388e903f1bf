r"""tfdis_study: run (or resume) a whole study and write its report.

Examples::

  tfdis_study --study=quickstart --output_dir=runs/quickstart
  tfdis_study --study=unsupervised_study_v1 --output_dir=runs/v1 \
      --datasets=dsprites --num_workers=8
  tfdis_study --study=quickstart --output_dir=/tmp/tiny --steps=20 --seeds=2
  RAY_AUTH_MODE=token tfdis_study --study=unsupervised_study_v1 \
      --output_dir=/shared/runs/v1 --executor=ray --ray_address=auto \
      --gpus_per_task=0.5     # a token-authenticated cluster: docs/cluster.md

Per model: train → export → evaluate → visualise, each step skipped when its
artifact exists (a killed study is resumed by running the same command);
then UDR per (dataset, family) and results.csv/plots/report.html under
--output_dir. Presets: quickstart, unsupervised_study_v1, udr_study.
"""

import json
import sys

from absl import app
from absl import flags
from absl import logging

from tfdis.errors import UserError, run_main
from tfdis.execution import flags as execution_flags
from tfdis.data import sources as data_sources
from tfdis.study.presets import study_names

FLAGS = flags.FLAGS
data_sources.define_flags()  # --nodownload, --dataset_mirror, ...

flags.DEFINE_enum("study", None, study_names(), "Study preset to run.")
flags.DEFINE_string("output_dir", None,
                    "Study root (default runs/<study>). Rerunning with the "
                    "same directory resumes the study.")
flags.DEFINE_integer("num_workers", None,
                     "Parallel local worker processes (1 = in this process); "
                     "the CPU cores are split between them. Default: the "
                     "preset's (quickstart: 2, capped at the cores).",
                     lower_bound=1, upper_bound=65536)
flags.DEFINE_boolean("overwrite", False,
                     "Recompute metrics, visualisations and UDR of existing "
                     "models (checkpoints are never deleted; delete a model "
                     "directory to retrain it).")
flags.DEFINE_boolean("aggregate", True,
                     "Write results.csv, plots and report.html at the end.")
# Overrides (None = the preset's value); for demos and tests.
flags.DEFINE_integer("steps", None, "Override: training steps per model.",
                     lower_bound=1, upper_bound=2 ** 63 - 1)
flags.DEFINE_integer("seeds", None, "Override: number of seeds per setting "
                     "(seeds 0..N-1).", lower_bound=1,
                     upper_bound=2 ** 31 - 1)
flags.DEFINE_list("datasets", None, "Override: datasets of the sweep.")
flags.DEFINE_list("families", None,
                  "Override: keep only these model families of the preset.")
flags.DEFINE_string("sweep", None,
                    "Override: the sweep as JSON {family: [hyperparameters, "
                    "...]}, e.g. '{\"beta_vae\": [{\"beta\": 4}]}'.")
flags.DEFINE_list("metrics", None,
                  "Override: metrics to compute ('none' for no evaluation).")
flags.DEFINE_integer("udr_num_data_points", None,
                     "Override: images encoded per model for UDR.",
                     lower_bound=2, upper_bound=2 ** 31 - 1)
flags.DEFINE_boolean("udr", True, "Run UDR per (dataset, family).")
flags.DEFINE_boolean("visualize", None,
                     "Override: write per-model visualisations.")
execution_flags.define_flags()
flags.mark_flag_as_required("study")


def _valid_sweep(value):
  if value is None:
    return True
  try:
    sweep = json.loads(value)
  except ValueError as e:
    raise flags.ValidationError(f"--sweep is not valid JSON ({e})") from None
  if not isinstance(sweep, dict) or not all(
      isinstance(v, list) and v and all(isinstance(h, dict) for h in v)
      for v in sweep.values()):
    raise flags.ValidationError(
        "--sweep must map each family to a non-empty list of "
        "hyperparameter dicts, e.g. '{\"beta_vae\": [{\"beta\": 4}]}'")
  return True


flags.register_validator("sweep", _valid_sweep)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  data_sources.apply_flags()  # to the environment: workers see them too
  from tfdis.execution import ExecutorUnavailable
  from tfdis.study import run_study

  overrides = {}
  for name in ("steps", "seeds", "datasets", "families",
               "udr_num_data_points", "visualize"):
    value = getattr(FLAGS, name)
    if value is not None:
      overrides[name] = value
  if FLAGS.sweep is not None:
    overrides["sweep"] = json.loads(FLAGS.sweep)
  if FLAGS.metrics is not None:
    overrides["metrics"] = [] if FLAGS.metrics == ["none"] else FLAGS.metrics
  if not FLAGS.udr:
    overrides["udr"] = ()
  output_dir = FLAGS.output_dir or f"runs/{FLAGS.study}"
  num_workers = FLAGS.num_workers
  if num_workers is None:
    from tfdis.study import get_study
    from tfdis.study.runner import available_cores

    num_workers = max(1, min(get_study(FLAGS.study).default_num_workers,
                             available_cores()))
  execution = execution_flags.config_from_flags(num_workers)
  try:
    result = run_study(FLAGS.study, output_dir,
                       num_workers=num_workers,
                       overwrite=FLAGS.overwrite, aggregate=FLAGS.aggregate,
                       executor=execution, **overrides)
  except (ValueError, TypeError, ExecutorUnavailable) as e:
    # bad names/overrides, Ray unreachable, no shared storage: the user's
    # to fix (one line, exit 2)
    raise UserError(str(e)) from None
  print(f"Study {FLAGS.study}: {result['completed']} models run, "
        f"{result['skipped']} already done, {len(result['failed'])} failed "
        f"({result['num_models']} in total) in {result['wall_s']:.0f} s.")
  if result["results_csv"]:
    print(f"Results table: {result['results_csv']}")
  if result["report"]:
    print(f"Report: {result['report']}")
  udr_failed = sorted(d for d, v in result["udr"].items()
                      if isinstance(v, str))
  if result["failed"]:
    print("Failed models:")
    for model, error in sorted(result["failed"].items()):
      lines = str(error).strip().splitlines()
      print(f"  {model}: {lines[-1] if lines else '?'}")
  if udr_failed:
    print("Failed or skipped UDR groups:")
    for udr_dir in udr_failed:
      lines = str(result["udr"][udr_dir]).strip().splitlines()
      print(f"  {udr_dir}: {lines[-1] if lines else '?'}")
  if result["failed"] or udr_failed:
    sys.exit(1)


def run():
  run_main(main)


if __name__ == "__main__":
  run()
