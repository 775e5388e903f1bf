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

import sys

from absl import app
from absl import flags

from tfdis import config_flags
from tfdis.errors import UserError, run_main
from tfdis.execution import flags as execution_flags
from tfdis.data import sources as data_sources
from tfdis.study.request import StudyRequest

FLAGS = flags.FLAGS
data_sources.define_flags()  # --nodownload, --dataset_mirror, ...
# --study, --output_dir, --num_workers and the overrides (--steps, --seeds,
# --sweep, ...): the fields of StudyRequest.
config_flags.define_config_flags(StudyRequest)
flags.adopt_module_key_flags(config_flags)  # listed by --help
execution_flags.define_flags()


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  request = config_flags.config_from_flags(StudyRequest).validate()
  data_sources.apply_flags()  # to the environment: workers see them too
  from tfdis.execution import ExecutorUnavailable
  from tfdis.study import run_study

  output_dir = request.study_dir()
  num_workers = request.num_workers
  if num_workers is None:
    from tfdis.study import get_study
    from tfdis.study.runner import available_cores

    num_workers = max(1, min(get_study(request.study).default_num_workers,
                             available_cores()))
  execution = execution_flags.config_from_flags(num_workers)
  try:
    result = run_study(request.study, output_dir,
                       num_workers=num_workers,
                       overwrite=request.overwrite,
                       aggregate=request.aggregate,
                       executor=execution, **request.overrides())
  except (ValueError, TypeError, ExecutorUnavailable) as e:
    # bad names/overrides, Ray unreachable, no shared storage: the user's
    # to fix (one line, exit 2)
    raise UserError(str(e)) from None
  study = request.study
  print(f"Study {study}: {result['completed']} models run, "
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
