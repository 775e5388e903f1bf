"""Builds one of the tfds_builders datasets: ``python -m tfds_builders.build``.

  python -m tfds_builders.build dsprites --manual_dir=~/tfds_manual/dsprites
  python -m tfds_builders.build procedural_dsprites --config=full

The ``tfds build`` command of the pinned tensorflow-datasets imports
apache_beam at start-up (even for builders that do not use Beam), which the
pinned environment does not install; this is the same build through the
Python API (``prepare``: the manual files are checked first and a missing one
is named with its download URL). tfdis reads the prepared build by name and
data directory (``tfdis.data.tfds_data.load_prepared_builder``), so build
each official dataset once before using it.
"""

from __future__ import annotations

import importlib
import os
from typing import Optional

from absl import flags

from tfdis.errors import UserError, run_main

FLAGS = flags.FLAGS
flags.DEFINE_string("config", None, "Builder config (e.g. full, small).")
flags.DEFINE_string("data_dir", None, "TFDS data dir (default: TFDS_DATA_DIR "
                    "or ~/tensorflow_datasets).")
flags.DEFINE_string("manual_dir", None, "Folder with the official files "
                    "(default: <data_dir>/downloads/manual).")


def names():
  """The datasets with a builder (folder names of this package)."""
  here = os.path.dirname(os.path.abspath(__file__))
  return sorted(n for n in os.listdir(here) if os.path.isfile(
      os.path.join(here, n, f"{n}_dataset_builder.py")))


def builder_class(name: str):
  """The ``Builder`` class of dataset ``name`` (registers it with TFDS)."""
  if name not in names():
    raise UserError(f"No builder called {name!r}; the builders are "
                    f"{names()}.")
  return importlib.import_module(
      f"tfds_builders.{name}.{name}_dataset_builder").Builder


def prepare(name: str, config: Optional[str] = None,
            data_dir: Optional[str] = None, manual_dir: Optional[str] = None):
  """Builds ``name`` into ``data_dir`` unless it is prepared; the builder.

  Missing manual files raise ``_common.ManualFileMissingError`` (a tfdis
  UserError) naming each file and where to get it, before TFDS runs.
  """
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  from tfds_builders import _common  # pylint: disable=g-import-not-at-top

  cls = builder_class(name)
  builder = cls(config=config, data_dir=data_dir)
  if builder.is_prepared():
    return builder
  manual_dir = manual_dir or os.path.join(os.fspath(builder.data_dir_root),
                                          "downloads", "manual")
  files = getattr(cls, "MANUAL_FILES", None)
  if files is not None:
    _common.check_manual_files(builder.name, manual_dir, files(
        builder.builder_config) if callable(files) else files)
  builder.download_and_prepare(download_config=tfds.download.DownloadConfig(
      manual_dir=manual_dir))
  return builder


def main(argv):
  if len(argv) != 2:
    raise UserError(f"Name one dataset to build, one of {names()}; got "
                    f"{argv[1:]}")
  name = argv[1].rstrip("/").split("/")[-1]
  manual = os.path.expanduser(FLAGS.manual_dir) if FLAGS.manual_dir else None
  builder = prepare(name, FLAGS.config, FLAGS.data_dir, manual)
  splits = {k: v.num_examples for k, v in builder.info.splits.items()}
  print(f"{builder.name}: {splits} in {builder.data_dir}")


if __name__ == "__main__":
  run_main(main, prog="tfds_builders.build")
