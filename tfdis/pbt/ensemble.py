"""K VAEs as ONE batched computation (the PBT-U-VAE member, paper 003).

A PBT-U-VAE member is K = 5 VAEs with the same hyperparameters, initialised
independently and trained on the same minibatches, each loss back-propagated
to its own VAE. Instead of a Python loop over K models, the K networks are
stacked into one network whose every layer is block-diagonal:

* spatial tensors are [B, H, W, K·c] (model k owns channels k·c … (k+1)·c−1);
  the first convolution (shared input) is an ordinary Conv2D with K·c filters,
  the others grouped convolutions (``tf.nn.conv2d`` with ``groups = K``,
  inferred from the kernel's input depth); transposed convolutions are
  grouped ``tf.nn.conv2d_transpose`` (filter [kh, kw, c_out, K·c_in]). Both
  run on CPU (oneDNN) and GPU (cuDNN) in TF 2.21 and match Keras'
  Conv2D/Conv2DTranspose exactly (tests/test_pbt_ensemble.py);
* flat tensors are [B, K, n] and Dense layers are einsums with [K, in, out]
  kernels; BatchNorm normalises per (model, channel) — exactly K independent
  BatchNorm layers;
* Flatten/Reshape transpose between the two layouts so model k sees its
  features in the row-major (h, w, c) order of a standalone Keras model.

The layers mirror ``tfdis.models.architectures`` (conv, conv_4x4, fc,
conv_bn and their decoders) name by name, so :meth:`EnsembleVAE.pack` loads
K standalone networks into the ensemble and :meth:`EnsembleVAE.unpack` puts
model k back into a regular tfdis model (``template``) that the normal
exporter writes as a SavedModel. Initialisation packs K freshly built
standalone networks (different seeds), so each VAE starts from exactly the
distribution of a standalone model.

Losses: the family's own ``regularizer`` (``template.regularizer``) runs per
model through ``tf.vectorized_map`` (vectorised, not a loop); the total loss
is the sum of the K losses, whose gradient w.r.t. model k's weights is the
gradient of model k's loss. Adam is elementwise, so one Adam over the stacked
weights is K independent Adams with the same learning rate.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Tuple

import keras
import numpy as np
import tensorflow as tf

from tfdis.models import architectures, build_model, losses
from tfdis.models.base import ADAM_DEFAULTS

BN_MOMENTUM = 0.99   # keras.layers.BatchNormalization defaults
BN_EPSILON = 1e-3


def _layer_specs(encoder: str, decoder: str, shape, latent_dim: int
                 ) -> Tuple[List[tuple], List[tuple]]:
  """(encoder ops, decoder ops) mirroring tfdis.models.architectures."""
  h, w, c = shape
  enc: List[tuple] = []
  if encoder in ("conv", "conv_4x4"):
    last = 2 if encoder == "conv" else 4
    for name, filters, kernel in (("e1", 32, 4), ("e2", 32, 4),
                                  ("e3", 64, last), ("e4", 64, last)):
      enc += [("conv", name, filters, kernel), ("relu",)]
    enc += [("flatten",), ("dense", "e5", 256), ("relu",)]
  elif encoder == "conv_bn":
    for i, filters in enumerate((32, 32, 64, 64), start=1):
      enc += [("conv", f"e{i}", filters, 4), ("bn", f"e{i}_bn"), ("relu",)]
    enc += [("flatten",), ("dense", "e5", 512), ("bn", "e5_bn"), ("relu",)]
  elif encoder == "fc":
    enc += [("flatten",), ("dense", "e1", 1200), ("relu",),
            ("dense", "e2", 1200), ("relu",)]
  else:
    raise ValueError(f"no vectorised version of encoder {encoder!r}")
  dec: List[tuple] = []
  if decoder == "deconv":
    dec += [("dense", "d1", 256), ("relu",), ("dense", "d2", 1024), ("relu",),
            ("reshape", (4, 4, 64))]
    for name, filters in (("d3", 64), ("d4", 32), ("d5", 32)):
      dec += [("convT", name, filters, 4), ("relu",)]
    dec += [("convT", "d6", c, 4)]
  elif decoder == "deconv_bn":
    dec += [("dense", "d1", 512), ("bn", "d1_bn"), ("relu",),
            ("dense", "d2", 1024), ("bn", "d2_bn"), ("relu",),
            ("reshape", (4, 4, 64))]
    for name, filters in (("d3", 64), ("d4", 32), ("d5", 32)):
      dec += [("convT", name, filters, 4), ("bn", f"{name}_bn"), ("relu",)]
    dec += [("convT", "d6", c, 4)]
  elif decoder == "fc":
    for i in (1, 2, 3):
      dec += [("dense", f"d{i}", 1200), ("tanh",)]
    dec += [("dense", "d4", h * w * c), ("reshape", (h, w, c))]
  else:
    raise ValueError(f"no vectorised version of decoder {decoder!r}")
  return enc, dec


class EnsembleNetwork(keras.layers.Layer):
  """K encoder/decoder pairs in block-diagonal form (see module docstring).

  Weights are created eagerly from shape inference of the op list; names
  follow the standalone layers (``e1/kernel`` …).
  """

  def __init__(self, num_models: int, observation_shape, latent_dim: int,
               architecture, name: str = "ensemble"):
    super().__init__(name=name)
    self.num_models = int(num_models)
    self.observation_shape = tuple(int(s) for s in observation_shape)
    self.latent_dim = int(latent_dim)
    self.architecture = architectures.check_architecture(
        architecture, self.observation_shape)
    enc, dec = _layer_specs(self.architecture["encoder"],
                            self.architecture["decoder"],
                            self.observation_shape, self.latent_dim)
    self.encoder_ops = enc
    self.decoder_ops = dec
    self.params: Dict[str, Dict[str, Any]] = {}
    k = self.num_models
    # Shape inference: ("spatial", (h, w, c_per_model)) or ("flat", n).
    state = ("spatial", self.observation_shape)
    shared = True
    for ops in (enc, "heads", dec):
      if ops == "heads":
        self._dense("means", state[1], self.latent_dim)
        self._dense("log_var", state[1], self.latent_dim)
        state, shared = ("flat", self.latent_dim), False
        continue
      for op in ops:
        kind = op[0]
        if kind == "conv":
          _, name, filters, kernel = op
          hh, ww, cin = state[1]
          self._add(name, "kernel", (kernel, kernel, cin, k * filters))
          self._add(name, "bias", (k * filters,))
          state, shared = ("spatial", ((hh + 1) // 2, (ww + 1) // 2,
                                       filters)), False
        elif kind == "convT":
          _, name, filters, kernel = op
          hh, ww, cin = state[1]
          self._add(name, "kernel", (kernel, kernel, filters, k * cin))
          self._add(name, "bias", (k * filters,))
          state = ("spatial", (2 * hh, 2 * ww, filters))
        elif kind == "dense":
          _, name, units = op
          self._dense(name, state[1], units, shared)
          state, shared = ("flat", units), False
        elif kind == "bn":
          n = state[1][2] if state[0] == "spatial" else state[1]
          shp = (k * n,) if state[0] == "spatial" else (k, n)
          for w_name, init in (("gamma", "ones"), ("beta", "zeros"),
                               ("moving_mean", "zeros"),
                               ("moving_variance", "ones")):
            self._add(op[1], w_name, shp, init,
                      trainable=w_name in ("gamma", "beta"))
        elif kind == "flatten":
          s = state[1]
          state = ("flat", int(np.prod(s)))
        elif kind == "reshape":
          state = ("spatial", tuple(op[1]))
    self.built = True

  def _add(self, layer: str, weight: str, shape, initializer="zeros",
           trainable: bool = True):
    var = self.add_weight(name=f"{layer}_{weight}", shape=tuple(shape),
                          initializer=initializer, trainable=trainable)
    self.params.setdefault(layer, {})[weight] = var

  def _dense(self, name, n_in, units, shared=False):
    self._add(name, "kernel", (self.num_models, n_in, units))
    self._add(name, "bias", (self.num_models, units))

  # ---- forward --------------------------------------------------------------
  def _run(self, ops, x, layout: str, training: bool):
    k = self.num_models
    for op in ops:
      kind = op[0]
      if kind == "conv":
        p = self.params[op[1]]
        x = tf.nn.conv2d(x, p["kernel"], strides=2, padding="SAME")
        x = tf.nn.bias_add(x, p["bias"])
      elif kind == "convT":
        p = self.params[op[1]]
        b, hh, ww = tf.shape(x)[0], x.shape[1], x.shape[2]
        out = int(p["bias"].shape[0])
        x = tf.nn.conv2d_transpose(x, p["kernel"],
                                   tf.stack([b, 2 * hh, 2 * ww, out]),
                                   strides=2, padding="SAME")
        x = tf.nn.bias_add(x, p["bias"])
      elif kind == "dense":
        p = self.params[op[1]]
        eq = "bi,kio->bko" if layout == "shared_flat" else "bki,kio->bko"
        x = tf.einsum(eq, x, p["kernel"]) + p["bias"][None]
        layout = "flat"
      elif kind == "bn":
        x = self._batch_norm(self.params[op[1]], x, layout, training)
      elif kind == "relu":
        x = tf.nn.relu(x)
      elif kind == "tanh":
        x = tf.tanh(x)
      elif kind == "flatten":
        if layout == "shared":
          x = tf.reshape(x, [tf.shape(x)[0], -1])
          layout = "shared_flat"
        else:
          hh, ww, kc = x.shape[1], x.shape[2], x.shape[3]
          x = tf.reshape(x, [-1, hh, ww, k, kc // k])
          x = tf.transpose(x, [0, 3, 1, 2, 4])
          x = tf.reshape(x, [-1, k, hh * ww * (kc // k)])
          layout = "flat"
      elif kind == "reshape":
        hh, ww, c = op[1]
        x = tf.reshape(x, [-1, k, hh, ww, c])
        x = tf.transpose(x, [0, 2, 3, 1, 4])
        x = tf.reshape(x, [-1, hh, ww, k * c])
        layout = "spatial"
      if kind == "conv":
        layout = "spatial"
    return x, layout

  def _batch_norm(self, p, x, layout, training):
    axes = [0, 1, 2] if layout == "spatial" else [0]
    if training:
      mean, var = tf.nn.moments(x, axes=axes)
      p["moving_mean"].assign(p["moving_mean"] * BN_MOMENTUM +
                              mean * (1.0 - BN_MOMENTUM))
      p["moving_variance"].assign(p["moving_variance"] * BN_MOMENTUM +
                                  var * (1.0 - BN_MOMENTUM))
    else:
      mean, var = p["moving_mean"], p["moving_variance"]
    return tf.nn.batch_normalization(x, mean, var, p["beta"], p["gamma"],
                                     BN_EPSILON)

  def encode(self, images, training: bool = False):
    """images [B, H, W, C] -> (mean, logvar), each [B, K, d]."""
    h, layout = self._run(self.encoder_ops, images, "shared", training)
    if layout != "flat":
      raise AssertionError("encoder must end flat")
    means = tf.einsum("bki,kio->bko", h, self.params["means"]["kernel"]) + \
        self.params["means"]["bias"][None]
    logvar = tf.einsum("bki,kio->bko", h, self.params["log_var"]["kernel"]) \
        + self.params["log_var"]["bias"][None]
    return means, logvar

  def decode(self, latents, training: bool = False):
    """latents [B, K, d] -> logits [K, B, H, W, C] (model-major)."""
    x, layout = self._run(self.decoder_ops, latents, "flat", training)
    k = self.num_models
    h, w, c = self.observation_shape
    if layout == "spatial":
      x = tf.reshape(x, [-1, h, w, k, c])
      return tf.transpose(x, [3, 0, 1, 2, 4])
    raise AssertionError("decoder must end spatial")

  # ---- weights <-> standalone models -----------------------------------------
  def _layer_kinds(self):
    kinds = {}
    for op in self.encoder_ops + self.decoder_ops:
      if op[0] in ("conv", "convT", "dense", "bn"):
        kinds[op[1]] = op[0]
    kinds["means"] = kinds["log_var"] = "dense"
    return kinds

  def _is_spatial_bn(self, name: str) -> bool:
    return len(self.params[name]["gamma"].shape) == 1

  def pack(self, encoders: Sequence[keras.Model],
           decoders: Sequence[keras.Model]) -> None:
    """Loads K standalone (tfdis.models.architectures) networks."""
    if len(encoders) != self.num_models or len(decoders) != self.num_models:
      raise ValueError(f"pack needs {self.num_models} encoders and decoders")
    for name, kind in self._layer_kinds().items():
      src = [(e if name.startswith(("e", "means", "log_var")) else d
              ).get_layer(name) for e, d in zip(encoders, decoders)]
      p = self.params[name]
      if kind in ("conv", "convT"):
        p["kernel"].assign(np.concatenate(
            [np.asarray(s.kernel.numpy()) for s in src], axis=-1))
        p["bias"].assign(np.concatenate([s.bias.numpy() for s in src]))
      elif kind == "dense":
        p["kernel"].assign(np.stack([s.kernel.numpy() for s in src]))
        p["bias"].assign(np.stack([s.bias.numpy() for s in src]))
      else:
        join = np.concatenate if self._is_spatial_bn(name) else np.stack
        for w in ("gamma", "beta", "moving_mean", "moving_variance"):
          p[w].assign(join([getattr(s, w).numpy() for s in src]))

  def unpack(self, k: int, encoder: keras.Model, decoder: keras.Model
             ) -> None:
    """Writes model k's weights into standalone networks."""
    if not 0 <= k < self.num_models:
      raise ValueError(f"model index {k} outside [0, {self.num_models})")
    for name, kind in self._layer_kinds().items():
      dst = (encoder if name.startswith(("e", "means", "log_var"))
             else decoder).get_layer(name)
      p = self.params[name]
      if kind in ("conv", "convT"):
        kern = p["kernel"].numpy()
        n = kern.shape[-1] // self.num_models
        bias = p["bias"].numpy()
        m = bias.shape[0] // self.num_models
        dst.kernel.assign(kern[..., k * n:(k + 1) * n])
        dst.bias.assign(bias[k * m:(k + 1) * m])
      elif kind == "dense":
        dst.kernel.assign(p["kernel"].numpy()[k])
        dst.bias.assign(p["bias"].numpy()[k])
      else:
        for w in ("gamma", "beta", "moving_mean", "moving_variance"):
          v = p[w].numpy()
          if self._is_spatial_bn(name):
            n = v.shape[0] // self.num_models
            v = v[k * n:(k + 1) * n]
          else:
            v = v[k]
          getattr(dst, w).assign(v)


class EnsembleVAE:
  """K VAEs of one family trained as one computation (see module docstring).

  Exposes the parts of the GaussianVAE API the PBT worker uses:
  ``set_hyperparameters``, ``set_learning_rate``, ``hyperparameters()``,
  ``step``, ``rng``, ``checkpoint_objects()``, ``train_step`` and
  ``encode`` (here [B, K, d]).
  """

  def __init__(self, model: str, observation_shape, num_models: int = 5,
               latent_dim: int = 10, architecture: Any = "conv_bn",
               hyperparameters: Optional[Dict[str, Any]] = None,
               reconstruction_loss: str = "bernoulli",
               learning_rate: float = 1e-4, seed: int = 0,
               dataset_size: Optional[int] = None, initialize: bool = True):
    if model == "factor_vae":
      raise ValueError("factor_vae has a discriminator and is not vectorised;"
                       " use beta_tc_vae, beta_vae, annealed_vae or dip_vae_*")
    if int(num_models) < 1:
      raise ValueError(f"num_models must be >= 1, got {num_models}")
    self.num_models = int(num_models)
    # The template is a regular tfdis model: it owns the hyperparameter
    # variables, step and RNG, provides the family's regularizer and receives
    # model k's weights for export.
    self.template = build_model(
        model, observation_shape, latent_dim=latent_dim,
        architecture=architecture, hyperparameters=hyperparameters,
        reconstruction_loss=reconstruction_loss, learning_rate=learning_rate,
        seed=seed, dataset_size=dataset_size)
    if self.template.supervision is not None:
      raise ValueError("the K-VAE ensemble is unsupervised")
    self.family = self.template.family
    self.observation_shape = self.template.observation_shape
    self.latent_dim = self.template.latent_dim
    self.net = EnsembleNetwork(self.num_models, self.observation_shape,
                               self.latent_dim, self.template.architecture)
    self.optimizer = keras.optimizers.Adam(learning_rate=learning_rate,
                                           name="ensemble_adam",
                                           **ADAM_DEFAULTS)
    self.optimizer.build(self.net.trainable_variables)
    if initialize:
      self.initialize(seed)

  def initialize(self, seed: int) -> None:
    """Independent initialisations: K standalone networks, seeds seed·K + k."""
    encoders, decoders = [], []
    for k in range(self.num_models):
      keras.utils.set_random_seed((int(seed) * self.num_models + k) % 2 ** 32)
      arch = self.template.architecture
      encoders.append(architectures.make_encoder(
          arch["encoder"], self.observation_shape, self.latent_dim))
      decoders.append(architectures.make_decoder(
          arch["decoder"], self.observation_shape, self.latent_dim))
    self.net.pack(encoders, decoders)

  # ---- GaussianVAE-like API -------------------------------------------------
  @property
  def step(self):
    return self.template.step

  @property
  def rng(self):
    return self.template.rng

  @property
  def learning_rate(self) -> float:
    return float(keras.ops.convert_to_numpy(self.optimizer.learning_rate))

  def set_learning_rate(self, learning_rate: float) -> None:
    self.template.set_learning_rate(learning_rate)  # validates
    self.optimizer.learning_rate.assign(float(learning_rate))

  def set_hyperparameters(self, hyperparameters) -> None:
    self.template.set_hyperparameters(hyperparameters)

  def hyperparameters(self) -> Dict[str, Any]:
    return self.template.hyperparameters()

  def validate_hyperparameters(self, hyperparameters):
    return self.template.validate_hyperparameters(hyperparameters)

  def checkpoint_objects(self) -> Dict[str, Any]:
    objs = {"ensemble": self.net, "ensemble_optimizer": self.optimizer,
            "step": self.template.step, "rng": self.template.rng}
    for k, v in self.template.hyperparameter_variables.items():
      objs[f"hyperparameter_{k}"] = v
    return objs

  @property
  def trainable_variables(self):
    return self.net.trainable_variables

  def encode(self, images, training: bool = False):
    """images -> (mean, logvar), each [B, K, d]."""
    return self.net.encode(images, training=training)

  def compute_losses(self, images, training: bool = True, noise=None):
    """Per-model loss terms ([K] each) and the summed loss.

    ``noise``: optional reparameterisation noise [B, K, d] (tests compare
    against standalone models with the same noise); default from the RNG.
    """
    k = self.num_models
    mean, logvar = self.net.encode(images, training=training)   # [B, K, d]
    if noise is None:
      z = losses.sample_gaussian(mean, logvar, self.template.rng)
    else:
      z = mean + tf.exp(0.5 * logvar) * noise
    logits = self.net.decode(z, training=training)               # [K, B, ...]
    shape = tf.shape(logits)
    flat_logits = tf.reshape(logits, tf.concat([[-1], shape[2:]], 0))
    flat_images = tf.reshape(
        tf.tile(images[None], [k, 1, 1, 1, 1]), tf.shape(flat_logits))
    rec = tf.reshape(self.template._reconstruction_fn(flat_images,
                                                      flat_logits), [k, -1])
    reconstruction_loss = tf.reduce_mean(rec, axis=1)            # [K]
    kl_per_latent = tf.reduce_mean(
        losses.gaussian_kl_per_latent(mean, logvar), axis=0)     # [K, d]
    kl_loss = tf.reduce_sum(kl_per_latent, axis=1)               # [K]
    mean_k = tf.transpose(mean, [1, 0, 2])
    logvar_k = tf.transpose(logvar, [1, 0, 2])
    z_k = tf.transpose(z, [1, 0, 2])

    def per_model(args):
      kl, m, lv, zz = args
      reg, _ = self.template.regularizer(kl, m, lv, zz, training)
      return reg

    regularizer = tf.vectorized_map(per_model,
                                    (kl_loss, mean_k, logvar_k, z_k))
    loss = reconstruction_loss + regularizer                     # [K]
    terms = dict(loss=loss, reconstruction_loss=reconstruction_loss,
                 kl_loss=kl_loss, regularizer=regularizer,
                 elbo=-(reconstruction_loss + kl_loss),
                 per_latent_kl=kl_per_latent)
    return tf.reduce_sum(loss), terms

  def train_step(self, images, noise=None) -> Dict[str, tf.Tensor]:
    """One Adam step of all K VAEs on the same minibatch."""
    variables = self.net.trainable_variables
    with tf.GradientTape() as tape:
      total, terms = self.compute_losses(images, training=True, noise=noise)
    grads = tape.gradient(total, variables)
    self.optimizer.apply_gradients(zip(grads, variables))
    self.template.step.assign_add(1)
    terms["total_loss"] = total
    return terms

  # ---- export ---------------------------------------------------------------
  def extract(self, k: int):
    """The template (a regular tfdis model) holding VAE k's weights."""
    self.net.unpack(k, self.template.encoder, self.template.decoder)
    return self.template
