"""One bad model among many: reported with its reason, the others processed.

Three contract-conforming linear SavedModels (tests/helpers_savedmodel.py,
no training), one of which gets a corrupt ``saved_model.pb`` (random bytes,
as a disk error would leave). tfdis_evaluate scores the two good ones, names
the bad one with its reason in a summary and exits 1; tfdis_udr, which needs
every model of its group, skips the group, names the model and why, writes
nothing and exits 1. The summary helper itself is checked in-process.
"""

import json
import os

import numpy as np
import pytest

from helpers_cli import run_binary
from helpers_savedmodel import make_linear_saved_model


def _run(binary, *args):
  return run_binary(binary, *args, timeout=300)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
  root = tmp_path_factory.mktemp("isolation")
  for seed in range(3):
    make_linear_saved_model(str(root / f"m{seed}"), latent_dim=3, seed=seed,
                            num_active=3)
  pb = root / "m1" / "saved_model" / "saved_model.pb"
  pb.write_bytes(np.random.RandomState(0).bytes(pb.stat().st_size))
  return root


def test_evaluate_scores_the_good_models_and_names_the_bad_one(models):
  proc = _run("evaluate", f"--model_dirs={models}/*", "--metrics=mig",
              '--metric_params={"num_train": 100}', "--cache_encodings=off")
  assert proc.returncode == 1, proc.stderr[-3000:]
  assert "Traceback" not in proc.stderr
  summary = proc.stderr[proc.stderr.index("tfdis_evaluate: 1 of 3 models "
                                          "failed"):]
  lines = summary.strip().splitlines()
  assert len(lines) == 2 and lines[1].startswith(f"  {models}/m1: ")
  assert "could not be loaded as a SavedModel" in lines[1]
  for good in ("m0", "m2"):
    record = json.loads((models / good / "metrics" / "mean" /
                         "mig.json").read_text())
    assert 0.0 <= record["scores"]["discrete_mig"] <= 1.0
  assert not (models / "m1" / "metrics" / "mean" / "mig.json").exists()


def test_udr_skips_the_group_and_says_which_model_and_why(models):
  out = models / "udr"
  proc = _run("udr", f"--model_dirs={models}/m0,{models}/m1,{models}/m2",
              f"--output_dir={out}", "--num_data_points=100",
              "--cache_encodings=off", "--mode=a2a")
  assert proc.returncode == 1, proc.stderr[-3000:]
  assert "Traceback" not in proc.stderr
  line = [l for l in proc.stderr.splitlines()
          if l.startswith("tfdis_udr: UDR group skipped")]
  assert len(line) == 1, proc.stderr[-3000:]
  assert f"model {models}/m1 cannot be used" in line[0]
  assert "UDR needs every model of the group" in line[0]
  assert not (out / "udr.json").exists()


def test_model_failures_summary():
  from tfdis.errors import UserError
  from tfdis.failures import ModelFailures

  failures = ModelFailures("models")
  for name in ("a", "b", "c"):
    with failures.guard(name):
      if name == "b":
        raise UserError("b is corrupt; retrain it")
      if name == "c":
        raise KeyError("missing")
  assert failures.failed == {"b": "b is corrupt; retrain it",
                             "c": "KeyError: missing"}
  assert failures.summary("tfdis_x", 3).splitlines() == [
      "tfdis_x: 2 of 3 models failed (the others were processed):",
      "  b: b is corrupt; retrain it", "  c: KeyError: missing"]
  with pytest.raises(SystemExit) as err:
    failures.exit_if_any("tfdis_x", 3)
  assert err.value.code == 1
  with pytest.raises(KeyboardInterrupt):  # never swallowed
    with failures.guard("d"):
      raise KeyboardInterrupt


def test_study_skips_a_udr_group_with_a_failed_model(tmp_path):
  """Two settings × 2 seeds; β = 1e38 overflows the loss at its first step
  (NonFiniteLossError), so those two models fail. The β = 1 models are
  trained, exported and evaluated; the family's UDR group is skipped and
  names the failed models (UDR over a subset would be another experiment)."""
  from tfdis.study import model_id, run_study

  out = tmp_path / "study"
  bad = [model_id("beta_vae", {"beta": 1e38}, seed) for seed in (0, 1)]
  result = run_study(
      "quickstart", str(out), num_workers=1, aggregate=False, steps=4,
      seeds=2, sweep={"beta_vae": [{"beta": 1.0}, {"beta": 1e38}]},
      metrics=["mig"], udr_num_data_points=100, visualize=False)
  assert sorted(result["failed"]) == bad, sorted(result["failed"])
  assert "non-finite loss" in result["failed"][bad[0]]
  assert result["completed"] == 2
  for seed in (0, 1):
    model_dir = out / f"beta_vae-beta=1-seed={seed}"
    assert (model_dir / "metrics" / "mean" / "mig.json").is_file()
  (udr_dir, reason), = result["udr"].items()
  assert reason == ("skipped: UDR needs every model of the group and 2 "
                    f"failed ({bad[0]}, {bad[1]})")
  assert not os.path.exists(os.path.join(udr_dir, "udr.json"))
