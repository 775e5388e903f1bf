"""Drives one tfdis binary through many bad flag values in one process.

  python tests/helpers_bad_flags.py <binary> <workdir> <base args JSON>

Importing a binary (and TensorFlow) costs seconds; a case costs
milliseconds. So this script imports ``tfdis.bin.<binary>`` once and runs its
``main`` through ``tfdis.errors.run_main`` once per case, resetting the flags
in between. The cases are generated from the binary's own flags (every
integer, float and enum flag, and the string/list flags that name registry
entries): negative, zero, NaN, inf, huge, wrong type, unknown name.

The binary's work function (training, scoring, ...) is replaced by one that
raises ``_Accepted``: a value the binary accepts is recorded as "accepted"
instead of starting real work, so the test can compare the accepted values
with the ones it expects to be valid. A refused value must end in exit 2 with
one ``tfdis_<binary>: error:`` line, no traceback, and leave ``workdir``
exactly as it was (no file or directory created, changed or removed).

Prints one JSON object per case on stdout: {"flag", "value", "outcome":
"refused" | "accepted" | "wrong", "detail"}.
"""

import contextlib
import importlib
import io
import json
import os
import sys

# Flags that name registry entries (an unknown name is a user error).
NAME_FLAGS = ("dataset", "model", "architecture", "reconstruction_loss",
              "strategy", "precision", "metrics", "datasets", "families",
              "executor", "eval", "cache_encodings", "sklearn_compat",
              "representation", "mode", "correlation", "aggregation",
              "gif_layout", "study", "alpha")

# The bad values per kind of flag ("huge": beyond int64 for integers; a
# finite but absurd magnitude for floats).
INT_VALUES = ("-1", "0", "nan", "inf", str(2 ** 64), "abc")
FLOAT_VALUES = ("-1", "0", "nan", "inf", "-inf", "1e300", "abc")
NAME_VALUES = ("no_such_name",)

# The work function each binary calls once its request is validated.
WORK = {
    "train": [("tfdis.training", "train"),
              ("tfdis.training", "export_from_checkpoint")],
    "evaluate": [("tfdis.evaluate", "evaluate_model_dirs")],
    "udr": [("tfdis.udr", "run_udr_study")],
    "visualize": [("tfdis.visualize.model", "visualize_model"),
                  ("tfdis.visualize.dataset", "visualize_dataset")],
    "aggregate": [("tfdis.results", "aggregate")],
    "study": [("tfdis.study.runner", "_run_locked")],
    "pbt": [("tfdis.pbt", "run_pbt")],
    "rpu": [("tfdis.rpu.controller", "run_rpu")],
}


class _Accepted(Exception):
  pass


def _accept(*args, **kwargs):
  raise _Accepted()


def _snapshot(root):
  out = {}
  for path, dirs, files in os.walk(root):
    for name in dirs + files:
      p = os.path.join(path, name)
      st = os.lstat(p)
      out[os.path.relpath(p, root)] = (st.st_size, st.st_mtime_ns)
  return out


def _cases(flag_values):
  from absl import flags

  for name, flag in sorted(flag_values._flags().items()):
    if name != flag.name:
      continue  # a short name
    module = flag_values.find_module_defining_flag(name) or ""
    if not module.startswith("tfdis") and module != "__main__":
      continue  # absl's own (--verbosity, --helpfull, ...)
    parser = type(flag.parser).__name__
    if parser == "IntegerParser":
      values = INT_VALUES
    elif parser == "FloatParser":
      values = FLOAT_VALUES
    elif isinstance(flag.parser, flags.EnumParser) or parser == "EnumParser":
      values = NAME_VALUES
    elif name in NAME_FLAGS:
      values = NAME_VALUES
    else:
      continue
    for value in values:
      yield name, value


def main():
  binary, workdir, base = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
  from tfdis import lean_import

  lean_import.import_tensorflow()
  from absl import flags, logging

  from tfdis.errors import run_main

  module = importlib.import_module(f"tfdis.bin.{binary}")
  for mod_name, attr in WORK[binary]:
    setattr(importlib.import_module(mod_name), attr, _accept)
  prog = f"tfdis_{binary}"
  FLAGS = flags.FLAGS
  for name, value in list(_cases(FLAGS)):
    FLAGS.unparse_flags()
    before = _snapshot(workdir)
    err = io.StringIO()
    outcome, detail = "wrong", ""
    try:
      with contextlib.redirect_stderr(err):
        run_main(module.main, argv=[prog, *base, f"--{name}={value}"],
                 prog=prog)
      detail = "returned without error"
    except _Accepted:
      outcome = "accepted"
    except SystemExit as e:
      lines = [l for l in err.getvalue().splitlines()
               if l.startswith(f"{prog}: error: ")]
      if e.code != 2:
        detail = f"exit {e.code}: {err.getvalue()[-500:]}"
      elif "Traceback" in err.getvalue() or len(lines) != 1:
        detail = err.getvalue()[-500:]
      elif _snapshot(workdir) != before:
        changed = sorted(set(_snapshot(workdir).items()) ^
                         set(before.items()))
        detail = f"wrote {changed[:5]}"
      else:
        outcome, detail = "refused", lines[0]
    except BaseException as e:  # a traceback
      detail = f"{type(e).__name__}: {e}"
    finally:
      logging.set_verbosity(logging.WARNING)
    print(json.dumps({"flag": name, "value": value, "outcome": outcome,
                      "detail": detail}), flush=True)


if __name__ == "__main__":
  main()
