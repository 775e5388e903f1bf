"""Shared pytest fixtures (real TensorFlow on CPU, tiny data)."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

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
