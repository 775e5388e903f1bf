"""The README and docs/ pages a newcomer walks: every relative link resolves,
every flag they name exists.

Flags: a code span or code block that runs a tfdis binary (``tfdis_train
...``, ``python -m tfds_builders.build ...``) may only use that binary's flags;
a lone ``--flag`` in backticks (no hyphen in its name, the convention of every
tfdis flag; ``--num-gpus`` is Ray's) must be a flag of some tfdis binary. The
flag sets come from each binary's own ``--helpfull`` output (one subprocess
per binary, run side by side), so a renamed or removed flag fails here.
"""

import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BINARIES = {
    "tfdis_train": "tfdis.bin.train",
    "tfdis_evaluate": "tfdis.bin.evaluate",
    "tfdis_udr": "tfdis.bin.udr",
    "tfdis_visualize": "tfdis.bin.visualize",
    "tfdis_study": "tfdis.bin.study",
    "tfdis_aggregate": "tfdis.bin.aggregate",
    "tfdis_pbt": "tfdis.bin.pbt",
    "tfdis_rpu": "tfdis.bin.rpu",
    "tfds_builders.build": "tfds_builders.build",
}
_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
_FLAG = re.compile(r"(?<![\w-])--(?:no)?([A-Za-z][\w-]*)")
_HELP_FLAG = re.compile(r"^\s+--(?:\[no\])?([A-Za-z][\w-]*)[:=]", re.M)


def _script_flags():
  """Flags the scripts in benchmarks/ and scripts/ define (by their source)."""
  out = {}
  for folder in ("benchmarks", "scripts"):
    for name in os.listdir(os.path.join(ROOT, folder)):
      if name.endswith(".py"):
        src = open(os.path.join(ROOT, folder, name), encoding="utf-8").read()
        out[name] = set(re.findall(
            r"DEFINE_\w+\(\s*[\"'](\w+)[\"']|[\"']--(\w[\w-]*)", src))
        out[name] = {a or b for a, b in out[name]}
  return out


def _pages():
  pages = [os.path.join(ROOT, "README.md")]
  docs = os.path.join(ROOT, "docs")
  pages += sorted(os.path.join(docs, n) for n in os.listdir(docs)
                  if n.endswith(".md"))
  return pages


def _code(text):
  """Fenced blocks (joined continuation lines) and inline code spans."""
  blocks = re.findall(r"```[^\n]*\n(.*?)```", text, re.S)
  rest = re.sub(r"```.*?```", "", text, flags=re.S)
  spans = re.findall(r"`([^`\n]+)`", rest)
  out = []
  for block in blocks:
    out += block.replace("\\\n", " ").splitlines()
  return out + spans


@pytest.fixture(scope="module")
def binary_flags():
  env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get(
      "PYTHONPATH", ""), TF_CPP_MIN_LOG_LEVEL="3")
  procs = {name: subprocess.Popen(
      [sys.executable, "-m", module, "--helpfull"], cwd=ROOT, env=env,
      stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
           for name, module in BINARIES.items()}
  out = {}
  for name, proc in procs.items():
    text, _ = proc.communicate(timeout=300)
    found = set(_HELP_FLAG.findall(text))
    assert "helpfull" in found or "flagfile" in found, (name, text[-2000:])
    out[name] = found
  return out


@pytest.mark.parametrize("page", _pages(), ids=os.path.basename)
def test_relative_links_resolve(page):
  text = open(page, encoding="utf-8").read()
  broken = []
  for target in _LINK.findall(text):
    if re.match(r"[a-z]+:", target) or target.startswith("#"):
      continue
    path = target.split("#")[0]
    if not os.path.exists(os.path.join(os.path.dirname(page), path)):
      broken.append(target)
  assert not broken, f"{os.path.relpath(page, ROOT)}: broken links {broken}"


def test_docs_name_only_existing_flags(binary_flags):
  scripts = _script_flags()
  every = set().union(*binary_flags.values(), *scripts.values())
  problems = []
  for page in _pages():
    rel = os.path.relpath(page, ROOT)
    for code in _code(open(page, encoding="utf-8").read()):
      used = [b for b in BINARIES if re.search(
          rf"(?<![\w.]){re.escape(b)}\b", code)]
      script = [n for n in re.findall(r"([\w-]+\.py)\b", code)
                if n in scripts]
      for flag in _FLAG.findall(code):
        if script:
          if flag not in scripts[script[0]]:
            problems.append(f"{rel}: {script[0]} has no --{flag}")
        elif used:
          # The flags after the last binary named belong to it.
          binary = max(used, key=code.rfind)
          if flag not in binary_flags[binary]:
            problems.append(f"{rel}: {binary} has no --{flag} ({code!r})")
        elif "-" not in flag and not code.split()[0] in (
            "ray", "pip", "pytest", "make", "tensorboard"):
          if flag not in every:
            problems.append(f"{rel}: no binary has --{flag} ({code!r})")
  assert not problems, "\n".join(problems)
