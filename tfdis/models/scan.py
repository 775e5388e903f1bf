"""SCAN (Higgins et al. 2018, "SCAN: Learning Hierarchical Compositional
Visual Concepts"): symbols grounded in a disentangled visual space.

A visual β-VAE gives q(z_x|x); a symbol VAE over k-hot symbol vectors y
gives q(z_y|y) (both diagonal Gaussians, dim z_y = dim z_x = d) and p(y|z_y)
(Bernoulli). Its loss (paper Eq. 4) is the symbol ELBO with weight β on the
prior KL plus the grounding term, the FORWARD KL from the visual posterior
to the symbol posterior:

  L_y = E_{q(z_y|y)}[−log p(y|z_y)] + β·KL(q(z_y|y) ‖ N(0, I))
        + λ·KL(q(z_x|x) ‖ q(z_y|y)),

so the symbol posterior stays broad (near the prior) on latents a symbol
does not determine. Defaults β = 1, λ = 10 (the paper's DeepMind Lab
setting). The visual encoder/decoder are frozen while the symbol VAE trains.

Visual model, two ways (hyperparameters):
  * ``visual_model_dir`` = a tfdis model directory of a trained VAE family
    (config.json + checkpoints/): its encoder and decoder are restored from
    its latest checkpoint (its latent_dim, architecture and dataset must
    match this run); ``visual_steps`` is then 0;
  * otherwise the first ``visual_steps`` steps of this run train the visual
    β-VAE (β = ``visual_beta``, Bernoulli loss) and later steps train SCAN
    (``tfdis.models.staged``: one command, resumable, the stage follows the
    step counter in the checkpoint).

Symbols from ground-truth factors (:func:`symbol_vocabulary`): every factor
with more than one value is an attribute; an attribute with at most
``symbol_bins`` (default 3) values gets one symbol per value ("shape=0",
"shape=1", ...), a larger one ``symbol_bins`` contiguous bins of its value
index ("pos_x=low/mid/high" for 3 bins; bin = ⌊v·bins/size⌋). y is the
k-hot vector with one symbol per attribute. dSprites: shape (3 symbols),
scale, orientation, pos_x, pos_y (3 bins each) -> 15 symbols, 5-hot.
(The paper also trains on symbols naming only a subset of the attributes;
we always name all of them. The recombination operators are not built.)

Symbol networks (sizes not in the slides; ours): encoder y -> 2 × Dense(256,
ReLU) -> means, log-variances (d); decoder z_y -> 2 × Dense(256, ReLU) ->
symbol logits.

SavedModel contract: ``gaussian_encoder``/``mean_encoder``/``decoder``/
``reconstructions`` are the VISUAL β-VAE's (so SCAN's disentanglement
scores are those of its visual model); extra signatures
  * ``img2sym``: images -> {probabilities [None, S]}: p(y|z_y = μ_x(x)),
    the symbol decoder applied to the visual posterior mean;
  * ``sym2img``: symbols [None, S] -> {images (logits decoded from the
    concept mean), mean, logvar (the concept q(z_y|y), for sampling
    z_y = mean + exp(logvar/2)·ε and decoding with ``decoder``)}.
The vocabulary is in the metadata (``symbols``, ``symbol_groups``).

Logged terms in the SCAN stage: ``reconstruction_loss`` = symbol NLL,
``kl_loss`` = KL(q(z_y|y) ‖ N(0, I)), ``grounding_kl`` = KL(q(z_x|x) ‖
q(z_y|y)), ``regularizer`` = β·kl_loss + λ·grounding_kl; ``per_latent_kl``
and ``num_active_latents`` always describe the visual posterior (the
exported representation).
"""

from __future__ import annotations

import os
from typing import Any, Dict, List, Optional, Sequence, Tuple

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from tfdis import io_utils, kl
from tfdis.checks import check_count
from tfdis.models import losses, staged
from tfdis.models.base import ACTIVE_KL_THRESHOLD, ADAM_DEFAULTS, GaussianVAE
from tfdis.registry import MODELS

SYMBOL_HIDDEN = 256
BIN_NAMES = {2: ("low", "high"), 3: ("low", "mid", "high")}


def gaussian_kl_between(mean_p, logvar_p, mean_q, logvar_q) -> tf.Tensor:
  """Per-sample KL(N(μ_p, e^{ℓ_p}) ‖ N(μ_q, e^{ℓ_q})), summed over latents:

  ½ Σ_j [ℓ_q − ℓ_p + (e^{ℓ_p} + (μ_p − μ_q)²)/e^{ℓ_q} − 1]  -> [B].
  """
  return 0.5 * tf.reduce_sum(
      logvar_q - logvar_p
      + (tf.exp(logvar_p) + tf.square(mean_p - mean_q)) * tf.exp(-logvar_q)
      - 1.0, axis=1)


def symbol_vocabulary(factor_names: Sequence[str], factor_sizes: Sequence[int],
                      bins: int = 3) -> Tuple[List[str], List[Tuple[str, List[int]]],
                                              np.ndarray]:
  """The documented factor -> symbol rule.

  Returns (symbol names [S], groups [(factor name, its symbol columns)],
  lookup int64 [Σ sizes]: symbol column of (factor f, value v) at
  offset_f + v, −1 for factors that name no symbol).
  """
  check_count("symbol_bins", bins, 2)
  names: List[str] = []
  groups: List[Tuple[str, List[int]]] = []
  lookup = []
  for name, size in zip(factor_names, factor_sizes):
    size = int(size)
    if size < 2:
      lookup.extend([-1] * size)
      continue
    if size <= bins:
      labels = [f"{name}={v}" for v in range(size)]
      value_to_label = list(range(size))
    else:
      bin_names = BIN_NAMES.get(bins, tuple(f"bin{b}" for b in range(bins)))
      labels = [f"{name}={b}" for b in bin_names]
      value_to_label = [v * bins // size for v in range(size)]
    first = len(names)
    names.extend(labels)
    groups.append((name, list(range(first, len(names)))))
    lookup.extend(first + b for b in value_to_label)
  if not names:
    raise ValueError("scan: the dataset has no factor with more than one "
                     "value, so there is nothing to name with symbols")
  return names, groups, np.asarray(lookup, np.int64)


def symbols_from_factors(factors: tf.Tensor, lookup: tf.Tensor,
                         offsets: tf.Tensor, num_symbols: int) -> tf.Tensor:
  """k-hot symbols [B, S] of factor indices [B, F] (in-graph, vectorised)."""
  columns = tf.gather(lookup, tf.cast(factors, tf.int64) + offsets[None, :])
  # one_hot of −1 is all zeros: factors without symbols add nothing.
  return tf.reduce_sum(tf.one_hot(columns, num_symbols), axis=1)


def symbol_accuracy(probabilities: np.ndarray, symbols: np.ndarray,
                    groups: Sequence[Tuple[str, Sequence[int]]]
                    ) -> Dict[str, float]:
  """Per attribute: fraction of images whose most probable symbol of the
  attribute is the true one; ``mean`` over attributes; ``all`` = every
  attribute right."""
  out, hits = {}, []
  for name, cols in groups:
    cols = list(cols)
    hit = (np.argmax(probabilities[:, cols], axis=1) ==
           np.argmax(symbols[:, cols], axis=1))
    hits.append(hit)
    out[name] = float(hit.mean())
  out["mean"] = float(np.mean([out[n] for n, _ in groups]))
  out["all"] = float(np.mean(np.all(hits, axis=0)))
  return out


def _mlp(input_dim: int, outputs: Dict[str, int], name: str) -> keras.Model:
  x = keras.Input((input_dim,), name=f"{name}_input")
  h = x
  for i in (1, 2):
    h = layers.Dense(SYMBOL_HIDDEN, activation="relu", name=f"{name}_{i}")(h)
  outs = [layers.Dense(n, name=f"{name}_{k}")(h) for k, n in outputs.items()]
  return keras.Model(x, outs if len(outs) > 1 else outs[0], name=name)


def visual_model_config(model_dir: str) -> Dict[str, Any]:
  """config.json of a trained visual model (clear errors if absent)."""
  path = os.path.join(model_dir, "config.json")
  if not os.path.isfile(path):
    raise FileNotFoundError(
        f"scan: visual_model_dir {model_dir!r} has no config.json; pass the "
        "directory of a model trained with tfdis (e.g. a beta_vae run)")
  return io_utils.read_json(path)


@MODELS.register("scan")
class SCAN(GaussianVAE):
  """Symbol VAE grounded in a (frozen) visual β-VAE."""

  family = "scan"
  HYPERPARAMETERS = {"beta": (1.0, 0.0), "lambda_grounding": (10.0, 0.0),
                     "visual_beta": (4.0, 0.0), "visual_steps": (100000, 0),
                     "symbol_bins": (3, 2)}
  INTEGER_HYPERPARAMETERS = ("visual_steps", "symbol_bins")
  STRUCTURAL = ("visual_steps", "symbol_bins")
  # Not a number, so not a hyperparameter variable: validated separately.
  PATH_OPTION = "visual_model_dir"

  def __init__(self, observation_shape, latent_dim: int = 10,
               hyperparameters=None, dataset_info: Optional[Dict] = None,
               **kwargs):
    if dataset_info is None:
      raise ValueError(
          "scan needs the dataset's factors to build its symbol vocabulary: "
          "build it with dataset_info=data.info() (the trainer does this "
          "through SCAN.model_kwargs_from_data)")
    hyperparameters = dict(hyperparameters or {})
    self.visual_model_dir = hyperparameters.pop(self.PATH_OPTION, None)
    if self.visual_model_dir:
      hyperparameters.setdefault("visual_steps", 0)
    self.dataset_info = dict(dataset_info)
    super().__init__(observation_shape, latent_dim=latent_dim,
                     hyperparameters=hyperparameters, **kwargs)

  @classmethod
  def model_kwargs_from_data(cls, data) -> Dict[str, Any]:
    return {"dataset_info": data.info()}

  @classmethod
  def training_data(cls, data, batch_size, seed, indices=None, labels=None):
    """{'images', 'factors'} batches (symbols are built in the step)."""
    from tfdis.data import pipeline

    ds = pipeline.training_dataset(data, batch_size, seed=seed,
                                   indices=indices, with_factors=True)
    return ds.map(lambda images, factors: {"images": images,
                                           "factors": factors})

  @classmethod
  def validate_hyperparameters(cls, hyperparameters):
    hyperparameters = dict(hyperparameters or {})
    path = hyperparameters.pop(cls.PATH_OPTION, None)
    if path is not None and not isinstance(path, str):
      raise ValueError(f"scan: {cls.PATH_OPTION} must be a directory path, "
                       f"got {path!r}")
    if path:
      hyperparameters.setdefault("visual_steps", 0)
    out = super().validate_hyperparameters(hyperparameters)
    if path:
      if out["visual_steps"] != 0:
        raise ValueError(
            f"scan: with {cls.PATH_OPTION} the visual model is already "
            f"trained; visual_steps must be 0, got {out['visual_steps']}")
      out[cls.PATH_OPTION] = path
    return out

  def _build_extra(self, hparams) -> None:
    info = self.dataset_info
    self.visual_steps = int(hparams["visual_steps"])
    self.symbol_names, self.symbol_groups, lookup = symbol_vocabulary(
        info["factor_names"], info["factor_sizes"],
        int(hparams["symbol_bins"]))
    self.num_symbols = len(self.symbol_names)
    sizes = np.asarray(info["factor_sizes"], np.int64)
    self._lookup = tf.constant(lookup)
    self._offsets = tf.constant(np.concatenate([[0], np.cumsum(sizes)[:-1]]))
    d = self.latent_dim
    self.symbol_encoder = _mlp(self.num_symbols,
                               {"means": d, "log_var": d}, "symbol_encoder")
    self.symbol_decoder = _mlp(d, {"logits": self.num_symbols},
                               "symbol_decoder")
    self.symbol_optimizer = keras.optimizers.Adam(
        learning_rate=self.learning_rate,
        name="symbol_adam", **ADAM_DEFAULTS)
    if self.visual_model_dir:
      self._restore_visual_model(self.visual_model_dir)

  def _restore_visual_model(self, model_dir: str) -> None:
    """Loads encoder/decoder weights from a trained model's checkpoint."""
    cfg = visual_model_config(model_dir)
    from tfdis.models.architectures import resolve_architecture

    expected = {"latent_dim": self.latent_dim,
                "architecture": dict(self.architecture),
                "dataset": self.dataset_info.get("name")}
    found = {"latent_dim": int(cfg.get("latent_dim", 10)),
             "architecture": resolve_architecture(cfg.get("architecture",
                                                          "conv")),
             "dataset": cfg.get("dataset")}
    for key in ("latent_dim", "architecture"):
      if found[key] != expected[key]:
        raise ValueError(
            f"scan: the visual model {model_dir!r} has {key}={found[key]} "
            f"but this run has {key}={expected[key]}; set the run's {key} "
            "to the visual model's")
    if (expected["dataset"] and found["dataset"] and
        expected["dataset"] != found["dataset"]):
      raise ValueError(
          f"scan: the visual model {model_dir!r} was trained on "
          f"{found['dataset']!r}, this run uses {expected['dataset']!r}")
    latest = tf.train.latest_checkpoint(os.path.join(model_dir,
                                                     "checkpoints"))
    if latest is None:
      raise FileNotFoundError(f"scan: no checkpoint under {model_dir}/"
                              "checkpoints (train the visual model first)")
    status = tf.train.Checkpoint(encoder=self.encoder,
                                 decoder=self.decoder).restore(latest)
    status.expect_partial().assert_existing_objects_matched()

  # ---- configuration -------------------------------------------------------
  def set_hyperparameters(self, hyperparameters) -> None:
    """Numeric hyperparameters only (``hyperparameters()`` lists those; the
    visual model directory is in ``model_config()`` and cannot change)."""
    hyperparameters = dict(hyperparameters)
    path = hyperparameters.pop(self.PATH_OPTION, self.visual_model_dir)
    if (path or None) != (self.visual_model_dir or None):
      raise ValueError("scan: visual_model_dir cannot change on a built model")
    current = self.hyperparameters()
    merged = self.validate_hyperparameters(dict(current, **hyperparameters))
    staged.check_fixed_hyperparameters(self.family, self.STRUCTURAL, current,
                                       merged)
    for k, v in merged.items():
      self.hyperparameter_variables[k].assign(float(v))

  @property
  def symbol_variables(self):
    return (self.symbol_encoder.trainable_variables +
            self.symbol_decoder.trainable_variables)

  @property
  def optimizers(self) -> Dict[str, keras.optimizers.Optimizer]:
    return {"vae_optimizer": self.vae_optimizer,
            "symbol_optimizer": self.symbol_optimizer}

  def build_optimizers(self) -> None:
    super().build_optimizers()
    self.symbol_optimizer.build(self.symbol_variables)

  def set_learning_rate(self, learning_rate: float) -> None:
    super().set_learning_rate(learning_rate)
    self.symbol_optimizer.learning_rate.assign(float(learning_rate))

  def checkpoint_objects(self):
    objs = super().checkpoint_objects()
    objs.update(symbol_encoder=self.symbol_encoder,
                symbol_decoder=self.symbol_decoder)
    return objs

  def model_config(self) -> Dict[str, Any]:
    cfg = super().model_config()
    cfg["symbols"] = list(self.symbol_names)
    cfg["symbol_groups"] = {n: list(c) for n, c in self.symbol_groups}
    cfg["visual_model_dir"] = self.visual_model_dir
    cfg["stages"] = {"visual_beta_vae": [0, self.visual_steps],
                     "scan": [self.visual_steps, None]}
    cfg["contract"] = {
        "representation": "the visual beta-VAE's posterior mean",
        "extra_signatures": ["img2sym", "sym2img"]}
    return cfg

  # ---- inference -----------------------------------------------------------
  def symbols(self, factors) -> tf.Tensor:
    """k-hot symbols [B, S] of ground-truth factor indices [B, F]."""
    return symbols_from_factors(factors, self._lookup, self._offsets,
                                self.num_symbols)

  def img2sym(self, images) -> tf.Tensor:
    """Symbol probabilities p(y | z_y = μ_x(images)): [B, S]."""
    mean, _ = self.encoder(images, training=False)
    return tf.sigmoid(self.symbol_decoder(mean, training=False))

  def sym2img(self, symbols):
    """(logits decoded from the concept mean, concept mean, logvar)."""
    mean, logvar = self.symbol_encoder(symbols, training=False)
    return self.decoder(mean, training=False), mean, logvar

  def export_networks(self):
    return [self.symbol_encoder, self.symbol_decoder]

  def extra_signatures(self):
    image_spec = tf.TensorSpec([None, *self.observation_shape], tf.float32,
                               name="images")
    symbol_spec = tf.TensorSpec([None, self.num_symbols], tf.float32,
                                name="symbols")

    def img2sym(images):
      return {"probabilities": self.img2sym(images)}

    def sym2img(symbols):
      logits, mean, logvar = self.sym2img(symbols)
      return {"images": logits, "mean": mean, "logvar": logvar}

    return {"img2sym": (img2sym, [image_spec]),
            "sym2img": (sym2img, [symbol_spec])}

  # ---- losses --------------------------------------------------------------
  def regularizer(self, kl_loss, mean, logvar, z, training):
    """Stage 1 (visual β-VAE): visual_beta·KL."""
    return self.hyperparameter_variables["visual_beta"] * kl_loss, {}

  def scan_losses(self, images, factors) -> Tuple[tf.Tensor, Dict]:
    """Stage 2: the SCAN loss (module docstring) on a batch."""
    hp = self.hyperparameter_variables
    mean_x, logvar_x = self.encoder(images, training=False)
    mean_x, logvar_x = tf.stop_gradient(mean_x), tf.stop_gradient(logvar_x)
    y = self.symbols(factors)
    mean_y, logvar_y = self.symbol_encoder(y, training=True)
    z_y = losses.sample_gaussian(mean_y, logvar_y, self.rng)
    logits = self.symbol_decoder(z_y, training=True)
    nll = tf.reduce_mean(tf.reduce_sum(
        tf.nn.sigmoid_cross_entropy_with_logits(labels=y, logits=logits),
        axis=1))
    symbol_kl = tf.reduce_sum(kl.per_latent_kl_tf(mean_y, logvar_y))
    grounding = tf.reduce_mean(gaussian_kl_between(mean_x, logvar_x, mean_y,
                                                   logvar_y))
    reg = hp["beta"] * symbol_kl + hp["lambda_grounding"] * grounding
    loss = nll + reg
    visual_kl = kl.per_latent_kl_tf(mean_x, logvar_x)
    return loss, {
        "loss": loss, "reconstruction_loss": nll, "kl_loss": symbol_kl,
        "regularizer": reg, "elbo": -(nll + symbol_kl),
        "grounding_kl": grounding,
        "per_latent_kl": visual_kl,
        "num_active_latents": tf.reduce_sum(tf.cast(
            visual_kl > ACTIVE_KL_THRESHOLD, tf.float32))}

  def train_step(self, batch):
    """Steps < visual_steps: a visual β-VAE update; afterwards SCAN's."""
    if not isinstance(batch, dict) or "factors" not in batch:
      raise ValueError("scan trains on {'images', 'factors'} batches "
                       "(SCAN.training_data)")
    images, factors = batch["images"], batch["factors"]
    names = staged.COMMON_TERMS + ("grounding_kl",)

    def visual_stage():
      terms = staged.apply_update(
          self, lambda: self.compute_losses(images, training=True),
          self.vae_variables, self.vae_optimizer)
      return staged.complete_terms(terms, names, self.latent_dim, 0)

    def scan_stage():
      terms = staged.apply_update(
          self, lambda: self.scan_losses(images, factors),
          self.symbol_variables, self.symbol_optimizer)
      return staged.complete_terms(terms, names, self.latent_dim, 1)

    return staged.two_stage_step(self, self.visual_steps, visual_stage,
                                 scan_stage)
