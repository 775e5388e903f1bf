"""Soak: a tiny study whose workers and driver are SIGKILLed at random points.

``tfdis_study`` (2 β-VAEs, 20 steps, MIG, UDR on 200 points, 2 worker
processes) is started again and again; each time, after a random delay
(seeded: the same kills on every run of the test), either the whole process
group (driver and workers) or one worker process is killed with SIGKILL,
and the command is simply rerun. After the last kill the rerun finishes.
Then every model is trained to its steps, exported and evaluated, every JSON
under the study is strict JSON, no temporary file is left, and one more
rerun redoes nothing (each artifact keeps its bytes and modification time:
every model was trained, exported and evaluated exactly once in its final
state). The number of kills is asserted and printed.
"""

import json
import os
import random
import signal
import subprocess
import sys
import time

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SWEEP = {"beta_vae": [{"beta": 4.0}]}
MODELS = ("beta_vae-beta=4-seed=0", "beta_vae-beta=4-seed=1")
KILLS = 5
SEED = 24


def _cmd(out):
  return [sys.executable, "-m", "tfdis.bin.study", "--study=quickstart",
          f"--output_dir={out}", "--steps=20", "--seeds=2",
          f"--sweep={json.dumps(SWEEP)}", "--metrics=mig",
          "--udr_num_data_points=200", "--novisualize", "--num_workers=2"]


def _env():
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
  env["PYTHONPATH"] = REPO + os.pathsep + env.get("PYTHONPATH", "")
  return env


def _workers(pid):
  """The spawned worker processes of ``pid`` (children running
  multiprocessing's spawn_main)."""
  try:
    with open(f"/proc/{pid}/task/{pid}/children") as f:
      children = [int(c) for c in f.read().split()]
  except OSError:
    return []
  out = []
  for child in children:
    try:
      with open(f"/proc/{child}/cmdline", "rb") as f:
        if b"spawn_main" in f.read():
          out.append(child)
    except OSError:
      pass
  return out


def _strict(path):
  def refuse(token):
    raise ValueError(f"{path}: non-standard JSON token {token}")
  with open(path) as f:
    return json.loads(f.read(), parse_constant=refuse)


def _artifacts(out):
  snap = {}
  for root, _, files in os.walk(out):
    for n in files:
      if n == ".tfdis.lock":
        continue
      p = os.path.join(root, n)
      with open(p, "rb") as f:
        snap[os.path.relpath(p, out)] = (f.read(), os.stat(p).st_mtime_ns)
  return snap


@pytest.mark.slow
def _check_finished(out):
  """Every model trained, exported and scored once; UDR; strict JSON; no
  temporaries left."""
  for model in MODELS:
    model_dir = os.path.join(out, model)
    train = _strict(os.path.join(model_dir, "results", "train.json"))
    assert train["steps"] == 20
    assert os.path.isfile(os.path.join(model_dir, "saved_model",
                                       "saved_model.pb"))
    mig = _strict(os.path.join(model_dir, "metrics", "mean", "mig.json"))
    assert 0.0 <= mig["scores"]["discrete_mig"] <= 1.0
  udr = _strict(os.path.join(out, "udr", "lasso_hyper", "beta_vae",
                             "udr.json"))
  assert len(udr["models"]) == 2
  leftovers, jsons = [], 0
  for root, dirs, files in os.walk(out):
    for n in dirs + files:
      if ".tmp" in n or "_temp" in n or "tempstate" in n or n.endswith(
          ".old") or n.endswith(".tmp_copy"):
        leftovers.append(os.path.join(root, n))
      if n.endswith(".json"):
        _strict(os.path.join(root, n))
        jsons += 1
  assert not leftovers, leftovers
  assert jsons >= 3 * len(MODELS) + 2


def test_study_survives_random_sigkills(tmp_path):
  rng = random.Random(SEED)
  kills = {"driver": 0, "worker": 0}
  log_path = str(tmp_path / "study.log")
  # A round is one output directory, killed and rerun until it finishes.
  # On a fast machine a round can finish between two kills; the next kill
  # then starts a new round, so KILLS kills land whatever the speed.
  rounds = [str(tmp_path / "study-0")]
  attempts = 0
  while sum(kills.values()) < KILLS:
    attempts += 1
    assert attempts <= 4 * KILLS, f"too few kills landed: {kills}"
    out = rounds[-1]
    with open(log_path, "a") as log:
      proc = subprocess.Popen(_cmd(out), env=_env(), cwd=REPO, stdout=log,
                              stderr=subprocess.STDOUT,
                              start_new_session=True)
      try:
        # After TensorFlow's import (~5-10 s) the study trains, exports,
        # evaluates: kill anywhere in it.
        time.sleep(rng.uniform(4.0, 20.0))
        if proc.poll() is None:
          workers = _workers(proc.pid)
          if workers and rng.random() < 0.5:
            os.kill(rng.choice(workers), signal.SIGKILL)
            kills["worker"] += 1
            time.sleep(rng.uniform(1.0, 5.0))  # let the driver react
            if proc.poll() is None:
              os.killpg(proc.pid, signal.SIGKILL)
              kills["driver"] += 1
          else:
            os.killpg(proc.pid, signal.SIGKILL)
            kills["driver"] += 1
        elif proc.returncode == 0:
          rounds.append(str(tmp_path / f"study-{len(rounds)}"))
      finally:
        if proc.poll() is None:
          os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
  out = rounds[-1]
  # The rerun after the last kill finishes.
  final = subprocess.run(_cmd(out), env=_env(), cwd=REPO, capture_output=True,
                         text=True, timeout=900)
  assert final.returncode == 0, (final.stdout[-3000:], final.stderr[-3000:])
  print(f"soak: {sum(kills.values())} kills survived ({kills}) over "
        f"{len(rounds)} round(s)")
  for finished in rounds:
    _check_finished(finished)

  # Nothing is redone: every artifact keeps its bytes and mtime.
  before = _artifacts(out)
  again = subprocess.run(_cmd(out), env=_env(), cwd=REPO, capture_output=True,
                         text=True, timeout=600)
  assert again.returncode == 0, again.stderr[-3000:]
  assert f"{len(MODELS)} already done" in again.stdout
  after = _artifacts(out)
  changed = sorted(p for p in before if after.get(p) != before[p])
  # The study manifest, results table, report and TensorBoard HParams
  # summaries (all derived from the models' records) are rewritten by design.
  assert set(changed) <= {"study.json", "results.csv", "report.html"} | {
      p for p in changed if p.startswith("plots/") or ".tfdis_hparams" in p
  }, changed
