"""Encoder and decoder networks (Keras 3 functional models, stable layer names).

``make_encoder(name, observation_shape, latent_dim)`` -> ``keras.Model``
images [B, H, W, C] -> (mean [B, d], logvar [B, d]);
``make_decoder(name, observation_shape, latent_dim)`` -> ``keras.Model``
latents [B, d] -> logits [B, H, W, C].

Encoders: ``conv`` (dlib ``conv_encoder``, the published models: Locatello et
al. 2019, Table 1; last two convolutions 2×2 as in dlib's code), ``conv_4x4``
(the UDR paper's Table 4, which prints 4×4 for all four convolutions), ``fc``
(dlib ``fc_encoder``) and ``conv_bn`` (Chen et al. 2018's β-TCVAE ConvEncoder
with batch norm, the rPU-VAE code's network). Decoders: ``deconv``, ``fc`` and
``deconv_bn`` (mirror of ``conv_bn``). Layer names follow dlib (e1…, d1…,
means, log_var) and never change, so checkpoints stay portable.
"""

from __future__ import annotations

from typing import Callable, Dict, Sequence, Tuple

import keras
from keras import layers

ENCODERS: Dict[str, Callable] = {}
DECODERS: Dict[str, Callable] = {}
# Shorthand ``architecture="conv"`` -> encoder/decoder pair.
ARCHITECTURE_PAIRS = {
    "conv": ("conv", "deconv"),
    "conv_4x4": ("conv_4x4", "deconv"),
    "fc": ("fc", "fc"),
    "conv_bn": ("conv_bn", "deconv_bn"),
}
DECODER_ALIASES = {"conv": "deconv", "conv_4x4": "deconv",
                   "conv_bn": "deconv_bn"}


def _register(table: Dict[str, Callable], name: str):
  def add(fn):
    table[name] = fn
    return fn
  return add


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
  if int(latent_dim) < 1:
    raise ValueError(f"latent_dim must be >= 1, got {latent_dim}")
  return int(latent_dim)


def _heads(h, latent_dim: int):
  """The two Dense(d) heads: means and log-variances (dlib names)."""
  means = layers.Dense(latent_dim, name="means")(h)
  log_var = layers.Dense(latent_dim, name="log_var")(h)
  return means, log_var


def _conv_encoder(observation_shape, latent_dim, last_kernel: int,
                  name: str) -> keras.Model:
  x = keras.Input(observation_shape, name="images")
  h = layers.Conv2D(32, 4, strides=2, activation="relu", padding="same",
                    name="e1")(x)
  h = layers.Conv2D(32, 4, strides=2, activation="relu", padding="same",
                    name="e2")(h)
  h = layers.Conv2D(64, last_kernel, strides=2, activation="relu",
                    padding="same", name="e3")(h)
  h = layers.Conv2D(64, last_kernel, strides=2, activation="relu",
                    padding="same", name="e4")(h)
  h = layers.Flatten(name="flatten")(h)
  h = layers.Dense(256, activation="relu", name="e5")(h)
  means, log_var = _heads(h, latent_dim)
  return keras.Model(x, [means, log_var], name=name)


@_register(ENCODERS, "conv")
def conv_encoder(observation_shape, latent_dim) -> keras.Model:
  """dlib ``conv_encoder``: 32-4-2, 32-4-2, 64-2-2, 64-2-2, Dense 256."""
  shape = _check_shape("conv", observation_shape)
  _require_64("encoder", "conv", shape)
  return _conv_encoder(shape, _check_latent_dim(latent_dim), 2, "encoder")


@_register(ENCODERS, "conv_4x4")
def conv_4x4_encoder(observation_shape, latent_dim) -> keras.Model:
  """The UDR paper's Table 4 variant: all four convolutions 4×4."""
  shape = _check_shape("conv_4x4", observation_shape)
  _require_64("encoder", "conv_4x4", shape)
  return _conv_encoder(shape, _check_latent_dim(latent_dim), 4, "encoder")


@_register(ENCODERS, "fc")
def fc_encoder(observation_shape, latent_dim) -> keras.Model:
  """dlib ``fc_encoder``: Dense(1200, ReLU) × 2 -> heads (any image size)."""
  shape = _check_shape("fc", observation_shape)
  latent_dim = _check_latent_dim(latent_dim)
  x = keras.Input(shape, name="images")
  h = layers.Flatten(name="flatten")(x)
  h = layers.Dense(1200, activation="relu", name="e1")(h)
  h = layers.Dense(1200, activation="relu", name="e2")(h)
  means, log_var = _heads(h, latent_dim)
  return keras.Model(x, [means, log_var], name="encoder")


@_register(ENCODERS, "conv_bn")
def conv_bn_encoder(observation_shape, latent_dim) -> keras.Model:
  """Chen et al. 2018 ConvEncoder: 4 × [Conv 4×4/2 + BN + ReLU] -> 512 -> 2d."""
  shape = _check_shape("conv_bn", observation_shape)
  _require_64("encoder", "conv_bn", shape)
  latent_dim = _check_latent_dim(latent_dim)
  x = keras.Input(shape, name="images")
  h = x
  for i, filters in enumerate((32, 32, 64, 64), start=1):
    h = layers.Conv2D(filters, 4, strides=2, padding="same", name=f"e{i}")(h)
    h = layers.BatchNormalization(name=f"e{i}_bn")(h)
    h = layers.ReLU(name=f"e{i}_relu")(h)
  h = layers.Flatten(name="flatten")(h)
  h = layers.Dense(512, name="e5")(h)
  h = layers.BatchNormalization(name="e5_bn")(h)
  h = layers.ReLU(name="e5_relu")(h)
  means, log_var = _heads(h, latent_dim)
  return keras.Model(x, [means, log_var], name="encoder")


@_register(DECODERS, "deconv")
def deconv_decoder(observation_shape, latent_dim) -> keras.Model:
  """dlib ``deconv_decoder``: 256, 1024, 4×4×64, ConvT 64/32/32/C (4×4, /2)."""
  shape = _check_shape("deconv", observation_shape)
  _require_64("decoder", "deconv", shape)
  z = keras.Input((_check_latent_dim(latent_dim),), name="latents")
  h = layers.Dense(256, activation="relu", name="d1")(z)
  h = layers.Dense(1024, activation="relu", name="d2")(h)
  h = layers.Reshape((4, 4, 64), name="reshape")(h)
  h = layers.Conv2DTranspose(64, 4, strides=2, activation="relu",
                             padding="same", name="d3")(h)
  h = layers.Conv2DTranspose(32, 4, strides=2, activation="relu",
                             padding="same", name="d4")(h)
  h = layers.Conv2DTranspose(32, 4, strides=2, activation="relu",
                             padding="same", name="d5")(h)
  logits = layers.Conv2DTranspose(shape[2], 4, strides=2, padding="same",
                                  name="d6")(h)
  return keras.Model(z, logits, name="decoder")


@_register(DECODERS, "fc")
def fc_decoder(observation_shape, latent_dim) -> keras.Model:
  """dlib ``fc_decoder``: Dense(1200, tanh) × 3 -> Dense(H·W·C) -> reshape."""
  shape = _check_shape("fc", observation_shape)
  z = keras.Input((_check_latent_dim(latent_dim),), name="latents")
  h = z
  for i in (1, 2, 3):
    h = layers.Dense(1200, activation="tanh", name=f"d{i}")(h)
  h = layers.Dense(shape[0] * shape[1] * shape[2], name="d4")(h)
  logits = layers.Reshape(shape, name="reshape")(h)
  return keras.Model(z, logits, name="decoder")


@_register(DECODERS, "deconv_bn")
def deconv_bn_decoder(observation_shape, latent_dim) -> keras.Model:
  """Mirror of ``conv_bn`` (Chen et al. 2018 ConvDecoder, with BN + ReLU)."""
  shape = _check_shape("deconv_bn", observation_shape)
  _require_64("decoder", "deconv_bn", shape)
  z = keras.Input((_check_latent_dim(latent_dim),), name="latents")
  h = layers.Dense(512, name="d1")(z)
  h = layers.BatchNormalization(name="d1_bn")(h)
  h = layers.ReLU(name="d1_relu")(h)
  h = layers.Dense(4 * 4 * 64, name="d2")(h)
  h = layers.BatchNormalization(name="d2_bn")(h)
  h = layers.ReLU(name="d2_relu")(h)
  h = layers.Reshape((4, 4, 64), name="reshape")(h)
  for i, filters in zip((3, 4, 5), (64, 32, 32)):
    h = layers.Conv2DTranspose(filters, 4, strides=2, padding="same",
                               name=f"d{i}")(h)
    h = layers.BatchNormalization(name=f"d{i}_bn")(h)
    h = layers.ReLU(name=f"d{i}_relu")(h)
  logits = layers.Conv2DTranspose(shape[2], 4, strides=2, padding="same",
                                  name="d6")(h)
  return keras.Model(z, logits, name="decoder")


def make_discriminator(latent_dim: int, num_layers: int = 6,
                       units: int = 1000) -> keras.Model:
  """FactorVAE discriminator (Kim & Mnih 2018, App.): 6 × Dense(1000,
  leaky ReLU) -> 2 logits (dlib ``fc_discriminator``, leaky slope 0.2)."""
  z = keras.Input((_check_latent_dim(latent_dim),), name="latents")
  h = z
  for i in range(1, num_layers + 1):
    h = layers.Dense(units, name=f"discriminator_{i}")(h)
    h = layers.LeakyReLU(negative_slope=0.2, name=f"discriminator_{i}_lrelu")(h)
  logits = layers.Dense(2, name="discriminator_logits")(h)
  return keras.Model(z, logits, name="discriminator")


def make_encoder(name: str, observation_shape: Sequence[int],
                 latent_dim: int) -> keras.Model:
  """Encoder ``name`` (conv, conv_4x4, fc, conv_bn): images -> (mean, logvar)."""
  if name not in ENCODERS:
    raise ValueError(f"Unknown encoder {name!r}; known encoders: "
                     f"{sorted(ENCODERS)}")
  return ENCODERS[name](observation_shape, latent_dim)


def make_decoder(name: str, observation_shape: Sequence[int],
                 latent_dim: int) -> keras.Model:
  """Decoder ``name`` (deconv, fc, deconv_bn): latents -> logits.

  Encoder names are accepted as aliases of their mirror (conv -> deconv).
  The output shape always equals ``observation_shape``.
  """
  name = DECODER_ALIASES.get(name, name)
  if name not in DECODERS:
    raise ValueError(f"Unknown decoder {name!r}; known decoders: "
                     f"{sorted(DECODERS)}")
  model = DECODERS[name](observation_shape, latent_dim)
  out = tuple(model.output.shape[1:])
  if out != tuple(int(s) for s in observation_shape):
    raise ValueError(f"decoder {name!r} produces {out}, expected "
                     f"{tuple(observation_shape)}")
  return model


def resolve_architecture(architecture) -> Dict[str, str]:
  """'conv' | {'encoder': ..., 'decoder': ...} -> {'encoder', 'decoder'}."""
  if architecture is None:
    architecture = "conv"
  if isinstance(architecture, str):
    if architecture not in ARCHITECTURE_PAIRS:
      raise ValueError(
          f"Unknown architecture {architecture!r}; known: "
          f"{sorted(ARCHITECTURE_PAIRS)} (or a dict with 'encoder' and "
          f"'decoder' among encoders {sorted(ENCODERS)} and decoders "
          f"{sorted(DECODERS)})")
    enc, dec = ARCHITECTURE_PAIRS[architecture]
    return {"encoder": enc, "decoder": dec}
  if isinstance(architecture, dict):
    unknown = set(architecture) - {"encoder", "decoder"}
    if unknown or "encoder" not in architecture:
      raise ValueError("architecture dict needs keys 'encoder' (and "
                       f"optionally 'decoder'), got {sorted(architecture)}")
    enc = architecture["encoder"]
    if enc not in ENCODERS:
      raise ValueError(f"Unknown encoder {enc!r}; known encoders: "
                       f"{sorted(ENCODERS)}")
    dec = architecture.get("decoder") or DECODER_ALIASES.get(enc, enc)
    dec = DECODER_ALIASES.get(dec, dec)
    if dec not in DECODERS:
      raise ValueError(f"Unknown decoder {dec!r}; known decoders: "
                       f"{sorted(DECODERS)}")
    return {"encoder": enc, "decoder": dec}
  raise TypeError(f"architecture must be a name or a dict, got "
                  f"{type(architecture).__name__}")


def check_architecture(architecture, observation_shape) -> Dict[str, str]:
  """Resolves and checks that both networks support ``observation_shape``
  without building them (for early flag validation)."""
  arch = resolve_architecture(architecture)
  shape = _check_shape(arch["encoder"], observation_shape)
  if arch["encoder"] != "fc":
    _require_64("encoder", arch["encoder"], shape)
  if arch["decoder"] != "fc":
    _require_64("decoder", arch["decoder"], shape)
  return arch
