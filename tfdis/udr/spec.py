"""UDR's settings, written once: :class:`UDRSpec` (paper 001; spec udr.md).

Every default here is UDR's published one (Duan et al. 2020, Sec. 3 and
appendix A.5; google-research/disentanglement_lib's ``udr`` module): lasso
similarity (UDR_L) with alpha 0.1, all partners of the same hyperparameters
(``hyper``), 10,000 images, informative latents KL > 0.01, dlib's relative
strength aggregation. ``tfdis_udr`` (:class:`UDRConfig`), the studies
(``tfdis.study.UDRSettings``), :func:`tfdis.udr.run_udr_study` and
PBT-U-VAE's eval (``tfdis.pbt``) take their defaults from here.

No TensorFlow: binaries validate their flags through these specs before
anything heavy is imported.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Dict, Optional, Tuple, Union

from tfdis.export import code_cache
from tfdis.checks import is_int
from tfdis.specs import Spec, check_dataset_or_auto, need, spec_field

# Similarity matrices (Sec. 3 step 3): lasso (UDR_L) or Spearman (UDR_S).
CORRELATIONS = ("lasso", "spearman")
# Pair scores: dlib's relative strength or the paper's Eq. 2.
AGGREGATIONS = ("relative_strength", "paper")
# Partner selection (paper 001, Sec. 3 step 2): ``hyper`` compares a model
# with the models of the same hyperparameters (other seeds); ``a2a`` with
# any other model (A.5 "All-to-all calculations").
MODES = ("hyper", "a2a")
# 32-bit limits of sample counts and batch sizes (NumPy/Keras indices).
MAX_COUNT = 2 ** 31 - 1


def check_alpha(alpha) -> None:
  """alpha: a positive finite lasso penalty or 'cv' (MultiTaskLassoCV)."""
  need(alpha == "cv" or (
      isinstance(alpha, (int, float)) and not isinstance(alpha, bool)
      and math.isfinite(alpha) and alpha > 0),
       f"alpha must be a positive number (e.g. 0.1) or 'cv', got {alpha!r}")


@dataclasses.dataclass(frozen=True)
class UDRSpec(Spec):
  """How UDR scores a set of models (paper 001, Sec. 3; appendix A.5)."""

  mode: str = spec_field(
      "hyper", "hyper: compare with models of the same hyperparameters "
      "(other seeds); a2a: compare with any other model.", choices=MODES)
  correlation: str = spec_field(
      "lasso", "Similarity matrix: lasso (UDR_L) or spearman (UDR_S).",
      choices=CORRELATIONS)
  num_pairs: Optional[int] = spec_field(
      None, "Partners P per model, sampled with --seed; default: all "
      "available.")
  num_data_points: int = spec_field(
      10000, "Images encoded by every model (paper A.5: 10000 for lasso).")
  seed: int = spec_field(0, "Seeds the image draw, partner sampling and "
                         "the lasso.")
  kl_filter_threshold: float = spec_field(
      0.01, "A latent is informative if its KL exceeds this (paper Eq. 3).")
  filter_low_kl: bool = spec_field(True, "Score only informative latents.")
  alpha: Union[float, str] = spec_field(
      0.1, "Lasso penalty (a positive float; dlib: 0.1) or 'cv' for "
      "MultiTaskLassoCV.")
  aggregation: str = spec_field(
      "relative_strength", "Pair score: dlib's relative strength or paper "
      "Eq. 2.", choices=AGGREGATIONS)
  batch_size: int = spec_field(256, "Encoder batch size.")
  cache_encodings: str = spec_field("disk", code_cache.FLAG_HELP,
                                    choices=code_cache.MODES)

  def _check(self) -> None:
    need(self.num_pairs is None or is_int(self.num_pairs, 1, MAX_COUNT),
         f"num_pairs must be an integer in [1, {MAX_COUNT}] (or unset for "
         f"all partners), got {self.num_pairs!r}")
    need(is_int(self.num_data_points, 2, MAX_COUNT),
         f"num_data_points must be an integer in [2, {MAX_COUNT}], got "
         f"{self.num_data_points!r}")
    t = self.kl_filter_threshold
    need(isinstance(t, (int, float)) and not isinstance(t, bool) and
         math.isfinite(t) and t >= 0,
         f"kl_filter_threshold must be a finite number >= 0 (e.g. 0.01), "
         f"got {t!r}")
    need(isinstance(self.filter_low_kl, bool),
         f"filter_low_kl must be true or false, got {self.filter_low_kl!r}")
    check_alpha(self.alpha)
    need(is_int(self.batch_size, 1, MAX_COUNT), f"batch_size must be an integer in "
         f"[1, {MAX_COUNT}], got {self.batch_size!r}")

  def udr_spec(self) -> "UDRSpec":
    """This config's UDRSpec part (what :func:`run_udr_study` takes)."""
    return UDRSpec(**{f.name: getattr(self, f.name)
                      for f in dataclasses.fields(UDRSpec)})

  @classmethod
  def from_settings(cls, settings: Dict[str, Any]) -> "UDRSpec":
    """The spec recorded in a ``udr.json``'s ``settings`` (any version):
    its UDRSpec fields (missing ones take today's defaults); the record's
    other entries (variant, dataset, score convention) are dropped."""
    names = {f.name for f in dataclasses.fields(UDRSpec)}
    return UDRSpec.from_dict({k: v for k, v in settings.items()
                              if k in names})

  # Fields that change the scores: two runs with equal values here are the
  # same experiment (batch size and the code cache only change speed).
  RESULT_FIELDS = ("mode", "correlation", "num_pairs", "num_data_points",
                   "seed", "kl_filter_threshold", "filter_low_kl", "alpha",
                   "aggregation")

  def result_key(self) -> Tuple[Any, ...]:
    return tuple(getattr(self, n) for n in self.RESULT_FIELDS)


@dataclasses.dataclass(frozen=True)
class UDRConfig(UDRSpec):
  """tfdis_udr's request: which models, where to write, on which data
  (plus the :class:`UDRSpec` settings)."""

  model_dirs: Optional[Tuple[str, ...]] = spec_field(
      None, "Comma-separated model directories (or SavedModels); each item "
      "may be a glob, e.g. 'runs/x/*'.", required=True)
  output_dir: Optional[str] = spec_field(
      None, "Where udr.json, udr.csv, similarity.npz and the PNG heat-maps "
      "go.", required=True)
  dataset: str = spec_field(
      "auto", "'auto' (from the models' metadata) or a registered dataset "
      "name.")

  def _check(self) -> None:
    need(bool(self.model_dirs), "model_dirs must name at least 2 model "
         "directories (or globs), e.g. --model_dirs='runs/x/*'")
    need(bool(self.output_dir), "output_dir must be a directory path")
    check_dataset_or_auto(self.dataset, {})
