"""UDR pair scores and the array-level UDR (Duan et al. 2020, paper 001).

``udr_from_representations`` implements steps 3-4 of the UDR procedure on
precomputed representations: similarity matrices R for ordered model pairs,
the pair score UDR_ij (Eq. 2 / dlib's "relative strength") restricted to
informative latents (Eq. 3), and each model's score as the median over its
partners.
"""

from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from tfdis.errors import UserError
from tfdis.registry import check_choice
from tfdis.udr.spec import AGGREGATIONS, UDRSpec  # noqa: F401 (re-exported)
from tfdis.udr.similarity import (CORRELATIONS, check_alpha,
                                  informative_latents, lasso_similarities,
                                  lasso_similarity, rank_representation,
                                  spearman_similarity,
                                  standardize_representation)



class NonFiniteInputError(UserError, ValueError):
  """A representation or KL vector holds NaN/Inf (a diverged model).

  ``model_index``: which of the M models.
  """

  def __init__(self, message: str, model_index: int):
    super().__init__(message)
    self.model_index = model_index


def _check_similarity(matrix) -> np.ndarray:
  matrix = np.asarray(matrix, dtype=np.float64)
  if matrix.ndim != 2:
    raise ValueError(f"a similarity matrix must be 2-D, got {matrix.shape}")
  if np.any(matrix < 0):
    raise ValueError("similarity matrices hold absolute values (>= 0); take "
                     "np.abs of correlations/weights first")
  return matrix


def _row_column_terms(matrix: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
  """Per column b: (max_a R)² / Σ_a R; per row a: (max_b R)² / Σ_b R.

  Empty sums (all-zero rows/columns) give 0/0 = NaN, mapped to 0 as in dlib
  (R >= 0, so a zero sum means an all-zero row or column).
  """
  def terms(axis):
    total = matrix.sum(axis=axis)
    return np.divide(matrix.max(axis=axis) ** 2, total,
                     out=np.zeros_like(total), where=total > 0)
  return terms(0), terms(1)


def relative_strength(matrix) -> float:
  """dlib's pair score: ½ [mean_b (max_a R)²/Σ_a R + mean_a (max_b R)²/Σ_b R].

  This is the released implementation of Eq. 2 (``relative_strength_
  disentanglement``) applied to R already restricted to informative rows and
  columns. Eq. 2 instead divides the sum of both terms by d_a + d_b; the two
  agree when both models have the same number of informative latents (see
  :func:`paper_score`). An empty matrix (no informative latents) scores 0
  (dlib returned NaN from the mean of nothing).
  """
  matrix = _check_similarity(matrix)
  if matrix.size == 0:
    return 0.0
  columns, rows = _row_column_terms(matrix)
  return float(0.5 * (columns.mean() + rows.mean()))


def paper_score(matrix) -> float:
  """Eq. 2 of the paper: [Σ_b r_a²/Σ_a R + Σ_a r_b²/Σ_b R] / (d_a + d_b).

  ``matrix`` holds only informative rows (d_a of model i) and columns (d_b of
  model j), so the I_KL factors of Eq. 2 are implicit. Empty -> 0.
  """
  matrix = _check_similarity(matrix)
  if matrix.size == 0:
    return 0.0
  columns, rows = _row_column_terms(matrix)
  return float((columns.sum() + rows.sum()) / (matrix.shape[0] +
                                               matrix.shape[1]))


def pair_score(matrix, aggregation: str = UDRSpec.aggregation) -> float:
  check_choice("aggregation", aggregation, AGGREGATIONS)
  if aggregation == "paper":
    return paper_score(matrix)
  return relative_strength(matrix)


def _check_partners(partners, num_models: int) -> List[List[int]]:
  if len(partners) != num_models:
    raise ValueError(f"partners must hold one list of model indices per model "
                     f"({num_models}), got {len(partners)}")
  checked = []
  for i, group in enumerate(partners):
    group = [int(j) for j in group]
    if not group:
      raise ValueError(f"model {i} has no partners; each model needs at least "
                       "one other model to be compared with")
    bad = [j for j in group if j == i or not 0 <= j < num_models]
    if bad:
      raise ValueError(f"partners of model {i} contain invalid indices {bad} "
                       f"(must be other models in [0, {num_models}))")
    if len(set(group)) != len(group):
      raise ValueError(f"partners of model {i} contain duplicates: {group}")
    checked.append(group)
  return checked


def _similarity_matrices(scaled, pairs, correlation: str, alpha,
                         random_state, n_jobs: Optional[int]
                         ) -> Dict[Tuple[int, int], np.ndarray]:
  """R of every ordered pair (i, j) (rows: latents of i)."""
  if correlation == "spearman":
    return {(i, j): spearman_similarity(scaled[i], scaled[j], ranked=True)
            for i, j in pairs}
  if isinstance(alpha, str):  # "cv": one multi-task CV fit per pair
    return {(i, j): lasso_similarity(scaled[i], scaled[j], alpha=alpha,
                                     random_state=random_state)
            for i, j in pairs}
  # One lasso per model i predicts the latents of all its partners j at once
  # (bit-identical to one fit per pair, see lasso_similarities).
  by_row: Dict[int, List[int]] = {}
  for i, j in pairs:
    by_row.setdefault(i, []).append(j)
  rows = sorted(by_row)
  args = [(scaled[i], [scaled[j] for j in by_row[i]], float(alpha))
          for i in rows]
  if n_jobs is not None and int(n_jobs) != 1 and len(rows) > 1:
    from tfdis.metrics.parallel import parallel_map
    fits = parallel_map(lasso_similarities, args, n_jobs)
  else:
    fits = [lasso_similarities(*a) for a in args]
  return {(i, j): matrix for i, fit in zip(rows, fits)
          for j, matrix in zip(by_row[i], fit)}


def udr_from_representations(
    representations: Sequence[np.ndarray],
    kls: Sequence[np.ndarray],
    correlation: str = UDRSpec.correlation,
    filter_low_kl: bool = UDRSpec.filter_low_kl,
    kl_filter_threshold: float = UDRSpec.kl_filter_threshold,
    alpha: Union[float, str] = UDRSpec.alpha,
    random_state: Optional[int] = 0,
    aggregation: str = UDRSpec.aggregation,
    partners: Optional[Sequence[Sequence[int]]] = None,
    n_jobs: Optional[int] = None) -> Dict[str, np.ndarray]:
  """Unsupervised Disentanglement Ranking of M models (paper 001, Sec. 3).

  Args:
    representations: M arrays [N, d] of latent means of the SAME N images.
    kls: M arrays [d], per-latent KL(q(z_a|x) || p(z_a)) averaged over images.
    correlation: "lasso" (UDR_L, default) or "spearman" (UDR_S).
    filter_low_kl: keep only informative rows (of i) and columns (of j) of R
      before scoring (Eq. 3).
    kl_filter_threshold: a latent is informative if its KL exceeds this. It is
      used both to zero uninformative latents before the regression and to
      filter R. (dlib hard-coded 0.01 for the zeroing and ignored its
      parameter there; fixed here.)
    alpha: lasso penalty (dlib: 0.1) or "cv" for MultiTaskLassoCV.
    random_state: seed of ``MultiTaskLassoCV`` (alpha="cv"); the cyclic
      ``Lasso`` of a float alpha does not depend on a seed.
    aggregation: "relative_strength" (dlib, default) or "paper" (Eq. 2,
      normalised by d_a + d_b); identical when d_a == d_b.
    partners: optional list, per model i, of the models j it is compared with;
      default all j != i. Only the pairs needed are computed.
    n_jobs: worker processes for the lasso fits (one per model i, against
      all its partners); None or 1 (default): serial, in this process.
      Measured on 2 busy shared cores, 2 processes were slower than serial
      for 50 models and not consistently faster for 150; threads were slower
      than serial (sklearn holds the GIL between target columns). Scores do
      not depend on it.

  Returns:
    dict with ``model_scores`` (M,) — median over partners j of
    ``pairwise_scores[j, i]`` (the column of i, dlib's convention);
    ``pairwise_scores`` (M, M), [i, j] the score of R with rows from i and
    columns from j (NaN where not computed, including the diagonal);
    ``similarity_matrices`` (M, M, d, d) unfiltered R (zeros where not
    computed); ``informative`` (M, d) bool masks; ``num_informative`` (M,);
    ``partners`` (list of lists).
  """
  check_choice("correlation", correlation, CORRELATIONS)
  check_choice("aggregation", aggregation, AGGREGATIONS)
  check_alpha(alpha)
  num_models = len(representations)
  if num_models < 2:
    raise ValueError(f"UDR compares models: need at least 2, got {num_models}")
  if len(kls) != num_models:
    raise ValueError(f"got {num_models} representations but {len(kls)} KL "
                     "vectors; pass one KL vector per model")
  reps = [np.asarray(r, dtype=np.float64) for r in representations]
  kls = [np.asarray(k, dtype=np.float64).reshape(-1) for k in kls]
  shape = reps[0].shape
  for m, (r, k) in enumerate(zip(reps, kls)):
    if r.ndim != 2 or r.shape != shape:
      raise ValueError(
          f"representation {m} has shape {r.shape}, expected {shape}: all "
          "models must encode the same N images into the same latent size")
    if k.shape != (shape[1],):
      raise ValueError(f"kls[{m}] has shape {k.shape}, expected ({shape[1]},)")
    if not np.all(np.isfinite(r)):
      raise NonFiniteInputError(
          f"representation {m} contains NaN or inf: that model diverged. "
          "Leave it out of the UDR set (or retrain it).", m)
    if not np.all(np.isfinite(k)):
      raise NonFiniteInputError(
          f"the KL vector of model {m} contains NaN or inf ({k.tolist()}): "
          "that model diverged, and its informative latents (KL > "
          "threshold, Eq. 3) are undefined. Leave it out of the UDR set (or "
          "retrain it).", m)
  if shape[0] < 2:
    raise ValueError(f"need at least 2 data points, got {shape[0]}")
  latent_dim = shape[1]

  masks = np.stack([informative_latents(k, kl_filter_threshold) for k in kls])
  scaled = [standardize_representation(r, m) for r, m in zip(reps, masks)]
  if correlation == "spearman":
    scaled = [rank_representation(z) for z in scaled]

  if partners is None:
    partners = [[j for j in range(num_models) if j != i]
                for i in range(num_models)]
  partners = _check_partners(partners, num_models)
  # Model i's score uses the pairs (j, i): R with rows j, columns i.
  pairs = sorted({(j, i) for i in range(num_models) for j in partners[i]})

  matrices = _similarity_matrices(scaled, pairs, correlation, alpha,
                                  random_state, n_jobs)
  similarity = np.zeros((num_models, num_models, latent_dim, latent_dim))
  pairwise = np.full((num_models, num_models), np.nan)
  for i, j in pairs:
    matrix = matrices[i, j]
    similarity[i, j] = matrix
    pairwise[i, j] = pair_score(
        matrix[masks[i]][:, masks[j]] if filter_low_kl else matrix,
        aggregation)
  model_scores = np.array([np.median(pairwise[partners[i], i])
                           for i in range(num_models)])
  return {
      "model_scores": model_scores,
      "pairwise_scores": pairwise,
      "similarity_matrices": similarity,
      "informative": masks,
      "num_informative": masks.sum(axis=1),
      "partners": partners,
  }
