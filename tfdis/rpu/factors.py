"""Which ground-truth factors a metaEpoch's active latents captured.

The paper reads this off traversals (Fig. 5: "metaEpoch 1: z_active encode y
and x position; metaEpoch 2: scale; ..."). Where the dataset has labels we
measure it instead: for every active latent, the mutual information between
its surrogate labels (discretised into ``num_bins`` equal-width bins, as MIG
does) and each ground-truth factor, on the rows of the subset ``d`` the
metaEpoch trained on, normalised by the factor's entropy on that subset
(so 1.0 = the latent determines the factor there). A factor that is constant
on ``d`` (already removed by an earlier reduction) has no entropy and gets NaN.
The plug-in MI is biased upward on small subsets (roughly
(bins − 1)(values − 1) / 2N nats), so read values on a few hundred rows
with care.
"""

from __future__ import annotations

from typing import Dict, List, Sequence

import numpy as np

from tfdis.metrics.information import (discrete_entropy,
                                       discrete_mutual_info, discretize)


def normalized_factor_information(labels: np.ndarray, factors: np.ndarray,
                                  num_bins: int = 20) -> np.ndarray:
  """I(label_i; factor_j) / H(factor_j) on the given rows, [k, num_factors].

  Args:
    labels: float surrogate labels [N, k] (the active latents' means).
    factors: int ground-truth factors [N, num_factors] of the same rows.
    num_bins: equal-width bins per label (MIG's 20).
  """
  labels = np.asarray(labels, dtype=np.float64)
  factors = np.asarray(factors)
  if labels.ndim != 2 or factors.ndim != 2 or len(labels) != len(factors):
    raise ValueError("normalized_factor_information expects labels [N, k] and "
                     f"factors [N, F] with equal N, got {labels.shape} and "
                     f"{factors.shape}")
  mi = discrete_mutual_info(discretize(labels, num_bins), factors)
  entropy = discrete_entropy(factors)
  with np.errstate(divide="ignore", invalid="ignore"):
    return np.where(entropy[None, :] > 1e-12, mi / entropy[None, :], np.nan)


def factors_found(labels: np.ndarray, factors: np.ndarray,
                  factor_names: Sequence[str], active: Sequence[int],
                  num_bins: int = 20, min_information: float = 0.3
                  ) -> List[Dict]:
  """Per active latent: the factor it carries most information about.

  Returns one dict per active latent: ``latent`` (0-based), ``factor`` (name,
  or None when no factor reaches ``min_information``), ``best_factor`` (the
  name even when it does not), ``information`` (the normalised MI of that
  factor) and ``all`` (name -> normalised MI, None for factors constant on
  the subset).
  """
  nmi = normalized_factor_information(labels, factors, num_bins)
  out = []
  for i, latent in enumerate(active):
    row = nmi[i]
    finite = np.where(np.isfinite(row), row, -np.inf)
    j = int(np.argmax(finite))
    best = float(finite[j])
    out.append({
        "latent": int(latent),
        "factor": factor_names[j] if best >= min_information else None,
        "best_factor": factor_names[j] if np.isfinite(best) else None,
        "information": best if np.isfinite(best) else None,
        "all": {name: (None if not np.isfinite(v) else float(v))
                for name, v in zip(factor_names, row)}})
  return out


def summarize(found: Sequence[Dict]) -> str:
  """'z3: posY (0.81), z7: ~posX (0.21)'; latents are 1-based as in plots.

  '~' marks a best factor below ``min_information`` (an entangled latent).
  """
  parts = []
  for f in found:
    what = f["factor"] or ("~" + f["best_factor"] if f.get("best_factor")
                           else "none")
    info = f["information"]
    parts.append(f"z{f['latent'] + 1}: {what}" +
                 (f" ({info:.2f})" if info is not None else ""))
  return ", ".join(parts) or "–"
