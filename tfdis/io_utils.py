"""Atomic artifact writing and library-version stamps.

Every JSON/CSV/NPZ/PNG tfdis writes goes to a temporary name in the same
directory and is then renamed (``os.replace`` is atomic on POSIX), so a killed
process never leaves a half-written file that a later step would trust.
"""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import platform
import tempfile
from typing import Any, Dict, Iterator, List, Tuple

import numpy as np


# A full disk (ENOSPC), a quota (EDQUOT) or a file-size limit (EFBIG).
NO_SPACE_ERRNOS = frozenset(e for e in (errno.ENOSPC, errno.EFBIG,
                                        getattr(errno, "EDQUOT", None))
                            if e is not None)
# How TensorFlow's C++ file system reports the same (its errors carry no
# errno); ResourceExhaustedError is what SaveV2 raises on a full disk.
_NO_SPACE_TEXT = ("No space left on device", "File too large",
                  "Disk quota exceeded")


class DiskFullError(OSError):
  """A write failed for lack of space (or a file-size limit). ``path``: what
  was being written; ``needed``: bytes the write needed (None if unknown);
  ``hint``: another way out, appended to the message. The temporary files
  of the write are removed and the previous artifact, if any, is intact;
  free space and rerun."""

  user_facing = True

  def __init__(self, path: str, needed: Any = None, reason: str = "",
               hint: str = ""):
    self.path = os.fspath(path)
    self.needed = needed
    need = (f"it needed {format_bytes(needed)}" if isinstance(needed, int)
            else f"it needed {needed}" if needed else
            "the size it needed is unknown")
    free = free_bytes(self.path)
    free_text = (f", {format_bytes(free)} free there now"
                 if free is not None else "")
    super().__init__(
        errno.ENOSPC,
        f"no space to write {self.path} ({reason or 'disk full'}; {need}"
        f"{free_text}). The partial files were removed and the previous "
        "version, if any, is intact: free space (or raise the file-size "
        "limit) and rerun the same command." + (f" {hint}" if hint else ""))

  def __str__(self) -> str:
    return self.strerror


def format_bytes(n: int) -> str:
  for unit, size in (("GiB", 2 ** 30), ("MiB", 2 ** 20), ("KiB", 2 ** 10)):
    if n >= size:
      return f"{n / size:.1f} {unit} ({n} bytes)"
  return f"{n} bytes"


def free_bytes(path: str):
  """Free bytes on the file system of ``path`` (or its nearest existing
  parent); None if unknown."""
  probe = os.path.abspath(path)
  while probe and not os.path.exists(probe):
    parent = os.path.dirname(probe)
    if parent == probe:
      break
    probe = parent
  try:
    st = os.statvfs(probe)
  except OSError:
    return None
  return st.f_bavail * st.f_frsize


def is_no_space(error: BaseException) -> bool:
  """True for an error that means "no space" (an OSError's errno, or the
  text of TensorFlow's ResourceExhausted/Unknown errors from its writers)."""
  if isinstance(error, DiskFullError):
    return True
  if isinstance(error, OSError) and error.errno in NO_SPACE_ERRNOS:
    return True
  text = str(error)
  if any(t in text for t in _NO_SPACE_TEXT):
    return True
  return type(error).__name__ == "ResourceExhaustedError" and (
      "SaveV2" in text or "write" in text.lower())


def tree_bytes(path: str) -> int:
  if os.path.isfile(path):
    return os.path.getsize(path)
  total = 0
  for root, _, files in os.walk(path):
    for name in files:
      try:
        total += os.path.getsize(os.path.join(root, name))
      except OSError:
        pass
  return total


@contextlib.contextmanager
def no_space_as_user_error(path: str, needed: Any = None,
                           measure: Any = None,
                           hint: str = "") -> Iterator[None]:
  """Turns a no-space failure inside into :class:`DiskFullError` naming
  ``path``. ``needed`` (bytes or text) is what the write needed; if None,
  ``measure`` (a path whose size at the failure is a lower bound, e.g. the
  temporary file) is measured: "at least N bytes". ``hint``: see
  :class:`DiskFullError`."""
  try:
    yield
  except DiskFullError:
    raise
  except Exception as e:  # pylint: disable=broad-except
    if not is_no_space(e):
      raise
    if needed is None and measure is not None and os.path.exists(measure):
      needed = f"at least {format_bytes(tree_bytes(measure))}"
    reason = (os.strerror(e.errno) if isinstance(e, OSError) and e.errno
              else str(e).strip().splitlines()[0][:120])
    raise DiskFullError(path, needed, reason, hint) from None


@contextlib.contextmanager
def atomic_path(path: str, suffix: str = "", needed: Any = None
                ) -> Iterator[str]:
  """Yields a temporary path next to ``path``; renames it to ``path`` on success.

  ``suffix`` lets writers that insist on an extension (np.savez, PIL) see one.
  On an exception the temporary file is removed and ``path`` is untouched;
  a full disk or a file-size limit becomes :class:`DiskFullError` naming
  ``path`` and ``needed`` bytes (if given, else at least what was written).
  """
  path = os.fspath(path)
  directory = os.path.dirname(os.path.abspath(path))
  with no_space_as_user_error(path, needed):
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        prefix="." + os.path.basename(path) + ".", suffix=".tmp" + suffix,
        dir=directory)
    os.close(fd)
  try:
    with no_space_as_user_error(path, needed, measure=tmp):
      yield tmp
      # mkstemp creates 0600 files; give artifacts the usual umask
      # permissions.
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


NON_FINITE_NOTE = "_non_finite_fields"
_NON_FINITE_NAMES = {"NaN": math.nan, "Infinity": math.inf,
                     "-Infinity": -math.inf}


def _non_finite_name(value: float) -> str:
  return "NaN" if math.isnan(value) else (
      "Infinity" if value > 0 else "-Infinity")


def strict_jsonable(obj: Any) -> Tuple[Any, List[Dict[str, Any]]]:
  """``obj`` with every non-finite float (NaN, ±Inf; nested, numpy too) as None.

  Returns (converted, notes): one ``{"path": [key or index, ...], "value":
  "NaN" | "Infinity" | "-Infinity"}`` per replaced value. Strict JSON parsers
  (RFC 8259, JavaScript, jq) reject the bare ``NaN``/``Infinity`` tokens
  Python's json module writes by default.
  """
  found: List[Dict[str, Any]] = []

  def walk(value: Any, path: Tuple) -> Any:
    if isinstance(value, dict):
      return {k: walk(v, path + (str(k),)) for k, v in value.items()}
    if isinstance(value, np.ndarray):
      value = value.tolist()
    if isinstance(value, (list, tuple, set)):
      return [walk(v, path + (i,)) for i, v in enumerate(value)]
    if isinstance(value, np.generic):
      value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
      found.append({"path": list(path), "value": _non_finite_name(value)})
      return None
    return value

  converted = walk(obj, ())
  return converted, sorted(found, key=lambda n: [str(p) for p in n["path"]])


def _restore_non_finite(obj: Any) -> Any:
  """Puts the values listed in the note back (NaN/±Inf) and drops the note."""
  if not isinstance(obj, dict) or not isinstance(obj.get(NON_FINITE_NOTE),
                                                 list):
    return obj
  for note in obj.pop(NON_FINITE_NOTE):
    try:
      *parents, last = note["path"]
      target = obj
      for key in parents:
        target = target[key]
      if target[last] is None:
        target[last] = _NON_FINITE_NAMES[note["value"]]
    except (KeyError, IndexError, TypeError, ValueError):
      continue  # a note that no longer matches the data: keep the null
  return obj


def write_json(path: str, obj: Any) -> None:
  """Writes ``obj`` as strict JSON, atomically.

  Non-finite floats are written as ``null``. If ``obj`` is a dict, its note
  ``"_non_finite_fields"`` lists each of them, e.g. ``[{"path": ["losses",
  "loss"], "value": "NaN"}]``, so a reader can tell a missing value from a
  NaN/Inf one (``read_json`` restores them). A non-dict top level gets plain
  nulls.
  """
  obj, non_finite = strict_jsonable(obj)
  if non_finite and isinstance(obj, dict):
    obj[NON_FINITE_NOTE] = non_finite
  data = (json.dumps(obj, indent=2, sort_keys=True, default=_json_default,
                     allow_nan=False) + "\n").encode()
  write_bytes(path, data)


def read_json(path: str, restore_non_finite: bool = True) -> Any:
  """Reads JSON written by ``write_json`` (or older files with bare NaN).

  With ``restore_non_finite`` the nulls listed in ``"_non_finite_fields"``
  become NaN/±Inf again and the note is dropped, so a dict round-trips
  exactly; without it the file's content is returned as is.
  """
  with open(path) as f:
    obj = json.load(f)
  return _restore_non_finite(obj) if restore_non_finite else obj


def remove_if_exists(path: str) -> bool:
  """Removes the file ``path`` (e.g. a failure record superseded by a later
  successful run); True if there was one."""
  try:
    os.remove(path)
    return True
  except FileNotFoundError:
    return False


def ensure_writable_dir(path: str, what: str = "--output_dir") -> str:
  """Creates ``path`` if needed and checks that files can be written there.

  Raises a ``UserError`` naming ``what`` (e.g. the flag) if it cannot (a file
  in the way, a parent that is a file, no permission, read-only file system),
  so a binary fails before any work is done.
  """
  from tfdis.errors import UserError  # pylint: disable=g-import-not-at-top

  path = os.fspath(path)
  if os.path.exists(path) and not os.path.isdir(path):
    raise UserError(f"{what} {path!r} is a file, not a directory; pass a "
                    "directory (it is created if missing).")
  try:
    os.makedirs(path, exist_ok=True)
    with tempfile.TemporaryFile(dir=path):
      pass
  except OSError as e:
    raise UserError(f"{what} {path!r} is not a writable directory "
                    f"({e.strerror}: {e.filename or path}); pass a directory "
                    "you can write to.") from None
  return path


def write_text(path: str, text: str) -> None:
  write_bytes(path, text.encode())


def write_bytes(path: str, data: bytes) -> None:
  with atomic_path(path, needed=len(data)) as tmp:
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
