"""Where the official datasets come from: flags, environment, first-use build.

Every binary that reads data (``tfdis_train``, ``tfdis_evaluate``,
``tfdis_study``) takes the same flags, ``define_flags()``:

* ``--download`` / ``--nodownload``: fetch missing official files (default)
  or use only the manual directory and the disentanglement_lib folder;
* ``--dataset_mirror=URL``: a base URL (or directory) replacing the official
  download URLs, files fetched as ``<URL>/<file name>``;
* ``--dlib_data_dir=DIR``: a disentanglement_lib data folder read in place;
* ``--dataset_manual_dir=DIR``: the folder with files downloaded by hand;
* ``--noverify_dataset_files``: skip the size/hash checks.

These are hand-written absl flags rather than spec fields on purpose: they
say where files come from on this machine, not what a run is, so they are
not saved in config.json / study.json (a run resumed on another machine with
a mirror must not be refused as "different"), and they are shared as they
are by the build binary and every data-reading binary.

``apply_flags()`` exports the flags that were given as environment variables
(``TFDIS_DATASET_DOWNLOAD``, ``TFDIS_DATASET_MIRROR``,
``DISENTANGLEMENT_LIB_DATA``, ``TFDIS_DATASET_MANUAL_DIR``,
``TFDIS_DATASET_VERIFY``), so every worker process a binary starts sees the
same settings, and so does the build.

``prepare_build`` is how ``tfdis.data.official`` makes a missing build on
first use: it runs ``python -m tfds_builders.build NAME`` as a child process
(the child downloads, verifies and builds; its progress bars and log appear
as they come; only that one dataset's memory is used, and it is returned to
the system when the child ends). A child process rather than an import keeps
the dependency one-way (``tfds_builders`` uses tfdis; tfdis never imports
the builders, see tests/test_import_graph.py). A failure of the build is
re-raised here as the child's own one-line ``UserError`` message.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from typing import Optional

from absl import flags

from tfdis.data import tfds_data

ENV_DOWNLOAD = "TFDIS_DATASET_DOWNLOAD"
ENV_MIRROR = "TFDIS_DATASET_MIRROR"
ENV_DLIB = "DISENTANGLEMENT_LIB_DATA"
ENV_MANUAL_DIR = "TFDIS_DATASET_MANUAL_DIR"
ENV_VERIFY = "TFDIS_DATASET_VERIFY"
# An extra checksums.tsv whose entries take precedence (private re-releases,
# the tests' registry of their dummy files); no flag.
ENV_CHECKSUMS = "TFDIS_DATASET_CHECKSUMS"

_FLAG_ENV = {"download": ENV_DOWNLOAD, "dataset_mirror": ENV_MIRROR,
             "dlib_data_dir": ENV_DLIB, "dataset_manual_dir": ENV_MANUAL_DIR,
             "verify_dataset_files": ENV_VERIFY}


# The dataset-source flags: (name, absl DEFINE function, default, help).
_SOURCE_FLAGS = (
    ("download", flags.DEFINE_bool, True,
     "Download official dataset files missing from the manual directory and "
     "the disentanglement_lib folder when a dataset is first used "
     f"(--nodownload: offline, those folders only). Env: {ENV_DOWNLOAD}=0."),
    ("dataset_mirror", flags.DEFINE_string, None,
     "Base URL (or directory) replacing the official download URLs of the "
     "datasets: files are fetched as <mirror>/<file name>. Env: "
     f"{ENV_MIRROR}."),
    ("dlib_data_dir", flags.DEFINE_string, None,
     "A disentanglement_lib data folder (dsprites/, 3dshapes/, small_norb/, "
     f"cars/, mpi3d_*/, scream/) read in place. Env: {ENV_DLIB}."),
    ("dataset_manual_dir", flags.DEFINE_string, None,
     "Folder with official dataset files downloaded by hand (default: <TFDS "
     f"data dir>/downloads/manual). Env: {ENV_MANUAL_DIR}."),
    ("verify_dataset_files", flags.DEFINE_bool, True,
     "Check the size and hash of every official dataset file "
     f"(--noverify_dataset_files: for files one made oneself). Env: "
     f"{ENV_VERIFY}=0."),
)


class DatasetBuildError(tfds_data.DatasetNotPreparedError):
  """Preparing an official dataset on first use failed (message: why)."""


def define_flags(flag_values=flags.FLAGS, exclude=()) -> None:
  """Defines the dataset-source flags (each once per process), but those
  named in ``exclude`` (``python -m tfds_builders.build`` has its own
  --manual_dir)."""
  for name, define, default, help_text in _SOURCE_FLAGS:
    if name not in exclude and name not in flag_values:
      define(name, default, help_text, flag_values=flag_values)


def apply_flags(flag_values=flags.FLAGS) -> None:
  """Exports the dataset-source flags that were given to the environment."""
  for name, env in _FLAG_ENV.items():
    if name not in flag_values or flag_values[name].using_default_value:
      continue
    value = flag_values[name].value
    if isinstance(value, bool):
      os.environ[env] = "1" if value else "0"
    elif value:
      os.environ[env] = os.path.expanduser(value) if name.endswith(
          "_dir") else value


def _builders_root() -> str:
  """The folder holding the tfds_builders package (located, not imported)."""
  spec = importlib.util.find_spec("tfds_builders")
  if spec is None or not spec.submodule_search_locations:
    raise DatasetBuildError(
        "The dataset builders (package tfds_builders, shipped in the tfdis "
        "repository) are not importable: install tfdis from its repository "
        "(pip install -e .) or add the repository to PYTHONPATH.")
  return os.path.dirname(os.path.abspath(
      list(spec.submodule_search_locations)[0]))


def build_args(tfds_name: str, config: Optional[str],
               data_dir: Optional[str]) -> list:
  args = [sys.executable, "-m", "tfds_builders.build", tfds_name]
  if config:
    args.append(f"--config={config}")
  if data_dir:
    args.append(f"--data_dir={data_dir}")
  manual = os.environ.get(ENV_MANUAL_DIR)
  if manual:
    args.append(f"--manual_dir={manual}")
  return args


def _run_build(args, what: str) -> str:
  """Runs a ``tfds_builders.build`` child; its stdout (stderr streamed)."""
  env = dict(os.environ)
  root = _builders_root()
  env["PYTHONPATH"] = os.pathsep.join(
      [root] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
  proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE)
  # stdout is one short line; stream stderr (progress bars, log) as it comes.
  tail = b""
  while True:
    block = proc.stderr.read1(65536)
    if not block:
      break
    sys.stderr.buffer.write(block)
    sys.stderr.buffer.flush()
    tail = (tail + block)[-65536:]
  out = proc.stdout.read()
  code = proc.wait()
  if code == 0:
    return out.decode("utf-8", "replace")
  text = tail.decode("utf-8", "replace")
  marker = "tfds_builders.build: error: "
  if marker in text:
    raise DatasetBuildError(text[text.rindex(marker) + len(marker):].strip())
  raise DatasetBuildError(
      f"Preparing {what} failed (exit status {code}); its output is above. "
      f"Run `python {' '.join(args[1:])}` to retry.")


def prepare_build(tfds_name: str, config: Optional[str] = None,
                  data_dir: Optional[str] = None) -> None:
  """Downloads, verifies and builds ``tfds_name`` in a child process.

  The child's log and progress bars go to this process's stderr as they
  come; a usage error of the child (exit status 2: missing file, bad
  checksum, no network, full disk, ...) is raised as a ``DatasetBuildError``
  with its message.
  """
  args = build_args(tfds_name, config, data_dir)
  what = tfds_name + (f"/{config}" if config else "")
  print(f"tfdis: {what} is not prepared yet; preparing it once: "
        f"python {' '.join(args[1:])}", file=sys.stderr, flush=True)
  _run_build(args, what)


def fetch_files(tfds_name: str, keys, data_dir: Optional[str] = None) -> dict:
  """{input key: path} of some official files of ``tfds_name`` (no build).

  Found in the manual directory or dlib folder, or downloaded and verified,
  by ``python -m tfds_builders.build NAME --fetch_only=KEYS`` in a child.
  """
  args = build_args(tfds_name, None, data_dir) + [
      "--fetch_only=" + ",".join(keys)]
  out = _run_build(args, tfds_name)
  return json.loads(out.strip().splitlines()[-1])


__all__ = ["define_flags", "apply_flags", "prepare_build", "fetch_files",
           "DatasetBuildError"]
