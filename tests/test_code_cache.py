"""Encode-once cache (tfdis.export.code_cache): bit-identical scores.

A conv beta-VAE is trained for 3 steps on procedural_dsprites_small (real
oneDNN convolutions, whose outputs change in the last bits with the batch
size) and scored with every metric twice: rendering and encoding every
sample (cache_encodings='off') and through the row cache ('disk'). Every
score of every metric must be equal bit for bit, for the mean and the
sampled representation; a second run must find every row on disk.
"""

import json
import os

import numpy as np
import pytest

from test_evaluate_cli import TINY

# dlib's ten plus the metrics of the Carbonneau et al. review.
PARAMS = dict(TINY, mig_sup={"num_train": 200}, dcimig={"num_train": 200},
              jemmig={"num_train": 200})
METRICS = sorted(PARAMS)
SAMPLED = ("beta_vae", "factor_vae", "mig")


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
  from tfdis.training import TrainConfig, train

  path = str(tmp_path_factory.mktemp("code_cache") / "model")
  train(TrainConfig(model="beta_vae", dataset="procedural_dsprites_small",
                    architecture="conv", latent_dim=4, steps=3, batch_size=8,
                    model_dir=path, log_every=1, summary_every=1000,
                    image_summary_every=1000, checkpoint_every=1000))
  return path


def _scores(model_dir, representation, metrics):
  out = {}
  for metric in metrics:
    with open(os.path.join(model_dir, "metrics", representation,
                           f"{metric}.json")) as f:
      out[metric] = json.load(f)
  return out


@pytest.fixture(scope="module")
def both_paths(model_dir, tmp_path_factory):
  """{(mode, representation): {metric: record}} for 'off' and 'disk'."""
  import shutil

  from tfdis.evaluate import evaluate_model_dirs

  results = {}
  for mode in ("off", "disk"):
    copy = str(tmp_path_factory.mktemp(mode) / "model")
    shutil.copytree(model_dir, copy)
    for representation, metrics in (("mean", METRICS), ("sampled", SAMPLED)):
      evaluate_model_dirs([copy], metrics, representation=representation,
                          metric_params=PARAMS, seed=5, cache_encodings=mode)
      results[mode, representation] = _scores(copy, representation, metrics)
    results[mode, "dir"] = copy
  return results


@pytest.mark.parametrize("metric", METRICS)
def test_cached_scores_equal_uncached_bit_for_bit(both_paths, metric):
  off = both_paths["off", "mean"][metric]
  disk = both_paths["disk", "mean"][metric]
  assert off["scores"] == disk["scores"]
  assert off["encoding"]["cache"] is None
  assert disk["encoding"]["cache"].startswith("encodings")


@pytest.mark.parametrize("metric", SAMPLED)
def test_sampled_representation_draws_the_same_noise(both_paths, metric):
  off = both_paths["off", "sampled"][metric]["scores"]
  assert off == both_paths["disk", "sampled"][metric]["scores"]
  # and the noise matters: the sampled codes are not the mean codes
  assert off != both_paths["off", "mean"][metric]["scores"]


def test_rows_are_encoded_once_and_reused_from_disk(both_paths):
  from tfdis.evaluate import evaluate_model_dirs

  from tfdis.data import get_dataset
  from tfdis.export import code_cache
  from tfdis.export.load import load_saved_model

  records = (list(both_paths["disk", "mean"].values()) +
             list(both_paths["disk", "sampled"].values()))
  encoded = sum(r["encoding"]["rows_encoded"] for r in records)
  looked_up = sum(r["encoding"]["rows_looked_up"] for r in records)
  copy = both_paths["disk", "dir"]
  cache = code_cache.open_cache(load_saved_model(copy),
                                get_dataset("procedural_dsprites_small"))
  # Each row was encoded once (procedural_dsprites_small has 2304), although
  # the metrics looked up many more samples; all of them are on disk.
  assert encoded == cache.encoded.sum() <= 2304
  assert looked_up > 3 * encoded
  evaluate_model_dirs([copy], ["mig"], metric_params=TINY, seed=5,
                      cache_encodings="disk", overwrite=True)
  record = _scores(copy, "mean", ["mig"])["mig"]
  assert record["encoding"]["rows_encoded"] == 0
  assert record["encoding"]["rows_looked_up"] == TINY["mig"]["num_train"]


def test_cache_of_another_model_is_replaced(both_paths, tmp_path):
  import shutil

  from tfdis.data import get_dataset
  from tfdis.export import code_cache
  from tfdis.export.load import load_saved_model

  copy = str(tmp_path / "model")
  shutil.copytree(both_paths["disk", "dir"], copy)
  loaded = load_saved_model(copy)
  data = get_dataset("procedural_dsprites_small")
  cache = code_cache.open_cache(loaded, data, "disk")
  assert cache.encoded.any()
  # a re-exported model has another fingerprint: its old codes are not used
  cache.header["model_fingerprint"] = "0" * 40
  cache._dirty = True
  # and what a killed writer left is removed by the next write
  leftover = os.path.join(
      os.path.dirname(cache.path),
      "." + os.path.basename(cache.path) + ".k1ll3d00.tmp.npz")
  open(leftover, "wb").close()
  cache.flush()
  assert not os.path.exists(leftover)
  fresh = code_cache.open_cache(loaded, data, "disk")
  assert not fresh.encoded.any()
  mean, logvar = fresh.gaussian_of_rows(np.array([5, 7]))
  want_mean, want_logvar = loaded.gaussian_encoder(
      data.sample_observations_from_factors(
          data.index_to_factors(np.array([5, 7])), 0))
  np.testing.assert_array_equal(mean, want_mean)
  np.testing.assert_array_equal(logvar, want_logvar)


def test_codes_do_not_depend_on_the_rows_encoded_with_them(model_dir):
  from tfdis.data import get_dataset
  from tfdis.export.load import load_saved_model

  loaded = load_saved_model(model_dir, batch_size=64)
  data = get_dataset("procedural_dsprites_small")
  images = data.sample_observations(150, np.random.RandomState(0))
  codes = loaded.mean_encoder(images)
  perm = np.random.RandomState(1).permutation(150)
  np.testing.assert_array_equal(loaded.mean_encoder(images[perm]),
                                codes[perm])
  np.testing.assert_array_equal(loaded.mean_encoder(images[:3]), codes[:3])
  np.testing.assert_array_equal(loaded.gaussian_encoder(images)[0], codes)


def test_random_nuisance_datasets_are_not_cached(model_dir):
  from tfdis.data.dsprites_variants import DSpritesVariant
  from tfdis.data.procedural_dsprites import ProceduralDSprites
  from tfdis.export import code_cache
  from tfdis.metrics import sampling

  noisy = DSpritesVariant(ProceduralDSprites("small"), "noisy")
  assert not code_cache.supports_cache(noisy)
  assert code_cache.open_cache(None, noisy, "disk") is None
  assert code_cache.supports_cache(ProceduralDSprites("small"))

  class RowCoded:
    def codes_of_factors(self, factors):
      raise AssertionError("a noisy image must be rendered, not looked up")

  assert not sampling.looks_up_rows(noisy, RowCoded())
  with pytest.raises(ValueError, match=r"Unknown cache_encodings 'yes'.*"
                     "disk, memory, off"):
    code_cache.check_mode("yes")


def test_udr_codes_equal_with_and_without_the_cache(both_paths, tmp_path):
  from tfdis.udr.study import run_udr_study

  dirs = [both_paths["off", "dir"], both_paths["disk", "dir"]]
  results = {mode: run_udr_study(dirs, str(tmp_path / mode), mode="a2a",
                                 num_data_points=300, seed=2, plots=False,
                                 cache_encodings=mode)
             for mode in ("off", "memory")}
  np.testing.assert_array_equal(results["off"]["pairwise_scores"],
                                results["memory"]["pairwise_scores"])
  # every array, the per-latent KLs (from the log-variances) included
  with np.load(tmp_path / "off" / "similarity.npz") as a, \
      np.load(tmp_path / "memory" / "similarity.npz") as b:
    for key in a.files:
      np.testing.assert_array_equal(a[key], b[key])
