r"""tfdis_train: train one VAE, resume from model_dir, export the SavedModel.

Examples:
  tfdis_train --model=beta_vae --beta=4 --dataset=procedural_dsprites_small \
      --steps=2000 --model_dir=runs/demo/beta4
  tfdis_train --export_only --model_dir=runs/demo/beta4
  tfdis_train --flagfile=my.flags

Hyperparameter flags that the chosen family does not take are an error
(e.g. --gamma with beta_vae); unset ones take the family's defaults.
"""

from __future__ import annotations

import json

from absl import app, flags, logging

from tfdis.training.config import STRATEGIES

FLAGS = flags.FLAGS

flags.DEFINE_string("model", "beta_vae", "Model family (registry name).")
flags.DEFINE_string("dataset", "procedural_dsprites", "Dataset (registry name).")
flags.DEFINE_string("dataset_options", None,
                    "Dataset options: JSON object or key=value[,key=value].")
flags.DEFINE_float("beta", None, "β (beta_vae, beta_tc_vae).")
flags.DEFINE_float("gamma", None, "γ (annealed_vae, factor_vae).")
flags.DEFINE_float("c_max", None, "Capacity c_max (annealed_vae).")
flags.DEFINE_integer("iteration_threshold", None,
                     "Capacity annealing steps (annealed_vae).")
flags.DEFINE_float("lambda_od", None, "λ_od (dip_vae_i, dip_vae_ii).")
flags.DEFINE_float("lambda_d_factor", None, "λ_d / λ_od (dip_vae_*).")
flags.DEFINE_string("hyperparameters", None,
                    "Extra hyperparameters as a JSON object.")
flags.DEFINE_string("architecture", "conv",
                    "conv | conv_4x4 | fc | conv_bn, or JSON "
                    '{"encoder": ..., "decoder": ...}.')
flags.DEFINE_integer("latent_dim", 10, "Number of latents d.")
flags.DEFINE_enum("reconstruction_loss", "bernoulli", ["bernoulli", "l2"],
                  "Reconstruction loss.")
flags.DEFINE_integer("steps", 300000, "Total target step (resumes up to it).")
flags.DEFINE_integer("batch_size", 64, "Global batch size.")
flags.DEFINE_float("learning_rate", 1e-4, "Adam learning rate.")
flags.DEFINE_integer("seed", 0, "Random seed.")
flags.DEFINE_string("model_dir", None,
                    "Output directory (default runs/train/<model>_<dataset>_"
                    "seed<seed>).")
flags.DEFINE_enum("strategy", "auto", list(STRATEGIES),
                  "tf.distribute strategy.")
flags.DEFINE_bool("xla", False, "jit_compile the train step (slower on CPU).")
flags.DEFINE_integer("checkpoint_every", 5000, "Checkpoint period (steps).")
flags.DEFINE_integer("summary_every", 100, "Scalar summary period (steps).")
flags.DEFINE_integer("image_summary_every", 5000, "Image summary period.")
flags.DEFINE_integer("log_every", 100, "Progress log period (steps).")
flags.DEFINE_integer("keep_checkpoints", 3, "Checkpoints to keep.")
flags.DEFINE_bool("export", True, "Export the SavedModel after training.")
flags.DEFINE_bool("export_only", False,
                  "Only export model_dir's latest checkpoint.")
flags.DEFINE_string("indices_path", None,
                    "npz with 'indices': train on these grid rows only.")
flags.DEFINE_string("supervision", None,
                    'Semi-supervision JSON, e.g. {"loss": "xent", '
                    '"schedule": "fixed", "gamma_sup": 1}.')
flags.DEFINE_string("labels", None,
                    "npz with indices/labels[/mask] for semi-supervision.")
flags.DEFINE_integer("num_labels", None,
                     "Ground-truth labels on this many random rows.")

_HYPER_FLAGS = ("beta", "gamma", "c_max", "iteration_threshold", "lambda_od",
                "lambda_d_factor")


def parse_options(text):
  """JSON object or key=value[,key=value] (values parsed as JSON if they can
  be)."""
  if not text:
    return {}
  text = text.strip()
  if text.startswith("{"):
    value = json.loads(text)
    if not isinstance(value, dict):
      raise ValueError("expected a JSON object")
    return value
  out = {}
  for part in text.split(","):
    if "=" not in part:
      raise ValueError(f"{part!r} is not key=value")
    key, val = part.split("=", 1)
    try:
      out[key.strip()] = json.loads(val)
    except json.JSONDecodeError:
      out[key.strip()] = val.strip()
  return out


def _json_or_name(text):
  text = (text or "").strip()
  return json.loads(text) if text.startswith("{") else text


def _hyperparameters(flag_values) -> dict:
  """Hyperparameter flags (a name -> value mapping) merged with --hyperparameters."""
  hp = parse_options(flag_values["hyperparameters"])
  for name in _HYPER_FLAGS:
    if flag_values[name] is not None:
      hp[name] = flag_values[name]
  return hp


def _validator(check):
  def validate(flag_values):
    try:
      check(flag_values)
    except Exception as e:  # absl shows the message and the usage
      raise flags.ValidationError(str(e)) from None
    return True
  return validate


def _check_all(flag_values):
  if flag_values["export_only"]:
    if not flag_values["model_dir"]:
      raise ValueError("--export_only needs --model_dir")
    return
  from tfdis.data import DATASETS, get_dataset
  from tfdis.models import validate_hyperparameters, validate_supervision
  from tfdis.models.architectures import check_architecture

  model = flag_values["model"]
  validate_hyperparameters(model, _hyperparameters(flag_values))
  DATASETS.validate(flag_values["dataset"])
  try:
    options = parse_options(flag_values["dataset_options"])
  except ValueError as e:
    raise ValueError(f"--dataset_options: {e}") from None
  if flag_values["supervision"]:
    validate_supervision(json.loads(flag_values["supervision"]))
  data = get_dataset(flag_values["dataset"], **options)
  check_architecture(_json_or_name(flag_values["architecture"]),
                     data.observation_shape)
  for name in ("steps",):
    if flag_values[name] < 0:
      raise ValueError(f"--{name} must be >= 0")
  for name in ("batch_size", "latent_dim", "checkpoint_every",
               "summary_every", "log_every", "image_summary_every"):
    if flag_values[name] < 1:
      raise ValueError(f"--{name} must be >= 1")
  if not flag_values["learning_rate"] > 0:
    raise ValueError("--learning_rate must be > 0")


flags.register_multi_flags_validator(
    ["model", "dataset", "dataset_options", "architecture", "hyperparameters",
     "supervision", "export_only", "model_dir", "steps", "batch_size",
     "latent_dim", "learning_rate", "checkpoint_every", "summary_every",
     "log_every", "image_summary_every"] + list(_HYPER_FLAGS),
    _validator(_check_all),
    message="invalid tfdis_train flags")


def config_from_flags():
  from tfdis.training import TrainConfig

  return TrainConfig(
      model=FLAGS.model, dataset=FLAGS.dataset,
      dataset_options=parse_options(FLAGS.dataset_options),
      hyperparameters=_hyperparameters(
          {n: getattr(FLAGS, n) for n in _HYPER_FLAGS + ("hyperparameters",)}),
      architecture=_json_or_name(FLAGS.architecture),
      latent_dim=FLAGS.latent_dim,
      reconstruction_loss=FLAGS.reconstruction_loss, steps=FLAGS.steps,
      batch_size=FLAGS.batch_size, learning_rate=FLAGS.learning_rate,
      seed=FLAGS.seed, model_dir=FLAGS.model_dir, strategy=FLAGS.strategy,
      xla=FLAGS.xla, checkpoint_every=FLAGS.checkpoint_every,
      summary_every=FLAGS.summary_every,
      image_summary_every=FLAGS.image_summary_every,
      log_every=FLAGS.log_every, keep_checkpoints=FLAGS.keep_checkpoints,
      export=FLAGS.export, indices_path=FLAGS.indices_path,
      supervision=(json.loads(FLAGS.supervision) if FLAGS.supervision
                   else None),
      labels=FLAGS.labels, num_labels=FLAGS.num_labels)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  if FLAGS.export_only:
    from tfdis.export.saved_model import export_from_checkpoint

    path = export_from_checkpoint(FLAGS.model_dir)
    logging.info("Exported %s", path)
    print(path)
    return
  from tfdis.training import train

  config = config_from_flags()
  result = train(config)
  logging.info("Done: %d steps in %.1f s; SavedModel: %s", result["steps"],
               result["wall_seconds"], result.get("saved_model"))
  print(json.dumps({k: result[k] for k in ("steps", "final_losses")
                    if k in result}))


def run():
  app.run(main)


if __name__ == "__main__":
  run()
