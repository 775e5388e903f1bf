"""Every binary refuses bad numeric and enumerated flag values in one line.

For each binary, ``tests/helpers_bad_flags.py`` (one subprocess per binary,
so TensorFlow is imported once) generates the cases from the binary's own
flags: every integer flag gets -1, 0, nan, inf, 2**64 (beyond int64) and
'abc'; every float flag -1, 0, nan, inf, -inf, 1e300 and 'abc'; every enum
flag and every flag naming a registry entry an unknown name. Each refused
value must end in exit status 2 with exactly one ``tfdis_<x>: error:`` line,
no traceback, and leave the working directory byte for byte as it was.

Some of these values are valid (seed 0, a threshold of 0, zero retries, a
huge but finite threshold): ``ACCEPTED`` lists them, and the test checks that
exactly these are accepted, so a new flag without validation fails here.
tfdis_aggregate has no numeric or enumerated flag and is left out.
"""

import json
import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DRIVER = os.path.join(REPO, "tests", "helpers_bad_flags.py")

# Execution flags (tfdis_study, tfdis_pbt, tfdis_rpu): no GPU and no retry
# are valid; resource amounts have no upper bound.
_EXECUTION = {"cpus_per_task": {"1e300"}, "gpus_per_task": {"0", "1e300"},
              "max_task_retries": {"0"}}
# Population settings shared by tfdis_pbt and tfdis_rpu.
_POPULATION = {"convergence_threshold": {"1e300"}, "max_nan_retries": {"0"},
               "resample_probability": {"0"}, "udr_kl_threshold": {"0",
                                                                   "1e300"}}
ACCEPTED = {
    # beta=0 is a plain autoencoder; no family bounds beta or the learning
    # rate from above.
    "train": {"seed": {"0"}, "beta": {"0", "1e300"},
              "learning_rate": {"1e300"}},
    "evaluate": {"seed": {"0"}},
    "udr": {"seed": {"0"}, "kl_filter_threshold": {"0", "1e300"}},
    "visualize": {"seed": {"0"}, "num_traversals": {"0"},
                  "num_animations": {"0"}},
    "study": dict(_EXECUTION),
    "pbt": {**_EXECUTION, **_POPULATION, "seed": {"0"},
            # a score threshold: any finite value is a (possibly useless)
            # stop rule
            "stop_below_score": {"-1", "0", "1e300"}},
    "rpu": {**_EXECUTION, **_POPULATION, "seed": {"0"},
            "active_kl_threshold": {"0", "1e300"},
            "edge_peak_height": {"-1", "0", "1e300"},
            "final_convergence_threshold": {"1e300"},
            "global_std_factor": {"0", "1e300"},
            "median_sigma_factor": {"0", "1e300"},
            "max_leaf_runs": {"0"}, "min_intersection_size": {"0"},
            "peak_distance_denominator": {"1e300"},
            "udr_stop_threshold": {"0", "1e300"}},
}


def _base_args(binary, work):
  out = os.path.join(work, "out")
  return {
      "train": [f"--model_dir={out}/m", "--dataset=procedural_dsprites_small"],
      "evaluate": [f"--model_dirs={work}/m0"],
      "udr": [f"--model_dirs={work}/m0,{work}/m1", f"--output_dir={out}"],
      "visualize": [f"--model_dir={work}/m0", f"--output_dir={out}"],
      "aggregate": [f"--root={work}/root", f"--output_dir={out}"],
      "study": ["--study=quickstart", f"--output_dir={out}"],
      "pbt": [f"--output_dir={out}", "--dataset=procedural_dsprites_small"],
      "rpu": [f"--output_dir={out}", "--dataset=procedural_dsprites_small"],
  }[binary]


@pytest.mark.parametrize("binary", sorted(ACCEPTED))
def test_bad_flag_values_are_one_line_errors(binary, tmp_path):
  work = str(tmp_path)
  for name in ("m0", "m1"):  # enough for the directory checks
    os.makedirs(os.path.join(work, name, "saved_model"))
    open(os.path.join(work, name, "saved_model", "saved_model.pb"),
         "wb").close()
  os.makedirs(os.path.join(work, "root"))
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
  env["PYTHONPATH"] = REPO + os.pathsep + env.get("PYTHONPATH", "")
  proc = subprocess.run(
      [sys.executable, DRIVER, binary, work,
       json.dumps(_base_args(binary, work))],
      cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
  assert proc.returncode == 0, proc.stderr[-3000:]
  cases = [json.loads(line) for line in proc.stdout.splitlines()]
  numeric = {c["flag"] for c in cases if c["value"] == "abc"}
  assert numeric, "no numeric flag found: the driver is broken"
  wrong = [c for c in cases if c["outcome"] == "wrong"]
  assert not wrong, "\n".join(
      f"--{c['flag']}={c['value']}: {c['detail']}" for c in wrong)
  accepted = {(c["flag"], c["value"]) for c in cases
              if c["outcome"] == "accepted"}
  expected = {(f, v) for f, values in ACCEPTED[binary].items()
              for v in values}
  assert accepted == expected, (
      f"accepted but not listed: {sorted(accepted - expected)}; listed but "
      f"refused: {sorted(expected - accepted)}")
  refused = [c for c in cases if c["outcome"] == "refused"]
  assert len(refused) + len(accepted) == len(cases)
  for c in refused:  # the message is the user's: no Python exception names
    assert "Error:" not in c["detail"].split("error: ", 1)[1][:40], c
