"""tfdis_train refuses requests that would corrupt a run directory.

Each refusal happens before anything is written: config.json and the
checkpoints stay those of the original run, and the message says what
differs and how to proceed. CLI errors are one line on stderr, exit code 2,
no traceback and no flag dump.
"""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from tfdis.errors import UserError

from tfdis.training import ConfigError, TrainConfig, train

ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
TRAIN = [sys.executable, "-m", "tfdis.bin.train"]
BASE = ["--dataset=procedural_dsprites_small", "--architecture=fc",
        "--latent_dim=4", "--batch_size=8", "--log_every=1"]


def _config(model_dir, **kw):
  base = dict(model="beta_vae", dataset="procedural_dsprites_small",
              architecture="fc", latent_dim=4, batch_size=8, steps=2,
              checkpoint_every=2, log_every=1, model_dir=str(model_dir),
              export=False)
  base.update(kw)
  return TrainConfig(**base)


def _snapshot(model_dir):
  files = {}
  for root, _, names in os.walk(model_dir):
    for n in names:
      if n == ".tfdis.lock":
        continue
      p = os.path.join(root, n)
      files[os.path.relpath(p, model_dir)] = open(p, "rb").read()
  return files


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
  model_dir = tmp_path_factory.mktemp("run") / "m"
  train(_config(model_dir))
  return model_dir


@pytest.mark.parametrize("change,field", [
    ({"model": "beta_tc_vae"}, "model"),
    ({"latent_dim": 6}, "latent_dim"),
    ({"architecture": "conv"}, "architecture"),
    ({"reconstruction_loss": "l2"}, "reconstruction_loss"),
    ({"dataset_options": {"seed": 3}}, "dataset_options"),
])
def test_incompatible_request_is_refused_before_writing(trained, change,
                                                        field):
  before = _snapshot(trained)
  with pytest.raises(UserError) as err:
    train(_config(trained, steps=4, **change))
  msg = str(err.value)
  assert field in msg and "--overwrite" in msg and "new directory" in msg
  assert _snapshot(trained) == before


def test_resume_may_change_steps_and_learning_rate(trained, tmp_path):
  res = train(_config(trained, steps=3, learning_rate=3e-4,
                      hyperparameters={"beta": 2.0}))
  assert res["start_step"] == 2 and res["steps"] == 3


def test_overwrite_starts_afresh(tmp_path):
  model_dir = tmp_path / "m"
  train(_config(model_dir))
  res = train(_config(model_dir, model="beta_tc_vae", steps=1),
              overwrite=True)
  assert res["start_step"] == 0 and res["model"] == "beta_tc_vae"
  stored = json.load(open(model_dir / "config.json"))
  assert stored["model"] == "beta_tc_vae"


def test_invalid_values_are_refused(tmp_path):
  with pytest.raises(ConfigError, match="steps"):
    _config(tmp_path, steps=0).validate()
  (tmp_path / "afile").write_text("x")
  with pytest.raises(ConfigError, match="is a file"):
    train(_config(tmp_path / "afile"))


def _run(args, **kw):
  return subprocess.run(TRAIN + args, env=ENV, capture_output=True,
                        text=True, timeout=300, **kw)


def _assert_one_clear_line(out, *needles):
  assert out.returncode != 0
  err = out.stderr.strip()
  assert "Traceback" not in err and "--helpfull" not in err, err
  assert "flags:" not in err, err
  for needle in needles:
    assert needle in err, err


def test_cli_errors_are_one_line(tmp_path):
  out = _run(BASE + ["--steps=0", f"--model_dir={tmp_path}/a"])
  _assert_one_clear_line(out, "steps")
  out = _run(BASE + ["--steps=1", "--dataset_options={bad json",
                     f"--model_dir={tmp_path}/a"])
  _assert_one_clear_line(out, "--dataset_options")
  out = _run(BASE + ["--steps=1", "--model=nope", f"--model_dir={tmp_path}/a"])
  _assert_one_clear_line(out, "nope", "beta_vae")
  out = _run(BASE + ["--steps=1", "--dataset_options=bogus=1",
                     f"--model_dir={tmp_path}/a"])
  _assert_one_clear_line(out, "bogus", "its options are")


def test_two_trainings_on_one_directory(tmp_path):
  model_dir = tmp_path / "shared"
  first = subprocess.Popen(
      TRAIN + BASE + ["--steps=100000", "--checkpoint_every=1000",
                      f"--model_dir={model_dir}"],
      env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
  try:
    deadline = time.time() + 240
    while not (model_dir / "config.json").exists():
      assert first.poll() is None, first.stderr.read().decode()[-2000:]
      assert time.time() < deadline
      time.sleep(0.5)
    before = (model_dir / "config.json").read_bytes()
    second = _run(BASE + ["--steps=5", f"--model_dir={model_dir}"])
    _assert_one_clear_line(second, str(first.pid))
    assert (model_dir / "config.json").read_bytes() == before
  finally:
    first.send_signal(signal.SIGKILL)
    first.wait()
  # The killed holder's lock is taken over: the same command now runs.
  third = _run(BASE + ["--steps=2", "--noexport", f"--model_dir={model_dir}"])
  assert third.returncode == 0, third.stderr[-2000:]
