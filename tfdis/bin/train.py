r"""tfdis_train: train one VAE, resume from model_dir, export the SavedModel.

Examples:
  tfdis_train --model=beta_vae --beta=4 --dataset=procedural_dsprites_small \
      --steps=2000 --model_dir=runs/demo/beta4
  tfdis_train --export_only --model_dir=runs/demo/beta4
  tfdis_train --flagfile=my.flags

Every flag but --export_only and --overwrite is a field of
``tfdis.training.TrainConfig``. Rerunning the same command resumes; a
command whose model, dataset, architecture, latent size or reconstruction
loss differ from what --model_dir holds is refused (use a new directory or
--overwrite). Hyperparameter flags that the chosen family does not take are
an error (e.g. --gamma with beta_vae); unset ones take the family's defaults.
"""

from __future__ import annotations

import json

from absl import flags, logging

from tfdis import lean_import

lean_import.import_tensorflow()  # before anything imports TensorFlow

from tfdis import config_flags  # noqa: E402
from tfdis.errors import run_main  # noqa: E402
from tfdis.training.config import TrainConfig  # noqa: E402
from tfdis.data import sources as data_sources  # noqa: E402

FLAGS = flags.FLAGS
data_sources.define_flags()  # --nodownload, --dataset_mirror, ...

config_flags.define_config_flags(TrainConfig)
flags.adopt_module_key_flags(config_flags)  # listed by --help
config_flags.define_hyperparameter_flags()
# The two flags a spec does not hold, on purpose: they are actions on the
# directory, not settings of the run, so they must not enter config.json
# (which a resumed run is compared against) or its immutability check.
flags.DEFINE_bool("export_only", False,
                  "Only export model_dir's latest checkpoint.")
flags.DEFINE_bool("overwrite", False, "Delete what --model_dir holds "
                  "(checkpoints, SavedModel, results) and train afresh.")


def config_from_flags() -> TrainConfig:
  config = config_flags.config_from_flags(TrainConfig)
  return config.replace(hyperparameters=config_flags.hyperparameters_from_flags(
      config.hyperparameters))


def main(argv):
  if len(argv) > 1:
    raise flags.ValidationError(f"unexpected arguments: {argv[1:]}")
  data_sources.apply_flags()  # to the environment: workers see them too
  if FLAGS.export_only:
    from tfdis.training import export_from_checkpoint

    if not FLAGS.model_dir:
      raise flags.ValidationError("--export_only needs --model_dir")
    print(export_from_checkpoint(FLAGS.model_dir))
    return
  config = config_from_flags().validate()
  from tfdis.training import train

  result = train(config, overwrite=FLAGS.overwrite)
  logging.info("Done: %d steps in %.1f s; SavedModel: %s", result["steps"],
               result["wall_seconds"], result.get("saved_model"))
  print(json.dumps({k: result[k] for k in ("steps", "final_losses")
                    if k in result}))


def run():
  run_main(main)


if __name__ == "__main__":
  run()
