"""Builds one of the tfds_builders datasets: ``python -m tfds_builders.build``.

  python -m tfds_builders.build dsprites --manual_dir=~/tfds_manual/dsprites
  python -m tfds_builders.build procedural_dsprites --config=full

The ``tfds build`` command of the pinned tensorflow-datasets imports
apache_beam at start-up (even for builders that do not use Beam), which the
pinned environment does not install; this is the same build through the
Python API (``tfdis.data.tfds_data.prepare_builder``: manual files are checked
first and a missing one is named with its download URL). tfdis also builds a
dataset on first use, so this is only needed to build ahead of time.
"""

from __future__ import annotations

import os

from absl import app, flags

FLAGS = flags.FLAGS
flags.DEFINE_string("config", None, "Builder config (e.g. full, small).")
flags.DEFINE_string("data_dir", None, "TFDS data dir (default: TFDS_DATA_DIR "
                    "or ~/tensorflow_datasets).")
flags.DEFINE_string("manual_dir", None, "Folder with the official files "
                    "(default: <data_dir>/downloads/manual).")


def _names():
  here = os.path.dirname(os.path.abspath(__file__))
  return sorted(n for n in os.listdir(here) if os.path.isfile(
      os.path.join(here, n, f"{n}_dataset_builder.py")))


def main(argv):
  names = _names()
  if len(argv) != 2 or argv[1].rstrip("/").split("/")[-1] not in names:
    raise app.UsageError(f"Name one dataset to build, one of {names}; got "
                         f"{argv[1:]}")
  name = argv[1].rstrip("/").split("/")[-1]
  from tfdis.data import tfds_data
  manual = os.path.expanduser(FLAGS.manual_dir) if FLAGS.manual_dir else None
  try:
    builder = tfds_data.prepare_builder(
        f"tfds_builders.{name}.{name}_dataset_builder", FLAGS.config,
        FLAGS.data_dir, manual)
  except tfds_data.DatasetFilesMissingError as e:
    raise app.UsageError(str(e)) from None
  splits = {k: v.num_examples for k, v in builder.info.splits.items()}
  print(f"{builder.name}: {splits} in {builder.data_dir}")


if __name__ == "__main__":
  app.run(main)
