"""tfdis_pbt killed mid-generation (SIGKILL) resumes and finishes with the
same number of generations, without retraining finished members."""

import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

from tfdis import io_utils

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _command(out, *extra):
  return [sys.executable, "-m", "tfdis.bin.pbt", f"--output_dir={out}",
          "--dataset=procedural_dsprites_small", "--eval=mig",
          "--population_size=4", "--max_generations=3", "--interval_steps=2",
          "--architecture=fc", "--latent_dim=3", "--mig_num_train=200",
          "--noexport_every_generation",
          '--hyperparameter_space={"batch_size": {"initial_values": [8], '
          '"low": 8, "high": 16, "kind": "power_of_two"}, "learning_rate": '
          '{"initial_values": [0.001], "low": 1e-6, "high": 0.01}}', *extra]


def _env():
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
  env["PYTHONPATH"] = REPO + os.pathsep + env.get("PYTHONPATH", "")
  return env


def test_bad_flags_fail_early(tmp_path):
  done = subprocess.run(_command(str(tmp_path / "x"), "--cutoff=0.9"),
                        cwd=REPO, env=_env(), capture_output=True, text=True,
                        timeout=120)
  assert done.returncode != 0 and "cutoff" in done.stderr
  assert not os.path.exists(tmp_path / "x" / "controller_state.json")


def test_pbt_cli_kill_and_resume(tmp_path):
  out = str(tmp_path / "pbt")
  state_path = os.path.join(out, "controller_state.json")
  proc = subprocess.Popen(_command(out), cwd=REPO, env=_env(),
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          start_new_session=True)
  deadline = time.time() + 180
  # Kill once generation 2 is under way and at least one member has
  # finished it (mid-generation).
  while True:
    if proc.poll() is not None:
      pytest.fail(f"tfdis_pbt exited early ({proc.returncode}):\n"
                  + proc.stdout.read().decode()[-3000:])
    if time.time() > deadline:
      os.killpg(proc.pid, signal.SIGKILL)
      pytest.fail("generation 2 did not start within 180 s")
    try:
      state = io_utils.read_json(state_path)
      members = [io_utils.read_json(os.path.join(out, "members", m,
                                                 "member.json"))
                 for m in state["active"]]
    except (OSError, ValueError):
      time.sleep(0.1)
      continue
    if state["generation"] == 2 and any(
        m["trained_generation"] == 2 for m in members):
      break
    time.sleep(0.05)
  os.killpg(proc.pid, signal.SIGKILL)
  proc.wait()
  proc.stdout.close()
  done_before = {m["id"]: m["step"] for m in members
                 if m["trained_generation"] == 2}

  done = subprocess.run(_command(out), cwd=REPO, env=_env(),
                        capture_output=True, text=True, timeout=300)
  assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
  state = io_utils.read_json(state_path)
  assert state["phase"] == "done" and state["generation"] == 3
  assert len(state["best_scores"]) == 3
  frame = pd.read_csv(os.path.join(out, "generations.csv"))
  assert len(frame) == 12
  assert not frame.duplicated(["member", "generation"]).any()
  # Members that had finished generation 2 were not retrained: their step
  # at generation 2 is the one they had when the controller was killed.
  g2 = frame[frame.generation == 2].set_index("member")
  for mid, step in done_before.items():
    assert g2.loc[mid, "step"] == step == 4
  assert (frame[frame.generation == 3].step == 6).all()
  assert os.path.isfile(os.path.join(out, "best", "saved_model",
                                     "saved_model.pb"))
  # TensorBoard HParams: one session per member beside its training scalars.
  from test_tensorboard_hparams import hparams_plugin_data
  hparams = hparams_plugin_data(out)
  sessions = [r for r, v in hparams["runs"].items() if "session" in v]
  assert sorted(sessions) == sorted(f"members/{m}" for m in state["members"])
  assert all("pbt/final_score" in hparams["scalars"][r] for r in sessions)
