"""The official benchmarks as ground-truth data (Locatello et al. 2019, Sec. 5).

Each name reads the prepared TFDS build of ``tfds_builders/<dataset>``::

  get_dataset("dsprites", data_dir=None, store="disk")

``store="disk"`` (default) reads images by row from the build's grid cache
(written once per build next to it; ``tfdis.data.grid_cache``), in bounded
memory; ``store="memory"`` holds the whole grid in RAM (3.0 GB for dSprites,
12.7 GB for MPI3D real). The images are the same either way.

A missing build is made on first use, as ``tfds.load`` does: the official
files are found (manual directory, disentanglement_lib folder) or downloaded,
verified and built by ``python -m tfds_builders.build <dataset>`` run as a
child process (``tfdis.data.sources``: the binaries' ``--nodownload``,
``--dataset_mirror``, ``--dlib_data_dir``, ``--dataset_manual_dir`` reach it
through the environment). ``data_dir`` is the TFDS data directory (default:
``$TFDS_DATA_DIR`` or ``~/tensorflow_datasets``). The
colour / noisy / scream dSprites variants load dSprites and apply their
per-sample randomness on demand (``dsprites_variants``); scream additionally
needs the painting (``scream_path``, or ``<manual_dir>/The_Scream.jpg``;
by default found in the manual directory or dlib's ``scream/scream.jpg``, or
downloaded and verified by the scream_dsprites builder).

CelebA has no factors, so it is not a ground-truth dataset here:
``load_celeba_images`` returns its images for qualitative runs.
"""

from __future__ import annotations

import functools
import os
from typing import Optional

import numpy as np

from tfdis.data import dsprites_variants
from tfdis.data import sources
from tfdis.data import tfds_data
from tfdis.registry import DATASETS, check_choice

# tfdis name -> (TFDS build name, builder config).
_BUILDS = {
    "dsprites": ("dsprites", None),
    "shapes3d": ("shapes3d", None),
    "smallnorb": ("smallnorb", None),
    "cars3d": ("cars3d", None),
    "mpi3d_toy": ("mpi3d", "toy"),
    "mpi3d_realistic": ("mpi3d", "realistic"),
    "mpi3d_real": ("mpi3d", "real"),
}
OFFICIAL_NAMES = tuple(_BUILDS)


@functools.lru_cache(maxsize=2)
def _load(name: str, data_dir: Optional[str], store: str):
  # Cached: several consumers in one process (metrics, visualisation) ask for
  # the same data; an in-memory grid takes a while to read (a disk store
  # only opens a file).
  tfds_name, config = _BUILDS[name]
  try:
    return tfds_data.load_tfds_ground_truth(tfds_name, name, config=config,
                                            data_dir=data_dir, store=store)
  except tfds_data.DatasetNotPreparedError as e:
    if _is_prepared(tfds_name, config, data_dir):
      raise  # a build is there but unusable: its message says why
    first = e
  sources.prepare_build(tfds_name, config, data_dir)
  try:
    return tfds_data.load_tfds_ground_truth(tfds_name, name, config=config,
                                            data_dir=data_dir, store=store)
  except tfds_data.DatasetNotPreparedError:
    raise first from None


def _is_prepared(tfds_name: str, config: Optional[str],
                 data_dir: Optional[str]) -> bool:
  """Whether ``<data_dir>/<name>[/<config>]/<version>`` holds a build."""
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  root = os.path.expanduser(data_dir or tfds.core.constants.DATA_DIR)
  folder = os.path.join(root, tfds_name, *([config] if config else []))
  if not os.path.isdir(folder):
    return False
  return any(os.path.isfile(os.path.join(folder, v, "dataset_info.json"))
             for v in os.listdir(folder))


def _path(p) -> Optional[str]:
  return None if p is None else os.path.abspath(os.path.expanduser(p))


def load_official(name: str, data_dir: Optional[str] = None,
                  store: str = "disk"):
  """Ground-truth data for ``dsprites``, ``shapes3d``, ..., ``mpi3d_real``."""
  check_choice("official labelled benchmark", name, _BUILDS)
  return _load(name, _path(data_dir), store)


def _variant(variant: str, data_dir: Optional[str],
             scream: Optional[np.ndarray] = None, store: str = "disk"):
  base = load_official("dsprites", data_dir, store)
  return dsprites_variants.DSpritesVariant(base, variant, scream=scream,
                                           name=f"{variant}_dsprites")


def load_dsprites_variant(variant: str, data_dir: Optional[str] = None,
                          store: str = "disk"):
  """``color_dsprites`` / ``noisy_dsprites``."""
  return _variant(variant, data_dir, store=store)


def _scream_painting(data_dir: Optional[str]) -> str:
  """The painting's path: a manual directory, dlib's folder, or fetched.

  Looked up as the builder does (``$TFDIS_DATASET_MANUAL_DIR``,
  ``<data_dir>/downloads/manual``, ``$DISENTANGLEMENT_LIB_DATA/scream/
  scream.jpg``); otherwise downloaded and verified by the scream_dsprites
  builder (``--fetch_only``, no build).
  """
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  root = os.path.expanduser(data_dir or tfds.core.constants.DATA_DIR)
  candidates = [os.path.join(d, dsprites_variants.SCREAM_FILENAME) for d in (
      os.environ.get(sources.ENV_MANUAL_DIR),
      os.path.join(root, "downloads", "manual")) if d]
  dlib = os.environ.get(sources.ENV_DLIB)
  if dlib:
    candidates.append(os.path.join(os.path.expanduser(dlib), "scream",
                                   "scream.jpg"))
  for path in candidates:
    if os.path.isfile(path):
      return path
  return sources.fetch_files("scream_dsprites",
                             [dsprites_variants.SCREAM_FILENAME],
                             data_dir)[dsprites_variants.SCREAM_FILENAME]


def load_scream_dsprites(data_dir: Optional[str] = None,
                         manual_dir: Optional[str] = None,
                         scream_path: Optional[str] = None,
                         store: str = "disk"):
  """``scream_dsprites``; ``manual_dir``/``scream_path`` locate the painting
  (default: found or downloaded as the builders do, see ``_scream_painting``).
  """
  if scream_path is None:
    if manual_dir is None:
      scream_path = _scream_painting(_path(data_dir))
    else:
      scream_path = os.path.join(manual_dir,
                                 dsprites_variants.SCREAM_FILENAME)
  try:
    scream = dsprites_variants.load_scream(scream_path)
  except FileNotFoundError as e:
    raise tfds_data.DatasetFilesMissingError(str(e)) from None
  return _variant("scream", data_dir, scream, store)


def load_celeba_images(data_dir: Optional[str] = None,
                       max_images: Optional[int] = None) -> np.ndarray:
  """uint8 [N, 64, 64, 3] aligned CelebA images (centre crop, resized);
  built on first use like the labelled benchmarks."""
  data_dir = _path(data_dir)
  if not _is_prepared("celeba", None, data_dir):
    sources.prepare_build("celeba", None, data_dir)
  return tfds_data.load_unlabelled_images("celeba", data_dir=data_dir,
                                          max_images=max_images)


def _register() -> None:
  for name in OFFICIAL_NAMES:
    DATASETS.register(name, functools.partial(load_official, name))
  for variant in dsprites_variants.VARIANTS:
    DATASETS.register(f"{variant}_dsprites", load_scream_dsprites if (
        variant == "scream") else functools.partial(load_dsprites_variant,
                                                    variant))


_register()
