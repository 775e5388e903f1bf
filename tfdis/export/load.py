"""Load tfdis SavedModels by signature alone (no tfdis model classes needed).

Contract (see README "SavedModel contract"): ``<model_dir>/saved_model/`` with
signatures ``gaussian_encoder`` (images -> mean, logvar), ``mean_encoder`` and
``serving_default`` (images -> representation), ``decoder`` (latents -> images
logits), ``reconstructions`` (images -> images logits) and the asset
``tfdis_metadata.json``. Models exported elsewhere with the same signatures
load too; missing metadata is tolerated where the caller passes what it needs.
"""

from __future__ import annotations

import glob
import json
import os
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

from absl import logging

import numpy as np

from tfdis.errors import UserError

METADATA_FILE = "tfdis_metadata.json"
REQUIRED_SIGNATURES = ("gaussian_encoder", "mean_encoder")


class NotASavedModelError(UserError, ValueError):
  """The directory does not hold a SavedModel with the tfdis signatures."""


class ObservationShapeError(UserError, ValueError):
  """Images (or a dataset) do not have the shape a model takes."""


def check_observation_shape(model: "LoadedModel", data) -> None:
  """Raises ``ObservationShapeError`` unless ``data``'s observations have the
  shape ``model`` takes (say which dataset to pass instead)."""
  model_shape = tuple(int(s) for s in model.observation_shape)
  data_shape = tuple(int(s) for s in data.observation_shape)
  if model_shape != data_shape:
    trained_on = ((model.metadata or {}).get("dataset") or {}).get("name")
    hint = (f" (it was trained on {trained_on!r})" if trained_on else "")
    raise ObservationShapeError(
        f"{model.path}: the model takes images of shape {model_shape} but "
        f"dataset {getattr(data, 'name', '?')!r} has observations of shape "
        f"{data_shape}. Pass the dataset the model was trained on{hint}, or "
        "--dataset=auto to read it from the model.")


def is_saved_model_dir(path: str) -> bool:
  """True if ``path`` is a SavedModel or a model directory holding one."""
  path = os.fspath(path)
  return (os.path.isfile(os.path.join(path, "saved_model.pb")) or
          os.path.isfile(os.path.join(path, "saved_model", "saved_model.pb")))


def saved_model_dir(model_dir: str) -> str:
  """Accepts a model directory (with saved_model/) or the SavedModel itself."""
  model_dir = os.fspath(model_dir)
  if os.path.isfile(os.path.join(model_dir, "saved_model.pb")):
    return model_dir
  inner = os.path.join(model_dir, "saved_model")
  if os.path.isfile(os.path.join(inner, "saved_model.pb")):
    return inner
  if os.path.isfile(model_dir):
    raise NotASavedModelError(
        f"{model_dir!r} is a file, not a model directory. Pass the directory "
        "written by tfdis_train (the one holding saved_model/), or the "
        "saved_model/ directory itself.")
  if not os.path.isdir(model_dir):
    raise NotASavedModelError(
        f"{model_dir!r} does not exist. Pass a model directory written by "
        "tfdis_train (the one holding saved_model/).")
  raise NotASavedModelError(
      f"{model_dir!r} is not a SavedModel: neither it nor {inner!r} contains "
      "saved_model.pb. Pass a model directory written by tfdis_train (or "
      "export one with `tfdis_train --export_only --model_dir=...`).")


def expand_model_dirs(model_dirs: Union[str, Sequence[str]],
                      flag: str = "--model_dirs",
                      min_count: int = 1) -> List[str]:
  """A comma list and/or glob patterns -> model directories, in order.

  A path matched by a glob that holds no SavedModel (e.g. ``udr/`` next to
  the models of ``runs/x/*``) is skipped with an info log; an explicitly
  named one is an error (``NotASavedModelError``), as is a pattern that
  matches no model, or fewer than ``min_count`` models in all. Cheap: no
  TensorFlow import.
  """
  if isinstance(model_dirs, str):
    model_dirs = model_dirs.split(",")
  out: List[str] = []
  for entry in model_dirs:
    entry = os.fspath(entry).strip()
    if not entry:
      continue
    if glob.has_magic(entry):
      matches = sorted(glob.glob(entry))
      models = [m for m in matches if is_saved_model_dir(m)]
      for skipped in sorted(set(matches) - set(models)):
        logging.info("%s: skipping %s (no SavedModel in it)", flag, skipped)
      if not models:
        raise NotASavedModelError(
            f"{flag} pattern {entry!r} matches no model directory (matched: "
            f"{matches or 'nothing'}). Point it at directories written by "
            "tfdis_train.")
      out.extend(models)
    else:
      saved_model_dir(entry)  # raises with the reason
      out.append(entry)
  out = list(dict.fromkeys(out))
  if len(out) < min_count:
    raise NotASavedModelError(
        f"{flag} gave {len(out)} model directories ({out}); need at least "
        f"{min_count}.")
  return out


def read_metadata(model_dir: str) -> Dict:
  """The tfdis_metadata.json asset of a SavedModel ({} if absent)."""
  path = os.path.join(saved_model_dir(model_dir), "assets", METADATA_FILE)
  if not os.path.isfile(path):
    return {}
  with open(path) as f:
    return json.load(f)


class LoadedModel:
  """A SavedModel seen through its signatures, callable on numpy batches.

  Attributes: ``path``, ``metadata`` (dict), ``latent_dim``,
  ``observation_shape``. Methods take/return numpy and batch internally.
  """

  def __init__(self, model_dir: str, batch_size: int = 256):
    import tensorflow as tf  # local: keeps `import tfdis.export.load` cheap

    self.model_dir = os.fspath(model_dir)
    self.path = saved_model_dir(model_dir)
    try:
      self._module = tf.saved_model.load(self.path)
    except Exception as e:  # corrupt or foreign files
      raise NotASavedModelError(
          f"{self.path!r} could not be loaded as a SavedModel: {e}") from e
    sigs = self._module.signatures
    missing = [s for s in REQUIRED_SIGNATURES if s not in sigs]
    if missing:
      raise NotASavedModelError(
          f"SavedModel {self.path!r} lacks the signature(s) {missing} "
          f"(it has {sorted(sigs)}). tfdis needs 'gaussian_encoder' "
          "(images -> mean, logvar) and 'mean_encoder' (images -> "
          "representation); re-export it with tfdis_train --export_only.")
    self._sigs = sigs
    self.batch_size = int(batch_size)
    self.metadata = read_metadata(model_dir)
    spec = sigs["gaussian_encoder"].structured_input_signature[1]
    image_spec = next(iter(spec.values()))
    self._input_name = next(iter(spec))
    self.observation_shape = tuple(int(s) for s in image_spec.shape[1:])
    out = sigs["gaussian_encoder"].structured_outputs
    self.latent_dim = int(out["mean"].shape[-1])

  def _check_images(self, images: np.ndarray) -> np.ndarray:
    images = np.asarray(images, dtype=np.float32)
    if images.ndim == 3 and self.observation_shape[-1] == 1:
      images = images[..., None]
    if tuple(images.shape[1:]) != self.observation_shape:
      raise ObservationShapeError(
          f"images of shape {images.shape[1:]} do not match the model's "
          f"observation shape {self.observation_shape} ({self.path})")
    return images

  def _batched(self, signature: str, inputs: np.ndarray, input_name: str,
               ) -> Dict[str, np.ndarray]:
    """Calls ``signature`` on batches of exactly ``batch_size`` rows.

    The last batch is padded with zeros (and the padding dropped) so that
    every row goes through the same batch shape: measured on CPU (oneDNN and
    Eigen kernels alike), a row's output changes in its last bits (~1e-7)
    with the size of the batch it is computed in, but never with its
    position or with the other rows at a fixed batch size. Fixed batches make
    a row's code a function of the row alone (given the model, the batch
    size and the TensorFlow thread count), which is what lets
    :mod:`tfdis.export.code_cache` serve metrics the codes they would have
    computed themselves, bit for bit.
    """
    import tensorflow as tf

    fn = self._sigs[signature]
    n = len(inputs)
    outs = []
    for start in range(0, max(n, 1), self.batch_size):
      chunk = inputs[start:start + self.batch_size]
      rows = len(chunk)
      if rows < self.batch_size:
        pad = np.zeros((self.batch_size - rows,) + chunk.shape[1:],
                       dtype=chunk.dtype)
        chunk = np.concatenate([chunk, pad])
      out = fn(**{input_name: tf.constant(chunk)})
      outs.append({k: v.numpy()[:rows] for k, v in out.items()})
    return {k: np.concatenate([o[k] for o in outs]) for k in outs[0]}

  def gaussian_encoder(self, images) -> Tuple[np.ndarray, np.ndarray]:
    out = self._batched("gaussian_encoder", self._check_images(images),
                        self._input_name)
    return out["mean"], out["logvar"]

  def mean_encoder(self, images) -> np.ndarray:
    return self._batched("mean_encoder", self._check_images(images),
                         self._input_name)["representation"]

  def sampled_encoder(self, images, random_state) -> np.ndarray:
    mean, logvar = self.gaussian_encoder(images)
    eps = random_state.normal(size=mean.shape).astype(np.float32)
    return mean + np.exp(logvar / 2) * eps

  def decoder(self, latents) -> np.ndarray:
    """Logits [N, H, W, C]; apply a sigmoid for images."""
    latents = np.asarray(latents, dtype=np.float32)
    spec = self._sigs["decoder"].structured_input_signature[1]
    return self._batched("decoder", latents, next(iter(spec)))["images"]

  def reconstructions(self, images) -> np.ndarray:
    return self._batched("reconstructions", self._check_images(images),
                         self._input_name)["images"]

  def representation_fn(self, representation: str = "mean",
                        random_state: Optional[np.random.RandomState] = None
                        ) -> Callable[[np.ndarray], np.ndarray]:
    """``images -> codes`` for metrics: 'mean' or 'sampled'."""
    if representation == "mean":
      return self.mean_encoder
    if representation == "sampled":
      rs = random_state or np.random.RandomState(0)
      return lambda images: self.sampled_encoder(images, rs)
    raise ValueError(
        f"Unknown representation {representation!r}; use 'mean' or 'sampled'")


def load_saved_model(model_dir: str, batch_size: int = 256) -> LoadedModel:
  return LoadedModel(model_dir, batch_size=batch_size)
