"""Atomic artifact writing and library-version stamps.

Every JSON/CSV/NPZ/PNG tfdis writes goes to a temporary name in the same
directory and is then renamed (``os.replace`` is atomic on POSIX), so a killed
process never leaves a half-written file that a later step would trust.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import tempfile
from typing import Any, Dict, Iterator

import numpy as np


@contextlib.contextmanager
def atomic_path(path: str, suffix: str = "") -> Iterator[str]:
  """Yields a temporary path next to ``path``; renames it to ``path`` on success.

  ``suffix`` lets writers that insist on an extension (np.savez, PIL) see one.
  On an exception the temporary file is removed and ``path`` is untouched.
  """
  path = os.fspath(path)
  directory = os.path.dirname(os.path.abspath(path))
  os.makedirs(directory, exist_ok=True)
  fd, tmp = tempfile.mkstemp(
      prefix="." + os.path.basename(path) + ".", suffix=".tmp" + suffix,
      dir=directory)
  os.close(fd)
  try:
    yield tmp
    # mkstemp creates 0600 files; give artifacts the usual umask permissions.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    os.replace(tmp, path)
  finally:
    if os.path.exists(tmp):
      os.remove(tmp)


def _json_default(obj: Any) -> Any:
  if isinstance(obj, np.generic):
    return obj.item()
  if isinstance(obj, np.ndarray):
    return obj.tolist()
  if isinstance(obj, (set, tuple)):
    return list(obj)
  if hasattr(obj, "__fspath__"):
    return os.fspath(obj)
  raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def to_jsonable(obj: Any) -> Any:
  """Round-trips ``obj`` through JSON (numpy scalars/arrays become Python)."""
  return json.loads(json.dumps(obj, default=_json_default))


def write_json(path: str, obj: Any) -> None:
  with atomic_path(path) as tmp:
    with open(tmp, "w") as f:
      json.dump(obj, f, indent=2, sort_keys=True, default=_json_default,
                allow_nan=True)
      f.write("\n")


def read_json(path: str) -> Any:
  with open(path) as f:
    return json.load(f)


def write_text(path: str, text: str) -> None:
  with atomic_path(path) as tmp:
    with open(tmp, "w") as f:
      f.write(text)


def write_bytes(path: str, data: bytes) -> None:
  with atomic_path(path) as tmp:
    with open(tmp, "wb") as f:
      f.write(data)


def write_npz(path: str, **arrays: Any) -> None:
  with atomic_path(path, suffix=".npz") as tmp:
    np.savez_compressed(tmp, **arrays)


def write_csv(path: str, frame: Any, **kwargs: Any) -> None:
  """Writes a pandas DataFrame atomically (index off unless asked)."""
  kwargs.setdefault("index", False)
  with atomic_path(path, suffix=".csv") as tmp:
    frame.to_csv(tmp, **kwargs)


def save_figure(path: str, fig: Any, **kwargs: Any) -> None:
  """Saves a matplotlib figure atomically (format from ``path``'s extension)."""
  ext = os.path.splitext(path)[1]
  kwargs.setdefault("dpi", 100)
  kwargs.setdefault("bbox_inches", "tight")
  with atomic_path(path, suffix=ext) as tmp:
    fig.savefig(tmp, **kwargs)


def library_versions() -> Dict[str, str]:
  """Versions of the libraries that determine numbers, for results JSON."""
  import importlib.metadata as md

  versions = {"python": platform.python_version()}
  for dist in ("tfdis", "tensorflow", "keras", "tensorflow-probability",
               "tensorflow-datasets", "numpy", "scipy", "scikit-learn",
               "pandas"):
    try:
      versions[dist] = md.version(dist)
    except md.PackageNotFoundError:
      pass
  return versions
