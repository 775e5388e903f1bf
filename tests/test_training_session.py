"""The one setup path (tfdis.training.session.TrainSession) as a PBT member
interval uses it, and the TrainConfig a member interval is
(PBTConfig.member_config).

Known answers: a member's steps and batch come from its TrainConfig (steps =
member step + one interval); a retried interval restarts from the same start
state with a new seed; a session reused for another member (the worker's
model cache) and a fresh start with the same seed give bit-identical
weights. Tiny: procedural_dsprites_small, fc networks, 3 latents, 3 steps.
"""

import numpy as np

from tfdis.pbt import PBTConfig

HP = {"learning_rate": 1e-3, "batch_size": 8, "beta": 2.0}


def _pbt(tmp_path, **kw):
  base = dict(output_dir=str(tmp_path / "pbt"),
              dataset="procedural_dsprites_small", architecture="fc",
              latent_dim=3, model="beta_vae", evolve=("learning_rate",
                                                      "batch_size", "beta"),
              interval_steps=3)
  base.update(kw)
  return PBTConfig(**base)


def test_member_config_is_the_interval(tmp_path):
  cfg = _pbt(tmp_path, hyperparameters={}, precision="mixed_bfloat16")
  t = cfg.member_config(dict(HP), seed=5, dataset_size=100, start_step=6)
  assert (t.steps, t.batch_size, t.learning_rate, t.seed) == (9, 8, 1e-3, 5)
  assert t.hyperparameters == {"beta": 2.0}
  assert (t.precision, t.strategy, t.xla) == ("mixed_bfloat16", "default",
                                              False)
  assert t.ensemble_size is None and not t.export
  # interval_images: images // batch size gradient steps from the start step.
  t = _pbt(tmp_path, interval_steps=None, interval_images=100).member_config(
      dict(HP, batch_size=16), seed=5, dataset_size=100, start_step=6)
  assert (t.steps, t.batch_size) == (6 + 100 // 16, 16)
  # The authors' default interval: max(10000, |d|) images.
  t = _pbt(tmp_path, interval_steps=None).member_config(
      dict(HP), seed=5, dataset_size=100)
  assert t.steps == 10000 // 8


def _weights(model):
  return [v.numpy().copy() for v in model.vae_variables]


def test_member_interval_retry_and_cached_session(tmp_path, small_dsprites):
  from tfdis.training import Checkpoints, TrainSession

  cfg = _pbt(tmp_path)
  tconfig = cfg.member_config(dict(HP), seed=5, dataset_size=2304)
  session = TrainSession(tconfig, small_dsprites, 2304)
  where = Checkpoints(read=None, write=str(tmp_path / "gen_0001"),
                      owner="m000")
  assert session.start(tconfig, where) is None   # fresh weights
  fit = session.run(tconfig, where, quiet=True)
  assert fit.finite and fit.steps == 3 and fit.seed == 5
  assert int(session.model.step.numpy()) == tconfig.steps == 3
  trained = _weights(session.model)
  assert (tmp_path / "gen_0001.index").is_file()

  # The same session serves another member, then this one again from fresh
  # weights: bit-identical (the worker's cache changes nothing).
  other = cfg.member_config(dict(HP, beta=8.0), seed=9, dataset_size=2304)
  session.start(other, Checkpoints(write=str(tmp_path / "o"), owner="m1"))
  session.run(other, Checkpoints(write=str(tmp_path / "o"), owner="m1"),
              quiet=True)
  assert session.model.hyperparameters()["beta"] == 8.0
  session.start(tconfig, where)
  assert session.model.hyperparameters()["beta"] == 2.0
  session.run(tconfig, where, quiet=True)
  for a, b in zip(trained, _weights(session.model)):
    np.testing.assert_array_equal(a, b)

  # The next interval starts from the written checkpoint (step 3 -> 6); a
  # retried attempt restarts from that same state with a new seed.
  nxt = cfg.member_config(dict(HP), seed=5, dataset_size=2304, start_step=3)
  resume = Checkpoints(read=str(tmp_path / "gen_0001"),
                       write=str(tmp_path / "gen_0002"), owner="m000")
  assert session.start(nxt, resume) == str(tmp_path / "gen_0001")
  assert int(session.model.step.numpy()) == 3
  fit = session.run(nxt, resume, nan_policy="retry", max_retries=1,
                    quiet=True, fault_injection=1)
  assert fit.finite and fit.retries == 1 and fit.seed != 5
  assert fit.steps == 3 and int(session.model.step.numpy()) == 6

