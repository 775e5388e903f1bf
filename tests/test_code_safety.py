"""tfdis never unpickles or evaluates what it reads (issue: the cluster path
secure by default, point 5).

A SavedModel is a program (TensorFlow's security guidance, "Using
TensorFlow Securely"): loading one from someone else runs their graph, which
docs/cluster.md says where it shows tfdis_evaluate/tfdis_udr on downloaded
models. Everything else tfdis reads from a model directory or a results
file (JSON, .npz without pickles, CSV) must stay data. This test parses every
Python file of ``tfdis/`` and ``tfds_builders/`` (with ``ast``, so strings
and comments do not count) and fails on a construct that runs code from
data, unless it is in :data:`ALLOWED` with the reason it is safe:

* importing pickle, cPickle/_pickle, cloudpickle, dill, shelve or marshal;
  ``joblib.load``/``dill.load``/... calls;
* the builtins ``eval``/``exec``; ``os.system``, ``os.popen``,
  ``subprocess.getoutput``/``getstatusoutput``; any call with ``shell=`` not
  literally False;
* ``np.load``/``numpy.load`` with ``allow_pickle`` not literally False;
* ``yaml.load``/``load_all`` without ``Loader=SafeLoader``/``CSafeLoader``,
  ``yaml.unsafe_load``/``full_load``;
* Keras ``load_model(..., safe_mode=False)``,
  ``enable_unsafe_deserialization()``; ``torch.load`` without
  ``weights_only=True``.

The scanner itself is checked on a snippet holding each construct and its
safe twin, so a scanner that finds nothing fails too.
"""

import ast
import os

import pytest

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCANNED = ("tfdis", "tfds_builders")

# (path relative to the repository, finding) -> why it is safe.
ALLOWED = {
    ("tfds_builders/dsprites/dsprites_dataset_builder_test.py",
     "np.load(allow_pickle=True)"):
        "a test reading the dummy dSprites .npz that make_dummy_data.py "
        "wrote in the test's own temporary directory; its `metadata` entry "
        "is a pickled dict as in the published file. The builder itself "
        "loads without allow_pickle.",
}

UNSAFE_MODULES = {"pickle", "cPickle", "_pickle", "cloudpickle", "dill",
                  "shelve", "marshal"}
UNPICKLERS = {"pickle", "cPickle", "_pickle", "cloudpickle", "dill",
              "joblib", "marshal", "shelve"}
SAFE_YAML_LOADERS = {"SafeLoader", "CSafeLoader", "BaseLoader"}


def _dotted(node):
  """'a.b.c' of a Name/Attribute chain, else None."""
  parts = []
  while isinstance(node, ast.Attribute):
    parts.append(node.attr)
    node = node.value
  if isinstance(node, ast.Name):
    parts.append(node.id)
    return ".".join(reversed(parts))
  return None


def _keyword(call, name):
  for kw in call.keywords:
    if kw.arg == name:
      return kw.value
  return None


def _is_const(node, value):
  return isinstance(node, ast.Constant) and node.value is value


def findings(source, filename="<snippet>"):
  """[(line, finding)] of the unsafe constructs in ``source``."""
  out = []
  for node in ast.walk(ast.parse(source, filename)):
    if isinstance(node, ast.Import):
      for alias in node.names:
        if alias.name.split(".")[0] in UNSAFE_MODULES:
          out.append((node.lineno, f"import {alias.name}"))
    elif isinstance(node, ast.ImportFrom):
      if (node.module or "").split(".")[0] in UNSAFE_MODULES:
        out.append((node.lineno, f"from {node.module} import"))
    elif isinstance(node, ast.Call):
      name = _dotted(node.func) or ""
      head, _, last = name.rpartition(".")
      shell = _keyword(node, "shell")
      if name in ("eval", "exec"):
        out.append((node.lineno, f"{name}("))
      elif name in ("os.system", "os.popen", "subprocess.getoutput",
                    "subprocess.getstatusoutput"):
        out.append((node.lineno, f"{name}("))
      elif head.split(".")[-1:] and head.split(".")[-1] in UNPICKLERS and (
          last.startswith("load") or last == "Unpickler" or
          (head.split(".")[-1] == "shelve" and last == "open")):
        out.append((node.lineno, f"{name}("))
      elif name in ("np.load", "numpy.load", "onp.load"):
        allow = _keyword(node, "allow_pickle")
        if allow is not None and not _is_const(allow, False):
          out.append((node.lineno, "np.load(allow_pickle=True)"))
      elif name in ("yaml.load", "yaml.load_all"):
        loader = _keyword(node, "Loader")
        if loader is None and len(node.args) > 1:
          loader = node.args[1]
        loader_name = (_dotted(loader) or "").rpartition(".")[2]
        if loader_name not in SAFE_YAML_LOADERS:
          out.append((node.lineno, f"{name}( without SafeLoader"))
      elif name in ("yaml.unsafe_load", "yaml.full_load",
                    "yaml.unsafe_load_all", "yaml.full_load_all"):
        out.append((node.lineno, f"{name}("))
      elif last == "load_model" and _is_const(_keyword(node, "safe_mode"),
                                               False):
        out.append((node.lineno, "load_model(safe_mode=False)"))
      elif last == "enable_unsafe_deserialization":
        out.append((node.lineno, f"{name}("))
      elif name == "torch.load" and not _is_const(
          _keyword(node, "weights_only"), True):
        out.append((node.lineno, "torch.load( without weights_only=True"))
      if shell is not None and not _is_const(shell, False):
        out.append((node.lineno, f"{name or 'call'}(shell=...)"))
  return sorted(out)


UNSAFE_SNIPPET = """
import pickle
import dill as d
from shelve import open as shopen
import joblib, yaml, os, subprocess
import numpy as np
eval("1")
exec("x = 1")
os.system("ls")
os.popen("ls")
subprocess.run("ls", shell=True)
subprocess.check_output(["ls"], shell=flag)
np.load("f.npz", allow_pickle=True)
np.load("f.npz", allow_pickle=maybe)
joblib.load("m.pkl")
pickle.loads(b"")
yaml.load(text)
yaml.load(text, Loader=yaml.Loader)
yaml.unsafe_load(text)
tf.keras.models.load_model("m.keras", safe_mode=False)
keras.config.enable_unsafe_deserialization()
torch.load("w.pt")
"""

SAFE_SNIPPET = """
import json, joblib, yaml, subprocess
import numpy as np
json.loads("{}")
joblib.Parallel(n_jobs=2)
joblib.cpu_count()
np.load("f.npz")
np.load("f.npz", allow_pickle=False)
yaml.load(text, Loader=yaml.SafeLoader)
yaml.safe_load(text)
subprocess.run(["ls"], shell=False)
subprocess.run(["ls"])
tf.keras.models.load_model("m.keras")
torch.load("w.pt", weights_only=True)
model.evaluate(x)
text = "eval(x); pickle.loads(y); os.system('rm')"  # strings do not count
"""


def test_scanner_finds_every_unsafe_construct():
  """Known answer: one finding per unsafe line of the snippet, in order
  (lines 2-4 and 7-22), none in the safe twin."""
  found = findings(UNSAFE_SNIPPET)
  assert [f for _, f in found] == [
      "import pickle", "import dill", "from shelve import", "eval(",
      "exec(", "os.system(", "os.popen(", "subprocess.run(shell=...)",
      "subprocess.check_output(shell=...)", "np.load(allow_pickle=True)",
      "np.load(allow_pickle=True)", "joblib.load(", "pickle.loads(",
      "yaml.load( without SafeLoader", "yaml.load( without SafeLoader",
      "yaml.unsafe_load(", "load_model(safe_mode=False)",
      "keras.config.enable_unsafe_deserialization(",
      "torch.load( without weights_only=True"]
  assert [line for line, _ in found] == list(range(2, 5)) + list(
      range(7, 23))
  assert findings(SAFE_SNIPPET) == []


def _python_files():
  for top in SCANNED:
    for root, dirs, files in os.walk(os.path.join(REPO_ROOT, top)):
      dirs[:] = [d for d in dirs if d != "__pycache__"]
      for name in sorted(files):
        if name.endswith(".py"):
          yield os.path.join(root, name)


def test_package_never_unpickles_or_evaluates():
  scanned, used, problems = 0, set(), []
  for path in _python_files():
    rel = os.path.relpath(path, REPO_ROOT).replace(os.sep, "/")
    with open(path, encoding="utf-8") as f:
      source = f.read()
    scanned += 1
    for line, finding in findings(source, rel):
      if (rel, finding) in ALLOWED:
        used.add((rel, finding))
      else:
        problems.append(f"{rel}:{line}: {finding}")
  assert scanned > 50  # the package was found and read
  assert not problems, (
      "Code that runs what it reads (see this test's docstring); use a safe "
      "form, or add it to ALLOWED with the reason it is safe:\n" +
      "\n".join(problems))
  # An allow-list entry that no longer matches is removed, not kept.
  assert used == set(ALLOWED), sorted(set(ALLOWED) - used)


@pytest.mark.parametrize("reason", sorted(ALLOWED.values()))
def test_every_allowed_entry_says_why(reason):
  assert len(reason.split()) >= 8
