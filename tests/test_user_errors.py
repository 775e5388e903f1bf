"""User errors end in one line and exit status 2 (tfdis.errors.run_main).

The CLI cases run the real binaries in subprocesses on error paths that stop
before TensorFlow is imported (1-3 s each); library checks (model-directory
globs, dataset options, non-finite UDR input, strict JSON) run in-process.
"""

import ast
import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest

from tfdis import io_utils
from tfdis.errors import UserError

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _env():
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
  env["PYTHONPATH"] = REPO + os.pathsep + env.get("PYTHONPATH", "")
  return env


def _run(*args):
  return subprocess.run([sys.executable, *args], cwd=REPO, env=_env(),
                        capture_output=True, text=True, timeout=120)


def _one_line_error(proc, prog):
  """The stderr line of a user error (asserts status 2, no traceback/dump)."""
  assert proc.returncode == 2, (proc.returncode, proc.stderr[-3000:])
  assert "Traceback" not in proc.stderr
  assert "flags:" not in proc.stderr and "--helpfull" not in proc.stderr
  lines = [l for l in proc.stderr.splitlines()
           if l.startswith(f"{prog}: error: ")]
  assert len(lines) == 1, proc.stderr
  return lines[0][len(f"{prog}: error: "):]


_SCRIPT = """
import sys
from absl import app, flags
from tfdis.errors import run_main
flags.DEFINE_integer("n", 1, "a number", lower_bound=1)

class Diverged(FloatingPointError):
  user_facing = True

def main(argv):
  kind = argv[1]
  if kind == "user_facing":
    raise Diverged("loss is NaN at step 7; the last good checkpoint is ckpt-5")
  if kind == "usage":
    raise app.UsageError("give a directory")
  if kind == "bug":
    raise RuntimeError("a bug")
  print("ran", flags.FLAGS.n)

run_main(main, prog="demo")
"""


def test_run_main_reports_user_errors_in_one_line_and_keeps_bug_tracebacks():
  out = _one_line_error(_run("-c", _SCRIPT, "user_facing"), "demo")
  assert out == "loss is NaN at step 7; the last good checkpoint is ckpt-5"
  assert _one_line_error(_run("-c", _SCRIPT, "usage"), "demo") == (
      "give a directory")
  out = _one_line_error(_run("-c", _SCRIPT, "--n=0", "ok"), "demo")
  assert out == "flag --n=0: 0 is not a positive integer"
  assert _one_line_error(_run("-c", _SCRIPT, "--m=3", "ok"), "demo") == (
      "Unknown command line flag 'm'")
  bug = _run("-c", _SCRIPT, "bug")
  assert bug.returncode == 1 and "Traceback" in bug.stderr
  assert "RuntimeError: a bug" in bug.stderr
  ok = _run("-c", _SCRIPT, "--n=3", "ok")
  assert ok.returncode == 0 and ok.stdout == "ran 3\n"


def test_udr_cli_errors(tmp_path):
  (tmp_path / "afile").write_text("x")
  (tmp_path / "empty").mkdir()
  for name in ("m0", "m1"):  # enough for the directory checks (no loading)
    (tmp_path / name / "saved_model").mkdir(parents=True)
    (tmp_path / name / "saved_model" / "saved_model.pb").write_bytes(b"")
  udr = ("-m", "tfdis.bin.udr")
  out = _one_line_error(_run(*udr, f"--model_dirs={tmp_path}/empty,"
                             f"{tmp_path}/m0", f"--output_dir={tmp_path}/u"),
                        "tfdis_udr")
  assert out.startswith(f"'{tmp_path}/empty' is not a SavedModel")
  out = _one_line_error(_run(*udr, f"--model_dirs={tmp_path}/afile",
                             f"--output_dir={tmp_path}/u"), "tfdis_udr")
  assert out.startswith(f"'{tmp_path}/afile' is a file, not a model "
                        "directory")
  # Globs skip what is not a model (afile, empty/); the output directory
  # cannot be created below a file.
  out = _one_line_error(_run(*udr, f"--model_dirs={tmp_path}/*",
                             f"--output_dir={tmp_path}/afile/udr"),
                        "tfdis_udr")
  assert out.startswith(f"--output_dir '{tmp_path}/afile/udr' is not a "
                        "writable directory")
  out = _one_line_error(_run(*udr, f"--model_dirs={tmp_path}/m0",
                             f"--output_dir={tmp_path}/u"), "tfdis_udr")
  assert "need at least 2" in out
  out = _one_line_error(_run(*udr), "tfdis_udr")
  assert "--model_dirs must have a value" in out


def test_visualize_and_aggregate_cli_errors(tmp_path):
  (tmp_path / "afile").write_text("x")
  vis = ("-m", "tfdis.bin.visualize")
  out = _one_line_error(_run(*vis, f"--model_dir={tmp_path}/afile"),
                        "tfdis_visualize")
  assert f"'{tmp_path}/afile' is a file, not a model directory" in out
  out = _one_line_error(_run(*vis, "--dataset=procedural_dsprites_small",
                             "--dataset_options={bad",
                             f"--output_dir={tmp_path}/o"), "tfdis_visualize")
  assert out.startswith("--dataset_options is not valid JSON (Expecting "
                        "property name enclosed in double quotes at "
                        "character 1): '{bad'")
  out = _one_line_error(_run(*vis, "--dataset=procedural_dsprites_small",
                             '--dataset_options={"confg": "full"}',
                             f"--output_dir={tmp_path}/o"), "tfdis_visualize")
  assert out.startswith("dataset 'procedural_dsprites_small' has no "
                        "option(s) ['confg']; its options are: "
                        "factor_subsets, continuous_factors.")
  out = _one_line_error(_run("-m", "tfdis.bin.aggregate", f"--root={tmp_path}",
                             f"--output_dir={tmp_path}/afile"),
                        "tfdis_aggregate")
  assert out.startswith(f"--output_dir '{tmp_path}/afile' is a file")


def test_model_dir_globs_skip_non_models_but_named_ones_fail(tmp_path):
  from tfdis.export.load import NotASavedModelError, expand_model_dirs

  for name in ("b", "a"):
    (tmp_path / name / "saved_model").mkdir(parents=True)
    (tmp_path / name / "saved_model" / "saved_model.pb").write_bytes(b"")
  (tmp_path / "udr").mkdir()  # tfdis_udr --output_dir=demo/udr
  (tmp_path / "report.html").write_text("x")
  pattern = f"{tmp_path}/*"
  assert expand_model_dirs(pattern) == [f"{tmp_path}/a", f"{tmp_path}/b"]
  assert expand_model_dirs(f"{pattern},{tmp_path}/a") == [
      f"{tmp_path}/a", f"{tmp_path}/b"]
  with pytest.raises(NotASavedModelError, match="is not a SavedModel"):
    expand_model_dirs([pattern, f"{tmp_path}/udr"])
  with pytest.raises(NotASavedModelError, match="matches no model directory"):
    expand_model_dirs(f"{tmp_path}/u*")
  with pytest.raises(NotASavedModelError, match="does not exist"):
    expand_model_dirs(f"{tmp_path}/c")


def test_unknown_or_invalid_dataset_options_list_the_valid_ones():
  from tfdis.data import DatasetOptionsError, dataset_options, get_dataset

  assert dataset_options("procedural_dsprites") == {
      "config": "full", "factor_subsets": None, "continuous_factors": ()}
  with pytest.raises(DatasetOptionsError) as err:
    get_dataset("procedural_dsprites", confg="small")
  assert str(err.value) == (
      "dataset 'procedural_dsprites' has no option(s) ['confg']; its options "
      "are: config, factor_subsets, continuous_factors. Fix --dataset_options "
      "(or the dataset "
      "options of the config).")
  with pytest.raises(DatasetOptionsError, match="config 'tiny'"):
    get_dataset("procedural_dsprites", config="tiny")
  assert get_dataset("procedural_dsprites", config="small").factor_sizes == (
      3, 3, 4, 8, 8)


def test_udr_refuses_a_non_finite_kl_vector():
  from tfdis.udr.scores import NonFiniteInputError, udr_from_representations

  rs = np.random.RandomState(0)
  reps = [rs.normal(size=(50, 3)) for _ in range(2)]
  with pytest.raises(NonFiniteInputError) as err:
    udr_from_representations(reps, [np.ones(3), np.array([1, np.nan, 1])])
  assert isinstance(err.value, UserError) and err.value.model_index == 1
  assert str(err.value).startswith(
      "the KL vector of model 1 contains NaN or inf ([1.0, nan, 1.0])")
  assert "Leave it out of the UDR set" in str(err.value)


def _strict(text):
  def refuse(token):
    raise ValueError(f"non-standard JSON token {token}")
  return json.loads(text, parse_constant=refuse)


def test_strict_json_round_trip_with_nan_and_inf(tmp_path):
  path = str(tmp_path / "train_failed.json")
  record = {"step": 7, "loss": float("nan"),
            "terms": {"kl": np.float32("inf"), "recon": 1.5},
            "history": np.array([1.0, -np.inf, np.nan]), "ok": [1, 2]}
  io_utils.write_json(path, record)
  with open(path) as f:
    stored = _strict(f.read())  # no bare NaN/Infinity tokens
  assert stored["loss"] is None and stored["terms"]["kl"] is None
  assert stored["history"] == [1.0, None, None]
  assert stored["_non_finite_fields"] == [
      {"path": ["history", 1], "value": "-Infinity"},
      {"path": ["history", 2], "value": "NaN"},
      {"path": ["loss"], "value": "NaN"},
      {"path": ["terms", "kl"], "value": "Infinity"}]
  back = io_utils.read_json(path)
  assert math.isnan(back["loss"]) and back["terms"]["kl"] == math.inf
  assert back["history"][1] == -math.inf and math.isnan(back["history"][2])
  assert back["terms"]["recon"] == 1.5 and back["ok"] == [1, 2]
  assert "_non_finite_fields" not in back
  assert io_utils.read_json(path, restore_non_finite=False) == stored
  # Files of older versions (bare NaN tokens) are still read.
  with open(path, "w") as f:
    f.write('{"loss": NaN, "x": Infinity}')
  old = io_utils.read_json(path)
  assert math.isnan(old["loss"]) and old["x"] == math.inf
  # A finite record has no note; a superseded failure record is removed.
  io_utils.write_json(path, {"loss": 1.0})
  with open(path) as f:
    assert _strict(f.read()) == {"loss": 1.0}
  assert io_utils.remove_if_exists(path) and not os.path.exists(path)
  assert not io_utils.remove_if_exists(path)


def test_tfdis_never_imports_tfds_builders():
  """The tfdis.data <-> tfds_builders cycle is gone (builders may import
  tfdis, not the other way round): no import statement in tfdis/ names it."""
  offenders = []
  for root, _, files in os.walk(os.path.join(REPO, "tfdis")):
    for name in files:
      if not name.endswith(".py"):
        continue
      path = os.path.join(root, name)
      with open(path) as f:
        tree = ast.parse(f.read())
      for node in ast.walk(tree):
        modules = ([a.name for a in node.names]
                   if isinstance(node, ast.Import) else
                   [node.module or ""] if isinstance(node, ast.ImportFrom)
                   else [])
        offenders += [f"{path}: {m}" for m in modules
                      if m.split(".")[0] == "tfds_builders"]
  assert not offenders
