r"""tfdis_aggregate: every model under a root -> results.csv, plots, report.html.

Example::

  tfdis_aggregate --root=runs/quickstart
  tfdis_aggregate --root=runs/my_sweep --output_dir=/tmp/report

Reads config.json, results/train.json, metrics/<representation>/<metric>.json
of every model directory under --root and every udr.json; no TensorFlow needed.
"""

import os

from absl import app
from absl import flags
from absl import logging

from tfdis.errors import run_main

FLAGS = flags.FLAGS

flags.DEFINE_string("root", None,
                    "Directory to search for model directories (a study's "
                    "--output_dir, or any parent of tfdis_train model dirs).")
flags.DEFINE_string("output_dir", None,
                    "Where results.csv, plots/ and report.html go "
                    "(default: --root).")
flags.DEFINE_boolean("plots", True, "Write the PNG plots.")
flags.DEFINE_boolean("report", True, "Write report.html.")
flags.DEFINE_string("title", None, "Report title (default: from --root).")
flags.mark_flag_as_required("root")
flags.register_validator(
    "root", lambda v: v is None or os.path.isdir(v),
    message="--root must be an existing directory (e.g. runs/quickstart).")


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  from tfdis.io_utils import ensure_writable_dir

  ensure_writable_dir(FLAGS.output_dir or FLAGS.root,  # before slow imports
                      "--output_dir" if FLAGS.output_dir else "--root")
  from tfdis.results import aggregate

  frame = aggregate(FLAGS.root, output_dir=FLAGS.output_dir,
                    plots=FLAGS.plots, report=FLAGS.report, title=FLAGS.title)
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
