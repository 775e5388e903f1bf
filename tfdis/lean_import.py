"""Import TensorFlow without Keras' optional pandas and scikit-learn hooks.

Keras 3 imports pandas (for its DataFrame input adapter) and scikit-learn
with SciPy (for its ``keras.wrappers.SKLearn*`` classes) whenever they are
installed; that is about 40 % of ``import tensorflow`` (measured with
interleaved runs on a loaded 2-core machine: 12–15 s instead of 20–30 s)
and neither is used by training. :func:`import_tensorflow` hides the two while
TensorFlow and Keras import, then un-hides them: code that needs pandas or
scikit-learn later (metrics, reports) imports them normally; only Keras' own
DataFrame adapter and sklearn wrappers stay off in that process. A module
already imported is left alone. Binaries call this before anything imports
TensorFlow; library users are unaffected.
"""

from __future__ import annotations

import sys

# Optional imports of Keras 3 that training never needs.
KERAS_OPTIONAL = ("pandas", "sklearn")


def import_tensorflow():
  """``import tensorflow, keras`` with KERAS_OPTIONAL hidden; returns tf."""
  hidden = [name for name in KERAS_OPTIONAL if name not in sys.modules]
  for name in hidden:
    sys.modules[name] = None   # makes ``import name`` raise ImportError
  try:
    import keras  # noqa: F401
    import tensorflow as tf
  finally:
    for name in hidden:
      if sys.modules.get(name, 0) is None:
        del sys.modules[name]
  return tf
