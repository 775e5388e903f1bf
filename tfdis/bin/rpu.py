r"""tfdis_rpu: the whole rPU-VAE recursion in one command (paper 003, Alg. 1).

  tfdis_rpu --output_dir=runs/dsprites/rpu --dataset=procedural_dsprites \
      --max_leaf_runs=3 --population_size=24

Root metaEpoch (PBT-U-VAE with UDR on all of D), leaf-runs on reduced
subsets, surrogate labels under surrogate_labels/, then the final PBT-S-VAE
on D (final/). Rerunning the same command resumes after an interruption.
Writes rpu_results.json and (with --report) report/index.html.

Every flag is a field of a spec: ``tfdis.rpu.RPUConfig`` (data, model and
population settings shared with tfdis_pbt, plus the recursion and reduction
thresholds, each with the authors' default), the report's
``tfdis.rpu.report_spec.RPUReportSpec`` (--report, --baseline,
--report_num_train, --report_num_test) and the executor's
``tfdis.execution.ExecutionConfig``. The whole configuration, including the
PBT runs it will build, is validated before anything is written.
"""

from __future__ import annotations

from absl import flags, logging

from tfdis import config_flags
from tfdis.errors import run_main
from tfdis.execution import flags as execution_flags
from tfdis.rpu.controller import RPUConfig
from tfdis.rpu.report_spec import RPUReportSpec

FLAGS = flags.FLAGS

config_flags.define_config_flags(RPUConfig)
config_flags.define_config_flags(RPUReportSpec)  # --report, --baseline, ...
flags.adopt_module_key_flags(config_flags)  # listed by --help
execution_flags.define_flags()


def main(argv):
  if len(argv) > 1:
    raise flags.ValidationError(f"unexpected arguments: {argv[1:]}")
  config = config_flags.config_from_flags(RPUConfig)
  report = config_flags.config_from_flags(RPUReportSpec).validate()
  execution = execution_flags.config_from_flags(config.num_workers)
  from tfdis.rpu.controller import run_rpu, validate_pbt_configs

  validate_pbt_configs(config)  # every PBT run it builds, before any work
  result = run_rpu(config, executor=execution)
  print(f"rPU-VAE results: {config.output_dir}/rpu_results.json; final "
        f"model: {result['final_saved_model']}")
  if report.report:
    from tfdis.rpu.report import write_report
    path = write_report(config.output_dir, baselines=report.baselines(),
                        num_train=report.report_num_train,
                        num_test=report.report_num_test, seed=config.seed)
    logging.info("report: %s", path)
    print(f"report: {path}")


def run():
  run_main(main)


if __name__ == "__main__":
  run()
