"""Faults a long run meets in one model directory (docs/faults.md).

* A truncated newest checkpoint: the rerun sets it aside (renamed
  ``*.corrupt-<time>``, not deleted), drops it from the index file and
  resumes from the newest readable one; with none readable, one message.
* A rerun with nothing to do (same or smaller --steps) writes nothing:
  every file of the run directory keeps its bytes and its modification time
  in nanoseconds (the lock file excepted: taking the lock is the rerun).

Real TensorFlow training of a tiny model (dlib's conv network, 2 latents,
batch 4, a few steps) on the offline procedural dSprites.
"""

import os
import subprocess
import sys

from tfdis.errors import UserError
from tfdis.training import TrainConfig, train
from tfdis.training.checkpoints import NoReadableCheckpointError

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _config(model_dir, **kw):
  base = dict(model="beta_vae", dataset="procedural_dsprites_small",
              architecture="conv", latent_dim=2, batch_size=4, steps=4,
              checkpoint_every=2, keep_checkpoints=5, log_every=2,
              summary_every=2, image_summary_every=1000,
              model_dir=str(model_dir), export=False)
  base.update(kw)
  return TrainConfig(**base)


def _files(directory):
  out = {}
  for root, _, names in os.walk(directory):
    for n in names:
      if n == ".tfdis.lock":
        continue
      p = os.path.join(root, n)
      with open(p, "rb") as f:
        out[os.path.relpath(p, directory)] = (f.read(),
                                              os.stat(p).st_mtime_ns)
  return out


def test_truncated_newest_checkpoint_is_set_aside_and_run_resumes(tmp_path):
  model_dir = tmp_path / "m"
  train(_config(model_dir))
  ckpts = model_dir / "checkpoints"
  data = ckpts / "ckpt-4.data-00000-of-00001"
  size = data.stat().st_size
  with open(data, "r+b") as f:  # a disk error / full disk during a copy
    f.truncate(size // 3)
  res = train(_config(model_dir, steps=6))
  assert res["start_step"] == 2 and res["steps"] == 6
  assert res["resumed_from"].endswith("ckpt-2")
  names = sorted(os.listdir(ckpts))
  aside = [n for n in names if ".corrupt-" in n]
  assert sorted(n.split(".corrupt-")[0] for n in aside) == [
      "ckpt-4.data-00000-of-00001", "ckpt-4.index"]
  # The set-aside bytes are kept as they were (nothing deleted).
  kept = [n for n in aside if n.startswith("ckpt-4.data")][0]
  assert (ckpts / kept).stat().st_size == size // 3
  index = (ckpts / "checkpoint").read_text()
  assert 'model_checkpoint_path: "ckpt-6"' in index
  assert ".corrupt-" not in index
  # The new ckpt-4 (written by the resumed run) is readable: a third run
  # resumes from ckpt-6 without setting anything else aside.
  res = train(_config(model_dir, steps=7))
  assert res["start_step"] == 6
  assert sorted(n for n in os.listdir(ckpts) if ".corrupt-" in n) == aside


def test_no_readable_checkpoint_is_one_message(tmp_path):
  model_dir = tmp_path / "m"
  train(_config(model_dir, steps=2))
  ckpts = model_dir / "checkpoints"
  (ckpts / "ckpt-2.data-00000-of-00001").write_bytes(b"garbage")
  assert issubclass(NoReadableCheckpointError, UserError)
  # Through the binary: one line, exit 2, no traceback.
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
  env["PYTHONPATH"] = REPO + os.pathsep + env.get("PYTHONPATH", "")
  proc = subprocess.run(
      [sys.executable, "-m", "tfdis.bin.train", "--model=beta_vae",
       "--dataset=procedural_dsprites_small", "--architecture=conv",
       "--latent_dim=2", "--batch_size=4", "--steps=4",
       "--checkpoint_every=2", "--keep_checkpoints=5", "--log_every=2",
       "--summary_every=2", "--image_summary_every=1000", "--noexport",
       f"--model_dir={model_dir}"], cwd=REPO, env=env, capture_output=True,
      text=True, timeout=300)
  assert proc.returncode == 2, proc.stderr[-3000:]
  assert "Traceback" not in proc.stderr
  lines = [l for l in proc.stderr.splitlines()
           if l.startswith("tfdis_train: error: ")]
  assert len(lines) == 1, proc.stderr[-3000:]
  msg = lines[0]
  assert f"no readable checkpoint in {ckpts}: ckpt-2 (" in msg
  assert "Rerun to train from step 0" in msg
  # Set aside, so the next run starts afresh from step 0.
  res = train(_config(model_dir, steps=2))
  assert res["start_step"] == 0 and res["steps"] == 2


def test_rerun_with_nothing_to_do_changes_nothing(tmp_path):
  model_dir = tmp_path / "m"
  first = train(_config(model_dir, steps=2, export=True))
  assert first["final_losses"]
  before = _files(model_dir)
  assert "saved_model/saved_model.pb" in before
  for steps in (2, 1):  # the same command, and a smaller --steps
    res = train(_config(model_dir, steps=steps, export=True))
    assert res["final_losses"] == first["final_losses"]
    after = _files(model_dir)
    assert sorted(after) == sorted(before)
    changed = [p for p in before if after[p] != before[p]]
    assert not changed, changed
  # More steps still train on (and then rewrite the record).
  res = train(_config(model_dir, steps=3, export=True))
  assert res["start_step"] == 2 and res["steps"] == 3 and res["final_losses"]


def test_garbled_index_and_truncated_newest_checkpoint_unit(tmp_path):
  """restore_newest_readable on a one-variable checkpoint: a garbled index
  file is set aside and rebuilt from the checkpoint files on disk; the
  truncated newest checkpoint is set aside; the value of the newest readable
  one is restored and a CheckpointManager continues from it."""
  import tensorflow as tf

  from tfdis.training.checkpoints import restore_newest_readable

  directory = str(tmp_path / "checkpoints")
  v = tf.Variable(tf.zeros([1000]))
  ckpt = tf.train.Checkpoint(v=v)
  manager = tf.train.CheckpointManager(ckpt, directory, max_to_keep=5)
  for step in (1, 2, 3):
    v.assign(tf.fill([1000], float(step)))
    manager.save(checkpoint_number=step)
  with open(os.path.join(directory, "checkpoint"), "wb") as f:
    f.write(b'model_checkpoint_path: "ckpt-\x00\xff {{')
  data = os.path.join(directory, "ckpt-3.data-00000-of-00001")
  with open(data, "r+b") as f:
    f.truncate(100)
  v.assign(tf.zeros([1000]))
  restored = restore_newest_readable(ckpt, directory)
  assert restored == os.path.join(directory, "ckpt-2")
  assert float(v.numpy()[0]) == 2.0
  names = os.listdir(directory)
  assert sum(n.startswith("checkpoint.corrupt-") for n in names) == 1
  assert sum(n.startswith("ckpt-3.") and ".corrupt-" in n
             for n in names) == 2
  manager = tf.train.CheckpointManager(ckpt, directory, max_to_keep=5)
  assert manager.latest_checkpoint == os.path.join(directory, "ckpt-2")
  assert manager.checkpoints == [os.path.join(directory, "ckpt-1"),
                                 os.path.join(directory, "ckpt-2")]
