"""The PBT worker: trains one member for one ready interval, scores it,
exports it. Runs in the controller process (num_workers=1) or in a spawned
worker process (``tfdis.pbt.executor``).

A member lives in ``members/<id>/``:
  member.json        id, seed, hyperparameters, step, trained_generation,
                     checkpoint (relative prefix), scores / status / details
                     per generation, parent lineage
  checkpoints/gen_<g>.*   tf.train.Checkpoint: weights, optimiser state,
                     step, RNG and hyperparameter variables
  tensorboard/       score, hyperparameters and losses per generation

Idempotence: ``member.json`` is written (atomically) only after the
checkpoint it points to is complete, and names it explicitly, so a task
killed at any moment is redone from the previous good state; a member whose
``trained_generation`` already equals the task's generation is only scored
(or, if scored too, returned as is).

Speed: each worker keeps one built model (and its traced step function) per
model configuration and restores members' checkpoints into it, so a task
costs the interval's steps, not a rebuild and a retrace. The step function
has an input signature with an unknown batch dimension: batch-size changes
do not retrace.

NaN/Inf: a member whose loss or weights become non-finite is restored from
its last checkpoint and retried with a new seed (``max_nan_retries``), then
scored 0 and left at its last good checkpoint (exploit usually replaces it).
"""

from __future__ import annotations

import glob
import json
import math
import os
import time
import traceback
from typing import Any, Dict, Optional, Tuple

import numpy as np

from tfdis import io_utils

MEMBER_FILE = "member.json"
NAN_CHECK_EVERY = 20
ENCODE_BATCH = 256
_CACHE: Dict[str, Any] = {}


# ---------------------------------------------------------------------------
# member files
# ---------------------------------------------------------------------------
def read_member(member_dir: str) -> Dict[str, Any]:
  return io_utils.read_json(os.path.join(member_dir, MEMBER_FILE))


def write_member(member_dir: str, member: Dict[str, Any]) -> None:
  io_utils.write_json(os.path.join(member_dir, MEMBER_FILE), member)


def new_member(member_id: str, seed: int, hyperparameters: Dict[str, Any]
               ) -> Dict[str, Any]:
  return {"id": member_id, "seed": int(seed),
          "hyperparameters": dict(hyperparameters), "step": 0,
          "trained_generation": 0, "checkpoint": None, "scores": {},
          "status": {}, "details": {}, "parents": [], "seeds": {}}


def _retry_seed(seed: int, generation: int, attempt: int) -> int:
  return int(np.random.default_rng([seed, generation, attempt, 0x5EED])
             .integers(0, 2 ** 31 - 1))


# ---------------------------------------------------------------------------
# per-process cache: data, models, eval inputs
# ---------------------------------------------------------------------------
def _context(config) -> Dict[str, Any]:
  """Data, training rows, eval rows and labels of this run (cached)."""
  from tfdis.data import get_dataset
  from tfdis.pbt import evaluation
  from tfdis.training import inputs

  key = ("ctx", config.output_dir, config.dataset,
         json.dumps(config.dataset_options, sort_keys=True),
         config.indices_path)
  ctx = _CACHE.get(key)
  if ctx is not None:
    return ctx
  data = get_dataset(config.dataset, **config.dataset_options)
  indices = inputs.load_indices(None, config.indices_path)
  ctx = {"data": data, "indices": indices,
         "dataset_size": len(indices) if indices is not None
         else data.num_examples, "images": {}}
  path = os.path.join(config.output_dir, evaluation.EVAL_INDICES_FILE)
  if os.path.isfile(path):
    with np.load(path) as f:
      ctx["eval_indices"] = np.asarray(f["indices"], np.int64)
      ctx["eval_num_train"] = int(f["num_train"])
    ctx["eval_factors"] = data.index_to_factors(ctx["eval_indices"])
  if config.eval == "surrogate_mig":
    ctx["surrogate"] = evaluation.subsample_surrogate_labels(
        evaluation.load_surrogate_labels(config.surrogate_labels),
        config.surrogate_num_rows, config.seed)
  supervision_path = os.path.join(config.output_dir, "supervision.npz")
  ctx["labels"] = None
  if config.final_supervision == "eval+loss" and os.path.isfile(
      supervision_path):
    ctx["labels"] = inputs.load_labels(data, supervision_path, None,
                                       config.seed, indices)
  _CACHE.clear()  # one run per process at a time: drop other runs' models
  _CACHE[key] = ctx
  return ctx


def _images(ctx, rows: np.ndarray) -> np.ndarray:
  """float32 images of grid rows; small sets are cached as uint8."""
  key = (len(rows), int(rows[:16].sum()) if len(rows) else 0,
         int(rows.sum()) if len(rows) else 0)
  cached = ctx["images"].get(key)
  if cached is None:
    cached = ctx["data"].images_from_indices(rows, np.random.RandomState(0))
    if cached.nbytes <= 512 * 2 ** 20:
      ctx["images"][key] = cached
  return cached


def _supervision(config) -> Optional[Dict[str, Any]]:
  if config.final_supervision == "eval+loss":
    return dict(config.supervision or {})
  return None


def _model_entry(config, ctx) -> Dict[str, Any]:
  """The cached (model, checkpoint, step functions) for this configuration."""
  import tensorflow as tf
  from tfdis.models import build_model
  from tfdis.pbt.ensemble import EnsembleVAE

  key = ("model", config.model, json.dumps(config.architecture),
         config.latent_dim, config.reconstruction_loss, config.eval,
         config.ensemble_size if config.eval == "udr" else 0,
         json.dumps(_supervision(config), sort_keys=True),
         ctx["dataset_size"])
  entry = _CACHE.get(key)
  if entry is not None:
    return entry
  shape = ctx["data"].observation_shape
  hp = dict(config.fixed_hyperparameters)
  if config.eval == "udr":
    model = EnsembleVAE(config.model, shape, num_models=config.ensemble_size,
                        latent_dim=config.latent_dim,
                        architecture=config.architecture, hyperparameters=hp,
                        reconstruction_loss=config.reconstruction_loss,
                        dataset_size=ctx["dataset_size"], initialize=False)
    optimizers = [model.optimizer]
  else:
    model = build_model(config.model, shape, latent_dim=config.latent_dim,
                        architecture=config.architecture, hyperparameters=hp,
                        reconstruction_loss=config.reconstruction_loss,
                        supervision=_supervision(config),
                        dataset_size=ctx["dataset_size"])
    optimizers = list(model.optimizers.values())
  checkpoint = tf.train.Checkpoint(**model.checkpoint_objects())
  image_spec = tf.TensorSpec([None, *shape], tf.float32)

  @tf.function(input_signature=[image_spec])
  def encode(images):
    return model.encode(images, training=False)

  entry = {"model": model, "checkpoint": checkpoint, "optimizers": optimizers,
           "steps": {}, "encode": encode, "ensemble": config.eval == "udr"}
  _CACHE[key] = entry
  return entry


def _step_fn(entry, element_spec):
  """tf.function train step with an unknown batch dimension (cached)."""
  import tensorflow as tf

  spec = tf.nest.map_structure(
      lambda s: tf.TensorSpec([None, *s.shape[1:]], s.dtype), element_spec)
  key = repr(spec)
  fn = entry["steps"].get(key)
  if fn is None:
    model = entry["model"]
    fn = tf.function(lambda batch: model.train_step(batch),
                     input_signature=[spec])
    entry["steps"][key] = fn
  return fn


def _reset_fresh(entry, config, seed: int) -> None:
  """Fresh, independently initialised weights and zero optimiser state."""
  import keras
  from tfdis.models import architectures

  model = entry["model"]
  if entry["ensemble"]:
    model.initialize(seed)
  else:
    keras.utils.set_random_seed(int(seed) % 2 ** 32)
    arch = model.architecture
    enc = architectures.make_encoder(arch["encoder"], model.observation_shape,
                                     model.latent_dim)
    dec = architectures.make_decoder(arch["decoder"], model.observation_shape,
                                     model.latent_dim)
    model.encoder.set_weights(enc.get_weights())
    model.decoder.set_weights(dec.get_weights())
  for opt in entry["optimizers"]:
    for v in opt.variables:
      v.assign(np.zeros(v.shape, v.dtype))
  model.step.assign(0)


def _load_state(entry, config, member_dir: str, member: Dict[str, Any],
                seed: int) -> None:
  """Restores the member's checkpoint (or fresh weights) and its settings."""
  model = entry["model"]
  if member["checkpoint"]:
    prefix = os.path.join(member_dir, member["checkpoint"])
    entry["checkpoint"].read(prefix).assert_existing_objects_matched()
  else:
    _reset_fresh(entry, config, seed)
  hp = dict(member["hyperparameters"])
  model.set_learning_rate(float(hp.pop("learning_rate")))
  hp.pop("batch_size")
  model.set_hyperparameters(model.validate_hyperparameters(hp))
  # Reparameterisation noise is a function of (seed, step): a clone with a
  # fresh seed draws fresh noise (the authors' clones reused the donor's).
  model.rng.reset_from_seed(int(seed) * 1_000_003 + int(member["step"]))


def _weights_finite(model) -> bool:
  import tensorflow as tf
  variables = (model.trainable_variables if hasattr(model, "net")
               else model.vae_variables)
  return all(bool(tf.reduce_all(tf.math.is_finite(v)).numpy())
             for v in variables)


def _train(entry, config, ctx, batch_size: int, steps: int, seed: int,
           start_step: int, nan_hook: bool) -> Tuple[bool, Dict[str, Any]]:
  """Runs ``steps`` steps; returns (finite, last loss terms as lists)."""
  from tfdis.training import inputs

  model = entry["model"]
  ds = inputs.make_training_data(ctx["data"], batch_size,
                                 int(seed) * 1_000_003 + int(start_step),
                                 ctx["indices"], ctx["labels"])
  step_fn = _step_fn(entry, ds.element_spec)
  it = iter(ds)
  terms = {}
  for i in range(steps):
    terms = step_fn(next(it))
    if nan_hook or (i + 1) % NAN_CHECK_EVERY == 0 or i + 1 == steps:
      loss = np.asarray(terms["loss"].numpy())
      if nan_hook or not np.all(np.isfinite(loss)):
        return False, {}
  finite = _weights_finite(model)
  out = {k: np.asarray(v.numpy()).tolist() for k, v in terms.items()}
  return finite, out


def _encode_rows(entry, ctx, rows: np.ndarray, with_logvar: bool = False):
  means, logvars = [], []
  for start in range(0, len(rows), ENCODE_BATCH):
    images = _images_batch(ctx, rows, start)
    mean, logvar = entry["encode"](images.astype(np.float32) / 255.0)
    means.append(mean.numpy())
    logvars.append(logvar.numpy())
  means = np.concatenate(means)
  return (means, np.concatenate(logvars)) if with_logvar else means


def _images_batch(ctx, rows, start):
  full = _images(ctx, rows) if len(rows) * np.prod(
      ctx["data"].observation_shape) <= 512 * 2 ** 20 else None
  if full is not None:
    return full[start:start + ENCODE_BATCH]
  return ctx["data"].images_from_indices(rows[start:start + ENCODE_BATCH],
                                         np.random.RandomState(0))


def _evaluate(entry, config, ctx) -> Tuple[float, Dict[str, Any]]:
  from tfdis.pbt import evaluation

  if config.eval in ("mig", "dci"):
    codes = _encode_rows(entry, ctx, ctx["eval_indices"])
    if config.eval == "mig":
      return evaluation.mig_score(codes, ctx["eval_factors"], config.num_bins)
    return evaluation.dci_score(codes, ctx["eval_factors"],
                                ctx["eval_num_train"], config.seed)
  if config.eval == "udr":
    means, logvar = _encode_rows(entry, ctx, ctx["eval_indices"], True)
    kls = evaluation.per_latent_kl(  # [K, d], spec: the UDR KL filter
        means, logvar, config.kl_estimator, evaluation.AUTHORS_UDR_BATCH)
    if not (np.all(np.isfinite(means)) and np.all(np.isfinite(kls))):
      return 0.0, {"error": "non-finite codes"}
    return evaluation.udr_score(means, kls, config.udr_kl_threshold,
                                config.seed)
  return evaluation.surrogate_mig_score(
      lambda rows: _encode_rows(entry, ctx, rows), ctx["surrogate"],
      config.num_bins)


def _write_tensorboard(member_dir, generation, step, member, score, terms):
  import tensorflow as tf
  writer = tf.summary.create_file_writer(os.path.join(member_dir,
                                                      "tensorboard"))
  with writer.as_default(step=int(step)):
    tf.summary.scalar("pbt/score", float(score))
    tf.summary.scalar("pbt/generation", int(generation))
    for k, v in member["hyperparameters"].items():
      tf.summary.scalar(f"hyperparameters/{k}", float(v))
    for k, v in terms.items():
      v = np.asarray(v, np.float64)
      if v.ndim == 0:
        tf.summary.scalar(f"losses/{k}", float(v))
      elif v.ndim == 1 and k != "per_latent_kl":
        tf.summary.scalar(f"losses/{k}_mean", float(np.mean(v)))
  writer.flush()
  writer.close()


def _prune_checkpoints(member_dir: str, keep_prefix: str, keep: int) -> None:
  prefixes = sorted({p.split(".")[0] for p in glob.glob(
      os.path.join(member_dir, "checkpoints", "gen_*.*"))})
  keep_abs = os.path.join(member_dir, keep_prefix)
  others = [p for p in prefixes if p != keep_abs]  # gen_<g> sorts by g
  for p in others[:max(0, len(others) - (keep - 1))]:
    for f in glob.glob(p + ".*"):
      os.remove(f)


# ---------------------------------------------------------------------------
# tasks
# ---------------------------------------------------------------------------
def step_member(task: Dict[str, Any]) -> Dict[str, Any]:
  """Trains member ``task['member_dir']`` to ``task['generation']`` (if not
  done yet) and scores it. Returns {status, score, details, step, seed, ...}.
  """
  from tfdis.pbt.config import PBTConfig, interval_steps_for

  config = PBTConfig.from_dict(task["config"])
  member_dir, g = task["member_dir"], int(task["generation"])
  member = read_member(member_dir)
  key = str(g)
  if member["trained_generation"] >= g and key in member["scores"]:
    return _result(member, g, cached=True)
  t0 = time.time()
  ctx = _context(config)
  entry = _model_entry(config, ctx)
  model = entry["model"]
  terms: Dict[str, Any] = {}
  if member["trained_generation"] < g:
    hp = member["hyperparameters"]
    batch_size = int(hp["batch_size"])
    steps = interval_steps_for(config, batch_size, ctx["dataset_size"])
    seed = int(member["seed"])
    # Test hook: {member id: number of attempts whose loss is declared NaN}.
    forced = int(task.get("force_nan", {}).get(member["id"], 0))
    finite = False
    for attempt in range(config.max_nan_retries + 1):
      _load_state(entry, config, member_dir, member, seed)
      finite, terms = _train(entry, config, ctx, batch_size, steps, seed,
                             member["step"], attempt < forced)
      if finite:
        break
      seed = _retry_seed(int(member["seed"]), g, attempt)
      member["seeds"][key] = seed
    if not finite:
      # Left at its last good checkpoint, scored 0.
      member["seed"] = seed
      member["trained_generation"] = g
      member["scores"][key] = 0.0
      member["status"][key] = "non_finite"
      member["details"][key] = {"nan_retries": config.max_nan_retries}
      write_member(member_dir, member)
      return _result(member, g, seconds=time.time() - t0)
    member["seed"] = seed
    step = int(model.step.numpy())
    prefix = os.path.join("checkpoints", f"gen_{g:04d}")
    entry["checkpoint"].write(os.path.join(member_dir, prefix))
    member.update(step=step, checkpoint=prefix, trained_generation=g)
    member["status"][key] = "trained"
    write_member(member_dir, member)
    _prune_checkpoints(member_dir, prefix, config.keep_checkpoints)
  else:
    _load_state(entry, config, member_dir, member, int(member["seed"]))
  score, details = _evaluate(entry, config, ctx)
  if not math.isfinite(score):
    score, details = 0.0, dict(details, note="non-finite score set to 0")
  member["scores"][key] = float(score)
  member["details"][key] = details
  member["status"][key] = "ok"
  write_member(member_dir, member)
  try:
    _write_tensorboard(member_dir, g, member["step"], member, score, terms)
  except Exception:  # TensorBoard is a convenience, never a failure
    pass
  return _result(member, g, seconds=time.time() - t0, terms=terms)


def _result(member, g, cached=False, seconds=0.0, terms=None):
  key = str(g)
  return {"status": member["status"].get(key, "ok"),
          "score": float(member["scores"].get(key, 0.0)),
          "details": member["details"].get(key, {}),
          "step": int(member["step"]), "seed": int(member["seed"]),
          "hyperparameters": member["hyperparameters"], "cached": cached,
          "seconds": float(seconds),
          "loss": (None if not terms else
                   float(np.sum(np.asarray(terms.get("loss", np.nan)))))}


def export_member(task: Dict[str, Any]) -> Dict[str, Any]:
  """Exports a member (for UDR members: its VAE with the best individual
  UDR, ``task['model_index']``) as a tfdis SavedModel."""
  from tfdis.export.saved_model import build_metadata, export_saved_model
  from tfdis.pbt.config import PBTConfig

  config = PBTConfig.from_dict(task["config"])
  member_dir = task["member_dir"]
  member = read_member(member_dir)
  ctx = _context(config)
  entry = _model_entry(config, ctx)
  _load_state(entry, config, member_dir, member, int(member["seed"]))
  model = entry["model"]
  extra = {"pbt": {"member": member["id"], "generation": task["generation"],
                   "score": member["scores"].get(str(task["generation"])),
                   "eval": config.eval}}
  if entry["ensemble"]:
    k = int(task.get("model_index") or 0)
    model = model.extract(k)
    extra["pbt"]["ensemble_index"] = k
  info = ctx["data"].info()
  info["name"] = config.dataset
  info["options"] = dict(config.dataset_options)
  hp = member["hyperparameters"]
  meta = build_metadata(model, info, batch_size=int(hp["batch_size"]),
                        learning_rate=float(hp["learning_rate"]),
                        seed=int(member["seed"]), **extra)
  export_saved_model(model, task["export_dir"], meta)
  return {"status": "ok", "export_dir": task["export_dir"]}


def run_task(task: Dict[str, Any]) -> Dict[str, Any]:
  """Entry point of every executor: dispatches on ``task['op']``; never
  raises (a failing member must not stop the population)."""
  try:
    if task["op"] == "step":
      return step_member(task)
    if task["op"] == "export":
      return export_member(task)
    raise ValueError(f"unknown task op {task['op']!r}")
  except Exception as e:  # noqa: BLE001 — reported to the controller
    return {"status": "error", "error": f"{type(e).__name__}: {e}",
            "traceback": traceback.format_exc()[-4000:], "score": 0.0}
