"""Shared pytest fixtures (real TensorFlow on CPU, tiny data)."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _avx2() -> bool:
  try:
    with open("/proc/cpuinfo") as f:
      return any(line.startswith("flags") and " avx2" in line for line in f)
  except OSError:
    return False


# scikit-learn's fits call OpenBLAS, whose kernels differ by CPU (Haswell on
# AVX2 and Zen CPUs, SkylakeX/SapphireRapids on AVX-512 ones) and sum in
# another order: a borderline logistic-regression prediction then flips
# (downstream_task at 50 points: 0.76 instead of dlib's 0.755). The golden
# numbers were computed with the Haswell kernels; pin them (before NumPy
# loads OpenBLAS; subprocesses inherit it) so the exact comparisons hold on
# any AVX2 machine. README "Reproducibility" tells users the same.
if _avx2():
  os.environ.setdefault("OPENBLAS_CORETYPE", "Haswell")

import numpy as np
import pytest

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="session")
def small_dsprites():
  from tfdis.data import get_dataset
  return get_dataset("procedural_dsprites_small")


@pytest.fixture
def rng():
  return np.random.RandomState(0)


def pytest_collection_modifyitems(config, items):
  """Under pytest-xdist (``make test`` runs ``-n 2 --dist loadgroup``) the
  tests of a module that share a module- or class-scoped fixture (a model
  trained once, an exported SavedModel) go to one worker, so the fixture is
  built once rather than once per worker. Tests with their own
  ``xdist_group`` mark (the Ray tests) keep it. Without xdist the mark does
  nothing."""
  for item in items:
    if item.get_closest_marker("xdist_group"):
      continue
    info = getattr(item, "_fixtureinfo", None)
    defs = info.name2fixturedefs.values() if info else ()
    if any(d[-1].scope in ("module", "class") for d in defs if d):
      item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::")[0]))
