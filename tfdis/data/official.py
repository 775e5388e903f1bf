"""The official benchmarks as ground-truth data (Locatello et al. 2019, Sec. 5).

Each name loads the TFDS build of ``tfds_builders/<dataset>`` (building it on
first use from the official files in the manual directory) into memory:

  get_dataset("dsprites", data_dir=None, manual_dir=None)

``data_dir`` is the TFDS data directory (default: TFDS's, e.g.
``~/tensorflow_datasets`` or ``$TFDS_DATA_DIR``); ``manual_dir`` holds the
official files (default ``<data_dir>/downloads/manual``). The colour / noisy /
scream dSprites variants load dSprites and apply their per-sample randomness
on demand (``dsprites_variants``); scream additionally needs the painting
(``scream_path``, default ``<manual_dir>/The_Scream.jpg``).

CelebA has no factors, so it is not a ground-truth dataset here:
``load_celeba_images`` returns its images for qualitative runs.
"""

from __future__ import annotations

import functools
import os
from typing import Optional

import numpy as np

from tfdis.data import dsprites_variants
from tfdis.data import tfds_data
from tfdis.registry import DATASETS

_MODULES = {
    "dsprites": "tfds_builders.dsprites.dsprites_dataset_builder",
    "shapes3d": "tfds_builders.shapes3d.shapes3d_dataset_builder",
    "smallnorb": "tfds_builders.smallnorb.smallnorb_dataset_builder",
    "cars3d": "tfds_builders.cars3d.cars3d_dataset_builder",
    "mpi3d": "tfds_builders.mpi3d.mpi3d_dataset_builder",
    "celeba": "tfds_builders.celeba.celeba_dataset_builder",
}


@functools.lru_cache(maxsize=2)
def _load(dataset: str, name: str, config: Optional[str],
          data_dir: Optional[str], manual_dir: Optional[str]):
  # Cached: the big grids take a while to read and several consumers in one
  # process (metrics, visualisation) ask for the same data.
  return tfds_data.load_tfds_ground_truth(
      _MODULES[dataset], name, config=config, data_dir=data_dir,
      manual_dir=manual_dir)


def _path(p) -> Optional[str]:
  return None if p is None else os.path.abspath(os.path.expanduser(p))


def load_official(name: str, data_dir: Optional[str] = None,
                  manual_dir: Optional[str] = None):
  """Ground-truth data for ``dsprites``, ``shapes3d``, ..., ``mpi3d_real``."""
  if name.startswith("mpi3d_"):
    dataset, config = "mpi3d", name[len("mpi3d_"):]
  else:
    dataset, config = name, None
  if dataset not in _MODULES or dataset == "celeba":
    raise ValueError(f"{name!r} is not an official labelled benchmark")
  return _load(dataset, name, config, _path(data_dir), _path(manual_dir))


def load_dsprites_variant(variant: str, data_dir: Optional[str] = None,
                          manual_dir: Optional[str] = None,
                          scream_path: Optional[str] = None):
  """``color_dsprites`` / ``noisy_dsprites`` / ``scream_dsprites``."""
  scream = None
  if variant == "scream":
    if scream_path is None:
      if manual_dir is None:
        # TFDS default manual dir next to the data.
        import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
        root = data_dir or tfds.core.constants.DATA_DIR
        manual = os.path.join(os.path.expanduser(root), "downloads", "manual")
      else:
        manual = manual_dir
      scream_path = os.path.join(manual, dsprites_variants.SCREAM_FILENAME)
    try:
      scream = dsprites_variants.load_scream(scream_path)
    except FileNotFoundError as e:
      raise tfds_data.DatasetFilesMissingError(str(e)) from None
  base = load_official("dsprites", data_dir, manual_dir)
  return dsprites_variants.DSpritesVariant(base, variant, scream=scream,
                                           name=f"{variant}_dsprites")


def load_celeba_images(data_dir: Optional[str] = None,
                       manual_dir: Optional[str] = None,
                       max_images: Optional[int] = None) -> np.ndarray:
  """uint8 [N, 64, 64, 3] aligned CelebA images (centre crop, resized)."""
  return tfds_data.load_unlabelled_images(
      _MODULES["celeba"], data_dir=_path(data_dir),
      manual_dir=_path(manual_dir), max_images=max_images)


OFFICIAL_NAMES = ("dsprites", "shapes3d", "smallnorb", "cars3d", "mpi3d_toy",
                  "mpi3d_realistic", "mpi3d_real")


def _register() -> None:
  for name in OFFICIAL_NAMES:
    DATASETS.register(name, functools.partial(load_official, name))
  for variant in dsprites_variants.VARIANTS:
    DATASETS.register(f"{variant}_dsprites",
                      functools.partial(load_dsprites_variant, variant))


_register()
