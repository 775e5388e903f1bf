"""Per-latent similarity matrices R between two representations (UDR step 3).

Duan et al. 2020 (paper 001), Sec. 3 and appendix A.5: for an ordered pair of
models (i, j), R[a, b] measures how strongly latent a of model i and latent b
of model j encode the same thing. Rows are latents of i, columns latents of j.
Both variants work on representations that were standardised per latent
(``standardize_representation``) with uninformative latents zeroed, which is
what makes the lasso weights comparable across latents (A.5: "the
representations are normalised per-latent ... the weights roughly lie in
[-1, 1]").
"""

from __future__ import annotations

import warnings
from typing import List, Optional, Sequence, Union

import numpy as np

from tfdis.registry import check_choice
from tfdis.udr.spec import CORRELATIONS, UDRSpec  # noqa: F401 (re-exported)


def informative_latents(kl: np.ndarray,
                        threshold: float = UDRSpec.kl_filter_threshold
                        ) -> np.ndarray:
  """Boolean mask of informative latents, I_KL(a) = KL_a > threshold (Eq. 3)."""
  return np.asarray(kl, dtype=np.float64) > float(threshold)


def standardize_representation(representation: np.ndarray,
                               informative: Optional[np.ndarray] = None
                               ) -> np.ndarray:
  """Zero mean / unit variance per latent (sklearn ``StandardScaler``).

  Latents outside ``informative`` are set to 0 so that they can neither
  predict nor be predicted (dlib ``compute_udr_sklearn``). Constant latents
  stay 0 (StandardScaler leaves a zero-variance column unscaled).
  """
  from sklearn.preprocessing import StandardScaler

  z = StandardScaler().fit_transform(np.asarray(representation,
                                                dtype=np.float64))
  if informative is not None:
    z = z * np.asarray(informative, dtype=np.float64)[None, :]
  return z


def _check_same_images(name: str, z_i: np.ndarray, z_j: np.ndarray) -> None:
  if z_i.shape[0] != z_j.shape[0]:
    raise ValueError(
        f"{name}: the two representations must hold the same images (rows); "
        f"got {z_i.shape[0]} and {z_j.shape[0]} rows")


# Target columns stacked into one lasso fit are limited to this many bytes of
# float64, so that a fit against many partners does not copy a huge matrix.
_MAX_STACKED_TARGET_BYTES = 64 << 20


def check_alpha(alpha: Union[float, str]) -> Union[float, str]:
  """``alpha`` if it is a positive number (the Lasso's λ) or 'cv'."""
  if isinstance(alpha, str) and alpha != "cv":
    raise ValueError(f"alpha must be a positive float or 'cv', got {alpha!r}")
  if not isinstance(alpha, str) and not float(alpha) > 0:
    raise ValueError(f"alpha must be > 0, got {alpha}")
  return alpha


def _cyclic_lasso(alpha: float):
  """``Lasso(alpha)`` (cyclic coordinate descent) and a throwaway RNG.

  Cyclic descent never uses its RandomState (it only matters for
  ``selection='random'``), but sklearn's ``enet_path`` turns an int
  ``random_state`` into a new ``RandomState`` for EVERY target column, and
  seeding a Mersenne Twister costs more than many of these small fits; it
  draws one integer from it either way. One instance per fit is passed
  through as is (None would draw from NumPy's global RNG, which a metric must
  not disturb). The coefficients are the same for any ``random_state``.
  """
  from sklearn.linear_model import Lasso

  return Lasso(alpha=float(alpha), random_state=np.random.RandomState(0))


def lasso_similarities(z_i: np.ndarray, targets: Sequence[np.ndarray],
                       alpha: float = UDRSpec.alpha) -> List[np.ndarray]:
  """R = |W|ᵀ of the lasso predicting each of ``targets`` from ``z_i``.

  The same numbers, bit for bit, as one ``Lasso(alpha, random_state=seed)``
  per target (dlib), but in one fit: sklearn's ``Lasso`` solves every
  target column on its own (same centred design, zero start), so the columns
  of all partners can be stacked into one multi-output target and the design
  is validated, copied and centred once instead of once per pair (the test
  ``test_scores_bit_identical_to_one_fit_per_pair`` guards this against
  scikit-learn changes). All-zero target columns (uninformative latents,
  zeroed by :func:`standardize_representation`) have the exact solution
  W = 0 and are not fitted. Returns one [d_i, d_j] matrix per target.
  """
  import sklearn

  z_i = np.asarray(z_i, dtype=np.float64)
  targets = [np.asarray(z_j, dtype=np.float64) for z_j in targets]
  for z_j in targets:
    _check_same_images("lasso_similarity", z_i, z_j)
  columns = [(t, b) for t, z_j in enumerate(targets)
             for b in np.flatnonzero(z_j.any(axis=0))]
  out = [np.zeros((z_i.shape[1], z_j.shape[1])) for z_j in targets]
  if not np.any(z_i):
    return out  # nothing predicts anything (all weights are exactly 0)
  block = max(1, _MAX_STACKED_TARGET_BYTES // (8 * max(1, z_i.shape[0])))
  for start in range(0, len(columns), block):
    chunk = columns[start:start + block]
    # Fortran order, as the solver wants it: no second copy inside fit.
    stacked = np.empty((z_i.shape[0], len(chunk)), order="F")
    for c, (t, b) in enumerate(chunk):
      stacked[:, c] = targets[t][:, b]
    model = _cyclic_lasso(alpha)
    # The inputs are checked above; sklearn's per-target validation of its
    # internal path calls is pure overhead here (no effect on the numbers).
    with warnings.catch_warnings(), sklearn.config_context(
        skip_parameter_validation=True):
      # Exactly-zero (uninformative) designs are expected here.
      warnings.simplefilter("ignore", category=UserWarning)
      model.fit(z_i, stacked)
    weights = np.abs(np.atleast_2d(model.coef_))  # [targets, features]
    for (t, b), w in zip(chunk, weights):
      out[t][:, b] = w
  return out


def lasso_similarity(z_i: np.ndarray, z_j: np.ndarray,
                     alpha: Union[float, str] = UDRSpec.alpha,
                     random_state: Optional[int] = 0) -> np.ndarray:
  """R = |W|ᵀ of a lasso predicting all of z_j's latents from z_i (UDR_L).

  ``alpha`` a float: ``sklearn.linear_model.Lasso(alpha)`` fitted on the
  multi-output target, as in dlib (``lasso_correlation_matrix``; alpha=0.1);
  its cyclic coordinate descent does not depend on ``random_state``.
  ``alpha="cv"``: ``MultiTaskLassoCV`` (the multi-task objective with λ
  chosen by cross-validation, as the paper's appendix A.5 describes).
  Returns [d_i, d_j]: rows latents of i, columns latents of j.
  """
  from sklearn.linear_model import MultiTaskLassoCV

  if not isinstance(check_alpha(alpha), str):
    return lasso_similarities(z_i, [z_j], alpha)[0]
  z_i = np.asarray(z_i, dtype=np.float64)
  z_j = np.asarray(z_j, dtype=np.float64)
  _check_same_images("lasso_similarity", z_i, z_j)
  if not np.any(z_i) or not np.any(z_j):
    # Nothing to regress: CV over an alpha grid of an all-zero design fails.
    return np.zeros((z_i.shape[1], z_j.shape[1]))
  model = MultiTaskLassoCV(cv=5, max_iter=1000, tol=1e-4,
                           random_state=random_state)
  with warnings.catch_warnings():
    warnings.simplefilter("ignore", category=UserWarning)
    model.fit(z_i, z_j)
  return np.abs(model.coef_).T


def rank_representation(z: np.ndarray) -> np.ndarray:
  """Per-latent ranks (ties averaged), standardised, for Spearman's ρ.

  Constant latents (e.g. zeroed uninformative ones) become NaN so that their
  correlations are NaN and then 0, as in dlib.
  """
  from scipy.stats import rankdata

  ranks = rankdata(np.asarray(z, dtype=np.float64), axis=0)
  ranks -= ranks.mean(axis=0, keepdims=True)
  std = ranks.std(axis=0, keepdims=True)
  with np.errstate(divide="ignore", invalid="ignore"):
    return np.where(std > 0, ranks / np.where(std > 0, std, 1.0), np.nan)


def spearman_similarity(z_i: np.ndarray, z_j: np.ndarray,
                        ranked: bool = False) -> np.ndarray:
  """R[a, b] = |Spearman ρ(z_i[:, a], z_j[:, b])|, NaN -> 0 (UDR_S, A.5).

  Vectorised: Pearson correlation of per-latent ranks. Pass ``ranked=True``
  with outputs of :func:`rank_representation` to reuse ranks across pairs.
  """
  if not ranked:
    z_i, z_j = rank_representation(z_i), rank_representation(z_j)
  _check_same_images("spearman_similarity", z_i, z_j)
  rho = (z_i.T @ z_j) / z_i.shape[0]
  return np.nan_to_num(np.abs(rho), nan=0.0)


def similarity_matrix(z_i: np.ndarray, z_j: np.ndarray,
                      correlation: str = UDRSpec.correlation,
                      alpha: Union[float, str] = UDRSpec.alpha,
                      random_state: Optional[int] = 0) -> np.ndarray:
  """Dispatches to :func:`lasso_similarity` or :func:`spearman_similarity`."""
  check_choice("correlation", correlation, CORRELATIONS)
  if correlation == "spearman":
    return spearman_similarity(z_i, z_j)
  return lasso_similarity(z_i, z_j, alpha=alpha, random_state=random_state)
