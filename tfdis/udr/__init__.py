"""Unsupervised Disentanglement Ranking (Duan et al., ICLR 2020; paper 001).

Settings: :class:`UDRSpec` (UDR's defaults, written once). Array level:
:func:`udr_from_representations` and its pieces (similarity matrices, pair
scores). Study level: :func:`run_udr_study` over SavedModels.
"""

from tfdis.udr.scores import (AGGREGATIONS, pair_score, paper_score,
                              relative_strength, udr_from_representations)
from tfdis.udr.spec import UDRSpec
from tfdis.udr.similarity import (CORRELATIONS, informative_latents,
                                  lasso_similarity, rank_representation,
                                  similarity_matrix, spearman_similarity,
                                  standardize_representation)


def run_udr_study(*args, **kwargs):
  """See :func:`tfdis.udr.study.run_udr_study` (imported lazily: it loads TF)."""
  from tfdis.udr.study import run_udr_study as _run
  return _run(*args, **kwargs)


__all__ = ["AGGREGATIONS", "CORRELATIONS", "informative_latents",
           "lasso_similarity", "pair_score", "paper_score",
           "rank_representation", "relative_strength", "run_udr_study",
           "similarity_matrix", "spearman_similarity",
           "standardize_representation", "udr_from_representations",
           "UDRSpec"]
