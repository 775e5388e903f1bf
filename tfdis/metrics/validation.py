"""Input checks of the metrics: codes and factors (counts: ``tfdis.checks``).

Conventions (spec metrics.md): rows are samples; ``codes`` are float
[N, num_codes]; ``factors`` are int factor indices [N, num_factors] (float
where a factor is declared continuous, see ``factor_types``). dlib keeps the
transpose internally; nothing here does.
"""

from __future__ import annotations

from typing import Optional, Tuple

import numpy as np

from tfdis.metrics.factor_types import continuous_mask


def check_codes(codes, name: str = "codes") -> np.ndarray:
  """float64 [N, num_codes]; a clear error for anything else."""
  codes = np.asarray(codes)
  if codes.ndim == 1:
    raise ValueError(
        f"{name} must be 2-D [num_samples, num_codes] (rows are samples), got "
        f"shape {codes.shape}; use codes[:, None] for a single code.")
  if codes.ndim != 2:
    raise ValueError(
        f"{name} must be 2-D [num_samples, num_codes], got shape {codes.shape}")
  if codes.shape[0] < 2 or codes.shape[1] < 1:
    raise ValueError(
        f"{name} needs at least 2 samples and 1 code, got shape {codes.shape}")
  codes = codes.astype(np.float64)
  if not np.all(np.isfinite(codes)):
    raise ValueError(
        f"{name} contains NaN or infinite values; the representation diverged "
        "(check the model) or the input is not a representation.")
  return codes


def check_factors(factors, num_samples: Optional[int] = None,
                  name: str = "factors", factor_types=None) -> np.ndarray:
  """int64 [N, num_factors] factor indices; float64 when some factor is
  declared continuous in ``factor_types`` (its column holds values, the
  discrete columns still integer indices)."""
  factors = np.asarray(factors)
  if factors.ndim != 2:
    raise ValueError(
        f"{name} must be 2-D [num_samples, num_factors] of factor indices "
        f"(rows are samples), got shape {factors.shape}")
  continuous = continuous_mask(factor_types, factors.shape[1])
  if factors.dtype.kind not in "iubf":
    raise ValueError(f"{name} must be integer factor indices, got "
                     f"dtype {factors.dtype}")
  if factors.dtype.kind == "f":
    discrete = factors[:, ~continuous]
    integral = np.all(discrete == np.round(discrete), axis=0)
    if not integral.all():
      columns = np.flatnonzero(~continuous)[~integral].tolist()
      raise ValueError(
          f"{name} must hold integer factor indices in discrete columns; "
          f"column(s) {columns} are declared discrete but hold non-integral "
          "values (declare continuous factors with factor_types=[..., "
          "'continuous', ...], or discretize them, e.g. with "
          "tfdis.metrics.discretize).")
    if not np.all(np.isfinite(factors)):
      raise ValueError(f"{name} contains NaN or infinite values")
  if num_samples is not None and factors.shape[0] != num_samples:
    raise ValueError(
        f"{name} has {factors.shape[0]} rows but the codes have {num_samples}; "
        "rows are samples and must match.")
  if continuous.any():
    return factors.astype(np.float64)
  return factors.astype(np.int64)


def check_codes_factors(codes, factors, suffix: str = "", factor_types=None
                        ) -> Tuple[np.ndarray, np.ndarray]:
  codes = check_codes(codes, "codes" + suffix)
  factors = check_factors(factors, codes.shape[0], "factors" + suffix,
                          factor_types)
  return codes, factors


def check_train_test(codes_train, factors_train, codes_test, factors_test,
                     factor_types=None):
  codes_train, factors_train = check_codes_factors(codes_train, factors_train,
                                                   "_train", factor_types)
  codes_test, factors_test = check_codes_factors(codes_test, factors_test,
                                                 "_test", factor_types)
  if codes_test.shape[1] != codes_train.shape[1]:
    raise ValueError(f"codes_train has {codes_train.shape[1]} codes but "
                     f"codes_test has {codes_test.shape[1]}")
  if factors_test.shape[1] != factors_train.shape[1]:
    raise ValueError(f"factors_train has {factors_train.shape[1]} factors but "
                     f"factors_test has {factors_test.shape[1]}")
  return codes_train, factors_train, codes_test, factors_test

