"""Files written by an earlier tfdis still load (golden files).

``tests/data/configs_6418b1c/`` holds real files written by tfdis at commit
6418b1c, before UDR's settings (UDRSpec) and the study definition
(StudySpec) became specs: a study manifest (study.json), a model's
TrainConfig (config.json) and study marker, two udr.json (a study's UDR_L
hyper run and a tfdis_udr a2a/Spearman run with non-default settings) and a
PBT-U-VAE controller state holding its PBTConfig. The directory's README.md
gives the commands that wrote them. Today's code must read each one back
with the values it was written with, fill what it predates with today's
defaults, and recognise the old study's work as done (same model
requirements, UDR up to date, no "different sweep").
"""

import dataclasses
import json
import os

import pytest

from tfdis import io_utils

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data",
                    "configs_6418b1c")


def _read(*parts):
  with open(os.path.join(DATA, *parts)) as f:
    return json.load(f)


def _same_values(stored, config):
  """Every stored field reads back with its value (lists vs tuples aside)."""
  now = io_utils.to_jsonable(config.to_dict())
  for name, value in stored.items():
    assert now[name] == value, (name, now[name], value)


def test_old_study_json_loads_as_the_same_study():
  from tfdis.study import StudySpec, UDRSettings, get_study
  from tfdis.study.runner import _stored_spec

  manifest = _read("study", "study.json")
  spec = StudySpec.from_dict(manifest["study"]).validate()
  # The command that wrote it, through today's presets.
  assert spec == get_study("quickstart", steps=2, seeds=2, metrics=[],
                           visualize=False, udr_num_data_points=50)
  assert spec.num_models == manifest["study"]["num_models"] == 4
  assert spec.seeds == (0, 1) and spec.datasets == (
      "procedural_dsprites_small",)
  assert spec.train["steps"] == 2 and spec.train["learning_rate"] == 1e-3
  (udr,) = spec.udr
  assert isinstance(udr, UDRSettings)
  assert (udr.mode, udr.correlation, udr.num_data_points, udr.alpha,
          udr.kl_filter_threshold, udr.max_seeds) == (
              "hyper", "lasso", 50, 0.1, 0.01, None)
  # Settings the old file predates take UDR's defaults.
  assert (udr.filter_low_kl, udr.aggregation, udr.batch_size,
          udr.cache_encodings) == (True, "relative_strength", 256, "disk")
  # A resumed study sees the same sweep (no "different sweep" warning) and
  # the same models in the same directories.
  assert _stored_spec(manifest) == spec
  jobs = spec.resolve(manifest["output_dir"])
  assert [os.path.relpath(j.model_dir, manifest["output_dir"])
          for j in jobs] == [m["model_dir"] for m in manifest["models"]]
  # Round trip: what today's runner writes reads back equal.
  assert StudySpec.from_dict(spec.to_json()) == spec


def test_old_model_marker_and_train_config_match_todays_job():
  from tfdis.study import StudySpec
  from tfdis.study import jobs as J
  from tfdis.training import TrainConfig

  manifest = _read("study", "study.json")
  spec = StudySpec.from_dict(manifest["study"])
  job = next(j for j in spec.resolve(manifest["output_dir"])
             if j.model_id == "beta_vae-beta=1-seed=0")
  marker = _read("study", "model", "results", "study.json")
  # Same requirements -> the model counts as finished (not recomputed).
  assert J.model_requirements(job.to_json(), spec.to_json()) == (
      marker["requirements"])

  stored = _read("study", "model", "config.json")
  config = TrainConfig.load(os.path.join(DATA, "study", "model",
                                         "config.json")).validate()
  _same_values(stored, config)
  assert (config.model, config.hyperparameters, config.steps,
          config.batch_size, config.learning_rate, config.seed) == (
              "beta_vae", {"beta": 1.0}, 2, 32, 1e-3, 0)
  # Today's study builds the same TrainConfig for that model.
  assert J.train_config(job.to_json()) == config


@pytest.mark.parametrize("name,expected", [
    ("study/udr", dict(mode="hyper", correlation="lasso", num_pairs=None,
                       num_data_points=50, seed=0, kl_filter_threshold=0.01,
                       filter_low_kl=True, alpha=0.1,
                       aggregation="relative_strength")),
    ("udr_a2a", dict(mode="a2a", correlation="spearman", num_pairs=2,
                     num_data_points=40, seed=3, kl_filter_threshold=0.02,
                     filter_low_kl=True, alpha=0.1, aggregation="paper")),
])
def test_old_udr_json_settings_load_as_udr_spec(name, expected):
  from tfdis.study import UDRSettings
  from tfdis.study import jobs as J
  from tfdis.udr.spec import UDRSpec

  udr = _read(*name.split("/"), "udr.json")
  spec = UDRSpec.from_settings(udr["settings"]).validate()
  assert {k: getattr(spec, k) for k in expected} == expected
  # Not recorded (they change speed, not scores): today's defaults.
  assert (spec.batch_size, spec.cache_encodings) == (256, "disk")
  # The study's "is this UDR up to date" check reads the old file.
  out = os.path.join(DATA, *name.split("/"))
  same = dataclasses.asdict(UDRSettings(**expected))
  assert J.udr_complete(out, udr["model_dirs"], same)
  for change in ({"num_data_points": 41}, {"alpha": "cv"},
                 {"aggregation": "paper" if expected["aggregation"] ==
                  "relative_strength" else "relative_strength"}):
    assert not J.udr_complete(out, udr["model_dirs"], dict(same, **change))


def test_old_pbt_config_loads_with_udr_defaults():
  from tfdis.pbt.config import PBTConfig
  from tfdis.udr.spec import UDRSpec

  stored = _read("pbt", "controller_state.json")["config"]
  config = PBTConfig.from_dict(stored).validate()
  _same_values(stored, config)
  assert (config.eval, config.ensemble_size, config.udr_num_data_points,
          config.udr_kl_threshold, config.population_size) == (
              "udr", 2, 50, 0.01, 2)
  # PBT-U-VAE's KL filter is UDR's (one default); its image count is its
  # own (1000: the eval runs every generation).
  assert PBTConfig.udr_kl_threshold == UDRSpec.kl_filter_threshold
  assert PBTConfig.udr_num_data_points == 1000
