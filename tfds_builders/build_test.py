"""python -m tfds_builders.build as a subprocess: a build and a missing file."""

import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _run(*args):
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
  env["PYTHONPATH"] = REPO + os.pathsep + env.get("PYTHONPATH", "")
  return subprocess.run([sys.executable, "-m", "tfds_builders.build", *args],
                        cwd=REPO, env=env, capture_output=True, text=True,
                        timeout=300)


def test_builds_from_manual_dir(tmp_path):
  manual = os.path.join(REPO, "tfds_builders", "dsprites", "dummy_data")
  done = _run("dsprites", f"--manual_dir={manual}",
              f"--data_dir={tmp_path}")
  assert done.returncode == 0, done.stderr[-3000:]
  assert "dsprites: {'train': 48}" in done.stdout
  assert (tmp_path / "dsprites" / "1.0.0" / "dataset_info.json").is_file()


def test_missing_file_and_unknown_name_are_usage_errors(tmp_path):
  done = _run("dsprites", f"--data_dir={tmp_path}", "--nodownload")
  assert done.returncode == 2, done.stderr[-3000:]
  assert "tfds_builders.build: error: dsprites:" in done.stderr
  assert "dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz" in done.stderr
  assert "github.com/deepmind/dsprites-dataset" in done.stderr
  assert "Traceback" not in done.stderr
  done = _run("dsprite", f"--data_dir={tmp_path}")
  assert done.returncode == 2 and "'dsprites'" in done.stderr
