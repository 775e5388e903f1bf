"""Visualisation: dataset factor strips (dataset.py) and model reconstructions/samples/traversals (model.py).

``visualize_model(model_dir, output_dir=None)`` and
``visualize_dataset(data, output_dir)``; both are imported on first use so
that ``import tfdis.visualize`` stays cheap (no TensorFlow).
"""

__all__ = ["visualize_dataset", "visualize_model"]


def __getattr__(name):
  if name == "visualize_model":
    from tfdis.visualize.model import visualize_model
    return visualize_model
  if name == "visualize_dataset":
    from tfdis.visualize.dataset import visualize_dataset
    return visualize_dataset
  raise AttributeError(f"module 'tfdis.visualize' has no attribute {name!r}")
