"""Running a tfdis binary as a subprocess the way a user does (CLI tests)."""

import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def cli_env():
  """This checkout first on PYTHONPATH, no GPU, TensorFlow's log quiet."""
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
  env["PYTHONPATH"] = REPO + os.pathsep + env.get("PYTHONPATH", "")
  return env


def run_binary(binary, *args, timeout=300):
  """``python -m tfdis.bin.<binary> args…``: the CompletedProcess (text)."""
  return subprocess.run([sys.executable, "-m", f"tfdis.bin.{binary}", *args],
                        cwd=REPO, env=cli_env(), capture_output=True,
                        text=True, timeout=timeout)
