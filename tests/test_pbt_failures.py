"""PBT failure policy and refusals: a population that never produces a
finite score fails loudly and exports nothing called "best"; settings the
data cannot satisfy are refused before anything is written."""

import os

import pytest

from tfdis.errors import UserError

from tfdis.pbt import PBTConfig, run_pbt
from tfdis.pbt.controller import NoFiniteScoreError
from tfdis.training import ConfigError

TINY = dict(dataset="procedural_dsprites_small", population_size=2,
            max_generations=1, interval_steps=1, architecture="fc",
            latent_dim=3, mig_num_train=100, max_nan_retries=0,
            hyperparameter_space={
                "batch_size": {"initial_values": [8], "low": 8, "high": 16},
                "learning_rate": {"initial_values": [1e-4], "low": 1e-6,
                                  "high": 1e-2}})


def test_population_without_any_finite_score_fails(tmp_path):
  out = tmp_path / "pbt"
  cfg = PBTConfig(output_dir=str(out), eval="mig", **TINY)
  with pytest.raises(NoFiniteScoreError, match="no member produced a "
                     "finite score"):
    run_pbt(cfg, _force_nan={"m000": 9, "m001": 9})
  assert not os.path.exists(out / "best")


def test_num_labels_larger_than_the_data_is_refused(tmp_path):
  out = tmp_path / "pbt"
  cfg = PBTConfig(output_dir=str(out), eval="mig", num_labels=10 ** 6,
                  **TINY)
  with pytest.raises(ConfigError, match="larger than the 2304 examples"):
    run_pbt(cfg)
  assert not os.path.exists(out)


def test_resume_with_other_settings_is_refused(tmp_path):
  out = tmp_path / "pbt"
  run_pbt(PBTConfig(output_dir=str(out), eval="mig", **TINY))
  with pytest.raises(UserError, match="latent_dim"):
    run_pbt(PBTConfig(output_dir=str(out), eval="mig",
                      **dict(TINY, latent_dim=4)))
  # The same request again: the finished run is returned as it is.
  res = run_pbt(PBTConfig(output_dir=str(out), eval="mig", **TINY))
  assert res["generations"] == 1
