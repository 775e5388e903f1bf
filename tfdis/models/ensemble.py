"""K VAEs of one family as ONE batched computation (the PBT-U-VAE member).

A PBT-U-VAE member (paper 003) is K = 5 VAEs with the same hyperparameters,
initialised independently and trained on the same minibatches, each loss
back-propagated to its own VAE. Instead of a Python loop over K models,
:class:`EnsembleNetwork` reads the SAME op lists as the single model
(``tfdis.models.architectures``) and builds every layer block-diagonally:

* spatial tensors are [B, H, W, K·c] (model k owns channels k·c … (k+1)·c−1);
  the first convolution (shared input) is an ordinary convolution with K·c
  filters, later ones grouped: stacked kernels [kh, kw, c_in, K·c_out]
  (transposed: [kh, kw, c_out, K·c_in]) applied slice by slice;
* flat tensors are [B, K, n] and Dense layers einsums with [K, in, out]
  kernels; BatchNorm is per (model, channel), i.e. K independent BatchNorms;
* Flatten/Reshape transpose between the two layouts so that model k sees its
  features in the row-major (h, w, c) order of a standalone Keras model.

:func:`make_ensemble_class` turns any registered Gaussian-VAE family into its
K-member version (``build_model(..., ensemble_size=K)``): the family's own
``regularizer`` runs per member through ``tf.vectorized_map``, the loss terms
are [K] vectors, and the training step is the family's own
(``GaussianVAE.train_step`` on the summed loss, whose gradient w.r.t. member
k's weights is the gradient of member k's loss; Adam is elementwise, so one
Adam over the stacked weights is K independent Adams with the same learning
rate). :meth:`EnsembleMixin.extract` puts member k into a regular model of
the family, which the normal exporter writes as a SavedModel.
"""

from __future__ import annotations

from typing import Any, Dict, List, Sequence

import keras
import numpy as np
import tensorflow as tf

from tfdis.checks import check_count
from tfdis.models import architectures, losses
from tfdis.models.architectures import Op

_WEIGHTED = ("conv", "conv_t", "dense", "bn", "conv_head")


def _out_size(size: int, op: Op, transpose: bool) -> int:
  if transpose:
    return size * op.stride if op.padding == "same" else (
        (size - 1) * op.stride + op.kernel)
  if op.padding == "same":
    return -(-size // op.stride)
  return (size - op.kernel) // op.stride + 1


def _activate(x, activation):
  if activation is None:
    return x
  return {"relu": tf.nn.relu, "tanh": tf.tanh}[activation](x)


class EnsembleNetwork(keras.layers.Layer):
  """K encoder/decoder pairs in block-diagonal form (module docstring).

  Weights are created eagerly by shape inference over the op lists and named
  after the standalone layers (``e1_kernel`` …).
  """

  def __init__(self, num_models: int, observation_shape, latent_dim: int,
               architecture, name: str = "ensemble"):
    super().__init__(name=name)
    self.num_models = int(num_models)
    self.observation_shape = tuple(int(s) for s in observation_shape)
    self.latent_dim = int(latent_dim)
    self.architecture = architectures.check_architecture(
        architecture, self.observation_shape)
    self.encoder_ops = architectures.encoder_ops(
        self.architecture["encoder"], self.observation_shape, self.latent_dim)
    self.decoder_ops = architectures.decoder_ops(
        self.architecture["decoder"], self.observation_shape, self.latent_dim)
    self.params: Dict[str, Dict[str, Any]] = {}
    self._create(self.encoder_ops, ("shared", self.observation_shape))
    self._create(self.decoder_ops, ("flat", self.latent_dim))
    self.built = True

  # ---- weights --------------------------------------------------------------
  def _add(self, layer: str, weight: str, shape, initializer="zeros",
           trainable: bool = True):
    var = self.add_weight(name=f"{layer}_{weight}", shape=tuple(shape),
                          initializer=initializer, trainable=trainable)
    self.params.setdefault(layer, {})[weight] = var

  def _dense(self, name: str, n_in: int, units: int) -> None:
    self._add(name, "kernel", (self.num_models, n_in, units))
    self._add(name, "bias", (self.num_models, units))

  def _create(self, ops: Sequence[Op], state) -> None:
    """Shape inference; state = (layout, per-model shape)."""
    k = self.num_models
    for op in ops:
      layout, shape = state
      if op.kind in ("conv", "conv_head"):
        hh, ww, cin = shape
        self._add(op.name, "kernel", (op.kernel, op.kernel, cin,
                                      k * op.units))
        self._add(op.name, "bias", (k * op.units,))
        state = ("spatial", (_out_size(hh, op, False),
                             _out_size(ww, op, False), op.units))
      elif op.kind == "conv_t":
        hh, ww, cin = shape
        self._add(op.name, "kernel", (op.kernel, op.kernel, op.units,
                                      k * cin))
        self._add(op.name, "bias", (k * op.units,))
        state = ("spatial", (_out_size(hh, op, True), _out_size(ww, op, True),
                             op.units))
      elif op.kind == "dense":
        self._dense(op.name, shape, op.units)
        state = ("flat", op.units)
      elif op.kind == "heads":
        self._dense("means", shape, op.units)
        self._dense("log_var", shape, op.units)
      elif op.kind == "bn":
        n = shape[2] if layout == "spatial" else shape
        shp = (k * n,) if layout == "spatial" else (k, n)
        for w_name, init, trainable in (
            ("gamma", "ones", True), ("beta", "zeros", True),
            ("moving_mean", "zeros", False),
            ("moving_variance", "ones", False)):
          self._add(op.name, w_name, shp, init, trainable)
      elif op.kind == "flatten":
        state = ("flat", int(np.prod(shape)))
      elif op.kind == "reshape":
        state = ("spatial", tuple(op.shape))

  # ---- forward --------------------------------------------------------------
  def _run(self, ops: Sequence[Op], x, layout: str, training: bool):
    k = self.num_models
    # Mixed precision as the Keras networks (architectures.build_network):
    # layers in the policy's compute dtype; BatchNorm, the Gaussian heads
    # and the last weighted layer in float32 (tf.cast to the same dtype is
    # the identity, so float32 runs the very same graph).
    last = architectures.output_op_index(ops)
    for i, op in enumerate(ops):
      p = self.params.get(op.name) if op.kind in _WEIGHTED else None
      dtype = ("float32" if i >= last or op.kind in ("bn", "heads")
               else self.compute_dtype)
      if p is not None:
        x = tf.cast(x, dtype)
        if dtype != "float32":
          p = {name: tf.cast(v, dtype) for name, v in p.items()}
      if op.kind in ("conv", "conv_head"):
        x = self._grouped(tf.nn.conv2d, x, p["kernel"], layout == "shared",
                          strides=op.stride, padding=op.padding.upper())
        # A plain add, not BiasAdd: grappler would fuse Conv2D + BiasAdd +
        # ReLU into _FusedConv2D, which has no grouped-convolution kernel.
        x = _activate(x + p["bias"], op.activation)
        layout = "spatial"
        if op.kind == "conv_head":
          pairs = tf.reshape(x, [-1, k, op.units // 2, 2])
          return (pairs[..., 0], 2.0 * pairs[..., 1]), "gaussian"
      elif op.kind == "conv_t":
        b, hh, ww = tf.shape(x)[0], x.shape[1], x.shape[2]
        out = tf.stack([b, _out_size(hh, op, True), _out_size(ww, op, True),
                        op.units])
        x = self._grouped(
            lambda xi, wi, **kw: tf.nn.conv2d_transpose(xi, wi, out, **kw),
            x, p["kernel"], False, strides=op.stride,
            padding=op.padding.upper())
        x = _activate(x + p["bias"], op.activation)
      elif op.kind == "dense":
        eq = "bi,kio->bko" if layout == "shared_flat" else "bki,kio->bko"
        x = _activate(tf.einsum(eq, x, p["kernel"]) + p["bias"][None],
                      op.activation)
        layout = "flat"
      elif op.kind == "heads":
        heads = []
        x = tf.cast(x, tf.float32)
        for name in ("means", "log_var"):
          q = self.params[name]
          heads.append(tf.einsum("bki,kio->bko", x, q["kernel"]) +
                       q["bias"][None])
        return tuple(heads), "gaussian"
      elif op.kind == "bn":
        axes = [0, 1, 2] if layout == "spatial" else [0]
        x = tf.nn.relu(architectures.torch_batch_norm(
            x, p["gamma"], p["beta"], p["moving_mean"], p["moving_variance"],
            axes, training))
      elif op.kind == "flatten":
        if layout == "shared":
          x = tf.reshape(x, [tf.shape(x)[0], -1])
          layout = "shared_flat"
        else:
          hh, ww, kc = x.shape[1], x.shape[2], x.shape[3]
          x = tf.reshape(x, [-1, hh, ww, k, kc // k])
          x = tf.transpose(x, [0, 3, 1, 2, 4])
          x = tf.reshape(x, [-1, k, hh * ww * (kc // k)])
          layout = "flat"
      elif op.kind == "reshape":
        hh, ww, c = op.shape
        x = tf.reshape(x, [-1, k, hh, ww, c])
        x = tf.transpose(x, [0, 2, 3, 1, 4])
        x = tf.reshape(x, [-1, hh, ww, k * c])
        layout = "spatial"
    return x, layout

  def _grouped(self, conv, x, kernel, shared_input: bool, **kwargs):
    """Member k's convolution on its channel slice, concatenated. (Grouped
    ``tf.nn.conv2d`` has no gradient kernel on CPU in TF 2.21, and grouped
    ``conv2d_transpose`` no kernel at all, so the K convolutions are
    separate ops of one graph.)"""
    k = self.num_models
    if shared_input:
      return conv(x, kernel, **kwargs)
    xs = tf.split(x, k, axis=-1)
    ws = tf.split(kernel, k, axis=-1)
    return tf.concat([conv(xi, wi, **kwargs) for xi, wi in zip(xs, ws)],
                     axis=-1)

  def encode(self, images, training: bool = False):
    """images [B, H, W, C] -> (mean, logvar), each [B, K, d]."""
    out, layout = self._run(self.encoder_ops, images, "shared", training)
    if layout != "gaussian":
      raise AssertionError("an encoder must end in Gaussian heads")
    return out

  def decode(self, latents, training: bool = False):
    """latents [B, K, d] -> logits [K, B, H, W, C] (model-major)."""
    x, layout = self._run(self.decoder_ops, latents, "flat", training)
    if layout != "spatial":
      raise AssertionError("a decoder must end spatial")
    h, w, c = self.observation_shape
    x = tf.reshape(x, [-1, h, w, self.num_models, c])
    return tf.transpose(x, [3, 0, 1, 2, 4])

  # ---- weights <-> standalone networks --------------------------------------
  def _standalone_layers(self):
    """(param name, op kind, 'encoder'|'decoder') of every weighted layer."""
    out = []
    for where, ops in (("encoder", self.encoder_ops),
                       ("decoder", self.decoder_ops)):
      for op in ops:
        if op.kind == "heads":
          out += [("means", "dense", where), ("log_var", "dense", where)]
        elif op.kind in _WEIGHTED:
          out.append((op.name, "conv" if op.kind == "conv_head" else op.kind,
                      where))
    return out

  def _is_spatial_bn(self, name: str) -> bool:
    return len(self.params[name]["gamma"].shape) == 1

  def pack(self, encoders: Sequence[keras.Model],
           decoders: Sequence[keras.Model]) -> None:
    """Loads K standalone networks (``architectures.make_encoder`` …)."""
    if len(encoders) != self.num_models or len(decoders) != self.num_models:
      raise ValueError(f"pack needs {self.num_models} encoders and decoders")
    nets = {"encoder": encoders, "decoder": decoders}
    for name, kind, where in self._standalone_layers():
      src = [net.get_layer(name) for net in nets[where]]
      p = self.params[name]
      if kind == "bn":
        join = np.concatenate if self._is_spatial_bn(name) else np.stack
        names = ("gamma", "beta", "moving_mean", "moving_variance")
      else:
        join = np.stack if kind == "dense" else (
            lambda a: np.concatenate(a, axis=-1))
        names = ("kernel", "bias")
      for w in names:
        p[w].assign(join([np.asarray(getattr(s, w).numpy()) for s in src]))

  def unpack(self, k: int, encoder: keras.Model, decoder: keras.Model
             ) -> None:
    """Writes member k's weights into standalone networks."""
    if not 0 <= k < self.num_models:
      raise ValueError(f"model index {k} outside [0, {self.num_models})")
    nets = {"encoder": encoder, "decoder": decoder}
    for name, kind, where in self._standalone_layers():
      dst = nets[where].get_layer(name)
      p = self.params[name]
      names = (("gamma", "beta", "moving_mean", "moving_variance")
               if kind == "bn" else ("kernel", "bias"))
      for w in names:
        v = p[w].numpy()
        if kind == "dense" or (kind == "bn" and not self._is_spatial_bn(name)):
          v = v[k]
        else:
          n = v.shape[-1] // self.num_models
          v = v[..., k * n:(k + 1) * n]
        getattr(dst, w).assign(v)


class EnsembleMixin:
  """Makes a Gaussian-VAE family K members wide (see module docstring).

  Used through :func:`make_ensemble_class`; the family's ``__init__`` runs
  with ``ensemble_size`` set, and ``_build_networks`` builds one
  :class:`EnsembleNetwork` instead of an encoder and a decoder.
  """

  ensemble_size = 1

  def _build_networks(self) -> None:
    if self.supervision is not None:
      raise ValueError("the K-member ensemble is unsupervised (PBT-U-VAE): "
                       "drop supervision or ensemble_size")
    self.net = EnsembleNetwork(self.ensemble_size, self.observation_shape,
                               self.latent_dim, self.architecture)
    self.initialize_members(self.seed)

  def initialize_members(self, seed: int) -> None:
    """Independent initialisations: K standalone networks built with seeds
    seed·K + k and packed, so every member starts from exactly the
    distribution of a standalone model."""
    k_total = self.ensemble_size
    encoders, decoders = [], []
    for k in range(k_total):
      keras.utils.set_random_seed((int(seed) * k_total + k) % 2 ** 32)
      encoders.append(architectures.make_encoder(
          self.architecture["encoder"], self.observation_shape,
          self.latent_dim))
      decoders.append(architectures.make_decoder(
          self.architecture["decoder"], self.observation_shape,
          self.latent_dim))
    self.net.pack(encoders, decoders)

  def fresh_networks(self) -> Dict[str, Any]:
    return {}   # members are re-initialised by initialize_members

  def reinitialize(self, seed: int) -> None:
    super().reinitialize(seed)
    self.initialize_members(seed)

  @property
  def network_variables(self) -> List[tf.Variable]:
    return list(self.net.trainable_variables)

  def network_objects(self) -> Dict[str, Any]:
    return {"ensemble": self.net}

  def encode(self, images, training: bool = False):
    """images -> (mean, logvar), each [B, K, d]."""
    return self.net.encode(images, training=training)

  def decode(self, latents, training: bool = False):
    """latents [B, K, d] -> logits [K, B, H, W, C]."""
    return self.net.decode(latents, training=training)

  def batch_reconstruction(self, images, logits):
    """[K] batch-mean reconstruction losses of logits [K, B, H, W, C]."""
    k = self.ensemble_size
    shape = tf.shape(logits)
    flat_logits = tf.reshape(logits, tf.concat([[-1], shape[2:]], 0))
    flat_images = tf.reshape(tf.tile(images[None], [k, 1, 1, 1, 1]),
                             tf.shape(flat_logits))
    rec = tf.reshape(self._reconstruction_fn(flat_images, flat_logits),
                     [k, -1])
    return tf.reduce_mean(rec, axis=1)

  def batch_regularizer(self, kl_loss, mean, logvar, z, training):
    """The family's regularizer (and its terms) of every member: [K]."""
    def one(args):
      kl, m, lv, zz = args
      return self.regularizer(kl, m, lv, zz, training)
    return tf.vectorized_map(one, (kl_loss, tf.transpose(mean, [1, 0, 2]),
                                   tf.transpose(logvar, [1, 0, 2]),
                                   tf.transpose(z, [1, 0, 2])))

  def extract(self, k: int):
    """A regular model of the family holding member k's weights (export)."""
    from tfdis.models import build_model

    single = getattr(self, "_single", None)
    if single is None:
      single = build_model(self.family, self.observation_shape,
                           latent_dim=self.latent_dim,
                           architecture=self.architecture,
                           hyperparameters=self.hyperparameters(),
                           reconstruction_loss=self.reconstruction_loss_name,
                           seed=self.seed, dataset_size=self.dataset_size,
                           precision=self.precision, **self.model_options())
      self._single = single
    single.set_hyperparameters(self.hyperparameters())
    single.step.assign(self.step)
    self.net.unpack(k, single.encoder, single.decoder)
    return single


_CLASSES: Dict[Any, type] = {}


def make_ensemble_class(family_cls: type, ensemble_size: int) -> type:
  """The K-member version of a Gaussian-VAE family class (cached)."""
  from tfdis.models.base import GaussianVAE

  check_count("ensemble_size", ensemble_size)
  cls = _CLASSES.get((family_cls, int(ensemble_size)))
  if cls is not None:
    return cls
  if not getattr(family_cls, "VECTORISABLE", True):
    raise ValueError(
        f"{family_cls.family} cannot be trained as a vectorised ensemble "
        "(it has its own training step or extra networks); use beta_vae, "
        "beta_tc_vae, annealed_vae, dip_vae_i or dip_vae_ii")
  if not issubclass(family_cls, GaussianVAE):
    raise TypeError(f"{family_cls!r} is not a GaussianVAE family")
  cls = type(f"{family_cls.__name__}Ensemble{int(ensemble_size)}",
             (EnsembleMixin, family_cls),
             {"__module__": __name__, "ensemble_size": int(ensemble_size)})
  _CLASSES[(family_cls, int(ensemble_size))] = cls
  return cls
