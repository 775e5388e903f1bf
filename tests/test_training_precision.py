"""--precision=mixed_bfloat16: bfloat16 layers, float32 variables, outputs,
BatchNorm, losses and SavedModel signatures; auto_mixed_bfloat16: oneDNN's
rewrite of the training step only; refusals; float32 untouched."""

import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfdis.models import build_model, precision
from tfdis.specs import ConfigError
from tfdis.training.config import TrainConfig


def _batch(data, n=16):
  return tf.constant(data.sample_observations(n, np.random.RandomState(0)))


def test_mixed_conv_bn_trains_and_exports_float32(small_dsprites, tmp_path):
  from tfdis.export.saved_model import build_metadata, export_saved_model

  keras.utils.set_random_seed(0)
  model = build_model("beta_tc_vae", small_dsprites.observation_shape,
                      architecture="conv_bn", precision="mixed_bfloat16")
  # The build scope does not leak: the process policy stays float32.
  assert keras.config.dtype_policy().name == "float32"
  layers = {l.name: l for net in (model.encoder, model.decoder)
            for l in net.layers}
  assert layers["e1"].compute_dtype == "bfloat16"
  assert layers["d3"].compute_dtype == "bfloat16"
  for name in ("e1_bn", "e6", "gaussian_params", "d6"):  # BN, heads, logits
    assert layers[name].compute_dtype == "float32", name
  assert {v.dtype for v in model.variables} <= {"float32", "int64"}
  step = tf.function(model.train_step)
  x = _batch(small_dsprites, 8)
  for _ in range(2):
    terms = step(x)
  assert terms["loss"].dtype == tf.float32
  assert np.isfinite(terms["loss"].numpy())
  # Adam's slots float32 (its iteration counter is int64).
  assert {v.dtype for v in model.vae_optimizer.variables} == {"float32",
                                                              "int64"}

  path = export_saved_model(model, str(tmp_path / "saved_model"),
                            build_metadata(model, small_dsprites.info()))
  loaded = tf.saved_model.load(path)
  out = loaded.signatures["gaussian_encoder"](images=x)
  assert out["mean"].dtype == tf.float32 and out["logvar"].dtype == tf.float32
  assert loaded.signatures["decoder"](
      latents=out["mean"])["images"].dtype == tf.float32
  with open(os.path.join(path, "assets", "tfdis_metadata.json")) as f:
    assert json.load(f)["precision"] == "mixed_bfloat16"


def test_mixed_ensemble_computes_in_bfloat16(small_dsprites):
  x = _batch(small_dsprites, 8)
  means = {}
  for prec in precision.PRECISIONS:
    keras.utils.set_random_seed(0)
    model = build_model("beta_vae", small_dsprites.observation_shape,
                        ensemble_size=2, precision=prec)
    mean, logvar = model.encode(x)
    assert mean.dtype == tf.float32 and logvar.dtype == tf.float32
    assert model.decode(mean).dtype == tf.float32
    means[prec] = mean.numpy()
  # Same float32 weights, bfloat16 rounding in the layers: close, not equal.
  diff = np.abs(means["float32"] - means["mixed_bfloat16"])
  assert 0 < diff.max() < 0.05


def _fit(data, prec, steps=3):
  """A beta_vae of ``prec`` after ``steps`` trainer steps on one batch."""
  from tfdis.training.trainer import Trainer

  x = _batch(data, 16)
  keras.utils.set_random_seed(0)
  model = build_model("beta_vae", data.observation_shape, precision=prec)
  fit = Trainer(model).fit(lambda seed: tf.data.Dataset.from_tensors(x)
                           .repeat(), steps, seed=0)
  return model, fit, x


def _rewrite_option():
  return tf.config.optimizer.get_experimental_options().get(
      precision.GRAPH_REWRITE["auto_mixed_bfloat16"], False)


def test_auto_mixed_bfloat16_rewrites_the_training_step_only(small_dsprites):
  _, fit32, x = _fit(small_dsprites, "float32")
  model_auto, fit_auto, _ = _fit(small_dsprites, "auto_mixed_bfloat16")
  # A float32 model (layers, variables); the rewrite is off again after fit.
  assert all(l.compute_dtype == "float32" for l in model_auto.encoder.layers)
  assert {v.dtype for v in model_auto.variables} <= {"float32", "int64"}
  assert _rewrite_option() is False
  assert np.isfinite(fit_auto.terms["loss"]).all()
  loss32 = float(fit32.terms["loss"])
  loss_auto = float(fit_auto.terms["loss"])
  if precision.cpu_has_native_bf16():
    # oneDNN ran the step in bfloat16: a different (close) loss.
    assert loss_auto != loss32
    assert abs(loss_auto - loss32) < 0.01 * abs(loss32)
  # Outside the scope the model runs in float32: the same weights give the
  # numbers of a plain float32 model with those weights.
  plain = build_model("beta_vae", small_dsprites.observation_shape)
  plain(x)
  plain.set_weights(model_auto.get_weights())
  np.testing.assert_array_equal(model_auto.encode(x)[0].numpy(),
                                plain.encode(x)[0].numpy())
  # And the rewrite is deterministic: the same run gives the same loss.
  _, again, _ = _fit(small_dsprites, "auto_mixed_bfloat16")
  assert float(again.terms["loss"]) == loss_auto


def test_emulated_bf16_warns_once_and_float32_never(monkeypatch):
  """The path of CPUs without native bfloat16 (this one may have it)."""
  monkeypatch.setattr(precision, "cpu_has_native_bf16", lambda: False)
  monkeypatch.setattr(precision, "_warned", False)
  precision.warn_if_emulated("float32")
  assert precision._warned is False
  for prec in ("mixed_bfloat16", "auto_mixed_bfloat16"):
    monkeypatch.setattr(precision, "_warned", False)
    precision.warn_if_emulated(prec)
    assert precision._warned is True
  # With a GPU: only the CPU-only rewrite warns (its GPU ops stay float32).
  monkeypatch.setattr(precision, "_warned", False)
  precision.warn_if_emulated("mixed_bfloat16", has_gpu=True)
  assert precision._warned is False
  precision.warn_if_emulated("auto_mixed_bfloat16", has_gpu=True)
  assert precision._warned is True


def test_graph_rewrite_scope_restores_a_caller_setting():
  option = precision.GRAPH_REWRITE["auto_mixed_bfloat16"]
  tf.config.optimizer.set_experimental_options({option: True})
  try:
    with precision.graph_rewrite_scope("auto_mixed_bfloat16"):
      assert _rewrite_option() is True
    assert _rewrite_option() is True
    with precision.graph_rewrite_scope("float32"):
      assert _rewrite_option() is True   # float32 does not switch it off
  finally:
    tf.config.optimizer.set_experimental_options({option: False})
  with precision.graph_rewrite_scope("auto_mixed_bfloat16"):
    assert _rewrite_option() is True
  assert _rewrite_option() is False


@pytest.mark.parametrize("family", precision.UNSUPPORTED_MIXED)
def test_families_without_mixed_precision_are_refused(family):
  with pytest.raises(ConfigError, match="precision='float32'"):
    TrainConfig(model=family, precision="mixed_bfloat16").validate()
  # The graph rewrite needs nothing of the networks.
  TrainConfig(model=family, precision="auto_mixed_bfloat16").validate()


def test_unknown_precision_is_refused():
  with pytest.raises(ConfigError, match=r"Unknown precision 'float16'.*"
                     "float32, mixed_bfloat16"):
    TrainConfig(precision="float16").validate()


def test_float32_default_recorded(small_dsprites):
  assert TrainConfig().precision == "float32"
  model = build_model("beta_vae", small_dsprites.observation_shape)
  assert model.model_config()["precision"] == "float32"
  assert all(l.compute_dtype == "float32" for l in model.encoder.layers)


def test_cpu_bf16_detection_reads_cpuinfo():
  native = precision.cpu_has_native_bf16()
  if not os.path.exists("/proc/cpuinfo"):
    assert native is None
    return
  with open("/proc/cpuinfo") as f:
    flags = [line for line in f if line.startswith("flags")]
  expected = bool(flags) and any(
      f in flags[0].split() for f in ("avx512_bf16", "amx_bf16"))
  assert native is expected
