"""Study presets resolve to the published sweeps (no training, no TensorFlow)."""

import collections
import os

import pytest

from tfdis.study import (StudySpec, UDRSettings, get_study, model_id,
                         study_names, udr_groups)
from tfdis.study.progress import StudyProgress, format_duration

PUBLISHED = {
    "beta_vae": ("beta", [1, 2, 4, 6, 8, 16]),
    "annealed_vae": ("c_max", [5, 10, 25, 50, 75, 100]),
    "factor_vae": ("gamma", [10, 20, 30, 40, 50, 100]),
    "dip_vae_i": ("lambda_od", [1, 2, 5, 10, 20, 50]),
    "dip_vae_ii": ("lambda_od", [1, 2, 5, 10, 20, 50]),
    "beta_tc_vae": ("beta", [1, 2, 4, 6, 8, 10]),
}


def test_names_and_unknown_study():
  assert {"quickstart", "unsupervised_study_v1", "udr_study"} <= set(
      study_names())
  with pytest.raises(ValueError, match="Did you mean 'quickstart'"):
    get_study("quickstrat")


def test_model_ids_are_readable():
  assert model_id("beta_vae", {"beta": 4.0}, 0) == "beta_vae-beta=4-seed=0"
  assert model_id("dip_vae_i", {"lambda_od": 0.5}, 12) == (
      "dip_vae_i-lambda_od=0.5-seed=12")


def test_unsupervised_study_v1_is_the_published_sweep(tmp_path):
  spec = get_study("unsupervised_study_v1")
  jobs = spec.resolve(str(tmp_path))
  datasets = ("dsprites", "color_dsprites", "noisy_dsprites",
              "scream_dsprites", "smallnorb", "cars3d", "shapes3d")
  assert spec.datasets == datasets
  # dlib scored every model on both postprocessed representations.
  assert spec.representations == ("mean", "sampled")
  assert len(jobs) == spec.num_models == 7 * 6 * 6 * 50 == 12600
  per_dataset = collections.Counter(j.dataset for j in jobs)
  assert set(per_dataset.values()) == {6 * 6 * 50}
  for family, (name, values) in PUBLISHED.items():
    fam = [j for j in jobs if j.model == family and j.dataset == "shapes3d"]
    assert len(fam) == 300
    assert sorted({j.hyperparameters[name] for j in fam}) == values
    assert sorted({j.seed for j in fam}) == list(range(50))
  annealed = next(j for j in jobs if j.model == "annealed_vae")
  assert annealed.train["hyperparameters"]["gamma"] == 1000
  assert annealed.train["hyperparameters"]["iteration_threshold"] == 100000
  assert "gamma" not in annealed.model_id  # fixed values stay out of ids
  job = jobs[0]
  assert job.train["steps"] == 300000 and job.train["batch_size"] == 64
  assert job.train["learning_rate"] == 1e-4 and job.train["latent_dim"] == 10
  assert job.train["reconstruction_loss"] == "bernoulli"
  # Every model has its own directory: <root>/<dataset>/<model_id>.
  assert len({j.model_dir for j in jobs}) == len(jobs)
  assert job.model_dir == os.path.join(str(tmp_path), job.dataset,
                                       job.model_id)
  assert "downstream_task" in spec.metrics and "dci" in spec.metrics
  assert spec.metric_params == {}  # default (published) sample counts
  groups = udr_groups(spec, jobs, str(tmp_path))
  assert len(groups) == 7 * 6 and {len(m) for _, _, m in groups} == {300}


def test_udr_study_settings(tmp_path):
  spec = get_study("udr_study")
  jobs = spec.resolve(str(tmp_path))
  assert spec.datasets == ("dsprites", "shapes3d")
  assert len(jobs) == 2 * 6 * 6 * 50
  assert set(spec.metrics) == {"beta_vae", "factor_vae", "mig", "dci"}
  variants = {(u.correlation, u.mode): u for u in spec.udr}
  assert variants[("lasso", "hyper")].num_data_points == 10000
  assert variants[("spearman", "hyper")].num_data_points == 1000
  assert variants[("lasso", "a2a")].max_seeds == 10
  groups = udr_groups(spec, jobs, str(tmp_path))
  sizes = collections.Counter((u.name, len(m)) for _, u, m in groups)
  # hyper: 6 settings x 50 seeds per family; a2a: 6 settings x 10 seeds.
  assert sizes == {("lasso_hyper", 300): 12, ("spearman_hyper", 300): 12,
                   ("lasso_a2a", 60): 12}
  assert len({d for d, _, _ in groups}) == len(groups)


def test_quickstart_and_overrides(tmp_path):
  spec = get_study("quickstart")
  assert spec.datasets == ("procedural_dsprites_small",)
  jobs = spec.resolve(str(tmp_path))
  assert [j.model_id for j in jobs] == [
      f"beta_vae-beta={b}-seed={s}" for b in (1, 16) for s in (0, 1, 2)]
  assert jobs[0].model_dir == os.path.join(str(tmp_path), jobs[0].model_id)
  assert all(p for p in spec.metric_params.values())  # reduced counts

  small = get_study("quickstart", steps=7, seeds=2,
                    sweep={"beta_vae": [{"beta": 4.0}]}, metrics=["mig"],
                    metric_params={"mig": {"num_train": 50}},
                    udr_num_data_points=64, visualize=False)
  jobs = small.resolve(str(tmp_path))
  assert [j.model_id for j in jobs] == ["beta_vae-beta=4-seed=0",
                                        "beta_vae-beta=4-seed=1"]
  assert jobs[0].train["steps"] == 7 and small.metrics == ("mig",)
  assert small.metric_params["mig"] == {"num_train": 50}
  assert small.udr[0].num_data_points == 64 and not small.visualize
  # The preset itself is untouched by overrides.
  assert get_study("quickstart").train["steps"] == spec.train["steps"]
  assert len(get_study("unsupervised_study_v1", families=["beta_vae"],
                       datasets=["dsprites"]).resolve(str(tmp_path))) == 300


def test_bad_overrides_fail_early():
  with pytest.raises(ValueError, match="steps must be >= 1"):
    get_study("quickstart", steps=0)
  with pytest.raises(ValueError, match="not in study"):
    get_study("quickstart", families=["factor_vae"])
  with pytest.raises(ValueError, match="duplicate seeds"):
    get_study("quickstart", seeds=[1, 1])
  with pytest.raises(ValueError, match="UDR mode"):
    get_study("quickstart", udr=[UDRSettings(mode="pairs")])
  with pytest.raises(TypeError, match="unknown study override"):
    get_study("quickstart", stepz=3)


def test_progress_eta():
  now = [0.0]
  progress = StudyProgress("x", total=5, clock=lambda: now[0])
  progress.skip(2)
  assert progress.eta() is None  # nothing run yet in this session
  now[0] = 30.0
  progress.finish("a", 30.0)
  assert progress.done == 3 and progress.eta() == pytest.approx(60.0)
  assert "3/5 models" in progress.line() and "ETA 1m00s" in progress.line()
  assert format_duration(3725) == "1h02m" and format_duration(None) == "?"


def test_representation_lists_are_validated_and_required(tmp_path):
  from tfdis.study import jobs as J

  spec = get_study("quickstart", representation=["mean", "sampled"])
  assert spec.representations == ("mean", "sampled")
  with pytest.raises(ValueError, match="representation must be"):
    get_study("quickstart", representation=["mean", "median"]).validate()
  job = {"train": {"steps": 1}, "model_dir": str(tmp_path)}
  need = J.model_requirements(job, spec.to_json())
  assert need["representation"] == ["mean", "sampled"]
