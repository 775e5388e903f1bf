"""tfdis_visualize: pictures of a trained model or of a dataset's factors.

Model mode (reconstructions, samples, latent traversals PNG + GIF):
  tfdis_visualize --model_dir=runs/x/beta_vae_0 [--output_dir=...]
Dataset mode (factor visualisations):
  tfdis_visualize --dataset=procedural_dsprites_small --output_dir=out/ds
Exactly one of --model_dir and --dataset must be given. Every flag is a field
of ``tfdis.visualize_spec.VisualizeSpec``.
"""

from __future__ import annotations

from absl import app, flags, logging

from tfdis import config_flags
from tfdis.errors import run_main
from tfdis.visualize_spec import VisualizeSpec

FLAGS = flags.FLAGS
config_flags.define_config_flags(VisualizeSpec)
flags.adopt_module_key_flags(config_flags)  # listed by --help


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  spec = config_flags.config_from_flags(VisualizeSpec).validate()
  from tfdis.io_utils import ensure_writable_dir

  if spec.output_dir:
    ensure_writable_dir(spec.output_dir)
  result = spec.run()
  if result["mode"] == "model":
    logging.info("wrote %d files", len(result["files"]))
    print(f"Visualisations written to {result['output_dir']}")
  else:
    print(f"Dataset visualisations written to {result['output_dir']}")


def run():
  run_main(main)


if __name__ == "__main__":
  run()
