r"""tfdis_pbt: population-based training of VAEs (PBT-S-VAE / PBT-U-VAE).

Examples:
  # PBT-S-VAE: MIG on ground-truth labels as the PBT eval
  tfdis_pbt --eval=mig --dataset=procedural_dsprites --population_size=24 \
      --max_generations=30 --output_dir=runs/pbt_s/pbt
  # 1000-PBT-S-VAE: MIG on 1000 fixed labelled examples
  tfdis_pbt --eval=mig --num_labels=1000 --output_dir=runs/pbt_s1000/pbt
  # PBT-U-VAE: every member is 5 VAEs scored by UDR
  tfdis_pbt --eval=udr --ensemble_size=5 --output_dir=runs/pbt_u/pbt

Rerunning the same command after an interruption resumes the run.
"""

from __future__ import annotations

import json

from absl import app, flags, logging

from tfdis.execution import flags as execution_flags
from tfdis.pbt.config import EVALS, FINAL_SUPERVISION

FLAGS = flags.FLAGS

flags.DEFINE_string("output_dir", None, "Run directory (required).")
flags.DEFINE_string("dataset", "procedural_dsprites", "Dataset (registry name).")
flags.DEFINE_string("dataset_options", "{}", "Dataset options (JSON object).")
flags.DEFINE_string("indices_path", None,
                    "npz with 'indices': train on these grid rows only.")
flags.DEFINE_enum("eval", "mig", list(EVALS), "PBT eval function.")
flags.DEFINE_integer("num_labels", None,
                     "Few-label variant: labelled examples for mig/dci.")
flags.DEFINE_list("surrogate_labels", [],
                  "rPU surrogate-label npz files (eval=surrogate_mig).")
flags.DEFINE_integer("surrogate_num_rows", None, "eval=surrogate_mig: score "
                     "at most this many rows per metaEpoch (a fixed random "
                     "subset; default all rows, as the authors).",
                     lower_bound=2)
flags.DEFINE_enum("final_supervision", "eval", list(FINAL_SUPERVISION),
                  "Use surrogate labels only as eval, or also as a loss.")
flags.DEFINE_string("supervision", None,
                    "Semi-supervision JSON for final_supervision=eval+loss.")
flags.DEFINE_integer("population_size", 24, "Members N.")
flags.DEFINE_integer("max_generations", 50, "Generations (ready intervals).")
flags.DEFINE_integer("interval_images", None,
                     "Images per interval (default max(10000, |d|)).")
flags.DEFINE_integer("interval_steps", None,
                     "Steps per interval (instead of images).")
flags.DEFINE_float("cutoff", 0.2, "Truncation fraction.")
flags.DEFINE_float("resample_probability", 0.0,
                   "Explore: resample instead of perturb with this chance.")
flags.DEFINE_integer("big_init_population_factor", 1,
                     "Start with factor·N members, keep the best N.")
flags.DEFINE_float("convergence_threshold", None,
                   "Stop when |best(e) - best(e-1)| < this for "
                   "--convergence_patience generations.")
flags.DEFINE_integer("convergence_patience", 6, "See convergence_threshold.")
flags.DEFINE_string("model", "beta_tc_vae", "Model family.")
flags.DEFINE_string("architecture", "conv_bn", "conv | conv_4x4 | fc | conv_bn")
flags.DEFINE_integer("latent_dim", 10, "Latents d.")
flags.DEFINE_enum("reconstruction_loss", "bernoulli", ["bernoulli", "l2"],
                  "Reconstruction loss.")
flags.DEFINE_list("evolve", ["learning_rate", "batch_size", "beta"],
                  "Evolved hyperparameters.")
flags.DEFINE_string("hyperparameter_space", "{}",
                    'JSON {name: {"initial_values": [...], "low": .., '
                    '"high": .., "kind": "float|int|power_of_two"}}.')
flags.DEFINE_string("fixed_hyperparameters", "{}",
                    "JSON of model hyperparameters that are not evolved.")
flags.DEFINE_integer("ensemble_size", 5, "VAEs per member (eval=udr).")
flags.DEFINE_integer("udr_num_data_points", 1000, "Images for UDR.")
flags.DEFINE_integer("mig_num_train", 50000, "Points for the MIG eval.")
flags.DEFINE_integer("dci_num_train", 10000, "Train points for the DCI eval.")
flags.DEFINE_integer("dci_num_test", 5000, "Test points for the DCI eval.")
flags.DEFINE_integer("num_workers", 1,
                     "Parallel worker processes (1 = in-process).")
flags.DEFINE_integer("seed", 0, "Controller seed.")
flags.DEFINE_integer("max_nan_retries", 1,
                     "Retries (new seed) of a member whose loss goes NaN.")
flags.DEFINE_bool("export_every_generation", True,
                  "Export the best member of every generation.")
execution_flags.define_flags()
flags.mark_flag_as_required("output_dir")


def _json_object(text: str, name: str) -> dict:
  try:
    value = json.loads(text or "{}")
  except json.JSONDecodeError as e:
    raise flags.ValidationError(f"--{name} is not valid JSON ({e})") from None
  if not isinstance(value, dict):
    raise flags.ValidationError(f"--{name} must be a JSON object")
  return value


for _name in ("dataset_options", "hyperparameter_space",
              "fixed_hyperparameters"):
  flags.register_validator(
      _name, lambda v, n=_name: _json_object(v, n) is not None,
      message=f"--{_name} must be a JSON object")
flags.register_multi_flags_validator(
    ["interval_images", "interval_steps"],
    lambda f: f["interval_images"] is None or f["interval_steps"] is None,
    message="set at most one of --interval_images and --interval_steps")
flags.register_validator("population_size", lambda v: v >= 2,
                         message="--population_size must be >= 2")
flags.register_validator("max_generations", lambda v: v >= 1,
                         message="--max_generations must be >= 1")
flags.register_validator("num_workers", lambda v: v >= 1,
                         message="--num_workers must be >= 1")
flags.register_multi_flags_validator(
    ["eval", "surrogate_labels"],
    lambda f: f["eval"] != "surrogate_mig" or bool(f["surrogate_labels"]),
    message="--eval=surrogate_mig needs --surrogate_labels")


def build_config():
  from tfdis.pbt import PBTConfig
  architecture = FLAGS.architecture
  if architecture.strip().startswith("{"):
    architecture = json.loads(architecture)
  return PBTConfig(
      output_dir=FLAGS.output_dir, dataset=FLAGS.dataset,
      dataset_options=_json_object(FLAGS.dataset_options, "dataset_options"),
      indices_path=FLAGS.indices_path, eval=FLAGS.eval,
      num_labels=FLAGS.num_labels,
      surrogate_labels=tuple(FLAGS.surrogate_labels),
      surrogate_num_rows=FLAGS.surrogate_num_rows,
      final_supervision=FLAGS.final_supervision,
      supervision=(json.loads(FLAGS.supervision) if FLAGS.supervision
                   else None),
      population_size=FLAGS.population_size,
      max_generations=FLAGS.max_generations,
      interval_images=FLAGS.interval_images,
      interval_steps=FLAGS.interval_steps, cutoff=FLAGS.cutoff,
      resample_probability=FLAGS.resample_probability,
      big_init_population_factor=FLAGS.big_init_population_factor,
      convergence_threshold=FLAGS.convergence_threshold,
      convergence_patience=FLAGS.convergence_patience, model=FLAGS.model,
      architecture=architecture, latent_dim=FLAGS.latent_dim,
      reconstruction_loss=FLAGS.reconstruction_loss,
      evolve=tuple(FLAGS.evolve),
      hyperparameter_space=_json_object(FLAGS.hyperparameter_space,
                                        "hyperparameter_space"),
      fixed_hyperparameters=_json_object(FLAGS.fixed_hyperparameters,
                                         "fixed_hyperparameters"),
      ensemble_size=FLAGS.ensemble_size,
      udr_num_data_points=FLAGS.udr_num_data_points,
      mig_num_train=FLAGS.mig_num_train, dci_num_train=FLAGS.dci_num_train,
      dci_num_test=FLAGS.dci_num_test, num_workers=FLAGS.num_workers,
      seed=FLAGS.seed, max_nan_retries=FLAGS.max_nan_retries,
      export_every_generation=FLAGS.export_every_generation)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  execution = execution_flags.config_from_flags(FLAGS.num_workers)
  config = build_config()
  try:
    config.validate()   # before any TensorFlow work
  except ValueError as e:
    raise app.UsageError(str(e)) from None
  from tfdis.execution import ExecutorUnavailable
  from tfdis.pbt import run_pbt
  try:
    result = run_pbt(config, executor=execution)
  except ExecutorUnavailable as e:
    raise app.UsageError(str(e)) from None
  logging.info("PBT done: %d generations, best %s = %.4f (%s); SavedModel %s",
               result["generations"], result["best_member"],
               result["best_score"], result["stop_reason"],
               result["best_saved_model"])


def run():
  app.run(main)


if __name__ == "__main__":
  run()
