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


# Test modules that start a Ray instance or look for one ("auto"): under
# pytest-xdist they run on one worker, one after another, so none of them
# meets a Ray instance another test started.
RAY_MODULES = ("tests/test_execution_ray.py", "tests/test_ray_security.py",
               "tests/test_ray_token_cluster.py")


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
  """``make test`` (``-n 2 --dist loadfile``): each test module on one worker
  (its module-scoped fixtures are built once), the Ray modules together as one
  unit. xdist's own ``loadgroup`` would do this with marks, but xdist 3.8
  renames node ids in a way pytest 9.2 ignores, so its groups are split."""
  if config.getvalue("dist") != "loadfile":
    return None
  from xdist.scheduler import LoadFileScheduling

  class _RayTogether(LoadFileScheduling):

    def _split_scope(self, nodeid):
      scope = super()._split_scope(nodeid)
      return "ray" if scope in RAY_MODULES else scope

  return _RayTogether(config, log)
