"""Resume from the newest *readable* checkpoint of a model directory.

A checkpoint can be unreadable although its name is in the index file
(``checkpoints/checkpoint``): a disk error, a full disk during a copy or a
sync tool truncated ``ckpt-N.data-*``, or the index file names a checkpoint
whose files are gone. TensorFlow then fails deep in the reader (``IndexError:
Read less bytes than requested``, ``DataLossError: Checksum does not
match``, ``NotFoundError``). :func:`restore_newest_readable` tries the
checkpoints newest first, sets every unreadable one aside by renaming its
files (``ckpt-7.index`` -> ``ckpt-7.index.corrupt-<UTC time>``; nothing is
deleted, so a user can still inspect or recover it), rewrites the index file
to list the checkpoints that remain and restores the newest readable one. If
none is readable, :class:`NoReadableCheckpointError` names the directory and
what to do.
"""

from __future__ import annotations

import glob
import json
import os
import re
import time
from typing import Any, List, Optional, Tuple

from absl import logging

from tfdis.errors import UserError

INDEX_FILE = "checkpoint"
CORRUPT_TAG = ".corrupt-"


class NoReadableCheckpointError(UserError, RuntimeError):
  """Checkpoints exist but none of them can be read."""


def _read_errors() -> Tuple[type, ...]:
  """Exceptions that mean "these bytes cannot be read" (not a bug and not a
  model that differs from the checkpoint, which is an AssertionError)."""
  import tensorflow as tf

  # IndexError: the bundle reader on a truncated data file; ValueError /
  # UnicodeDecodeError: a garbled index; OSError: the files themselves.
  return (tf.errors.OpError, IndexError, ValueError, OSError, EOFError)


def _number(prefix: str) -> int:
  m = re.search(r"-(\d+)$", prefix)
  return int(m.group(1)) if m else -1


def _listed(directory: str) -> Tuple[List[str], bool]:
  """(checkpoint prefixes, oldest first; whether the index file was usable).

  The index file's list, plus any ``ckpt-N.index`` on disk it does not name
  (a crash between writing a checkpoint and updating the index); an
  unparsable index file is set aside and the files on disk are used."""
  import tensorflow as tf

  prefixes: List[str] = []
  usable = True
  try:
    state = tf.train.get_checkpoint_state(directory)
  except Exception as e:  # pylint: disable=broad-except
    # A garbled index: UnicodeDecodeError, protobuf's text ParseError
    # (not a ValueError), TensorFlow's read errors.
    logging.warning("checkpoint index %s is unreadable (%s); using the "
                    "checkpoint files found next to it",
                    os.path.join(directory, INDEX_FILE), e)
    _set_aside([os.path.join(directory, INDEX_FILE)], _stamp())
    state, usable = None, False
  if state is not None:
    for p in state.all_model_checkpoint_paths or [state.model_checkpoint_path]:
      if p:  # TensorFlow already joined relative entries to ``directory``
        prefixes.append(os.path.abspath(p))
  on_disk = [f[:-len(".index")] for f in
             glob.glob(os.path.join(glob.escape(directory), "ckpt-*.index"))]
  for p in on_disk:
    if p not in prefixes:
      prefixes.append(p)
  prefixes = sorted(dict.fromkeys(prefixes), key=_number)
  return prefixes, usable


def _stamp() -> str:
  return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())


def _set_aside(paths: List[str], stamp: str) -> List[str]:
  moved = []
  for path in paths:
    if os.path.exists(path):
      target = f"{path}{CORRUPT_TAG}{stamp}"
      os.replace(path, target)
      moved.append(target)
  return moved


def set_aside_checkpoint(prefix: str) -> List[str]:
  """Renames every file of checkpoint ``prefix`` (``.index``, ``.data-*``)
  to ``<file>.corrupt-<UTC time>``; returns the new names."""
  files = [prefix + ".index"] + glob.glob(glob.escape(prefix) + ".data-*")
  return _set_aside([f for f in files if CORRUPT_TAG not in f], _stamp())


def _write_index(directory: str, prefixes: List[str]) -> None:
  """The index file listing ``prefixes`` (oldest first; the last is the
  latest), in the text format TensorFlow's CheckpointManager reads, with
  paths relative to ``directory`` as TensorFlow writes them; atomic."""
  from tfdis import io_utils

  index = os.path.join(directory, INDEX_FILE)
  if not prefixes:
    io_utils.remove_if_exists(index)
    return
  rel = [os.path.relpath(p, directory) for p in prefixes]
  lines = [f"model_checkpoint_path: {json.dumps(rel[-1])}"]
  lines += [f"all_model_checkpoint_paths: {json.dumps(r)}" for r in rel]
  lines += [f"all_model_checkpoint_timestamps: "
            f"{os.path.getmtime(p + '.index')!r}" for p in prefixes]
  io_utils.write_text(index, "\n".join(lines) + "\n")


def restore_newest_readable(checkpoint: Any, directory: str,
                            assert_matched: bool = True) -> Optional[str]:
  """Restores ``checkpoint`` (a ``tf.train.Checkpoint``) from the newest
  readable checkpoint under ``directory``; returns its prefix, or None if the
  directory holds no checkpoint.

  Unreadable checkpoints are renamed (see module docstring) and dropped from
  the index file, so the ``tf.train.CheckpointManager`` created afterwards
  continues from the restored one. Raises
  :class:`NoReadableCheckpointError` if checkpoints exist and none can be
  read. With ``assert_matched`` every object of ``checkpoint`` must be in the
  restored checkpoint (a checkpoint of another model is an AssertionError,
  never "corrupt").
  """
  if not os.path.isdir(directory):
    return None
  directory = os.path.abspath(directory)
  prefixes, index_usable = _listed(directory)
  if not prefixes:
    return None
  errors = _read_errors()
  set_aside: List[Tuple[str, str]] = []
  restored = None
  for prefix in reversed(prefixes):
    try:
      status = checkpoint.restore(prefix)
      if assert_matched:
        status.assert_existing_objects_matched()
      else:
        status.expect_partial()
    except errors as e:
      text = str(e).strip()
      reason = type(e).__name__ + (f": {text.splitlines()[0]}" if text
                                   else "")
      moved = set_aside_checkpoint(prefix)
      logging.warning("checkpoint %s is unreadable (%s); set aside as %s",
                      prefix, reason, ", ".join(os.path.basename(m)
                                                for m in moved) or "(no files)")
      set_aside.append((prefix, reason))
      continue
    restored = prefix
    break
  remaining = [p for p in prefixes if p not in {s for s, _ in set_aside}]
  if set_aside or not index_usable:
    _write_index(directory, remaining)
  if restored is None:
    listing = "; ".join(f"{os.path.basename(p)} ({r})" for p, r in set_aside)
    raise NoReadableCheckpointError(
        f"no readable checkpoint in {directory}: {listing}. They were set "
        f"aside (renamed to *{CORRUPT_TAG}<time>, not deleted). Rerun to "
        "train from step 0, or restore a good copy of the checkpoints "
        "directory and rerun to resume.")
  if set_aside:
    logging.warning("resuming from the newest readable checkpoint %s after "
                    "setting aside %d unreadable one(s)", restored,
                    len(set_aside))
  return restored


class UnreadableCheckpointError(UserError, RuntimeError):
  """The one checkpoint a restore must use cannot be read."""


def read_member_checkpoint(checkpoint: Any, prefix: str, member: Any) -> None:
  """Restores a PBT member from exactly ``prefix`` (the population state
  names it: an older checkpoint would be another member history, so there
  is no fallback). An unreadable one is one message naming the file."""
  try:
    checkpoint.read(prefix).assert_existing_objects_matched()
  except _read_errors() as e:
    text = str(e).strip()
    reason = type(e).__name__ + (f": {text.splitlines()[0]}" if text else "")
    raise UnreadableCheckpointError(
        f"the checkpoint {prefix} of PBT member {member} is unreadable "
        f"({reason}). Restore a good copy of it, or start the PBT run in a "
        "new --output_dir.") from None
