"""Ground-truth data from a prepared TFDS build (of ``tfds_builders/``).

``load_tfds_ground_truth`` reads a build prepared beforehand with
``python -m tfds_builders.build <name> --manual_dir=DIR`` by name and data
directory (TFDS's read-only builder: this package never imports the builder
code, which itself uses tfdis's renderers), fails with that command if the
build is missing, and returns a ``TFDSGroundTruthData``: the images placed in
row-major factor order (computed from the ``label_<factor>`` features, so the
on-disk order does not matter) and the factor names/sizes/values from the
builder's features and metadata. The images are read by row from the build's
grid cache on disk (``tfdis.data.grid_cache``, written on first use; bounded
memory whatever the grid size) or, with ``store="memory"``, from the whole
``train`` split read into memory in one batched pass.

A build may cover a sub-grid (e.g. a dummy file with a few values per
factor): the factor sizes are the numbers of distinct labels present, and the
build must hold every combination of them exactly once.

Nuisance factors (smallNORB's ``instance``, listed in the builder metadata as
``nuisance_factors``) are part of the stored grid but not of ``factor_names``;
``images_from_factors`` draws them uniformly (dlib's ``SplitDiscreteStateSpace``
behaviour).
"""

from __future__ import annotations

import os
from typing import Optional, Sequence

import numpy as np

from tfdis.errors import UserError
from tfdis.data import grid_cache
from tfdis.data import grid_store
from tfdis.data.ground_truth import (GroundTruthData, RandomState, randint,
                                     row_strides)
from tfdis.registry import check_choice


class DatasetFilesMissingError(UserError, FileNotFoundError):
  """The official files of a benchmark are not where they should be."""


class TFDSGroundTruthData(GroundTruthData):
  """A factor grid with optional nuisance factors.

  Args:
    name: dataset name.
    images: uint8 [N, H, W, C] in row-major order over ``grid_names``: an
      array in memory or a ``GridStore`` on disk (read by batch gathers).
    grid_names, grid_sizes: all stored factors (observed and nuisance).
    factor_names: the observed factors (a subsequence of ``grid_names``).
    factor_values: one value array per observed factor.
    extra_info: recorded by ``info()``.
  """

  def __init__(self, name: str, images: np.ndarray,
               grid_names: Sequence[str], grid_sizes: Sequence[int],
               factor_names: Optional[Sequence[str]] = None,
               factor_values: Optional[Sequence[np.ndarray]] = None,
               extra_info: Optional[dict] = None):
    if not isinstance(images, grid_store.GridStore):
      images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim != 4:
      raise ValueError(f"{name}: images must be uint8 [N, H, W, C], got "
                       f"{images.dtype} {images.shape}")
    self.name = name
    self.grid_names = tuple(grid_names)
    self.grid_sizes = tuple(int(s) for s in grid_sizes)
    factor_names = self.grid_names if factor_names is None else tuple(
        factor_names)
    unknown = set(factor_names) - set(self.grid_names)
    if unknown:
      raise ValueError(f"{name}: factors {sorted(unknown)} not in the grid "
                       f"{self.grid_names}")
    self._observed = np.array([self.grid_names.index(n) for n in factor_names])
    self._nuisance = np.array([i for i, n in enumerate(self.grid_names)
                               if n not in factor_names], dtype=np.int64)
    self.factor_names = tuple(factor_names)
    self.factor_sizes = tuple(self.grid_sizes[i] for i in self._observed)
    self.factor_values = (None if factor_values is None else
                          tuple(np.asarray(v) for v in factor_values))
    self.observation_shape = tuple(int(s) for s in images.shape[1:])
    if len(images) != int(np.prod(self.grid_sizes, dtype=np.int64)):
      raise ValueError(f"{name}: {len(images)} images but the grid "
                       f"{dict(zip(self.grid_names, self.grid_sizes))} has "
                       f"{int(np.prod(self.grid_sizes))} rows")
    self._grid_strides = row_strides(self.grid_sizes)
    self.images = images
    self.extra_info = dict(extra_info or {})

  @property
  def observations_are_deterministic(self) -> bool:
    """Nuisance factors are drawn per observation from the random stream."""
    return not len(self._nuisance)

  @property
  def nuisance_names(self) -> tuple:
    return tuple(self.grid_names[i] for i in self._nuisance)

  def images_from_factors(self, factors, random_state: RandomState):
    factors = np.asarray(factors, dtype=np.int64)
    full = np.zeros((len(factors), len(self.grid_sizes)), dtype=np.int64)
    full[:, self._observed] = factors
    for i in self._nuisance:  # uniform over the nuisance values
      full[:, i] = randint(random_state, self.grid_sizes[i], len(factors))
    return self.images[full @ self._grid_strides]

  def images_from_indices(self, index, random_state=None):
    if not len(self._nuisance):
      return self.images[np.asarray(index, dtype=np.int64)]
    return super().images_from_indices(index, random_state)

  def info(self) -> dict:
    info = super().info()
    if len(self._nuisance):
      info["nuisance_factors"] = {n: self.grid_sizes[i] for n, i in zip(
          self.nuisance_names, self._nuisance)}
    info.update(self.extra_info)
    return info


class DatasetNotPreparedError(DatasetFilesMissingError):
  """The TFDS build of a benchmark is not in the data directory."""


def build_command(name: str, config: Optional[str] = None,
                  data_dir: Optional[str] = None) -> str:
  """The command that prepares ``name`` from its official files."""
  command = f"python -m tfds_builders.build {name}"
  if config:
    command += f" --config={config}"
  if data_dir:
    command += f" --data_dir={data_dir}"
  return command + " --manual_dir=DIR"


def load_prepared_builder(name: str, config: Optional[str] = None,
                          data_dir: Optional[str] = None):
  """The prepared TFDS build ``<data_dir>/<name>[/<config>]/<version>``.

  Read from its files (``dataset_info.json``, ``features.json``,
  ``metadata.json``) by TFDS's read-only builder, so neither the builder code
  of ``tfds_builders`` nor TFDS's own catalogue builder of the same name
  (TFDS ships a different ``dsprites``/``shapes3d``/``smallnorb``) is
  involved; the newest version present is used. ``data_dir`` defaults to
  TFDS's (``$TFDS_DATA_DIR`` or ``~/tensorflow_datasets``). Raises
  ``DatasetNotPreparedError`` with the build command if it is not there.
  """
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  from tensorflow_datasets.core import read_only_builder  # pylint: disable=g-import-not-at-top

  kwargs = {"data_dir": data_dir} if data_dir else {}
  if config:
    kwargs["config"] = config
  try:
    return read_only_builder.builder_from_files(name, **kwargs)
  except tfds.core.registered.DatasetNotFoundError:
    where = data_dir or tfds.core.constants.DATA_DIR
    shown = f"{name} (config {config})" if config else name
    raise DatasetNotPreparedError(
        f"{shown} is not prepared in the TFDS data directory {where}. Build "
        f"it once from the official files: `{build_command(name, config, data_dir)}`"
        " (it names each file it needs and where to get it).") from None


# One batched reader for the in-memory path and the grid cache.
read_split = grid_cache.read_split


def grid_from_examples(name: str, examples: dict, grid_names: Sequence[str],
                       num_classes: Sequence[int]):
  """Dense factor indices, sizes, values and row order of a (sub-)grid.

  Returns (images in row-major order, sizes, values per factor).
  """
  index, sizes, values = grid_cache.grid_rows(name, examples, grid_names,
                                              num_classes)
  images = examples["image"]
  if not (np.diff(index) > 0).all():  # put rows in row-major order
    ordered = np.empty_like(images)
    ordered[index] = images
    images = ordered
  return images, sizes, values


STORES = ("disk", "memory")


def load_tfds_ground_truth(tfds_name: str, name: str,
                           config: Optional[str] = None,
                           data_dir: Optional[str] = None,
                           batch_size: int = 4096,
                           store: str = "disk") -> TFDSGroundTruthData:
  """The prepared build ``tfds_name`` (``/config``) as ground-truth data
  called ``name``.

  ``store="disk"`` (the default) reads images by row from the build's grid
  cache, written on first use (``tfdis.data.grid_cache``): the process holds
  only the rows of the batch at hand. ``store="memory"`` reads the whole
  split into memory (the earlier behaviour: 12.7 GB for MPI3D real; metric
  encoding measured 8 % faster than the cache when the cache file is in the
  page cache, docs/datasets-memory.md). Both give the same images for the
  same rows.
  """
  check_choice("store", store, STORES,
               error=ValueError)  # get_dataset names the options
  builder = load_prepared_builder(tfds_name, config, data_dir)
  metadata = builder.info.metadata or {}
  grid_names = list(metadata.get("factor_names", []))
  nuisance = list(metadata.get("nuisance_factors", []))
  if not grid_names:
    raise DatasetNotPreparedError(
        f"The build {builder.data_dir} has no factor_names metadata: it is "
        "not a tfdis ground-truth build (TFDS's own catalogue dataset of the "
        f"same name?). Rebuild it with `{build_command(tfds_name, config)}` "
        "into its own --data_dir.")
  features = builder.info.features
  # A build may declare its grid (MPI3D: 4x4 or 6x6 colour x shape under
  # 6-class labels); otherwise the ClassLabel sizes are the expected grid.
  num_classes = list(metadata.get("grid_sizes") or [
      features[f"label_{n}"].num_classes for n in grid_names])
  if store == "disk":
    images, sizes, values = grid_cache.open_grid_cache(
        builder, name, grid_names, num_classes, batch_size)
  else:
    examples = read_split(builder, batch_size)
    images, sizes, values = grid_from_examples(name, examples, grid_names,
                                               num_classes)
    del examples
  observed = [n for n in grid_names if n not in nuisance]
  extra = {"tfds": {"builder": builder.name, "config": config,
                    "version": str(builder.version),
                    "data_dir": os.fspath(builder.data_dir)}}
  if store == "disk":
    extra["tfds"]["grid_cache"] = images.path
  for key in ("colour_shape_values", "release"):
    if key in metadata:
      extra[key] = metadata[key]
  return TFDSGroundTruthData(
      name, images, grid_names, sizes, factor_names=observed,
      factor_values=[values[grid_names.index(n)] for n in observed],
      extra_info=extra)


def load_unlabelled_images(tfds_name: str, config: Optional[str] = None,
                           data_dir: Optional[str] = None,
                           max_images: Optional[int] = None,
                           batch_size: int = 4096) -> np.ndarray:
  """uint8 [N, H, W, C] images of an unlabelled build (e.g. celeba)."""
  builder = load_prepared_builder(tfds_name, config, data_dir)
  if max_images is None:
    return read_split(builder, batch_size)["image"]
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  ds = builder.as_dataset(split=f"train[:{int(max_images)}]",
                          batch_size=batch_size, shuffle_files=False)
  return np.concatenate([b["image"] for b in tfds.as_numpy(ds)], axis=0)
