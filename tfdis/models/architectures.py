"""The one architecture table: every encoder and decoder as a list of ops.

Each network is described once, as data (:class:`Op` lists); two builders
read the same table:

* :func:`make_encoder` / :func:`make_decoder` turn it into Keras 3 functional
  models (one VAE);
* :class:`tfdis.models.ensemble.EnsembleNetwork` turns it into K networks in
  block-diagonal form (the PBT-U-VAE member, one computation for K VAEs).

Encoders: ``conv`` (dlib ``conv_encoder``, the published models: Locatello et
al. 2019, Table 1; last two convolutions 2×2 as in dlib's code), ``conv_4x4``
(the UDR paper's Table 4, which prints 4×4 for all four), ``fc`` (dlib
``fc_encoder``) and ``conv_bn`` (Chen et al. 2018's all-convolutional
``ConvEncoder`` of ``beta-tcvae/vae_quant.py``, the network of the rPU-VAE
code). Decoders: ``deconv``, ``fc`` and ``deconv_bn`` (Chen's ``ConvDecoder``).
Layer names (e1…, d1…, means, log_var) never change, so checkpoints written
by earlier versions restore (tests/test_golden_artifacts.py).

``conv_bn`` follows the PyTorch network exactly: BatchNorm with PyTorch
semantics (:class:`TorchBatchNorm`), Conv 4×4 stride 2 "pad 1" (= Keras
``same`` on even sizes), a 4×4 valid conv to 1×1×512, a 1×1 conv to 2d
channels read as (μ, log σ) pairs per latent (Chen's ``view(B, d, 2)``), so
log-variance = 2·log σ; the decoder sees the latents as a 1×1×d image.
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import keras
import tensorflow as tf
from keras import layers

from tfdis.checks import check_count
from tfdis.models import precision
from tfdis.registry import UnknownNameError, check_choice, choice_message

# PyTorch BatchNorm2d defaults: momentum 0.1 (Keras: 0.9), eps 1e-5.
TORCH_BN_MOMENTUM = 0.9
TORCH_BN_EPSILON = 1e-5


@dataclasses.dataclass(frozen=True)
class Op:
  """One layer of a network.

  kind: ``conv`` | ``conv_t`` | ``dense`` | ``bn`` | ``flatten`` |
  ``reshape`` | ``heads`` (two Dense(d) heads: means, log_var) |
  ``conv_head`` (one conv with 2d channels read as (μ, log σ) pairs).
  """

  kind: str
  name: str = ""
  units: int = 0              # filters / units (conv_head: 2·d)
  kernel: int = 0
  stride: int = 1
  padding: str = "same"
  activation: Optional[str] = None
  shape: Tuple[int, ...] = ()   # reshape target


def _conv(name, filters, kernel, stride=2, padding="same", activation=None):
  return Op("conv", name, filters, kernel, stride, padding, activation)


def _conv_t(name, filters, kernel, stride=2, padding="same", activation=None):
  return Op("conv_t", name, filters, kernel, stride, padding, activation)


def _dense(name, units, activation=None):
  return Op("dense", name, units, activation=activation)


def _bn(name):
  return Op("bn", name, activation="relu")


def _check_shape(name: str, observation_shape: Sequence[int]
                 ) -> Tuple[int, int, int]:
  shape = tuple(int(s) for s in observation_shape)
  if len(shape) != 3 or min(shape) < 1:
    raise ValueError(f"observation_shape must be (height, width, channels) "
                     f"with positive sizes, got {observation_shape!r}")
  return shape


def _require_64(kind: str, name: str, shape: Tuple[int, int, int]) -> None:
  if shape[:2] != (64, 64):
    raise ValueError(
        f"The {name!r} {kind} needs 64×64 images (four stride-2 layers between "
        f"64×64 and 4×4), but the observation shape is {shape}. Use the 'fc' "
        "architecture for other image sizes, or resize the dataset.")


def _check_latent_dim(latent_dim: int) -> int:
  return check_count("latent_dim", latent_dim)


# --------------------------------------------------------------------------
# The table
# --------------------------------------------------------------------------
def _conv_encoder_ops(shape, d, last_kernel):
  return [_conv("e1", 32, 4, activation="relu"),
          _conv("e2", 32, 4, activation="relu"),
          _conv("e3", 64, last_kernel, activation="relu"),
          _conv("e4", 64, last_kernel, activation="relu"),
          Op("flatten", "flatten"), _dense("e5", 256, "relu"),
          Op("heads", units=d)]


def _fc_encoder_ops(shape, d):
  return [Op("flatten", "flatten"), _dense("e1", 1200, "relu"),
          _dense("e2", 1200, "relu"), Op("heads", units=d)]


def _conv_bn_encoder_ops(shape, d):
  ops = []
  for i, filters in enumerate((32, 32, 64, 64), start=1):
    ops += [_conv(f"e{i}", filters, 4), _bn(f"e{i}_bn")]
  ops += [_conv("e5", 512, 4, stride=1, padding="valid"), _bn("e5_bn"),
          Op("conv_head", "e6", 2 * d, 1, 1, "valid")]
  return ops


def _deconv_decoder_ops(shape, d):
  return [_dense("d1", 256, "relu"), _dense("d2", 1024, "relu"),
          Op("reshape", "reshape", shape=(4, 4, 64)),
          _conv_t("d3", 64, 4, activation="relu"),
          _conv_t("d4", 32, 4, activation="relu"),
          _conv_t("d5", 32, 4, activation="relu"),
          _conv_t("d6", shape[2], 4)]


def _fc_decoder_ops(shape, d):
  return [_dense("d1", 1200, "tanh"), _dense("d2", 1200, "tanh"),
          _dense("d3", 1200, "tanh"), _dense("d4", shape[0] * shape[1] *
                                             shape[2]),
          Op("reshape", "reshape", shape=tuple(shape))]


def _deconv_bn_decoder_ops(shape, d):
  ops = [Op("reshape", "reshape", shape=(1, 1, d)),
         _conv_t("d1", 512, 1, stride=1, padding="valid"), _bn("d1_bn"),
         _conv_t("d2", 64, 4, stride=1, padding="valid"), _bn("d2_bn")]
  for i, filters in zip((3, 4, 5), (64, 32, 32)):
    ops += [_conv_t(f"d{i}", filters, 4), _bn(f"d{i}_bn")]
  return ops + [_conv_t("d6", shape[2], 4)]


# name -> (ops(shape, d), needs 64×64 images)
ENCODERS: Dict[str, Tuple[Callable, bool]] = {
    "conv": (lambda s, d: _conv_encoder_ops(s, d, 2), True),
    "conv_4x4": (lambda s, d: _conv_encoder_ops(s, d, 4), True),
    "fc": (_fc_encoder_ops, False),
    "conv_bn": (_conv_bn_encoder_ops, True),
}
DECODERS: Dict[str, Tuple[Callable, bool]] = {
    "deconv": (_deconv_decoder_ops, True),
    "fc": (_fc_decoder_ops, False),
    "deconv_bn": (_deconv_bn_decoder_ops, True),
}
# Shorthand ``architecture="conv"`` -> encoder/decoder pair.
ARCHITECTURE_PAIRS = {
    "conv": ("conv", "deconv"),
    "conv_4x4": ("conv_4x4", "deconv"),
    "fc": ("fc", "fc"),
    "conv_bn": ("conv_bn", "deconv_bn"),
}
DECODER_ALIASES = {"conv": "deconv", "conv_4x4": "deconv",
                   "conv_bn": "deconv_bn"}


def encoder_ops(name: str, observation_shape, latent_dim: int) -> List[Op]:
  check_choice("encoder", name, sorted(ENCODERS))
  fn, needs_64 = ENCODERS[name]
  shape = _check_shape(name, observation_shape)
  if needs_64:
    _require_64("encoder", name, shape)
  return fn(shape, _check_latent_dim(latent_dim))


def decoder_ops(name: str, observation_shape, latent_dim: int) -> List[Op]:
  name = DECODER_ALIASES.get(name, name)
  check_choice("decoder", name, sorted(DECODERS))
  fn, needs_64 = DECODERS[name]
  shape = _check_shape(name, observation_shape)
  if needs_64:
    _require_64("decoder", name, shape)
  return fn(shape, _check_latent_dim(latent_dim))


# --------------------------------------------------------------------------
# PyTorch-semantics batch norm (shared by the Keras and the ensemble builder)
# --------------------------------------------------------------------------
def torch_batch_norm(x, gamma, beta, moving_mean, moving_variance, axes,
                     training: bool):
  """BatchNorm as PyTorch's: normalise with the biased batch variance, update
  the running variance with the unbiased one (n/(n−1)), momentum 0.1."""
  if training:
    mean, var = tf.nn.moments(x, axes=axes)
    n = tf.cast(tf.reduce_prod([tf.shape(x)[a] for a in axes]), x.dtype)
    unbiased = var * n / tf.maximum(n - 1.0, 1.0)
    moving_mean.assign(moving_mean * TORCH_BN_MOMENTUM +
                       mean * (1.0 - TORCH_BN_MOMENTUM))
    moving_variance.assign(moving_variance * TORCH_BN_MOMENTUM +
                           unbiased * (1.0 - TORCH_BN_MOMENTUM))
  else:
    mean, var = moving_mean, moving_variance
  return tf.nn.batch_normalization(x, mean, var, beta, gamma,
                                   TORCH_BN_EPSILON)


class TorchBatchNorm(layers.Layer):
  """Per-channel BatchNorm with PyTorch semantics (see torch_batch_norm)."""

  def build(self, input_shape):
    n = int(input_shape[-1])
    self.gamma = self.add_weight(name="gamma", shape=(n,),
                                 initializer="ones")
    self.beta = self.add_weight(name="beta", shape=(n,), initializer="zeros")
    self.moving_mean = self.add_weight(
        name="moving_mean", shape=(n,), initializer="zeros", trainable=False,
        aggregation="mean")
    self.moving_variance = self.add_weight(
        name="moving_variance", shape=(n,), initializer="ones",
        trainable=False, aggregation="mean")

  def call(self, x, training=False):
    axes = list(range(len(x.shape) - 1))
    return torch_batch_norm(x, self.gamma, self.beta, self.moving_mean,
                            self.moving_variance, axes, bool(training))


def split_conv_head(h, latent_dim: int):
  """[..., 2d] channels as (μ, log σ) pairs per latent -> (μ, log σ²)."""
  pairs = tf.reshape(h, [-1, latent_dim, 2])
  return pairs[..., 0], 2.0 * pairs[..., 1]


# --------------------------------------------------------------------------
# Keras builder (one VAE)
# --------------------------------------------------------------------------
def _keras_layer(op: Op, dtype=None):
  if op.kind == "conv":
    return layers.Conv2D(op.units, op.kernel, strides=op.stride,
                         padding=op.padding, activation=op.activation,
                         name=op.name, dtype=dtype)
  if op.kind == "conv_t":
    return layers.Conv2DTranspose(op.units, op.kernel, strides=op.stride,
                                  padding=op.padding,
                                  activation=op.activation, name=op.name,
                                  dtype=dtype)
  if op.kind == "dense":
    return layers.Dense(op.units, activation=op.activation, name=op.name,
                        dtype=dtype)
  if op.kind == "flatten":
    return layers.Flatten(name=op.name, dtype=dtype)
  if op.kind == "reshape":
    return layers.Reshape(op.shape, name=op.name, dtype=dtype)
  raise ValueError(f"op {op.kind!r} has no single Keras layer")


def output_op_index(ops: Sequence[Op]) -> int:
  """Index of the last weighted op: it and what follows make a network's
  output, which mixed precision keeps in float32."""
  return max(i for i, op in enumerate(ops)
             if op.kind in ("conv", "conv_t", "dense", "heads", "conv_head"))


def build_network(ops: Sequence[Op], input_shape, name: str,
                  input_name: str) -> keras.Model:
  """A Keras functional model from an op list (layer names from the ops).

  Layers take Keras' dtype policy (``tfdis.models.precision``), except the
  output layers and BatchNorm, which always compute in float32 (mixed
  precision keeps statistics, outputs and losses in float32)."""
  f32 = precision.OUTPUT_DTYPE
  last = output_op_index(ops)
  x = keras.Input(tuple(input_shape), name=input_name)
  h = x
  outputs = None
  for i, op in enumerate(ops):
    if op.kind == "bn":
      h = TorchBatchNorm(name=op.name, dtype=f32)(h)
      h = layers.ReLU(name=f"{op.name}_relu")(h)
    elif op.kind == "heads":
      outputs = [layers.Dense(op.units, name="means", dtype=f32)(h),
                 layers.Dense(op.units, name="log_var", dtype=f32)(h)]
    elif op.kind == "conv_head":
      h = layers.Conv2D(op.units, op.kernel, padding=op.padding,
                        name=op.name, dtype=f32)(h)
      d = op.units // 2
      outputs = list(layers.Lambda(lambda t: split_conv_head(t, d),
                                   name="gaussian_params", dtype=f32)(h))
    else:
      h = _keras_layer(op, f32 if i >= last else None)(h)
  return keras.Model(x, outputs if outputs is not None else h, name=name)


def make_encoder(name: str, observation_shape: Sequence[int],
                 latent_dim: int) -> keras.Model:
  """Encoder ``name``: images [B, H, W, C] -> (mean [B, d], logvar [B, d])."""
  ops = encoder_ops(name, observation_shape, latent_dim)
  return build_network(ops, tuple(observation_shape), "encoder", "images")


def make_decoder(name: str, observation_shape: Sequence[int],
                 latent_dim: int) -> keras.Model:
  """Decoder ``name`` (deconv, fc, deconv_bn; encoder names are aliases of
  their mirror): latents [B, d] -> logits [B, H, W, C]."""
  ops = decoder_ops(name, observation_shape, latent_dim)
  model = build_network(ops, (int(latent_dim),), "decoder", "latents")
  out = tuple(model.output.shape[1:])
  if out != tuple(int(s) for s in observation_shape):
    raise ValueError(f"decoder {name!r} produces {out}, expected "
                     f"{tuple(observation_shape)}")
  return model


def make_discriminator(latent_dim: int, num_layers: int = 6,
                       units: int = 1000) -> keras.Model:
  """FactorVAE discriminator (Kim & Mnih 2018, App.): 6 × Dense(1000,
  leaky ReLU) -> 2 logits (dlib ``fc_discriminator``, leaky slope 0.2)."""
  z = keras.Input((_check_latent_dim(latent_dim),), name="latents")
  h = z
  for i in range(1, num_layers + 1):
    h = layers.Dense(units, name=f"discriminator_{i}")(h)
    h = layers.LeakyReLU(negative_slope=0.2, name=f"discriminator_{i}_lrelu")(h)
  logits = layers.Dense(2, name="discriminator_logits",
                        dtype=precision.OUTPUT_DTYPE)(h)
  return keras.Model(z, logits, name="discriminator")


# --------------------------------------------------------------------------
# Names
# --------------------------------------------------------------------------
def resolve_architecture(architecture) -> Dict[str, str]:
  """'conv' | {'encoder': ..., 'decoder': ...} -> {'encoder', 'decoder'}."""
  if architecture is None:
    architecture = "conv"
  if isinstance(architecture, str):
    if architecture not in ARCHITECTURE_PAIRS:
      # The registry's wording, plus the other form an architecture can take.
      raise UnknownNameError(
          choice_message("architecture", architecture,
                         sorted(ARCHITECTURE_PAIRS)) +
          f" Or a dict with 'encoder' and 'decoder' among encoders "
          f"{sorted(ENCODERS)} and decoders {sorted(DECODERS)}.")
    enc, dec = ARCHITECTURE_PAIRS[architecture]
    return {"encoder": enc, "decoder": dec}
  if isinstance(architecture, dict):
    unknown = set(architecture) - {"encoder", "decoder"}
    if unknown or "encoder" not in architecture:
      raise ValueError("architecture dict needs keys 'encoder' (and "
                       f"optionally 'decoder'), got {sorted(architecture)}")
    enc = architecture["encoder"]
    check_choice("encoder", enc, sorted(ENCODERS))
    dec = architecture.get("decoder") or DECODER_ALIASES.get(enc, enc)
    dec = DECODER_ALIASES.get(dec, dec)
    check_choice("decoder", dec, sorted(DECODERS))
    return {"encoder": enc, "decoder": dec}
  raise TypeError(f"architecture must be a name or a dict, got "
                  f"{type(architecture).__name__}")


def check_architecture(architecture, observation_shape) -> Dict[str, str]:
  """Resolves and checks that both networks support ``observation_shape``
  without building them (for early validation)."""
  arch = resolve_architecture(architecture)
  encoder_ops(arch["encoder"], observation_shape, 1)
  decoder_ops(arch["decoder"], observation_shape, 1)
  return arch
