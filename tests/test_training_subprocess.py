"""Subprocess tests: tfdis_train killed and resumed, a bad flag, and a
two-replica MirroredStrategy run on two logical CPU devices."""

import json
import math
import os
import signal
import subprocess
import sys
import time


ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
TRAIN = [sys.executable, "-m", "tfdis.bin.train"]

_MIRRORED = r"""
import json, sys
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from tfdis.training import TrainConfig, train
res = train(TrainConfig(model="factor_vae", dataset="procedural_dsprites_small",
                        architecture="fc", latent_dim=4, batch_size=16,
                        steps=3, checkpoint_every=3, strategy="mirrored",
                        model_dir=sys.argv[1]))
print(json.dumps({"replicas": res["num_replicas"], "steps": res["steps"],
                  "loss": res["final_losses"]["loss"]}))
"""


def test_cli_kill_and_resume(tmp_path):
  model_dir = tmp_path / "run"
  args = TRAIN + ["--model=beta_vae", "--beta=2",
                  "--dataset=procedural_dsprites_small", "--architecture=fc",
                  "--latent_dim=4", "--batch_size=16", "--checkpoint_every=3",
                  "--log_every=3", f"--model_dir={model_dir}"]
  proc = subprocess.Popen(args + ["--steps=100000"], env=ENV,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
  ckpt_dir = model_dir / "checkpoints"
  deadline = time.time() + 240
  try:
    while time.time() < deadline and proc.poll() is None:
      if ckpt_dir.is_dir() and any(
          f.startswith("ckpt-") and f.endswith(".index") and
          int(f[5:-6]) >= 6 for f in os.listdir(ckpt_dir)):
        break
      time.sleep(0.5)
    assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
  finally:
    proc.send_signal(signal.SIGKILL)  # a real, unclean kill
    proc.wait()
  saved = max(int(f[5:-6]) for f in os.listdir(ckpt_dir)
              if f.startswith("ckpt-") and f.endswith(".index"))
  assert saved >= 6
  target = saved + 2
  out = subprocess.run(args + [f"--steps={target}"], env=ENV,
                       capture_output=True, text=True, timeout=300)
  assert out.returncode == 0, out.stderr[-3000:]
  res = json.load(open(model_dir / "results" / "train.json"))
  assert res["start_step"] == saved and res["steps"] == target
  meta = json.load(open(model_dir / "saved_model" / "assets" /
                        "tfdis_metadata.json"))
  assert meta["steps"] == target and meta["hyperparameters"] == {"beta": 2.0}


def test_cli_bad_flag_message(tmp_path):
  out = subprocess.run(TRAIN + ["--model=beta_vae", "--gamma=3",
                                "--dataset=procedural_dsprites_small",
                                f"--model_dir={tmp_path}"],
                       env=ENV, capture_output=True, text=True, timeout=120)
  assert out.returncode != 0
  assert "beta_vae does not take hyperparameter(s) ['gamma']" in out.stderr
  assert not os.listdir(tmp_path)


def test_two_replica_mirrored_strategy(tmp_path):
  out = subprocess.run([sys.executable, "-c", _MIRRORED, str(tmp_path)],
                       env=ENV, capture_output=True, text=True, timeout=300)
  assert out.returncode == 0, out.stderr[-3000:]
  res = json.loads(out.stdout.strip().splitlines()[-1])
  assert res["replicas"] == 2 and res["steps"] == 3
  assert math.isfinite(res["loss"])
