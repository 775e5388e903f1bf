"""Training precision: ``float32`` (default), Keras ``mixed_bfloat16`` or
oneDNN's ``auto_mixed_bfloat16``.

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

``auto_mixed_bfloat16`` builds the float32 model and lets TensorFlow's
oneDNN auto-mixed-precision graph pass (grappler option
``auto_mixed_precision_onednn_bfloat16``) run the convolutions, matmuls and
the elementwise ops around them in bfloat16 on the CPU, keeping numerically
sensitive ops (exp, log, softmax, reductions, the losses) and every variable
in float32. Only the training step runs rewritten (:func:`graph_rewrite_scope`,
entered by the trainer around its steps, so a float32 model trained later in
the same process is untouched); the SavedModel is the float32 graph, so it
encodes in float32 anywhere. It acts on CPU ops only (on a GPU use
``mixed_bfloat16``). On a 2-core Xeon with AMX-BF16 the step of dlib's conv
β-VAE ran 36.2 steps/s vs 30.1 with the Keras policy and 23.3 in float32
(benchmarks/train_speed.py, medians of 3 interleaved runs): the pass fuses the casts that the Keras policy
leaves at every layer boundary.

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

from tfdis.registry import check_choice

PRECISIONS = ("float32", "mixed_bfloat16", "auto_mixed_bfloat16")
# Keras' dtype policy a model of each precision is built with.
KERAS_POLICY = {"float32": "float32", "mixed_bfloat16": "mixed_bfloat16",
                "auto_mixed_bfloat16": "float32"}
# The grappler option of the graph rewrite of each precision (if any).
GRAPH_REWRITE = {"auto_mixed_bfloat16": "auto_mixed_precision_onednn_bfloat16"}
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
  check_choice("precision", precision, PRECISIONS)
  if precision == "mixed_bfloat16" and family in UNSUPPORTED_MIXED:
    raise ValueError(
        f"precision={precision!r} is not supported for model {family!r} "
        f"(its own networks are float32-only); use precision='float32' or "
        f"'auto_mixed_bfloat16' (families without Keras mixed precision: "
        f"{list(UNSUPPORTED_MIXED)})")
  return precision


@contextlib.contextmanager
def precision_scope(precision: str) -> Iterator[None]:
  """Keras' global dtype policy set to ``precision`` while layers are built,
  restored afterwards."""
  import keras

  check_precision(precision)
  previous = keras.config.dtype_policy()
  keras.config.set_dtype_policy(KERAS_POLICY[precision])
  try:
    yield
  finally:
    keras.config.set_dtype_policy(previous)


@contextlib.contextmanager
def graph_rewrite_scope(precision: str) -> Iterator[None]:
  """TensorFlow's graph rewrite of ``precision`` switched on inside (none for
  float32 and mixed_bfloat16). Functions run inside are instantiated with
  it; TensorFlow re-instantiates them when the option changes, so nothing
  run after the scope is rewritten."""
  option = GRAPH_REWRITE.get(check_precision(precision))
  if option is None:
    yield
    return
  import tensorflow as tf

  previous = tf.config.optimizer.get_experimental_options().get(option,
                                                                 False)
  tf.config.optimizer.set_experimental_options({option: True})
  try:
    yield
  finally:
    tf.config.optimizer.set_experimental_options({option: previous})


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
  """Logs once per process that bfloat16 is emulated on this CPU (or, for
  the CPU-only graph rewrite, that GPU ops stay float32)."""
  global _warned
  if precision == "float32" or _warned:
    return
  from absl import logging

  if precision in GRAPH_REWRITE and has_gpu:
    _warned = True
    logging.warning("precision=%s rewrites CPU ops only: ops placed on the "
                    "GPU stay float32 (use mixed_bfloat16 there)", precision)
    return
  native = cpu_has_native_bf16()
  if has_gpu or native:
    return
  _warned = True
  logging.warning(
      "precision=%s on a CPU %s: TensorFlow converts between "
      "bfloat16 and float32 around the ops, so training is slower than "
      "float32 here (use float32 unless you need the bfloat16 model)",
      precision, "without avx512_bf16/amx_bf16" if native is False
      else "whose bfloat16 support is unknown")
