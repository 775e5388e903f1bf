"""TensorBoard HParams summaries of studies, PBT populations and evaluated
models (tfdis.results.hparams).

The event files are read back with TensorBoard's own event multiplexer and
the HParams plugin's metadata parsers, i.e. as the dashboard reads them.
Model directories are written by hand (config.json, results/train.json and
metric JSONs: what ``collect_results`` reads), so no model is trained here;
the end-to-end tests of tfdis_study, tfdis_pbt and tfdis_evaluate check the
files their runs write (``hparams_plugin_data`` below).
"""

import json
import os
import subprocess
import sys

import pytest

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def hparams_plugin_data(logdir):
  """{"runs": {run: {"experiment" | "session": parsed proto}}, "scalars":
  {run: {tag: last value}}} of every event file under ``logdir``."""
  from tensorboard.backend.event_processing import event_multiplexer
  from tensorboard.plugins.hparams import metadata
  from tensorboard.util import tensor_util

  mux = event_multiplexer.EventMultiplexer()
  mux.AddRunsFromDirectory(logdir)
  mux.Reload()
  out = {"runs": {}, "scalars": {}}
  for run, tags in mux.PluginRunToTagToContent("hparams").items():
    for tag, content in tags.items():
      if tag == metadata.EXPERIMENT_TAG:
        out["runs"].setdefault(run, {})["experiment"] = (
            metadata.parse_experiment_plugin_data(content))
      elif tag == metadata.SESSION_START_INFO_TAG:
        out["runs"].setdefault(run, {})["session"] = (
            metadata.parse_session_start_info_plugin_data(content))
  for run, tags in mux.PluginRunToTagToContent("scalars").items():
    for tag in tags:
      event = mux.Tensors(run, tag)[-1]  # training scalars have many steps
      out["scalars"].setdefault(run, {})[tag] = float(
          tensor_util.make_ndarray(event.tensor_proto))
  return out


def _session_hparams(session):
  return {k: (v.string_value or v.number_value) if v.WhichOneof("kind") != (
      "bool_value") else v.bool_value for k, v in session.hparams.items()}


def _fake_model(root, name, beta, seed, mig):
  d = os.path.join(root, name)
  os.makedirs(os.path.join(d, "results"))
  os.makedirs(os.path.join(d, "metrics", "mean"))
  with open(os.path.join(d, "config.json"), "w") as f:
    json.dump({"model": "beta_vae", "dataset": "procedural_dsprites_small",
               "seed": seed, "steps": 100, "hyperparameters": {"beta": beta}},
              f)
  with open(os.path.join(d, "results", "train.json"), "w") as f:
    json.dump({"steps": 100, "loss": 1.0}, f)
  with open(os.path.join(d, "metrics", "mean", "mig.json"), "w") as f:
    json.dump({"metric": "mig", "scores": {"discrete_mig": mig},
               "parameters": {"num_train": 10}}, f)
  return d


def test_results_hparams_hold_every_model_and_its_scores(tmp_path):
  from tfdis.results.hparams import write_results_hparams

  root = str(tmp_path / "study")
  for i, (beta, mig) in enumerate([(1, 0.1), (4, 0.3), (16, 0.2)]):
    _fake_model(root, f"m{i}", beta, i, mig)
  written = write_results_hparams(root)
  assert written["sessions"] == 3
  assert "mig.discrete_mig" in written["metrics"]
  data = hparams_plugin_data(root)
  experiment = data["runs"]["."]["experiment"]
  names = {h.name for h in experiment.hparam_infos}
  assert {"hp.beta", "seed", "model", "dataset", "steps"} <= names
  beta_info = [h for h in experiment.hparam_infos if h.name == "hp.beta"][0]
  assert sorted(v.number_value for v in beta_info.domain_discrete.values) == [
      1.0, 4.0, 16.0]
  assert [m.name.tag for m in experiment.metric_infos] == ["mig.discrete_mig"]
  for i, (beta, mig) in enumerate([(1, 0.1), (4, 0.3), (16, 0.2)]):
    hps = _session_hparams(data["runs"][f"m{i}"]["session"])
    assert hps["hp.beta"] == beta and hps["seed"] == i
    assert hps["model"] == "beta_vae"
    assert abs(data["scalars"][f"m{i}"]["mig.discrete_mig"] - mig) < 1e-6
  # a second call replaces the files instead of adding sessions
  write_results_hparams(root)
  files = [f for f in os.listdir(os.path.join(root, "m0"))
           if "tfevents" in f]
  assert len(files) == 1 and files[0].endswith(".tfdis_hparams")


def test_writing_hparams_does_not_import_tensorflow(tmp_path):
  root = str(tmp_path / "study")
  _fake_model(root, "m0", 1, 0, 0.1)
  code = ("import sys\n"
          "from tfdis.results.hparams import write_results_hparams\n"
          f"write_results_hparams({root!r})\n"
          "print('tensorflow' in sys.modules)\n")
  env = dict(os.environ, PYTHONPATH=REPO_ROOT + os.pathsep +
             os.environ.get("PYTHONPATH", ""))
  out = subprocess.run([sys.executable, "-c", code], env=env,
                       capture_output=True, text=True, timeout=300)
  assert out.returncode == 0, out.stderr[-2000:]
  assert out.stdout.strip().splitlines()[-1] == "False"


def test_pbt_hparams_one_session_per_member(tmp_path):
  from tfdis.results.hparams import write_pbt_hparams

  out = str(tmp_path / "pbt")
  state = {"members": {"m00": {"hyperparameters": {"beta": 2.0}, "seed": 5},
                       "m01": {"hyperparameters": {"beta": 8.0}, "seed": 6}},
           "scores": {"1": {"m00": 0.1, "m01": 0.2},
                      "2": {"m00": 0.4, "m01": None}}}
  write_pbt_hparams(out, state)
  data = hparams_plugin_data(out)
  assert set(data["runs"]) == {".", "members/m00", "members/m01"}
  assert _session_hparams(data["runs"]["members/m01"]["session"]) == {
      "hp.beta": 8.0, "seed": 6.0}
  assert data["scalars"]["members/m00"] == pytest.approx(
      {"pbt/final_score": 0.4, "pbt/final_generation": 2.0})  # float32
  assert abs(data["scalars"]["members/m01"]["pbt/final_score"] - 0.2) < 1e-6
