"""train(config): checkpoints, resume with overrides, NaN handling, labels."""

import json
import os

import numpy as np
import pytest

from tfdis.errors import UserError
import tensorflow as tf

from tfdis.export.load import load_saved_model
from tfdis.training import NonFiniteLossError, TrainConfig, train


def _config(tmp_path, **kw):
  base = dict(model="beta_vae", dataset="procedural_dsprites_small",
              batch_size=16, steps=4, checkpoint_every=2, log_every=2,
              summary_every=2, image_summary_every=4, model_dir=str(tmp_path),
              architecture="fc", latent_dim=4)
  base.update(kw)
  return TrainConfig(**base)


def test_config_json_round_trip_and_validation(tmp_path):
  c = _config(tmp_path, hyperparameters={"beta": 4.0}, indices=[1, 2, 3])
  assert TrainConfig.from_json(c.to_json()) == c
  c.save(str(tmp_path / "c.json"))
  assert TrainConfig.load(str(tmp_path / "c.json")) == c
  with pytest.raises(ValueError, match="Known models"):
    _config(tmp_path, model="nope").validate()
  with pytest.raises(ValueError, match=r"Unknown strategy 'tpu'.*"
                     "auto, default"):
    _config(tmp_path, strategy="tpu").validate()
  with pytest.raises(UserError, match=r"\['modle'\] that TrainConfig does "
                     "not know"):
    TrainConfig.from_dict({"modle": "beta_vae"})


def test_train_resume_overrides_and_nan(tmp_path):
  res = train(_config(tmp_path, hyperparameters={"beta": 2.0}))
  assert res["steps"] == 4 and res["start_step"] == 0
  for k in ("loss", "reconstruction_loss", "kl_loss", "regularizer", "elbo"):
    assert np.isfinite(res["final_losses"][k])
  assert len(res["final_losses"]["per_latent_kl"]) == 4
  files = os.listdir(tmp_path)
  assert {"config.json", "checkpoints", "tensorboard", "saved_model",
          "results"} <= set(files)
  assert json.load(open(tmp_path / "results" / "train.json"))["steps"] == 4
  # Resume to 6 with new hyperparameters/learning rate: step continues.
  res = train(_config(tmp_path, steps=6, hyperparameters={"beta": 8.0},
                      learning_rate=3e-4, export=False))
  assert res["start_step"] == 4 and res["steps"] == 6
  assert res["hyperparameters"] == {"beta": 8.0}
  np.testing.assert_allclose(res["learning_rate"], 3e-4, rtol=1e-6)
  assert res["resumed_from"].endswith("ckpt-4")
  # A huge learning rate blows up: a clear, catchable error; the last good
  # checkpoint stays and holds finite weights.
  with pytest.raises(NonFiniteLossError) as err:
    train(_config(tmp_path, steps=60, learning_rate=1e12, export=False))
  e = err.value
  assert e.step > 6 and e.last_checkpoint is not None
  reader = tf.train.load_checkpoint(e.last_checkpoint)
  for name in reader.get_variable_to_shape_map():
    value = reader.get_tensor(name)
    if np.issubdtype(np.asarray(value).dtype, np.floating):
      assert np.all(np.isfinite(value)), name
  assert os.path.isfile(tmp_path / "results" / "train_failed.json")
  # The earlier export is still the one of step 4.
  assert load_saved_model(str(tmp_path)).metadata["steps"] == 4


def test_semi_supervised_partial_labels_from_npz(tmp_path, small_dsprites):
  rs = np.random.RandomState(0)
  rows = rs.choice(small_dsprites.num_examples, 300, replace=False)
  factors = small_dsprites.index_to_factors(rows)[:, :2]
  mask = (rs.rand(300, 2) > 0.3).astype(np.float32)
  np.savez(tmp_path / "labels.npz", indices=rows,
           labels=factors.astype(np.float32), mask=mask,
           factor_sizes=np.asarray(small_dsprites.factor_sizes[:2]))
  res = train(_config(tmp_path / "run", model="beta_tc_vae", steps=2,
                      supervision={"loss": "l2", "schedule": "anneal",
                                   "threshold": 4},
                      labels=str(tmp_path / "labels.npz"),
                      indices=[int(i) for i in rows[:200]]))
  assert res["final_losses"]["supervised_loss"] > 0
  np.testing.assert_allclose(res["final_losses"]["gamma_sup"], 0.25)
  meta = load_saved_model(str(tmp_path / "run")).metadata
  assert meta["supervision"]["loss"] == "l2"
