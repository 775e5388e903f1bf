"""Training precision: ``float32`` (default) or Keras ``mixed_bfloat16``.

``mixed_bfloat16`` (Micikevicius et al. 2018, "Mixed Precision Training";
Kalamkar et al. 2019 for bfloat16) computes the network layers in bfloat16
and keeps in float32:

* every variable (weights, BatchNorm statistics, optimiser slots): Keras'
  mixed policy stores variables in float32 and casts them per call, so the
  Adam update and the checkpoint are float32;
* the outputs of every network (the Gaussian heads μ, log σ², the decoder
  logits, discriminator logits) and BatchNorm (``TorchBatchNorm`` and the
  ensemble's) — their layers run in float32;
* the losses: reconstruction, KL, regularisers and all reductions see the
  float32 outputs.

bfloat16 has float32's exponent range, so no loss scaling is needed. The
exported SavedModel's signatures return float32 (and take float32 images).

The policy is applied while a model is built (:func:`precision_scope`: layers
take Keras' global dtype policy when they are constructed, and it is restored
afterwards), so models of different precisions can live in one process.

CPUs without native bfloat16 (no ``avx512_bf16`` / ``amx_bf16``, e.g. AVX2
only): TensorFlow's oneDNN kernels convert to and from float32 around each
op or fall back to slower reference kernels, so a mixed_bfloat16 step is
*slower* than float32 there (measured: benchmarks/train_speed.py), and
:func:`warn_if_emulated` says so once per process. The published numbers are
float32; bfloat16 changes the trained model (rounding), so a seed gives a
different model in each precision.
"""

from __future__ import annotations

import contextlib
import sys
from typing import Iterator, Optional

PRECISIONS = ("float32", "mixed_bfloat16")
DEFAULT_PRECISION = "float32"
# The dtype of every network output and of every loss term.
OUTPUT_DTYPE = "float32"
# Families whose networks are not (yet) built for mixed precision: their own
# layer stacks (InfoGAN's generator/discriminator, DARLA's DAE, SCAN's
# symbol networks) feed bfloat16 into float32 losses.
UNSUPPORTED_MIXED = ("darla", "info_gan", "scan")

_warned = False


def check_precision(precision: str, family: Optional[str] = None) -> str:
  """``precision`` if valid (for ``family``); ValueError naming the fix."""
  if precision not in PRECISIONS:
    raise ValueError(f"precision must be one of {list(PRECISIONS)}, got "
                     f"{precision!r}")
  if precision != "float32" and family in UNSUPPORTED_MIXED:
    raise ValueError(
        f"precision={precision!r} is not supported for model {family!r} "
        f"(its own networks are float32-only); use precision='float32' "
        f"(families without mixed precision: {list(UNSUPPORTED_MIXED)})")
  return precision


@contextlib.contextmanager
def precision_scope(precision: str) -> Iterator[None]:
  """Keras' global dtype policy set to ``precision`` while layers are built,
  restored afterwards."""
  import keras

  check_precision(precision)
  previous = keras.config.dtype_policy()
  keras.config.set_dtype_policy(precision)
  try:
    yield
  finally:
    keras.config.set_dtype_policy(previous)


def cpu_has_native_bf16() -> Optional[bool]:
  """True/False from /proc/cpuinfo's flags (avx512_bf16 or amx_bf16) on
  Linux; None where that cannot be told."""
  if not sys.platform.startswith("linux"):
    return None
  try:
    with open("/proc/cpuinfo") as f:
      for line in f:
        if line.startswith("flags"):
          flags = set(line.split(":", 1)[1].split())
          return bool(flags & {"avx512_bf16", "amx_bf16"})
  except OSError:
    return None
  return None


def warn_if_emulated(precision: str, has_gpu: bool = False) -> None:
  """Logs once per process that mixed_bfloat16 is emulated on this CPU."""
  global _warned
  if precision != "mixed_bfloat16" or has_gpu or _warned:
    return
  native = cpu_has_native_bf16()
  if native:
    return
  from absl import logging

  _warned = True
  logging.warning(
      "precision=mixed_bfloat16 on a CPU %s: TensorFlow converts between "
      "bfloat16 and float32 around the ops, so training is slower than "
      "float32 here (use float32 unless you need the bfloat16 model)",
      "without avx512_bf16/amx_bf16" if native is False
      else "whose bfloat16 support is unknown")
