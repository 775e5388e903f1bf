"""Shared pieces of the tfdis TFDS builders.

* ``CodePathMixin``: TFDS 4.9.10 computes ``Builder.code_path`` through
  ``importlib_resources.abc.Traversable`` for any builder that lives in a
  package, and that back-port is not installed on Python >= 3.9 (TFDS only
  requires it below 3.9), so ``code_path`` (and with it ``dataset_info``,
  CITATIONS.bib, checksums and the dummy-data tests) raises
  ``ModuleNotFoundError``. The mixin returns the module file directly.
* ``require_manual_files`` / ``check_manual_files``: a missing manual file
  fails early with the file name, where to get it and the manual directory
  to put it in (the official builders find, download and verify their files
  with ``_download.resolve`` instead, which reports the same way).
* feature/metadata helpers so every builder exposes ``image``,
  ``label_<factor>`` (ClassLabel) and ``value_<factor>`` (float32), rows in
  row-major factor order.
"""

from __future__ import annotations

import contextlib
import sys
from typing import Dict, Iterator, Mapping, Optional, Sequence, Tuple, Union

from etils import epath
import numpy as np
import tensorflow_datasets as tfds

from tfdis.errors import UserError

# Dataset-level homepage/URL facts used in messages.
MANUAL_DIR_HINT = (
    "Pass the directory with --manual_dir=DIR (`python -m "
    "tfds_builders.build <name> --manual_dir=DIR`, or manual_dir= of "
    "tfds_builders.build.prepare); the TFDS default is "
    "<data_dir>/downloads/manual.")


class CodePathMixin:
  """Works around TFDS 4.9.10's ``code_path`` needing ``importlib_resources``."""

  @tfds.core.utils.classproperty
  @classmethod
  def code_path(cls) -> epath.Path:  # pylint: disable=no-self-argument
    return epath.Path(sys.modules[cls.__module__].__file__)


class ManualFileMissingError(UserError, FileNotFoundError):
  """An official data file is not in the manual directory."""


class OfficialFileError(UserError, ValueError):
  """An official file is corrupt, truncated or of another format."""


@contextlib.contextmanager
def reading_official_file(path, expected: str, source: str) -> Iterator[None]:
  """Reports any failure to read ``path`` as one ``OfficialFileError``.

  numpy, h5py, scipy.io, zipfile and PIL each fail differently on a
  truncated or foreign file (OSError, ValueError, KeyError, EOFError,
  BadZipFile, ...); the message names the file, what was expected (the
  format and the arrays/keys the builder reads) and where to get it again.
  """
  try:
    yield
  except (OfficialFileError, ManualFileMissingError):
    raise
  except Exception as e:  # pylint: disable=broad-except  (see docstring)
    detail = str(e).strip() or "no details"
    error = OfficialFileError(
        f"{path} is not a valid {expected}: it is truncated, corrupt or "
        f"another file ({type(e).__name__}: {detail}). Download it again from "
        f"{source} and replace it.")
    error.path = str(path)  # build.prepare removes it if it was downloaded
    raise error from e


def manual_dir_from(dl_manager) -> Optional[epath.Path]:
  """The manual directory of a DownloadManager, without TFDS's own assertion."""
  try:
    return epath.Path(dl_manager.manual_dir)
  except (AssertionError, ValueError):
    path = getattr(dl_manager, "_manual_dir", None)
    return None if path is None else epath.Path(path)


def missing_files_message(dataset: str, manual_dir, missing: Mapping[str, str]
                          ) -> str:
  where = "(no manual directory given)" if manual_dir is None else str(
      manual_dir)
  lines = [f"{dataset}: {len(missing)} official file(s) missing from the "
           f"manual directory {where}:"]
  for name, source in missing.items():
    lines.append(f"  - {name}: get it from {source}")
  target = "DIR" if manual_dir is None else str(manual_dir)
  lines.append(f"Put the file(s) at {target}/<name> as listed. "
               + MANUAL_DIR_HINT)
  return "\n".join(lines)


def check_manual_files(dataset: str, manual_dir,
                       files: Mapping[str, str]) -> epath.Path:
  """Returns ``manual_dir`` as a path; raises if any of ``files`` is missing.

  ``files`` maps a path relative to the manual directory (a directory ends with
  "/" and must hold at least one file) to where to get it.
  """
  root = None if manual_dir is None else epath.Path(manual_dir)
  missing = {}
  for name, source in files.items():
    if root is None:
      missing[name] = source
      continue
    path = root / name.rstrip("/")
    ok = (path.is_dir() and any(path.iterdir())) if name.endswith("/") else (
        path.exists())
    if not ok:
      missing[name] = source
  if missing:
    raise ManualFileMissingError(missing_files_message(dataset, root, missing))
  return root


def require_manual_files(dl_manager, dataset: str,
                         files: Mapping[str, str]) -> epath.Path:
  """``check_manual_files`` on a DownloadManager's manual directory."""
  return check_manual_files(dataset, manual_dir_from(dl_manager), files)


FactorSpec = Tuple[str, Union[int, Sequence[str]]]


def factor_features(image: tfds.features.FeatureConnector,
                    factors: Sequence[FactorSpec]) -> tfds.features.FeaturesDict:
  """``image`` plus ``label_<f>`` (ClassLabel) and ``value_<f>`` per factor."""
  features = {"image": image}
  for name, classes in factors:
    if isinstance(classes, (int, np.integer)):
      features[f"label_{name}"] = tfds.features.ClassLabel(
          num_classes=int(classes))
    else:
      features[f"label_{name}"] = tfds.features.ClassLabel(
          names=list(classes))
    features[f"value_{name}"] = tfds.features.Tensor(shape=(),
                                                     dtype=np.float32)
  return tfds.features.FeaturesDict(features)


def png_image(shape) -> tfds.features.Image:
  return tfds.features.Image(shape=tuple(shape), dtype=np.uint8,
                             encoding_format="png")


def factor_metadata(factor_names: Sequence[str],
                    nuisance_factors: Sequence[str] = (),
                    **extra) -> tfds.core.MetadataDict:
  """What the tfdis loader reads: factor order (and which are nuisances)."""
  return tfds.core.MetadataDict(factor_names=list(factor_names),
                                nuisance_factors=list(nuisance_factors),
                                **extra)


def row_major_order(labels: np.ndarray, sizes: Sequence[int],
                    what: str) -> np.ndarray:
  """Permutation putting rows in row-major factor order (identity if they are).

  Raises if two rows have the same factors (the file is not a grid).
  """
  labels = np.asarray(labels, dtype=np.int64)
  sizes = np.asarray(sizes, dtype=np.int64)
  if labels.ndim != 2 or labels.shape[1] != len(sizes):
    raise ValueError(f"{what}: labels must be [N, {len(sizes)}], got "
                     f"{labels.shape}")
  if (labels < 0).any() or (labels >= sizes).any():
    raise ValueError(f"{what}: factor labels outside the sizes {sizes.tolist()}")
  strides = np.concatenate([np.cumprod(sizes[::-1])[::-1][1:], [1]])
  index = labels @ strides
  if len(index) > 1 and (np.diff(index) > 0).all():
    return np.arange(len(index))
  order = np.argsort(index, kind="stable")
  if len(index) > 1 and (np.diff(index[order]) == 0).any():
    raise ValueError(f"{what}: several rows share the same factor values; the "
                     f"file is not a factor grid")
  return order


def grid_examples(images: np.ndarray, labels: np.ndarray, values: np.ndarray,
                  factor_names: Sequence[str], keys: Optional[np.ndarray] = None,
                  image_fn=None) -> Iterator[Tuple[int, Dict]]:
  """(key, example) pairs; ``image_fn(i)`` may produce images lazily."""
  labels = np.asarray(labels, dtype=np.int64)
  values = np.asarray(values, dtype=np.float32)
  keys = np.arange(len(labels)) if keys is None else np.asarray(keys)
  label_keys = [f"label_{n}" for n in factor_names]
  value_keys = [f"value_{n}" for n in factor_names]
  for i in range(len(labels)):
    example = {"image": images[i] if image_fn is None else image_fn(i)}
    example.update(zip(label_keys, labels[i].tolist()))
    example.update(zip(value_keys, values[i]))
    yield int(keys[i]), example
