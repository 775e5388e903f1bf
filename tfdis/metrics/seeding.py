"""Seeding of the gradient-boosted trees, which dlib left unseeded."""

from __future__ import annotations

from typing import Any, Callable, List, Optional, Sequence

import numpy as np

from tfdis.checks import check_count
from tfdis.metrics.parallel import parallel_map
from tfdis.metrics.sampling import randint
from tfdis.registry import check_choice

# dlib's GradientBoostingClassifier() (DCI, downstream boosted trees, fairness)
# has no random_state, so each fit draws from NumPy's global RNG. Even with
# all features and no subsampling the trees use it: the features are visited
# in a random order and ties between equally good splits (common late in
# boosting) go to the first one visited. So dlib's GBT scores change from run
# to run unless the global RNG happens to be seeded.
#   "per_fit"    (default) every fit gets ``gbt_seed`` (drawn from the metric's
#                RandomState after all samples, unless given); fits run in
#                parallel. Same samples as dlib; scores differ from a dlib run
#                only through that tie-breaking.
#   "sequential" ONE RandomState(gbt_seed) is consumed by the fits one after
#                the other in dlib's fit order, exactly as dlib's fits consume
#                the global RNG after ``np.random.seed(gbt_seed)``; the fits
#                then run serially. Bit-identical to such a dlib run.
GBT_SEEDINGS = ("per_fit", "sequential")


def resolve_gbt_seed(gbt_seeding: str, gbt_seed, random_state) -> int:
  """Checks ``gbt_seeding``; returns ``gbt_seed`` or one drawn from the
  metric's RandomState (call after all samples: dlib's stream is untouched)."""
  check_choice("gbt_seeding", gbt_seeding, GBT_SEEDINGS)
  if gbt_seed is None:
    return randint(random_state, 2**31 - 1)
  return check_count("gbt_seed", gbt_seed, 0)


def run_fits(fn: Callable, args_list: Sequence[tuple], gbt_seeding: str,
             n_jobs: Optional[int] = None,
             costs: Optional[Sequence[float]] = None) -> List[Any]:
  """``parallel_map`` (largest ``costs`` first) for "per_fit"; in order, in
  this process, for "sequential" (the fits share one RandomState, which must
  not be copied into worker processes)."""
  if gbt_seeding == "sequential":
    return [fn(*args) for args in args_list]
  return parallel_map(fn, args_list, n_jobs, costs)


def gbt_random_states(gbt_seeding: str, gbt_seed: int, num: int) -> list:
  """The ``random_state`` of each of ``num`` fits, in dlib's fit order."""
  if gbt_seeding == "sequential":
    shared = np.random.RandomState(gbt_seed)
    return [shared] * num
  return [int(gbt_seed)] * num
