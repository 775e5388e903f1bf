r"""tfdis_aggregate: every model under a root -> results.csv, plots, report.html.

Example::

  tfdis_aggregate --root=runs/quickstart
  tfdis_aggregate --root=runs/my_sweep --output_dir=/tmp/report

Reads config.json, results/train.json, metrics/<representation>/<metric>.json
of every model directory under --root and every udr.json; no TensorFlow needed.
Every flag is a field of ``tfdis.aggregate_spec.AggregateSpec``.
"""

from absl import app
from absl import flags
from absl import logging

from tfdis import config_flags
from tfdis.aggregate_spec import AggregateSpec
from tfdis.errors import run_main

FLAGS = flags.FLAGS
config_flags.define_config_flags(AggregateSpec)
flags.adopt_module_key_flags(config_flags)  # listed by --help


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  spec = config_flags.config_from_flags(AggregateSpec).validate()
  from tfdis.io_utils import ensure_writable_dir

  ensure_writable_dir(spec.output_dir or spec.root,  # before slow imports
                      "--output_dir" if spec.output_dir else "--root")
  frame = spec.run()
  print(f"{len(frame)} models -> {frame.attrs['csv']}")
  if frame.attrs.get("report"):
    print(f"Report: {frame.attrs['report']}")
  from tfdis.failures import ModelFailures

  failures = ModelFailures("models")
  failures.failed.update(frame.attrs.get("failures", {}))
  failures.exit_if_any("tfdis_aggregate", frame.attrs.get("num_models"))
  logging.info("done")


def run():
  run_main(main)


if __name__ == "__main__":
  run()
