"""Public scoring API: score any encoder, or precomputed arrays, with every
metric; importing it does not import TensorFlow (docs/python-api.md).

Stable names::

  from tfdis.scoring import score_encoder, score_arrays
  results = score_encoder(my_encoder, "procedural_dsprites", ["mig", "dci"])
  scores = score_arrays(codes, factors, ["mig", "dci"],
                        factor_types=["discrete", "continuous"])
"""

from tfdis.scoring.api import (CACHE_MODES, ScoringError, array_function,
                               array_metric_names, dataset_names,
                               load_dataset, metric_names, score_arrays,
                               score_encoder)

__all__ = ["CACHE_MODES", "ScoringError", "array_function",
           "array_metric_names", "dataset_names", "load_dataset",
           "metric_names", "score_arrays", "score_encoder"]
