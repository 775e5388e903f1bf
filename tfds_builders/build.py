"""Prepares one of the tfds_builders datasets: ``python -m tfds_builders.build``.

  python -m tfds_builders.build shapes3d                  # downloads, verifies, builds
  python -m tfds_builders.build dsprites --manual_dir=~/tfds_manual/dsprites
  python -m tfds_builders.build mpi3d --config=real --dataset_mirror=https://my.mirror/tfdis
  python -m tfds_builders.build smallnorb --dlib_data_dir=$DISENTANGLEMENT_LIB_DATA --nodownload
  python -m tfds_builders.build procedural_dsprites --config=full
  python -m tfds_builders.build scream_dsprites --fetch_only=The_Scream.jpg

The official files are looked up in the manual directory, then in a
disentanglement_lib data folder (``--dlib_data_dir`` or
``$DISENTANGLEMENT_LIB_DATA``, read in place), and downloaded otherwise
(``--nodownload`` turns that off; ``--dataset_mirror`` or
``$TFDIS_DATASET_MIRROR`` replaces the official URLs by ``<mirror>/<file
name>``); every file is verified (``tfds_builders/_download.py``). The ``tfds
build`` command of the pinned tensorflow-datasets imports apache_beam at
start-up, which the pinned environment does not install; this is the same
build through the Python API. tfdis reads the prepared build by name and data
directory (``tfdis.data.tfds_data.load_prepared_builder``) and runs this
module when the build is missing (``tfdis.data.official``).

``--fetch_only=KEYS`` finds or downloads and verifies only those inputs and
prints ``{input: path}`` as JSON, without building (tfdis's scream_dsprites
fetches the painting this way).

Concurrent prepares of one dataset (e.g. the workers of a study) take turns
on a lock file (``<data_dir>/.tfdis_locks/``); the later ones find the build
done.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib
import json
import os
from typing import Optional

from absl import flags

from tfdis.data import sources as data_sources
from tfdis.errors import UserError, run_main

FLAGS = flags.FLAGS
flags.DEFINE_string("config", None, "Builder config (e.g. full, small).")
flags.DEFINE_string("data_dir", None, "TFDS data dir (default: TFDS_DATA_DIR "
                    "or ~/tensorflow_datasets).")
flags.DEFINE_string("manual_dir", None, "Folder with the official files "
                    "(default: <data_dir>/downloads/manual).")
flags.DEFINE_list("fetch_only", None, "Only find or download and verify "
                  "these inputs of the dataset (e.g. The_Scream.jpg) and print "
                  "{input: path} as JSON; no build.")
# --nodownload, --dataset_mirror, --dlib_data_dir, --noverify_dataset_files:
# the flags of every tfdis binary that reads data (a flag left at its
# default defers to the environment variable); --manual_dir above replaces
# their --dataset_manual_dir.
data_sources.define_flags(exclude=("dataset_manual_dir",))
flags.adopt_module_key_flags(data_sources)  # listed by --help


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


@contextlib.contextmanager
def _lock(builder):
  """An exclusive lock per (dataset, config) under the data directory."""
  root = os.path.join(os.fspath(builder.data_dir_root), ".tfdis_locks")
  os.makedirs(root, exist_ok=True)
  config = builder.builder_config.name if builder.builder_config else ""
  path = os.path.join(root, f"{builder.name}-{config}.lock")
  with open(path, "a") as f:
    fcntl.flock(f, fcntl.LOCK_EX)
    try:
      yield
    finally:
      fcntl.flock(f, fcntl.LOCK_UN)


def prepare(name: str, config: Optional[str] = None,
            data_dir: Optional[str] = None, manual_dir: Optional[str] = None,
            download: Optional[bool] = None, mirror: Optional[str] = None,
            dlib_dir: Optional[str] = None, verify: Optional[bool] = None):
  """Builds ``name`` into ``data_dir`` unless it is prepared; the builder.

  Files are found, downloaded and verified as ``tfds_builders._download``
  describes (options left at None come from the environment variables, see
  ``_download.Sources.from_env``; the default is to download and verify).
  Every failure is a tfdis ``UserError`` with one message; nothing
  half-built is left (TFDS builds in a temporary folder renamed at the end).
  """
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  from tfds_builders import _common  # pylint: disable=g-import-not-at-top
  from tfds_builders import _download  # pylint: disable=g-import-not-at-top

  cls = builder_class(name)
  builder = cls(config=config, data_dir=data_dir)
  if builder.is_prepared():
    return builder
  manual_dir = manual_dir or os.path.join(os.fspath(builder.data_dir_root),
                                          "downloads", "manual")
  with _lock(builder):
    builder = cls(config=config, data_dir=data_dir)  # another process's?
    if builder.is_prepared():
      return builder
    builder.tfdis_sources = _download.Sources.from_env(download, mirror,
                                                       dlib_dir, verify)
    try:
      builder.download_and_prepare(
          download_config=tfds.download.DownloadConfig(
              manual_dir=manual_dir,
              # Never TFDS's prepared catalogue datasets of the same name.
              try_download_gcs=False))
    except _common.OfficialFileError as e:
      # A downloaded file that cannot be read must not stay in the cache.
      downloads = os.path.join(os.fspath(builder.data_dir_root), "downloads")
      if _download.forget_download(downloads, getattr(e, "path", "")):
        raise _common.OfficialFileError(
            f"{e} The downloaded file was removed; the next run downloads it "
            "again.") from None
      raise
    except UserError:
      raise
    except Exception as e:  # pylint: disable=broad-except
      _download.raise_if_disk_full(e, builder.data_dir_root)
      raise
  return builder


def fetch(name: str, keys, config: Optional[str] = None,
          data_dir: Optional[str] = None, manual_dir: Optional[str] = None,
          download: Optional[bool] = None, mirror: Optional[str] = None,
          dlib_dir: Optional[str] = None, verify: Optional[bool] = None
          ) -> dict:
  """{input key: local path} of some official files of ``name``, no build.

  Found, downloaded and verified as for a build (e.g. the Scream painting,
  which tfdis's ``scream_dsprites`` reads next to the dSprites build).
  """
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  from tfds_builders import _download  # pylint: disable=g-import-not-at-top

  cls = builder_class(name)
  module = importlib.import_module(cls.__module__)
  builder = cls(config=config, data_dir=data_dir)
  inputs = (module.inputs(builder.builder_config) if hasattr(module, "inputs")
            else getattr(module, "INPUTS", ()))
  known = [inp.key for inp in inputs]
  unknown = sorted(set(keys) - set(known))
  if unknown:
    raise UserError(f"{name} has no input(s) {unknown}; its inputs are "
                    f"{known}.")
  root = os.fspath(builder.data_dir_root)
  manager = tfds.download.DownloadManager(
      download_dir=os.path.join(root, "downloads"),
      manual_dir=manual_dir or os.path.join(root, "downloads", "manual"),
      dataset_name=builder.name, url_infos=cls.url_infos)
  builder.tfdis_sources = _download.Sources.from_env(download, mirror,
                                                     dlib_dir, verify)
  try:
    paths = _download.resolve(builder, manager,
                              [i for i in inputs if i.key in keys])
  except UserError:
    raise
  except Exception as e:  # pylint: disable=broad-except
    _download.raise_if_disk_full(e, root)
    raise
  return {k: os.fspath(v) for k, v in paths.items()}


def main(argv):
  if len(argv) != 2:
    raise UserError(f"Name one dataset to build, one of {names()}; got "
                    f"{argv[1:]}")
  name = argv[1].rstrip("/").split("/")[-1]
  manual = os.path.expanduser(FLAGS.manual_dir) if FLAGS.manual_dir else None
  # A flag left at its default defers to the environment variable.
  given = lambda f: None if FLAGS[f].using_default_value else FLAGS[f].value
  options = dict(download=given("download"), mirror=FLAGS.dataset_mirror,
                 dlib_dir=FLAGS.dlib_data_dir,
                 verify=given("verify_dataset_files"))
  if FLAGS.fetch_only:
    paths = fetch(name, FLAGS.fetch_only, FLAGS.config, FLAGS.data_dir,
                  manual, **options)
    print(json.dumps(paths))
    return
  builder = prepare(name, FLAGS.config, FLAGS.data_dir, manual, **options)
  splits = {k: v.num_examples for k, v in builder.info.splits.items()}
  print(f"{builder.name}: {splits} in {builder.data_dir}")


if __name__ == "__main__":
  run_main(main, prog="tfds_builders.build")
