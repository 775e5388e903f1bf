"""UDR of many models and DCI's sklearn fits: before/after timings.

  python benchmarks/udr_speed.py                 # both, default sizes
  python benchmarks/udr_speed.py --num_models=50 --repeats=3

``run()`` returns ``[(name, baseline_s, new_s), ...]`` for a combined
benchmark script; ``main()`` prints them with the ratios and the load.

UDR: ``num_models`` synthetic representations of realistic shape (1000
points x 10 latents: noisy, permuted, rescaled copies of shared factors, each
model with its own collapsed latents of near-zero KL), scored all-to-all with
the lasso (UDR_L). Baseline: the former path, reimplemented here — one
``Lasso(random_state=seed)`` per ordered pair in a joblib thread pool of one
thread per core (sklearn then seeds a new RandomState for every target
column). New: ``tfdis.udr.udr_from_representations``. The scores are checked
to be identical.

DCI: ``dci_from_codes`` at dlib's default counts (10000 train, 5000 test
points) on codes of a dSprites-like factor grid, the fits one after the other
in this process (dlib's sequential path) vs. in parallel processes
(``n_jobs=None``, every core). The scores are checked to be identical.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import List, Tuple

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# dSprites' factor sizes without the constant colour: shape, scale,
# orientation, x, y.
DSPRITES_FACTOR_SIZES = (3, 6, 40, 32, 32)


def synthetic_representations(num_models: int, num_points: int = 1000,
                              latent_dim: int = 10, seed: int = 0):
  """(means [num_models x (N, d)], kls [num_models x (d,)]) of fake models.

  Every model sees the same 6 factors through its own permutation, signs and
  scales plus noise; its remaining latents are collapsed (tiny values, KL
  0.001), so the informative sets differ between models as in real VAEs.
  """
  rs = np.random.RandomState(seed)
  factors = rs.randn(num_points, 6)
  means, kls = [], []
  for _ in range(num_models):
    used = rs.choice(latent_dim, 6, replace=False)
    code = 0.01 * rs.randn(num_points, latent_dim)
    code[:, used] = (factors * rs.uniform(0.3, 3.0, 6) * rs.choice([-1, 1], 6)
                     + rs.uniform(0.05, 0.5) * rs.randn(num_points, 6))
    kl = np.full(latent_dim, 1e-3)
    kl[used] = rs.uniform(0.5, 3.0, 6)
    means.append(code)
    kls.append(kl)
  return means, kls


def udr_before(means, kls, alpha: float = 0.1, random_state: int = 0,
               kl_filter_threshold: float = 0.01):
  """Model scores by the former path (one lasso per pair, thread pool)."""
  import warnings

  from joblib import Parallel, delayed
  from sklearn.linear_model import Lasso

  from tfdis.udr import (informative_latents, relative_strength,
                         standardize_representation)

  masks = [informative_latents(k, kl_filter_threshold) for k in kls]
  scaled = [standardize_representation(m, k) for m, k in zip(means, masks)]
  num = len(means)
  pairs = [(j, i) for i in range(num) for j in range(num) if j != i]

  def fit(pair):
    i, j = pair
    with warnings.catch_warnings():
      warnings.simplefilter("ignore", category=UserWarning)
      model = Lasso(alpha=alpha, random_state=random_state).fit(scaled[i],
                                                                scaled[j])
    matrix = np.abs(model.coef_).T
    return relative_strength(matrix[masks[i]][:, masks[j]])

  scores = Parallel(n_jobs=os.cpu_count() or 1, prefer="threads")(
      delayed(fit)(pair) for pair in pairs)
  pairwise = np.full((num, num), np.nan)
  for (i, j), score in zip(pairs, scores):
    pairwise[i, j] = score
  return np.array([np.nanmedian(pairwise[:, i]) for i in range(num)])


def _best_of(fn, repeats: int):
  """(result, fastest wall time) of ``repeats`` calls."""
  best, out = float("inf"), None
  for _ in range(repeats):
    start = time.perf_counter()
    out = fn()
    best = min(best, time.perf_counter() - start)
  return out, best


def time_udr(num_models: int = 50, num_points: int = 1000,
             latent_dim: int = 10, repeats: int = 3) -> Tuple[float, float]:
  """(former path s, new path s) for UDR_L of ``num_models`` models, a2a."""
  from tfdis.udr import udr_from_representations

  means, kls = synthetic_representations(num_models, num_points, latent_dim)
  udr_before(means[:3], kls[:3])  # warm up imports and the thread pool
  old, old_s = _best_of(lambda: udr_before(means, kls), repeats)
  new, new_s = _best_of(
      lambda: udr_from_representations(means, kls)["model_scores"], repeats)
  if not np.array_equal(old, new):
    raise AssertionError(f"UDR scores changed: {old} vs {new}")
  return old_s, new_s


def dci_codes(num: int, seed: int):
  """[num, 10] codes and [num, 5] factors: 5 noisy factor codes, 5 mixtures."""
  rs = np.random.RandomState(seed)
  factors = np.stack([rs.randint(s, size=num) for s in DSPRITES_FACTOR_SIZES],
                     axis=1)
  scaled = factors / np.array(DSPRITES_FACTOR_SIZES, dtype=np.float64)
  codes = np.concatenate(
      [scaled + 0.05 * rs.randn(num, 5),
       scaled @ rs.randn(5, 5) + 0.5 * rs.randn(num, 5)], axis=1)
  return codes, factors


def time_dci(num_train: int = 10000, num_test: int = 5000,
             repeats: int = 1) -> Tuple[float, float]:
  """(sequential s, parallel s) of DCI's fits at dlib's default counts."""
  from tfdis.metrics.dci import dci_from_codes

  codes_train, factors_train = dci_codes(num_train, 0)
  codes_test, factors_test = dci_codes(num_test, 1)

  def dci(n_jobs):
    return dci_from_codes(codes_train, factors_train, codes_test,
                          factors_test, random_state=0, n_jobs=n_jobs)

  serial, serial_s = _best_of(lambda: dci(1), repeats)
  parallel, parallel_s = _best_of(lambda: dci(None), repeats)
  if serial != parallel:
    raise AssertionError(f"DCI scores changed: {serial} vs {parallel}")
  return serial_s, parallel_s


def run(num_models: int = 50, udr_repeats: int = 3, dci_repeats: int = 1,
        dci: bool = True) -> List[Tuple[str, float, float]]:
  """[(name, baseline_s, new_s)] for the UDR and (optionally) DCI timings."""
  rows = [(f"UDR_L of {num_models} models (1000 x 10), former vs new",
           *time_udr(num_models, repeats=udr_repeats))]
  if dci:
    rows.append(("DCI at 10000/5000 points, sequential vs all cores",
                 *time_dci(repeats=dci_repeats)))
  return rows


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--num_models", type=int, default=50)
  parser.add_argument("--repeats", type=int, default=3,
                      help="UDR repetitions (the fastest counts)")
  parser.add_argument("--no_dci", action="store_true")
  args = parser.parse_args(argv)
  print(f"load average before: {os.getloadavg()}, cores: {os.cpu_count()}")
  for name, baseline, new in run(args.num_models, args.repeats,
                                 dci=not args.no_dci):
    print(f"{name:<55s} {baseline:8.2f} s -> {new:8.2f} s  "
          f"({baseline / new:.2f}x)", flush=True)
  print(f"load average after: {os.getloadavg()}")
  return 0


if __name__ == "__main__":
  sys.exit(main())
