"""Factor types: which factor columns hold discrete indices, which continuous
values.

A dataset declares them (``GroundTruthData.factor_types``), the array-level
metrics take them as ``factor_types``; metrics defined on discrete factors
only refuse continuous ones (``refuse_continuous``), the others use a
regression form and record the types in their parameters.
"""

from __future__ import annotations

from typing import Any, Dict, Tuple

import numpy as np

from tfdis.errors import UserError


FACTOR_TYPES = ("discrete", "continuous")


class FactorTypesError(UserError, ValueError):
  """``factor_types`` does not fit the factors; the message says how."""


def check_factor_types(factor_types, num_factors: int) -> Tuple[str, ...]:
  """None -> all "discrete"; else one of FACTOR_TYPES per factor column."""
  if factor_types is None:
    return ("discrete",) * int(num_factors)
  if isinstance(factor_types, str):
    factor_types = [factor_types] * int(num_factors)
  factor_types = tuple(factor_types)
  if len(factor_types) != num_factors:
    raise FactorTypesError(
        f"factor_types has {len(factor_types)} entries but there are "
        f"{num_factors} factors; give one of {', '.join(FACTOR_TYPES)} per "
        "factor column")
  bad = sorted({t for t in factor_types if t not in FACTOR_TYPES})
  if bad:
    raise FactorTypesError(
        f"factor_types must hold {' or '.join(FACTOR_TYPES)}, got {bad}")
  return factor_types


def continuous_mask(factor_types, num_factors: int) -> np.ndarray:
  """bool [K]: True where a factor is declared continuous."""
  return np.array([t == "continuous" for t in
                   check_factor_types(factor_types, num_factors)], dtype=bool)


def refuse_continuous(metric: str, factor_types, num_factors: int,
                      why: str) -> None:
  """Raises a UserError when a metric defined only for discrete factors is
  given continuous ones."""

  continuous = continuous_mask(factor_types, num_factors)
  if continuous.any():
    raise UserError(
        f"{metric} is defined for discrete factors only ({why}); factor "
        f"column(s) {np.flatnonzero(continuous).tolist()} are declared "
        "continuous. Score this metric without continuous factors, or "
        "choose a metric with a regression form (dci, sap_score, "
        "modularity_explicitness).")


def factor_type_parameters(factor_types, num_factors: int) -> Dict[str, Any]:
  """``{"factor_types": [...]}`` for a result's parameters when some factor
  is continuous; {} otherwise (all-discrete results keep dlib's parameters)."""
  types = check_factor_types(factor_types, num_factors)
  return {"factor_types": list(types)} if "continuous" in types else {}


def factor_types_of(ground_truth_data) -> Tuple[str, ...]:
  """The dataset's factor types (all "discrete" if it declares none)."""
  return check_factor_types(getattr(ground_truth_data, "factor_types", None),
                            len(ground_truth_data.factor_sizes))


def factor_values_where_continuous(ground_truth_data, factors) -> np.ndarray:
  """Index rows -> the same rows with continuous columns replaced by their
  values (float64); unchanged int64 rows if no factor is continuous."""
  continuous = continuous_mask(factor_types_of(ground_truth_data),
                               factors.shape[1])
  if not continuous.any():
    return factors
  out = factors.astype(np.float64)
  out[:, continuous] = ground_truth_data.values_of_factors(
      factors)[:, continuous]
  return out
