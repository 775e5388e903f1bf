"""InfoGAN, SCAN and DARLA through the trainer: train, resume, export the
contract (+ extra signatures), score with MIG and UDR (issue 18).

Tiny runs (a few steps of batch 8 on procedural_dsprites_small): this checks
the plumbing, not the quality of the models.
"""

import json
import os

import numpy as np
import pytest
import tensorflow as tf

from tfdis.export.load import load_saved_model, read_metadata
from tfdis.training import TrainConfig, train

LATENT_DIM = 3


def _config(model_dir, model, steps, **kw):
  base = dict(model=model, dataset="procedural_dsprites_small", batch_size=8,
              steps=steps, checkpoint_every=2, log_every=2, summary_every=2,
              image_summary_every=100, model_dir=str(model_dir),
              latent_dim=LATENT_DIM, learning_rate=1e-3)
  base.update(kw)
  return TrainConfig(**base)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
  """{name: model_dir} of info_gan, darla (resumed across its stage switch)
  and scan (on the DARLA model directory: a β-VAE_DAE visual model, as in
  the SCAN paper)."""
  root = tmp_path_factory.mktemp("seed_methods")
  dirs = {}
  dirs["info_gan"] = root / "info_gan"
  res = train(_config(dirs["info_gan"], "info_gan", 4,
                      hyperparameters={"noise_dim": 8}))
  dirs["info_gan_result"] = res
  # DARLA: 2 DAE steps, killed after 3, resumed to 5 in the β-VAE stage.
  dirs["darla"] = root / "darla"
  hps = {"dae_steps": 2, "feature_depth": 2, "beta": 1.0}
  train(_config(dirs["darla"], "darla", 3, hyperparameters=hps, export=False))
  dirs["darla_result"] = train(_config(dirs["darla"], "darla", 5,
                                       hyperparameters=hps))
  visual = dirs["darla"]
  dirs["visual"] = visual
  dirs["scan"] = root / "scan"
  dirs["scan_result"] = train(_config(
      dirs["scan"], "scan", 3,
      hyperparameters={"visual_model_dir": str(visual)}))
  return dirs


def test_info_gan_trains_and_exports_its_mapping(trained):
  res = trained["info_gan_result"]
  losses = res["final_losses"]
  for key in ("loss", "discriminator_loss", "generator_loss",
              "reconstruction_loss", "mutual_information_bound"):
    assert np.isfinite(losses[key]), key
  loaded = load_saved_model(str(trained["info_gan"]))
  assert loaded.latent_dim == LATENT_DIM
  assert read_metadata(str(trained["info_gan"]))["model"] == "info_gan"
  sigs = loaded._sigs
  images = np.random.RandomState(0).uniform(size=(5, 64, 64, 1)).astype(
      np.float32)
  probs = sigs["categorical_probabilities"](images=tf.constant(images))
  np.testing.assert_allclose(probs["probabilities"].numpy().sum(1), 1.0,
                             rtol=1e-5)
  # decoder(latents) = generator(noise 0, category 0, latents).
  c = np.random.RandomState(1).uniform(-1, 1, (4, LATENT_DIM)).astype(
      np.float32)
  onehot = np.zeros((4, 3), np.float32)
  onehot[:, 0] = 1
  full = sigs["generator"](noise=tf.zeros([4, 8]),
                           categorical=tf.constant(onehot),
                           continuous=tf.constant(c))["images"].numpy()
  np.testing.assert_allclose(loaded.decoder(c), full, rtol=1e-4, atol=1e-5)


def test_darla_resumes_in_its_stage_and_exports(trained):
  res = trained["darla_result"]
  assert res["start_step"] == 3 and res["steps"] == 5
  assert res["final_losses"]["stage"] == 1.0
  assert res["final_losses"]["dae_loss"] == 0.0
  meta = read_metadata(str(trained["darla"]))
  assert meta["reconstruction_loss"] == "dae_features(depth=2)"
  reader = tf.train.load_checkpoint(str(trained["darla"] / "checkpoints"))
  names = reader.get_variable_to_shape_map()
  # The resume restored with assert_existing_objects_matched, so the DAE
  # networks were in the checkpoint; its optimiser state is too.
  assert any(n.startswith("dae_optimizer") for n in names)


def test_scan_uses_the_visual_model_and_exports_sym2img(trained):
  res = trained["scan_result"]
  assert res["final_losses"]["stage"] == 1.0  # visual_steps = 0
  assert res["final_losses"]["grounding_kl"] > 0
  scan = load_saved_model(str(trained["scan"]))
  visual = load_saved_model(str(trained["visual"]))
  images = np.random.RandomState(0).uniform(size=(4, 64, 64, 1)).astype(
      np.float32)
  # The visual encoder is the visual model's and stays frozen.
  np.testing.assert_allclose(scan.mean_encoder(images),
                             visual.mean_encoder(images), rtol=1e-5,
                             atol=1e-6)
  meta = read_metadata(str(trained["scan"]))
  assert len(meta["symbols"]) == 15
  sigs = scan._sigs
  probs = sigs["img2sym"](images=tf.constant(images))["probabilities"]
  assert probs.shape == (4, 15)
  y = np.zeros((2, 15), np.float32)
  y[:, [0, 3, 6, 9, 12]] = 1
  out = sigs["sym2img"](symbols=tf.constant(y))
  assert out["images"].shape == (2, 64, 64, 1)
  assert out["mean"].shape == (2, LATENT_DIM)
  from tfdis.models.scan_report import scan_report

  report = scan_report(str(trained["scan"]), num_images=64, num_concepts=2,
                       samples_per_concept=2)
  assert 0.0 <= report["img2sym_accuracy"]["mean"] <= 1.0
  assert os.path.isfile(report["sym2img_png"])


def test_metric_and_udr_on_the_three_models(trained, tmp_path):
  from tfdis.evaluate import evaluate_model_dirs
  from tfdis.udr.study import run_udr_study

  dirs = [str(trained[k]) for k in ("info_gan", "darla", "scan")]
  frame = evaluate_model_dirs(
      dirs, ["mig"], metric_params={"mig": {"num_train": 200}})
  scores = frame["mig.discrete_mig"].to_numpy(dtype=float)
  assert len(scores) == 3 and np.all(np.isfinite(scores))
  assert np.all((scores >= 0) & (scores <= 1))
  udr = run_udr_study(dirs, str(tmp_path / "udr"), mode="a2a",
                      num_data_points=100, plots=False)
  assert set(udr["model_scores"]) == set(dirs)
  with open(tmp_path / "udr" / "udr.json") as f:
    assert json.load(f)["settings"]["mode"] == "a2a"
