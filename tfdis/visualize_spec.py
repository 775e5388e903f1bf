"""VisualizeSpec: what tfdis_visualize draws, each setting written once.

Two modes, exactly one of ``model_dir`` (reconstructions, samples, latent
traversals of a SavedModel: :func:`tfdis.visualize.model.visualize_model`)
and ``dataset`` (the factors of a dataset:
:func:`tfdis.visualize.dataset.visualize_dataset`)::

  VisualizeSpec(model_dir="runs/x/beta_vae_0").validate().run()
  VisualizeSpec(dataset="procedural_dsprites_small",
                output_dir="out/ds").validate().run()

The dataset fields are :class:`tfdis.specs.DataSpec`'s (no default: naming
a dataset selects dataset mode). :meth:`VisualizeSpec.validate` refuses a
bad request before anything is written, without TensorFlow. (A module of
its own, not in ``tfdis.visualize``: ``tfdis.specs`` depends on
``tfdis.models``, which uses ``tfdis.visualize``.)
"""

from __future__ import annotations

import dataclasses
from typing import Any, Dict, Optional

from tfdis.specs import MAX_SEED, DataSpec, Spec, need, redefault, spec_field
from tfdis.visualize.model import GIF_LAYOUTS


def _int_in(name: str, value: Any, low: int, high: int = MAX_SEED) -> None:
  need(isinstance(value, int) and not isinstance(value, bool) and
       low <= value <= high,
       f"{name} must be an integer in [{low}, {high}], got {value!r}")


@dataclasses.dataclass
class VisualizeSpec(Spec):
  """Pictures of one model, or of one dataset's factors."""

  model_dir: Optional[str] = spec_field(
      None, "Model directory (with saved_model/) or SavedModel to visualise "
      "(model mode).")
  dataset: Optional[str] = redefault(
      DataSpec, "dataset", None,
      help="Registered dataset name to visualise (dataset mode).")
  dataset_options: Dict[str, Any] = redefault(
      DataSpec, "dataset_options", dict,
      help="Options of --dataset: JSON object or key=value[,key=value], "
      "e.g. config=small for procedural_dsprites.")
  output_dir: Optional[str] = spec_field(
      None, "Where the pictures go. Model mode default: "
      "<model_dir>/visualizations; required in dataset mode.")
  num_images: int = spec_field(16, "Images in reconstructions.png and "
                               "samples.png.")
  num_traversals: int = spec_field(5, "Base images with a traversal PNG.")
  num_animations: int = spec_field(3, "Base images with traversal GIFs.")
  num_frames: int = spec_field(20, "Frames per GIF.")
  gif_layout: str = spec_field(
      "all", "all latents side by side in one GIF, or one GIF each.",
      choices=GIF_LAYOUTS)
  seed: int = spec_field(0, "Seeds the data draw and prior samples.")

  def _check(self):
    need((self.model_dir is None) != (self.dataset is None),
         "Give exactly one of --model_dir (visualise a model) or --dataset "
         "(visualise a dataset's factors).")
    need(self.dataset is None or bool(self.output_dir),
         "Dataset mode needs --output_dir.")
    need(isinstance(self.dataset_options, dict),
         f"dataset_options must be a JSON object or key=value[,key=value], "
         f"got {self.dataset_options!r}")
    if self.model_dir is not None:
      from tfdis.export.load import saved_model_dir

      saved_model_dir(self.model_dir)  # cheap; raises with the reason
    else:
      from tfdis.data import DATASETS, check_dataset_options

      DATASETS.validate(self.dataset)
      check_dataset_options(self.dataset, self.dataset_options)
    _int_in("num_images", self.num_images, 1)
    _int_in("num_traversals", self.num_traversals, 0)
    _int_in("num_animations", self.num_animations, 0)
    _int_in("num_frames", self.num_frames, 1)

  def run(self) -> Dict[str, Any]:
    """Draws the pictures; returns ``{"mode", "output_dir", "files"}``."""
    if self.model_dir is not None:
      from tfdis.visualize.model import visualize_model

      result = visualize_model(
          self.model_dir, self.output_dir, num_images=self.num_images,
          seed=self.seed, num_traversals=self.num_traversals,
          num_animations=self.num_animations, num_frames=self.num_frames,
          gif_layout=self.gif_layout)
      return {"mode": "model", "output_dir": result["output_dir"],
              "files": result["files"]}
    from tfdis.visualize.dataset import visualize_dataset

    data = DataSpec(dataset=self.dataset,
                    dataset_options=dict(self.dataset_options)).build_data()
    # --seed also picks the values of the fixed factors here.
    files = visualize_dataset(data, self.output_dir, seed=self.seed)
    return {"mode": "dataset", "output_dir": self.output_dir, "files": files}
