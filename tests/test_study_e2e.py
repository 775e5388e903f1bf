"""A tiny study through the real pipeline, killed mid-way and resumed.

One CLI run (tfdis_study) is SIGKILLed once its first model is finished; the
rerun through the library must skip that model (its SavedModel, metrics and
marker keep their mtimes), finish the second, run UDR and write the report;
a third run does nothing.
"""

import json
import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

SWEEP = {"beta_vae": [{"beta": 4.0}]}
OVERRIDES = dict(steps=30, seeds=2, sweep=SWEEP, metrics=["mig"],
                 udr_num_data_points=200)
MODELS = ("beta_vae-beta=4-seed=0", "beta_vae-beta=4-seed=1")


def _mtimes(model_dir):
  paths = ["results/study.json", "results/train.json",
           "saved_model/saved_model.pb", "metrics/mean/mig.json",
           "visualizations/visualize.json"]
  return {p: os.stat(os.path.join(model_dir, p)).st_mtime_ns for p in paths}


@pytest.mark.slow
def test_tiny_study_killed_and_resumed(tmp_path):
  from tfdis.study import run_study

  out = str(tmp_path / "study")
  first = os.path.join(out, MODELS[0])
  cmd = [sys.executable, "-m", "tfdis.bin.study", "--study=quickstart",
         f"--output_dir={out}", "--steps=30", "--seeds=2",
         f"--sweep={json.dumps(SWEEP)}", "--metrics=mig",
         "--udr_num_data_points=200", "--num_workers=1"]
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
  log_path = str(tmp_path / "study.log")  # a file: a full pipe would block
  log = open(log_path, "w")
  proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT,
                          start_new_session=True)
  try:
    deadline = time.time() + 240
    while not os.path.isfile(os.path.join(first, "results", "study.json")):
      if proc.poll() is not None:
        pytest.fail(f"study exited early ({proc.returncode}):\n"
                    f"{open(log_path).read()[-5000:]}")
      assert time.time() < deadline, "first model never finished"
      time.sleep(0.2)
  finally:
    if proc.poll() is None:
      os.killpg(proc.pid, signal.SIGKILL)  # the process group we started
    proc.wait()
    log.close()
  assert not os.path.exists(os.path.join(out, "report.html"))
  manifest = json.load(open(os.path.join(out, "study.json")))
  assert [m["model_id"] for m in manifest["models"]] == list(MODELS)
  before = _mtimes(first)

  result = run_study("quickstart", out, **OVERRIDES)
  assert result["skipped"] == 1 and result["completed"] == 1
  assert not result["failed"]
  assert _mtimes(first) == before  # the finished model was not redone
  second = os.path.join(out, MODELS[1])
  train = json.load(open(os.path.join(second, "results", "train.json")))
  assert train["steps"] == 30

  udr_json = os.path.join(out, "udr", "lasso_hyper", "beta_vae", "udr.json")
  udr = json.load(open(udr_json))
  assert len(udr["models"]) == 2
  assert udr["settings"]["num_data_points"] == 200
  frame = pd.read_csv(os.path.join(out, "results.csv"))
  assert sorted(frame["model_id"]) == list(MODELS)
  assert frame["udr"].notna().all() and frame["mig.discrete_mig"].notna().all()
  assert (frame["steps"] == 30).all()
  html = open(result["report"]).read()
  assert "data:image/gif;base64," in html and MODELS[0] in html
  # TensorBoard HParams: one session per model with its beta and MIG.
  from test_tensorboard_hparams import hparams_plugin_data
  assert os.path.dirname(result["tensorboard_hparams"]) == out
  hparams = hparams_plugin_data(out)
  assert set(hparams["runs"]) == {"."} | set(MODELS)
  for model in MODELS:
    assert "hp.beta" in hparams["runs"][model]["session"].hparams
    assert "mig.discrete_mig" in hparams["scalars"][model]

  # A finished study reruns as a no-op: nothing retrained, UDR up to date.
  udr_mtime = os.stat(udr_json).st_mtime_ns
  after = {m: _mtimes(os.path.join(out, m)) for m in MODELS}
  again = run_study("quickstart", out, **OVERRIDES)
  assert again["skipped"] == 2 and again["completed"] == 0
  assert not again["udr"]
  assert os.stat(udr_json).st_mtime_ns == udr_mtime
  assert {m: _mtimes(os.path.join(out, m)) for m in MODELS} == after
