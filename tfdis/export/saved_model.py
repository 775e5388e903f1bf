"""Writing the tfdis SavedModel (the contract every downstream tool reads).

The Keras encoder/decoder are wrapped in a plain ``tf.Module`` whose methods
are ``tf.function``s with explicit input signatures, so a process that never
imports tfdis (or Keras model code) can load and call them
(``tfdis.export.load``). Signatures:

* ``gaussian_encoder``: images [None, H, W, C] -> {mean, logvar} [None, d]
* ``mean_encoder`` and ``serving_default``: images -> {representation}
* ``decoder``: latents [None, d] -> {images} (logits)
* ``reconstructions``: images -> {images} (logits decoded from the mean)
* any extra signatures a model declares (``extra_signatures()``, see
  :func:`_extra_signatures`)

plus the asset ``tfdis_metadata.json`` (schema in docs/design.md). The
SavedModel is written to a temporary directory next to ``export_dir`` and
renamed into place, so a killed export never leaves a half-written model.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from typing import Any, Dict, Optional

import tensorflow as tf

from tfdis import io_utils
from tfdis.export.load import METADATA_FILE

METADATA_FORMAT = "tfdis.saved_model.v1"


class _ExportModule(tf.Module):
  """Encoder/decoder behind fixed-signature tf.functions (inference mode)."""

  def __init__(self, encoder, decoder, observation_shape, latent_dim,
               metadata_path: str):
    super().__init__(name="tfdis_model")
    self._encoder_net = encoder
    self._decoder_net = decoder
    self.metadata_asset = tf.saved_model.Asset(metadata_path)
    image_spec = tf.TensorSpec([None, *observation_shape], tf.float32,
                               name="images")
    latent_spec = tf.TensorSpec([None, latent_dim], tf.float32,
                                name="latents")

    @tf.function(input_signature=[image_spec])
    def gaussian_encoder(images):
      mean, logvar = self._encoder_net(images, training=False)
      return {"mean": tf.identity(mean, name="mean"),
              "logvar": tf.identity(logvar, name="logvar")}

    @tf.function(input_signature=[image_spec])
    def mean_encoder(images):
      mean, _ = self._encoder_net(images, training=False)
      return {"representation": tf.identity(mean, name="representation")}

    @tf.function(input_signature=[latent_spec])
    def decoder(latents):
      return {"images": self._decoder_net(latents, training=False)}

    @tf.function(input_signature=[image_spec])
    def reconstructions(images):
      mean, _ = self._encoder_net(images, training=False)
      return {"images": self._decoder_net(mean, training=False)}

    self.gaussian_encoder = gaussian_encoder
    self.mean_encoder = mean_encoder
    self.decoder = decoder
    self.reconstructions = reconstructions

  def signatures(self) -> Dict[str, Any]:
    return {"gaussian_encoder": self.gaussian_encoder,
            "mean_encoder": self.mean_encoder,
            "serving_default": self.mean_encoder,
            "decoder": self.decoder,
            "reconstructions": self.reconstructions}


def _extra_signatures(model, module: tf.Module) -> Dict[str, Any]:
  """Optional model hook: ``model.extra_signatures()`` returns {name: (fn,
  input_signature)} (e.g. SCAN's sym2img/img2sym, InfoGAN's categorical
  probabilities); ``model.export_networks()`` lists the extra Keras networks
  those functions use, so the SavedModel tracks their variables."""
  hook = getattr(model, "extra_signatures", None)
  if hook is None:
    return {}
  networks = getattr(model, "export_networks", None)
  module.extra_networks = list(networks()) if networks is not None else []
  out = {}
  for name, (fn, input_signature) in hook().items():
    if name in module.signatures():
      raise ValueError(f"extra signature {name!r} would replace a contract "
                       "signature")
    out[name] = tf.function(fn, input_signature=list(input_signature))
    setattr(module, name, out[name])
  return out


def build_metadata(model, dataset_info: Optional[Dict[str, Any]] = None,
                   **fields) -> Dict[str, Any]:
  """Metadata in the docs/design.md schema from a live model + run fields
  (dataset options, batch_size, learning_rate, steps, seed, ...)."""
  cfg = model.model_config()
  meta = {
      "format": METADATA_FORMAT,
      "model": cfg["model"],
      "hyperparameters": cfg["hyperparameters"],
      "architecture": cfg["architecture"],
      "latent_dim": cfg["latent_dim"],
      "reconstruction_loss": cfg["reconstruction_loss"],
      "observation_shape": cfg["observation_shape"],
      "steps": int(model.step.numpy()),
      "versions": io_utils.library_versions(),
  }
  if "supervision" in cfg:
    meta["supervision"] = cfg["supervision"]
  # Family-specific fields of model_config() (SCAN's symbol vocabulary,
  # InfoGAN's contract mapping, the two-stage models' stages) ride along.
  for key, value in cfg.items():
    meta.setdefault(key, value)
  if dataset_info is not None:
    meta["dataset"] = dict(dataset_info)
  meta.update(fields)
  return io_utils.to_jsonable(meta)


def export_saved_model(model, export_dir: str,
                       metadata: Optional[Dict[str, Any]] = None) -> str:
  """Writes ``model`` (a tfdis GaussianVAE, or anything with ``encoder``,
  ``decoder``, ``observation_shape`` and ``latent_dim``) as a SavedModel.

  ``metadata`` is written as the ``tfdis_metadata.json`` asset (use
  :func:`build_metadata`). Returns ``export_dir``.
  """
  export_dir = os.path.abspath(os.fspath(export_dir))
  parent = os.path.dirname(export_dir)
  os.makedirs(parent, exist_ok=True)
  metadata = dict(metadata or {})
  metadata.setdefault("format", METADATA_FORMAT)
  with io_utils.no_space_as_user_error(export_dir):
    staging = tempfile.mkdtemp(
        prefix="." + os.path.basename(export_dir) + ".", suffix=".tmp",
        dir=parent)
  # What a full disk needs: about the size of the previous export, else at
  # least what was staged when the write failed.
  needed = (f"about {io_utils.format_bytes(io_utils.tree_bytes(export_dir))}"
            " (the size of the previous export)"
            if os.path.isdir(export_dir) else None)
  try:
    return _export_staged(model, export_dir, metadata, staging, needed)
  finally:
    shutil.rmtree(staging, ignore_errors=True)


def _export_staged(model, export_dir: str, metadata: Dict[str, Any],
                   staging: str, needed: Any) -> str:
  with io_utils.no_space_as_user_error(export_dir, needed, measure=staging):
    meta_dir = os.path.join(staging, "_meta")
    os.makedirs(meta_dir)
    meta_path = os.path.join(meta_dir, METADATA_FILE)
    io_utils.write_json(meta_path, metadata)
    module = _ExportModule(model.encoder, model.decoder,
                           tuple(model.observation_shape),
                           int(model.latent_dim), meta_path)
    signatures = module.signatures()
    signatures.update(_extra_signatures(model, module))
    out = os.path.join(staging, "saved_model")
    tf.saved_model.save(module, out, signatures=signatures)
    old = None
    if os.path.exists(export_dir):
      old = export_dir + ".old"
      if os.path.exists(old):
        shutil.rmtree(old)
      os.replace(export_dir, old)
    os.replace(out, export_dir)
    if old is not None:
      shutil.rmtree(old, ignore_errors=True)
  return export_dir
