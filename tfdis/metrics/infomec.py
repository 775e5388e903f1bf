"""InfoMEC: InfoM (modularity), InfoE (explicitness), InfoC (compactness).

Hsu, Dorrell, Whittington, Wu & Finn, "Disentanglement via Latent
Quantization" (NeurIPS 2023), Sec. 4 / App. C, and "Tripod" (ICML 2024);
reference implementation ``disentangle/metrics/infomec.py`` of
github.com/kylehkhsu/latent_quantization (``compute_infomec``).

With normalised mutual information NMI[i, j] = I(s_i; z_j) / H(s_i) between
source (factor) i and latent (code) j, and A the set of *active* latents:

  InfoM = (mean_{j∈A} max_i NMI[i, j] / Σ_i NMI[i, j] − 1/K) / (1 − 1/K)
  InfoC = (mean_i max_{j∈A} NMI[i, j] / Σ_{j∈A} NMI[i, j] − 1/|A|) / (1 − 1/|A|)
  InfoE = mean_i (H_bal(s_i) − CE_i) / H_bal(s_i)

where K = number of sources, CE_i the training log-loss of an unpenalised
multinomial logistic regression (``class_weight='balanced'``) predicting s_i
from all (standardised, or one-hot for discrete) latents, and H_bal(s_i) the
same log-loss with all-zero inputs. Continuous latents: I(s_i; z_j) by the
k-nearest-neighbour estimator ``mutual_info_classif(n_neighbors=10)`` on the
standardised latent; active = range > max range / 20. Discrete latents:
``mutual_info_score``; active = range > 0. Sources are label-encoded.

Differences from the reference (each documented in the result's ``notes``;
``reference_behaviour=True`` restores the reference's arithmetic):

* ``mutual_info_classif`` adds 1e-10-scale noise to break ties drawn from
  NumPy's *global* RNG, so the reference's InfoM/InfoC change from run to run.
  Here the K·L calls share one ``RandomState(mi_seed)`` in the reference's
  call order (source-major), which is what the reference computes right after
  ``np.random.seed(mi_seed)``; ``mi_seed=None`` uses the global RNG.
* Degenerate cases the reference turns into NaN or ±inf (0/0): a latent or
  source with zero NMI everywhere is left out of the InfoM / InfoC mean; one
  source (K = 1) gives InfoM = 1, one active latent gives InfoC = 1 (the limit
  of the normalisation: everything sits in one place); no active latent (a
  constant code) gives InfoM = InfoC = 0, and InfoE = 0 when the zero-input
  baseline has zero loss (a constant source).
* Integer-valued discrete latents crash the reference's InfoE (its zero
  baseline inherits the integer dtype and fails its own float assertion);
  the baseline is float here.
* Continuous *factors* (``factor_types``): the reference label-encodes every
  distinct value as a class. tfdis histogram-discretises continuous factor
  columns into ``factor_bins`` equal-width bins first (dlib's discretisation),
  noted in the result.

The logistic fit is today's scikit-learn ``LogisticRegression(C=inf,
class_weight='balanced', max_iter=100, tol=1e-4)`` (lbfgs, multinomial):
the reference's ``penalty=None, multi_class='multinomial'`` under the
scikit-learn it was written for (``multi_class`` no longer exists).
"""

from __future__ import annotations

import warnings
from typing import Dict, Optional

import numpy as np
import sklearn.metrics
from sklearn import feature_selection, linear_model, preprocessing

from tfdis.checks import check_count
from tfdis.metrics import information, results, sampling, validation
from tfdis.metrics.factor_types import check_factor_types

DEFAULTS = dict(num_train=10000, n_neighbors=10, active_fraction=1.0 / 20,
                factor_bins=20, mi_seed=0, max_iter=100)


# ---------------------------------------------------------------------------
# the three scores
# ---------------------------------------------------------------------------
def _label_encode(columns: np.ndarray) -> np.ndarray:
  """Each column mapped to 0..n_values−1 (``LabelEncoder`` per column)."""
  return np.stack([preprocessing.LabelEncoder().fit_transform(columns[:, i])
                   for i in range(columns.shape[1])], axis=1)


def normalized_mutual_info(factors, codes, discrete_latents: bool = False,
                           n_neighbors: int = 10, mi_seed: Optional[int] = 0
                           ) -> np.ndarray:
  """NMI [num_factors, num_codes]: I(s_i; z_j) / H(s_i) in nats.

  Reference ``compute_nmi``. ``mi_seed`` seeds one RandomState shared by the
  K·L ``mutual_info_classif`` calls, in the reference's call order; None
  draws from NumPy's global RNG as the reference does. A constant source
  (H = 0) has NMI 0 here (the reference divides 0 by 0).
  """
  sources = _label_encode(np.asarray(factors))
  codes = np.asarray(codes)
  if discrete_latents:
    latents = _label_encode(codes)
  else:
    # Per-column StandardScaler; a constant column becomes all zeros.
    latents = preprocessing.StandardScaler().fit_transform(
        codes.astype(np.float64))
  rng = None if mi_seed is None else np.random.RandomState(mi_seed)
  nmi = np.empty((sources.shape[1], latents.shape[1]))
  for i in range(sources.shape[1]):
    for j in range(latents.shape[1]):
      if discrete_latents:
        nmi[i, j] = sklearn.metrics.mutual_info_score(sources[:, i],
                                                      latents[:, j])
      else:
        nmi[i, j] = feature_selection.mutual_info_classif(
            latents[:, j][:, None], sources[:, i], discrete_features=False,
            n_neighbors=n_neighbors, random_state=rng)[0]
    entropy = sklearn.metrics.mutual_info_score(sources[:, i], sources[:, i])
    if entropy > 0:
      nmi[i] /= entropy
    else:
      nmi[i] = 0.0
  return nmi


def active_latents(codes, discrete_latents: bool = False,
                   active_fraction: float = DEFAULTS["active_fraction"]
                   ) -> np.ndarray:
  """Boolean [num_codes]: range > 0 (discrete) or > max range · fraction."""
  codes = np.asarray(codes, dtype=np.float64)
  ranges = codes.max(axis=0) - codes.min(axis=0)
  if discrete_latents:
    return ranges > 0
  return ranges > ranges.max() * active_fraction


def _normalised_concentration(nmi: np.ndarray, axis: int, count: int,
                              reference_behaviour: bool) -> float:
  """(mean over the other axis of max/sum − 1/count) / (1 − 1/count)."""
  if nmi.size == 0:
    # No active latent. The reference's mean of nothing is NaN (InfoM) and
    # its max over nothing raises (InfoC).
    return float("nan") if reference_behaviour else 0.0
  with np.errstate(divide="ignore", invalid="ignore"):
    ratio = nmi.max(axis=axis) / nmi.sum(axis=axis)
    if reference_behaviour:
      return float((np.mean(ratio) - 1.0 / count) / (1.0 - 1.0 / count))
  ratio = ratio[np.isfinite(ratio)]  # rows without any information
  if ratio.size == 0:
    return 0.0
  if count == 1:
    return 1.0  # limit of the normalisation: all mass in the single slot
  return float((np.mean(ratio) - 1.0 / count) / (1.0 - 1.0 / count))


def _balanced_logistic_log_loss(x, y, max_iter: int) -> float:
  """Training log-loss of the reference's unpenalised, class-balanced
  multinomial logistic regression (lbfgs, tol 1e-4)."""
  if len(np.unique(y)) < 2:
    return 0.0  # a constant source is predicted perfectly
  model = linear_model.LogisticRegression(
      C=np.inf, tol=1e-4, fit_intercept=True, class_weight="balanced",
      solver="lbfgs", max_iter=max_iter)
  with warnings.catch_warnings():
    # Unpenalised fits on separable data stop at max_iter, as in the
    # reference; the loss reached is the score's input either way.
    warnings.simplefilter("ignore")
    model.fit(x, y)
  return float(sklearn.metrics.log_loss(y, model.predict_proba(x),
                                        labels=model.classes_))


def infoe(factors, codes, discrete_latents: bool = False,
          max_iter: int = DEFAULTS["max_iter"],
          reference_behaviour: bool = False) -> float:
  """InfoE: mean normalised predictive information (reference
  ``compute_infoe``)."""
  sources = _label_encode(np.asarray(factors))
  codes = np.asarray(codes)
  if discrete_latents:
    x = preprocessing.OneHotEncoder().fit_transform(codes)
  else:
    x = preprocessing.StandardScaler().fit_transform(
        codes.astype(np.float64))
  null = np.zeros(codes.shape, dtype=np.float64)
  values = []
  for i in range(sources.shape[1]):
    conditional = _balanced_logistic_log_loss(x, sources[:, i], max_iter)
    marginal = _balanced_logistic_log_loss(null, sources[:, i], max_iter)
    if marginal > 0:
      values.append((marginal - conditional) / marginal)
    elif reference_behaviour:
      values.append(np.nan)
    else:
      values.append(0.0)  # constant source: nothing to predict
  return float(np.mean(values))


def infomec_from_codes(codes, factors, *, factor_types=None,
                       discrete_latents: bool = False,
                       n_neighbors: int = DEFAULTS["n_neighbors"],
                       active_fraction: float = DEFAULTS["active_fraction"],
                       factor_bins: int = DEFAULTS["factor_bins"],
                       mi_seed: Optional[int] = DEFAULTS["mi_seed"],
                       max_iter: int = DEFAULTS["max_iter"],
                       reference_behaviour: bool = False
                       ) -> Dict[str, float]:
  """``{"infom", "infoe", "infoc", "num_active_latents"}`` of codes [N, L]
  vs factors [N, K] (see the module docstring).

  ``discrete_latents``: the codes are discrete (e.g. quantised latents);
  ``factor_types``: 'discrete'/'continuous' per factor column (continuous
  ones are discretised into ``factor_bins`` bins); ``mi_seed``: seed of the
  kNN estimator's tie-breaking noise (None: NumPy's global RNG, as the
  reference); ``reference_behaviour``: keep the reference's NaN/inf in the
  degenerate cases instead of tfdis's defined values.
  """
  codes = validation.check_codes(codes)
  n_neighbors = check_count("n_neighbors", n_neighbors, 1)
  factor_types = check_factor_types(factor_types, np.shape(factors)[-1]
                                    if np.ndim(factors) == 2 else 0)
  factors = validation.check_factors(factors, codes.shape[0],
                                     factor_types=factor_types)
  factors = information.discretize_factors(
      factors, factor_types, check_count("factor_bins", factor_bins, 1))
  if discrete_latents:
    bad = ~np.all(codes == np.round(codes), axis=0)
    if bad.any():
      raise ValueError(
          "discrete_latents=True but codes "
          f"{np.flatnonzero(bad).tolist()} hold non-integral values; pass "
          "discrete_latents=False for continuous codes.")
  nmi = normalized_mutual_info(factors, codes, discrete_latents, n_neighbors,
                               mi_seed)
  active = active_latents(codes, discrete_latents, active_fraction)
  pruned = nmi[:, active]
  num_sources = factors.shape[1]
  num_active = int(active.sum())
  return {
      "infom": _normalised_concentration(pruned, 0, num_sources,
                                         reference_behaviour),
      "infoe": infoe(factors, codes, discrete_latents, max_iter,
                     reference_behaviour),
      "infoc": _normalised_concentration(pruned, 1, num_active,
                                         reference_behaviour),
      "num_active_latents": float(num_active),
  }


MI_SEED_NOTE = (
    "mutual_info_classif's tie-breaking noise is seeded (mi_seed, one "
    "RandomState in the reference's call order); the reference drew it from "
    "NumPy's global RNG, so its InfoM/InfoC varied from run to run")
DEGENERATE_NOTE = (
    "degenerate cases defined instead of the reference's NaN/inf: latents or "
    "sources with zero NMI left out of the InfoM/InfoC means, one source -> "
    "InfoM 1, one active latent -> InfoC 1, no active latent -> InfoM = "
    "InfoC = 0 (reference_behaviour=True restores the reference)")


def compute_infomec(ground_truth_data, representation_fn, random_state,
                    num_train: int = DEFAULTS["num_train"],
                    discrete_latents: bool = False,
                    n_neighbors: int = DEFAULTS["n_neighbors"],
                    active_fraction: float = DEFAULTS["active_fraction"],
                    factor_bins: int = DEFAULTS["factor_bins"],
                    mi_seed: Optional[int] = DEFAULTS["mi_seed"],
                    max_iter: int = DEFAULTS["max_iter"],
                    reference_behaviour: bool = False,
                    sampling_batch_size: int = (
                        sampling.DLIB_SAMPLING_BATCH_SIZE),
                    encode_batch_size: int = sampling.DEFAULT_ENCODE_BATCH_SIZE,
                    ) -> Dict:
  """InfoMEC on ``num_train`` sampled points (the reference's estimator
  settings: 10 neighbours, active = range > max range / 20, unpenalised
  balanced logistic regression with 100 lbfgs iterations).

  The reference ships no sampling code (it scores the arrays it is given);
  10000 points follows dlib's MIG. Points are drawn as dlib draws them.
  """
  _validate_params(num_train=num_train, n_neighbors=n_neighbors,
                   factor_bins=factor_bins, max_iter=max_iter)
  num_train = int(num_train)
  rs = sampling.as_random_state(random_state)
  codes, factors = sampling.sample_codes_and_factors(
      ground_truth_data, representation_fn, num_train, rs, encode_batch_size,
      sampling_batch_size)
  factor_types = getattr(ground_truth_data, "factor_types", None)
  scores = infomec_from_codes(
      codes, factors, factor_types=factor_types,
      discrete_latents=discrete_latents, n_neighbors=n_neighbors,
      active_fraction=active_fraction, factor_bins=factor_bins,
      mi_seed=mi_seed, max_iter=max_iter,
      reference_behaviour=reference_behaviour)
  notes = [MI_SEED_NOTE]
  if not reference_behaviour:
    notes.append(DEGENERATE_NOTE)
  if factor_types is not None and "continuous" in factor_types:
    notes.append(f"continuous factors discretised into {factor_bins} "
                 "equal-width bins (the reference label-encodes values)")
  return results.make_result(
      scores, dict(num_train=num_train, discrete_latents=bool(discrete_latents),
                   n_neighbors=int(n_neighbors),
                   active_fraction=float(active_fraction),
                   factor_bins=int(factor_bins), mi_seed=mi_seed,
                   max_iter=int(max_iter),
                   reference_behaviour=bool(reference_behaviour),
                   predictor="LogisticRegression(C=inf, class_weight="
                             "'balanced') [lbfgs, multinomial]",
                   sampling_batch_size=int(sampling_batch_size)),
      notes, random_state)


def _validate_params(num_train=DEFAULTS["num_train"],
                     n_neighbors=DEFAULTS["n_neighbors"],
                     factor_bins=DEFAULTS["factor_bins"],
                     max_iter=DEFAULTS["max_iter"], **_) -> None:
  """Raises ValueError for option values ``compute_infomec`` cannot use
  (checked by tfdis_evaluate before any model is loaded)."""
  check_count("num_train", num_train, 2)
  check_count("n_neighbors", n_neighbors, 1)
  check_count("factor_bins", factor_bins, 1)
  check_count("max_iter", max_iter, 1)


compute_infomec.validate_params = _validate_params
