"""Failure isolation for binaries that process many models.

A study of thousands of models has a few that cannot be loaded or scored (a
corrupt SavedModel, a disk error, a model whose training diverged). A binary
that takes many models must not give up on all of them for one: the model
that fails is reported with its reason, every other model is processed, a
summary at the end lists the failures, and the exit status is 1 (some work
failed), distinct from 2 (the request itself is wrong, nothing was done;
``tfdis.errors``).

Usage::

  failures = ModelFailures("models")
  for model_dir in model_dirs:
    with failures.guard(model_dir):
      ...                      # any exception is recorded, not raised
  failures.exit_if_any("tfdis_evaluate", total=len(model_dirs))
"""

from __future__ import annotations

import contextlib
import sys
import traceback
from typing import Dict, Iterator, Optional, Tuple

from absl import logging

from tfdis.errors import error_message, is_user_error

# Exit status of a run in which some models failed and the others were done.
SOME_FAILED_EXIT_CODE = 1


def describe(error: BaseException) -> str:
  """One line: a user error's message, else ``<Type>: <first line>``."""
  message = error_message(error)
  first = message.strip().splitlines()[0] if message.strip() else ""
  if is_user_error(error):
    return first or type(error).__name__
  return f"{type(error).__name__}: {first}" if first else type(error).__name__


class ModelFailures:
  """Collects per-item failures (see module docstring)."""

  def __init__(self, what: str = "models"):
    self.what = what
    self.failed: Dict[str, str] = {}

  def add(self, item: str, reason: str) -> None:
    self.failed[str(item)] = reason
    logging.error("%s failed: %s (continuing with the other %s)", item,
                  reason, self.what)

  @contextlib.contextmanager
  def guard(self, item: str, reraise: Tuple[type, ...] = ()
            ) -> Iterator[None]:
    """Records an exception raised inside as the failure of ``item``.
    KeyboardInterrupt/SystemExit pass (BaseException, not Exception), and so
    do the ``reraise`` types (errors of the request as a whole, e.g. an
    explicit dataset that fits no model); a non-user error keeps its
    traceback in the log (it may be a bug)."""
    try:
      yield
    except reraise:
      raise
    except Exception as e:  # pylint: disable=broad-except
      if not is_user_error(e):
        logging.error("%s: %s", item, "".join(traceback.format_exception(
            type(e), e, e.__traceback__)).rstrip())
      self.add(item, describe(e))

  def __bool__(self) -> bool:
    return bool(self.failed)

  def summary(self, prog: str, total: Optional[int] = None) -> str:
    count = (f"{len(self.failed)} of {total}" if total is not None
             else str(len(self.failed)))
    lines = [f"{prog}: {count} {self.what} failed (the others were "
             "processed):"]
    lines += [f"  {item}: {reason}" for item, reason in
              sorted(self.failed.items())]
    return "\n".join(lines)

  def exit_if_any(self, prog: str, total: Optional[int] = None) -> None:
    """Prints the summary on stderr and exits with status 1 if anything
    failed."""
    if not self.failed:
      return
    sys.stderr.write(self.summary(prog, total) + "\n")
    sys.stderr.flush()
    sys.exit(SOME_FAILED_EXIT_CODE)
