"""tfdis_rpu end to end on procedural_dsprites_small: tiny PBT populations,
killed after the root metaEpoch and resumed by rerunning the same command.

Loose reduction thresholds (parameters, not defaults) make the barely
trained VAEs' codes yield candidate subsets, so the run goes root ->
leaf-run 1 -> final PBT-S-VAE and writes surrogate labels and a SavedModel;
the resumed call also trains the Fig. 6 curve's final model on leaf_0 alone.
"""

import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from tfdis import io_utils

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _command(out):
  return [
      sys.executable, "-m", "tfdis.bin.rpu", f"--output_dir={out}",
      "--dataset=procedural_dsprites_small", "--max_leaf_runs=1",
      "--population_size=2", "--max_generations=1", "--interval_steps=2",
      "--ensemble_size=2", "--udr_num_data_points=64", "--latent_dim=2",
      "--architecture=fc", "--final_max_generations=1",
      # Never stop on UDR / KL, and let any code structure count as a peak:
      "--udr_stop_threshold=0", "--active_kl_threshold=0",
      "--median_sigma_factor=0", "--global_std_factor=0",
      "--peak_distance_denominator=4", "--min_dataset_size=50",
      "--report_num_train=200", "--report_num_test=100",
      '--pbt_options={"mig_num_train": 200}']


def _env():
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
  env["PYTHONPATH"] = REPO + os.pathsep + env.get("PYTHONPATH", "")
  return env


@pytest.mark.slow
def test_rpu_cli_kill_and_resume(tmp_path):
  out = str(tmp_path / "rpu")
  root_marker = os.path.join(out, "leaf_0", "metaepoch_0", "result.json")
  proc = subprocess.Popen(_command(out), cwd=REPO, env=_env(),
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          start_new_session=True)
  deadline = time.time() + 240
  while not os.path.isfile(root_marker):
    if proc.poll() is not None:
      log = proc.stdout.read().decode()[-4000:]
      pytest.fail(f"tfdis_rpu exited ({proc.returncode}) early:\n{log}")
    if time.time() > deadline:
      os.killpg(proc.pid, signal.SIGKILL)
      pytest.fail("root metaEpoch did not finish within 240 s")
    time.sleep(0.2)
  os.killpg(proc.pid, signal.SIGKILL)   # a hard kill mid-run
  proc.wait()
  proc.stdout.close()
  root_mtime = os.path.getmtime(root_marker)

  # The resumed call also asks for the Fig. 6 curve (a resumable option).
  done = subprocess.run(_command(out) + ["--leaf_run_curve"], cwd=REPO,
                        env=_env(),
                        capture_output=True, text=True, timeout=400)
  assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
  assert os.path.getmtime(root_marker) == root_mtime  # root not redone

  res = io_utils.read_json(os.path.join(out, "rpu_results.json"))
  assert res["root"]["labels_stored"]
  leaf = res["leaves"][1]
  assert leaf["sizes"] and leaf["sizes"][0] < 2304
  labels = np.load(os.path.join(out, "surrogate_labels", "leaf_0.npz"))
  assert int(labels["num_metaepochs"]) == 1
  assert labels["metaepoch_0_labels"].shape[0] == 2304
  leaf1 = np.load(os.path.join(out, "surrogate_labels", "leaf_1.npz"))
  subset = np.load(os.path.join(out, "leaf_1", "metaepoch_0",
                                "subset.npz"))["indices"]
  np.testing.assert_array_equal(leaf1["metaepoch_0_indices"], subset)
  final = res["final_saved_model"]
  assert os.path.isfile(os.path.join(final, "saved_model", "saved_model.pb")
                        ) or os.path.isfile(os.path.join(final,
                                                         "saved_model.pb"))
  state = io_utils.read_json(os.path.join(out, "state.json"))
  assert state["phase"] == "done"
  report = os.path.join(out, "report", "index.html")
  assert os.path.isfile(report) and "rPU-VAE" in open(report).read()
  assert os.path.isfile(os.path.join(out, "report", "scores.json"))
  # The same tables as Markdown, with the peaks of the root's reduction.
  from tfdis.rpu.report import peaks_per_latent

  root_peaks = peaks_per_latent(dict(res["root"], dir=os.path.join(
      out, "leaf_0", "metaepoch_0")))
  one = r"z\d+: \d+( \(\+edges\))?"
  assert re.fullmatch(f"{one}(, {one})*", root_peaks), root_peaks
  with open(os.path.join(out, "report", "summary.md")) as f:
    summary = f.read()
  root_row = [l for l in summary.splitlines() if l.startswith("| 0 | 0 |")]
  assert len(root_row) == 1 and "| 2304 |" in root_row[0]
  assert f"| {root_peaks} |" in root_row[0]
  assert "## Ground-truth scores" in summary
  found = io_utils.read_json(os.path.join(out, "report",
                                          "factors_found.json"))
  assert "leaf_0/metaepoch_0" in found
  curve = io_utils.read_json(os.path.join(out, "report",
                                          "leaf_run_curve.json"))
  assert [e["num_leaf_runs"] for e in curve] == [0, 1]
  assert curve[0]["directory"] == "final_leaf_runs_0"
  assert curve[1]["directory"] == "final"
  assert all(0.0 <= e["mig"] <= 1.0 for e in curve)
  assert os.path.isfile(os.path.join(out, "report", "leaf_run_curve.png"))
