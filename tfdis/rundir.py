"""Run-directory safety: one writer per directory, no stale leftovers, no
silent change of what a directory holds.

Used by every binary that owns a directory (a model directory of
``tfdis_train``, a study, PBT or rPU output directory)::

  with RunLock(model_dir, "tfdis_train"):          # refuses a 2nd process
    removed = clean_stale_temporaries(model_dir)    # leftovers of killed runs
    stored = fill_defaults(read_json(config_path), TrainConfig, where=...)
    check_compatible(stored, requested, immutable_fields=TRAIN_IMMUTABLE_FIELDS,
                     where=model_dir, overwrite_hint="--overwrite")
    ... write config.json, train, export ...

``RunLock`` uses ``fcntl.flock`` on ``<dir>/.tfdis.lock``. The kernel drops a
flock when its holder exits for any reason (including SIGKILL or OOM), so a
lock "left" by a killed process is simply free: the next run takes it over
without any PID-liveness guessing, and the holder information in the file
(JSON: pid, host, started, command) is only used for messages. Two
``RunLock`` objects on one directory conflict even inside one process (each
opens its own file description). flock is local to a machine: on network file
systems that do not forward flock (some NFS setups) it does not protect
against a writer on another host.
"""

from __future__ import annotations

import dataclasses
import datetime
import errno
import fcntl
import json
import os
import re
import shutil
import socket
import sys
import typing
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence

from absl import logging

from tfdis import io_utils
from tfdis.errors import UserError

LOCK_FILE = ".tfdis.lock"

# Fields of a training config whose change makes a model directory hold a
# different model: a resume must not change them (a new directory, or an
# explicit --overwrite, is the way out). Everything else may change on resume
# and takes effect from the resumed step: steps (the total target), learning
# rate and hyperparameters (PBT changes them between intervals), batch size,
# seed (the data order from the resumed step), checkpoint/summary/log
# cadence, keep_checkpoints, export, strategy, xla.
TRAIN_IMMUTABLE_FIELDS = ("model", "latent_dim", "architecture",
                          "reconstruction_loss", "dataset",
                          "dataset_options")


class RunDirectoryError(UserError):
  """A run directory cannot be used as requested (the message says why)."""


class RunDirectoryLockedError(RunDirectoryError):
  """Another live process holds the directory's lock (``holder``: its info)."""

  def __init__(self, message: str, holder: Mapping[str, Any]):
    super().__init__(message)
    self.holder = dict(holder)


class IncompatibleRunError(RunDirectoryError):
  """The request differs from the stored config in immutable fields.

  ``differences``: {field: (stored, requested)}.
  """

  def __init__(self, message: str, differences: Mapping[str, Any]):
    super().__init__(message)
    self.differences = dict(differences)


# ---------------------------------------------------------------------------
# Lock
# ---------------------------------------------------------------------------

# Directories locked by this process (realpath -> RunLock): cleaning skips
# nested directories locked by other processes but not our own.
_HELD: Dict[str, "RunLock"] = {}


def _holder_info(what: str) -> Dict[str, Any]:
  return {"pid": os.getpid(), "host": socket.gethostname(),
          "started": datetime.datetime.now(datetime.timezone.utc).isoformat(
              timespec="seconds"),
          "command": " ".join([what] + sys.argv[1:]) if what else " ".join(
              sys.argv)}


def _read_holder(fd: int) -> Dict[str, Any]:
  try:
    os.lseek(fd, 0, os.SEEK_SET)
    data = os.read(fd, 1 << 16).decode("utf-8", "replace")
    holder = json.loads(data) if data.strip() else {}
    return holder if isinstance(holder, dict) else {}
  except (OSError, ValueError):
    return {}


def _try_flock(fd: int) -> bool:
  try:
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    return True
  except OSError as e:
    if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
      return False
    raise


class RunLock:
  """Exclusive lock of a run directory for the duration of a ``with`` block.

  Args:
    directory: the run directory (created if missing).
    what: what holds it, e.g. "tfdis_train" (recorded and shown to a second
      process).

  Raises ``RunDirectoryLockedError`` (a UserError) if a live process holds
  it; the message names its PID, host, start time and command. A lock whose
  holder died is taken over (logged with the dead holder's PID).
  """

  def __init__(self, directory: str, what: str = ""):
    self.directory = os.fspath(directory)
    self.what = what
    self.path = os.path.join(self.directory, LOCK_FILE)
    self._fd: Optional[int] = None
    self.previous_holder: Dict[str, Any] = {}

  def acquire(self) -> "RunLock":
    if self._fd is not None:
      raise RuntimeError(f"RunLock on {self.directory!r} is already held")
    try:
      os.makedirs(self.directory, exist_ok=True)
      fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as e:
      raise RunDirectoryError(
          f"Cannot use {self.directory!r} as a run directory: {e.strerror} "
          f"({e.filename or self.path}). Choose a directory you can write "
          "to.") from None
    if not _try_flock(fd):
      holder = _read_holder(fd)
      os.close(fd)
      raise RunDirectoryLockedError(self._locked_message(holder), holder)
    self.previous_holder = _read_holder(fd)
    if self.previous_holder:
      logging.info("Taking over the lock of %s: its holder (pid %s on %s, "
                   "started %s) is gone.", self.directory,
                   self.previous_holder.get("pid"),
                   self.previous_holder.get("host"),
                   self.previous_holder.get("started"))
    info = json.dumps(_holder_info(self.what), sort_keys=True).encode()
    os.ftruncate(fd, 0)
    os.pwrite(fd, info + b"\n", 0)
    os.fsync(fd)
    self._fd = fd
    _HELD[os.path.realpath(self.directory)] = self
    return self

  def _locked_message(self, holder: Mapping[str, Any]) -> str:
    if holder.get("pid") is None:
      who = "another process (its PID is not recorded yet)"
    else:
      who = f"process {holder['pid']} on host {holder.get('host', '?')}"
      if holder.get("started"):
        who += f", started {holder['started']}"
      if holder.get("command"):
        who += f", running `{holder['command']}`"
    return (f"{self.directory!r} is in use by {who}. Wait for it to finish, "
            f"or kill it (kill {holder.get('pid', '<pid>')}); if that process "
            "is gone the lock is taken over automatically. To run both, "
            "give this run another directory.")

  def release(self) -> None:
    if self._fd is None:
      return
    _HELD.pop(os.path.realpath(self.directory), None)
    try:
      os.ftruncate(self._fd, 0)  # nobody holds it now: no stale holder info
    except OSError:
      pass
    fcntl.flock(self._fd, fcntl.LOCK_UN)
    os.close(self._fd)
    self._fd = None

  @property
  def held(self) -> bool:
    return self._fd is not None

  def __enter__(self) -> "RunLock":
    return self.acquire()

  def __exit__(self, *exc) -> None:
    self.release()


def _locked_by_other_process(directory: str) -> bool:
  """True if ``directory`` has a lock file held by a process other than us."""
  if os.path.realpath(directory) in _HELD:
    return False
  path = os.path.join(directory, LOCK_FILE)
  try:
    fd = os.open(path, os.O_RDONLY)
  except OSError:
    return False
  try:
    if _try_flock(fd):
      fcntl.flock(fd, fcntl.LOCK_UN)
      return False
    return True
  finally:
    os.close(fd)


# ---------------------------------------------------------------------------
# Stale temporaries
# ---------------------------------------------------------------------------

# tfdis.io_utils.atomic_path (files) and tfdis.export (directories):
# tempfile's ".<name>.<8 random chars>.tmp[<suffix>]".
_ATOMIC_TMP = re.compile(r"^\..+\.[a-z0-9_]{8}\.tmp(\.[A-Za-z0-9]+)?$")
# TF checkpoint writers stage sharded saves in "<prefix>_temp/"; the tensor
# bundle writer uses "<file>.tempstate<n>" and tf.io's atomic writes (the
# "checkpoint" state file) "<file>.tmp<32 hex>".
_CKPT_TMP = re.compile(r"^ckpt-\d+_temp$")
_TF_TMP = re.compile(r"^.+(\.tempstate\d+|\.tmp[0-9a-f]{32})$")
# Tree copies (PBT exploit): "<dst>.tmp_copy" and ".<dst>.copy".
_COPY_TMP = re.compile(r"^(.+\.tmp_copy|\..+\.copy)$")
# Replaced trees kept until the new one is in place: "<dst>.old", ".<dst>.old".
_OLD = re.compile(r"^(?P<hidden>\.)?(?P<name>.+)\.old$")


def _remove(path: str) -> None:
  if os.path.isdir(path) and not os.path.islink(path):
    shutil.rmtree(path)
  else:
    os.remove(path)


def clean_stale_temporaries(directory: str) -> List[str]:
  """Removes what killed runs left in ``directory`` (recursively).

  Call it only while holding ``RunLock(directory)``: it cannot tell a live
  writer's temporary from a dead one's. Subdirectories locked by another
  live process (e.g. a study's model directory being trained) are skipped.

  Removed: ``ckpt-<n>_temp/``, ``*.tempstate<n>`` and ``*.tmp<32 hex>``
  (TF checkpoint staging and atomic writes), ``.<name>.<rand>.tmp*``
  files and directories (``io_utils.atomic_path`` and the SavedModel
  staging of ``tfdis.export``), ``<x>.tmp_copy``/``.<x>.copy`` (half-done tree
  copies). ``<x>.old`` / ``.<x>.old`` (a tree being replaced) is removed if
  ``<x>`` exists; if ``<x>`` is missing the run died between the two renames
  and ``<x>.old`` is the only complete copy, so it is renamed back to
  ``<x>``. The lock file is kept. Returns the removed (or restored) paths,
  also logged.
  """
  directory = os.fspath(directory)
  done: List[str] = []
  if not os.path.isdir(directory):
    return done
  for root, dirs, files in os.walk(directory, topdown=True):
    if root != directory and _locked_by_other_process(root):
      logging.info("Not cleaning %s: another process holds its lock.", root)
      dirs[:] = []
      continue
    keep = []
    for name in sorted(dirs) + sorted(files):
      path = os.path.join(root, name)
      is_dir = name in dirs
      old = _OLD.match(name)
      if _ATOMIC_TMP.match(name) or _TF_TMP.match(name) or (is_dir and (
          _CKPT_TMP.match(name) or _COPY_TMP.match(name))):
        _remove(path)
        done.append(path)
      elif old and is_dir:
        target = os.path.join(root, old.group("name"))
        if os.path.exists(target):
          _remove(path)
          done.append(path)
        else:
          os.replace(path, target)
          done.append(path)
          logging.warning("Restored %s from %s (a run died while replacing "
                          "it).", target, path)
          keep.append(old.group("name"))
      elif is_dir:
        keep.append(name)
    dirs[:] = [d for d in keep if os.path.isdir(os.path.join(root, d))]
  if done:
    logging.info("Removed %d stale temporaries of killed runs in %s: %s",
                 len(done), directory, ", ".join(
                     os.path.relpath(p, directory) for p in done))
  return done


# ---------------------------------------------------------------------------
# Stored config vs request
# ---------------------------------------------------------------------------

_MISSING = object()


def _get(config: Mapping[str, Any], field: str) -> Any:
  """``config[field]``; a dotted field walks nested dicts ("data.name")."""
  value: Any = config
  for part in field.split("."):
    if not isinstance(value, Mapping) or part not in value:
      return _MISSING
    value = value[part]
  return value


def _canonical(value: Any) -> Any:
  """JSON form, so tuples/lists and numpy/Python numbers compare equal."""
  return value if value is _MISSING else io_utils.to_jsonable(value)


def _show(value: Any) -> str:
  return "(absent)" if value is _MISSING else json.dumps(
      value, sort_keys=True)


def _all_fields(stored: Mapping, requested: Mapping) -> List[str]:
  return sorted(set(stored) | set(requested))


def check_compatible(stored: Mapping[str, Any], requested: Mapping[str, Any],
                     fields: Optional[Sequence[str]] = None,
                     immutable_fields: Sequence[str] = TRAIN_IMMUTABLE_FIELDS,
                     where: str = "the run directory",
                     overwrite_hint: Optional[str] = "--overwrite",
                     ) -> Dict[str, Any]:
  """Refuses a request that would change what ``where`` holds.

  Args:
    stored: the config stored in the directory (after ``fill_defaults``, so
      fields added since it was written hold their defaults).
    requested: the config of the new request.
    fields: the fields to compare (dotted names walk nested dicts); default:
      every top-level key of either.
    immutable_fields: the fields that must not differ (the rest may change
      on resume).
    where: the directory, named in the message.
    overwrite_hint: the flag that discards the stored run, named as the way
      out (None if there is none).

  Returns {field: (stored, requested)} of the mutable fields that differ (the
  caller logs them). Raises ``IncompatibleRunError`` (a UserError) naming
  every differing immutable field, its stored and requested value, and the
  way out.
  """
  fields = list(fields) if fields is not None else _all_fields(stored,
                                                               requested)
  immutable = set(immutable_fields)
  refused, changed = {}, {}
  for field in list(dict.fromkeys(list(fields) + [
      f for f in immutable_fields if f not in fields])):
    old, new = _canonical(_get(stored, field)), _canonical(_get(requested,
                                                                field))
    if old == new or new is _MISSING:
      continue
    (refused if field in immutable else changed)[field] = (old, new)
  if refused:
    lines = "; ".join(f"{f}: stored {_show(o)}, requested {_show(n)}"
                      for f, (o, n) in refused.items())
    way_out = "use a new directory"
    if overwrite_hint:
      way_out += (f", or pass {overwrite_hint} to discard what {where!r} "
                  "holds and start again")
    raise IncompatibleRunError(
        f"{where!r} holds a different run ({lines}); these cannot change on "
        f"resume. To train the requested one, {way_out}. (Fields a resume "
        f"may change: everything except {', '.join(immutable_fields)}.)",
        refused)
  return changed


# ---------------------------------------------------------------------------
# Reading state written by older versions
# ---------------------------------------------------------------------------


def fill_defaults(stored: Mapping[str, Any], dataclass_type: type,
                  where: str = "the stored config") -> Dict[str, Any]:
  """``stored`` (a dict read from JSON) completed with ``dataclass_type``'s
  defaults: the one way to read state written before a field existed.

  A missing field takes its dataclass default (nested dataclass fields are
  filled recursively when their stored value is a dict); a missing field
  without default or an unknown field raises a ``RunDirectoryError`` naming
  it. Keys starting with "_" are notes (e.g. ``_non_finite_fields`` of
  ``io_utils.write_json``) and are dropped. Returns a new dict; build the
  dataclass from it.
  """
  if not dataclasses.is_dataclass(dataclass_type):
    raise TypeError(f"{dataclass_type!r} is not a dataclass")
  try:
    hints = typing.get_type_hints(dataclass_type)
  except Exception:  # pylint: disable=broad-except  (unresolvable hints)
    hints = {}
  fields = {f.name: f for f in dataclasses.fields(dataclass_type)
            if f.init}
  data = {k: v for k, v in stored.items() if not str(k).startswith("_")}
  unknown = sorted(set(data) - set(fields))
  if unknown:
    raise RunDirectoryError(
        f"{where} has field(s) {unknown} that {dataclass_type.__name__} does "
        f"not know (known: {sorted(fields)}). It was written by another "
        "tfdis version: use that version, or a new directory.")
  out: Dict[str, Any] = {}
  filled = []
  for name, field in fields.items():
    if name in data:
      value = data[name]
      nested = _dataclass_of(hints.get(name))
      if nested is not None and isinstance(value, Mapping):
        value = fill_defaults(value, nested, f"{where} (field {name!r})")
      out[name] = value
    elif field.default is not dataclasses.MISSING:
      out[name] = field.default
      filled.append(name)
    elif field.default_factory is not dataclasses.MISSING:  # type: ignore
      value = field.default_factory()  # type: ignore
      out[name] = (dataclasses.asdict(value)
                   if dataclasses.is_dataclass(value) else value)
      filled.append(name)
    else:
      raise RunDirectoryError(
          f"{where} lacks the required field {name!r} of "
          f"{dataclass_type.__name__}; it is not a config this tfdis version "
          "can resume. Use a new directory.")
  if filled:
    logging.info("%s predates field(s) %s; using their defaults.", where,
                 filled)
  return out


def _dataclass_of(hint: Any) -> Optional[type]:
  """The dataclass in ``hint`` (``X`` or ``Optional[X]``), else None."""
  if hint is None:
    return None
  if dataclasses.is_dataclass(hint) and isinstance(hint, type):
    return hint
  args: Iterable[Any] = getattr(hint, "__args__", ()) or ()
  found = [a for a in args if isinstance(a, type) and
           dataclasses.is_dataclass(a)]
  return found[0] if len(found) == 1 else None
