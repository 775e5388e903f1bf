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

from absl import flags, logging

from tfdis import config_flags
from tfdis.errors import run_main
from tfdis.execution import flags as execution_flags
from tfdis.pbt.config import PBTConfig

FLAGS = flags.FLAGS

config_flags.define_config_flags(PBTConfig)
flags.adopt_module_key_flags(config_flags)  # listed by --help
execution_flags.define_flags()


def build_config() -> PBTConfig:
  return config_flags.config_from_flags(PBTConfig)


def main(argv):
  if len(argv) > 1:
    raise flags.ValidationError(f"unexpected arguments: {argv[1:]}")
  execution = execution_flags.config_from_flags(FLAGS.num_workers)
  config = build_config().validate()   # before anything is written
  from tfdis.pbt import run_pbt
  result = run_pbt(config, executor=execution)
  logging.info("PBT done: %d generations, best %s = %.4f (%s); SavedModel %s",
               result["generations"], result["best_member"],
               result["best_score"], result["stop_reason"],
               result["best_saved_model"])


def run():
  run_main(main)


if __name__ == "__main__":
  run()
