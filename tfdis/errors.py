"""User errors and the command-line wrapper that reports them in one line.

A *user error* is bad input the user can fix (a typo in a flag, a directory
that is not a model, a run directory in use): the binary prints one line

  tfdis_udr: error: <what is wrong>. <how to fix it>

on stderr and exits with status 2, without a traceback and without absl's
flag dump. Anything else is a bug and keeps its traceback.

An exception is a user error if it is

* a :class:`UserError` (subclass it, adding the built-in base the callers
  expect, e.g. ``class NotASavedModelError(UserError, ValueError)``);
* any exception whose class sets ``user_facing = True`` (for error types that
  cannot subclass UserError, e.g. ``FloatingPointError`` subclasses);
* one of the library's configuration errors listed in ``_KNOWN_USER_ERRORS``
  (looked up only in modules that are already imported, so this module stays
  a leaf that imports nothing of tfdis);
* an absl flag error (unknown flag, failed validator, bad value, missing
  required flag) or ``app.UsageError``.

Usage in a binary::

  from tfdis.errors import run_main

  def run():
    run_main(main)        # instead of app.run(main)
"""

from __future__ import annotations

import os
import sys
from typing import Callable, Optional

# Exit status of a user error (the argparse / POSIX-utility convention).
USER_ERROR_EXIT_CODE = 2

# Error types of modules this leaf module must not import (configs rewritten
# elsewhere); matched only when their module is already loaded, which it is
# whenever one of them was raised. Prefer `user_facing = True` on new types.
_KNOWN_USER_ERRORS = (
    ("tfdis.training.config", "ConfigError"),
    ("tfdis.pbt.config", "PBTConfigError"),
    ("tfdis.training", "NonFiniteLossError"),
    ("tfdis.training.loop", "NonFiniteLossError"),
)


class UserError(Exception):
  """Bad input the user can fix; the message says what is wrong and how."""

  user_facing = True


def is_user_error(error: BaseException) -> bool:
  """True if ``error`` should be reported in one line without a traceback."""
  if getattr(type(error), "user_facing", False):
    return True
  from absl import app, flags  # pylint: disable=g-import-not-at-top

  if isinstance(error, (flags.Error, app.UsageError)):
    return True
  for module_name, class_name in _KNOWN_USER_ERRORS:
    module = sys.modules.get(module_name)
    cls = getattr(module, class_name, None) if module is not None else None
    if isinstance(cls, type) and isinstance(error, cls):
      return True
  return False


def error_message(error: BaseException) -> str:
  """The message of ``error`` without KeyError's quotes or absl's prefixes."""
  if isinstance(error, KeyError) and len(error.args) == 1 and type(
      error).__str__ is KeyError.__str__:
    return str(error.args[0])
  message = str(error).strip()
  return message or type(error).__name__


def program_name(main: Optional[Callable] = None) -> str:
  """``tfdis_<x>`` for ``tfdis.bin.<x>``'s main, else the script's name."""
  module = getattr(main, "__module__", "") or ""
  if module.startswith("tfdis.bin."):
    return "tfdis_" + module.rsplit(".", 1)[-1]
  if module == "__main__":
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    if spec is not None and spec.name.startswith("tfdis.bin."):
      return "tfdis_" + spec.name.rsplit(".", 1)[-1]
  return os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "tfdis"


def report_and_exit(error: BaseException, prog: str) -> None:
  """Writes ``<prog>: error: <message>`` to stderr and exits with status 2."""
  sys.stderr.write(f"{prog}: error: {error_message(error)}\n")
  sys.stderr.flush()
  sys.exit(USER_ERROR_EXIT_CODE)


# TensorFlow's per-checkpoint / per-export INFO lines logged through absl
# (whose records name absl, not TensorFlow, as their source outside app.run).
_TENSORFLOW_INFO = ("Sharding callback duration", "Assets written to",
                    "Writing fingerprint to", "Function `")


def _not_tensorflow_info(record) -> bool:
  if record.levelno > 20:  # logging.INFO
    return True
  if "/tensorflow/" in record.pathname.replace("\\", "/"):
    return False
  return not str(record.msg).startswith(_TENSORFLOW_INFO)


def quiet_tensorflow_info() -> None:
  """TensorFlow's Python INFO lines (one per checkpoint: "Sharding callback
  duration", "Assets written to") would inherit absl's INFO verbosity and
  bury the progress lines of long runs; its warnings and errors still show.
  TensorFlow logs both through its own logger and through absl's."""
  import logging  # pylint: disable=g-import-not-at-top

  logging.getLogger("tensorflow").setLevel(logging.WARNING)
  absl_logger = logging.getLogger("absl")
  if _not_tensorflow_info not in absl_logger.filters:
    absl_logger.addFilter(_not_tensorflow_info)


def run_main(main: Callable, argv=None, prog: Optional[str] = None) -> None:
  """``absl.app.run(main)`` reporting user errors in one line (exit 2).

  Flag parsing errors (absl would print "FATAL Flags parsing error" and, for
  ``app.UsageError``, the whole flag list) and user errors raised by ``main``
  become one line on stderr; other exceptions propagate with their traceback.
  ``--help``/``--helpfull`` behave as in absl.
  """
  from absl import app, flags  # pylint: disable=g-import-not-at-top

  prog = prog or program_name(main)

  def parse(args):
    try:
      return flags.FLAGS(args)
    except Exception as e:  # validators may raise library user errors too
      if is_user_error(e):
        report_and_exit(e, prog)
      raise

  def wrapped(args):
    quiet_tensorflow_info()
    try:
      return main(args)
    except Exception as e:
      if is_user_error(e):
        report_and_exit(e, prog)
      raise

  app.run(wrapped, argv=argv, flags_parser=parse)
