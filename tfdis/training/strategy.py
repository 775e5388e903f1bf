"""tf.distribute strategy by name."""

from __future__ import annotations

import tensorflow as tf

STRATEGY_NAMES = ("auto", "default", "mirrored", "one_device")


def make_strategy(name: str = "auto") -> tf.distribute.Strategy:
  """'auto': Mirrored over all GPUs if > 1, OneDevice on the GPU if 1, else
  the default strategy; 'default'; 'mirrored' (all GPUs, or all logical CPU
  devices when there is no GPU — how the two-replica tests run);
  'one_device' (GPU:0 if present, else CPU:0)."""
  gpus = tf.config.list_logical_devices("GPU")
  if name == "auto":
    if len(gpus) > 1:
      return tf.distribute.MirroredStrategy()
    if len(gpus) == 1:
      return tf.distribute.OneDeviceStrategy(gpus[0].name)
    return tf.distribute.get_strategy()
  if name == "default":
    return tf.distribute.get_strategy()
  if name == "mirrored":
    if gpus:
      return tf.distribute.MirroredStrategy([d.name for d in gpus])
    cpus = tf.config.list_logical_devices("CPU")
    return tf.distribute.MirroredStrategy([d.name for d in cpus])
  if name == "one_device":
    return tf.distribute.OneDeviceStrategy(gpus[0].name if gpus else
                                           "/cpu:0")
  raise ValueError(f"Unknown strategy {name!r}; known: "
                   f"{list(STRATEGY_NAMES)}")
