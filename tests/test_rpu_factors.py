"""Known answers for tfdis.rpu.factors (which factor an active latent holds)."""

import numpy as np
import pytest

from tfdis.rpu import factors


def _grid():
  # 3 shapes x 8 positions, every combination 40 times (the plug-in MI of
  # 20 noise bins is biased upward on a few dozen rows).
  f = np.array([(s, x) for s in range(3) for x in range(8)] * 40)
  return f


def test_latent_that_is_a_factor_gets_information_one():
  f = _grid()
  labels = np.stack([f[:, 1] * 0.5 - 2.0,          # position, monotone
                     np.full(len(f), 0.3)], 1)       # constant latent
  nmi = factors.normalized_factor_information(labels, f, num_bins=20)
  assert nmi[0, 1] == pytest.approx(1.0)
  assert nmi[0, 0] == pytest.approx(0.0, abs=1e-12)   # independent of shape
  assert nmi[1, 0] == pytest.approx(0.0, abs=1e-12)


def test_constant_factor_is_nan_and_found_names_the_factor():
  f = _grid()
  f[:, 0] = 2                                         # shape already removed
  rs = np.random.RandomState(0)
  labels = np.stack([f[:, 1] + rs.normal(0, 1e-3, len(f)),
                     rs.normal(size=len(f))], 1)
  found = factors.factors_found(labels, f, ("shape", "posX"), active=[4, 7])
  assert found[0]["factor"] == "posX" and found[0]["latent"] == 4
  assert found[0]["information"] == pytest.approx(1.0)
  assert found[0]["all"]["shape"] is None
  assert found[1]["factor"] is None                   # noise: below 0.3
  assert found[1]["best_factor"] == "posX"
  assert factors.summarize(found).startswith("z5: posX (1.00), z8: ~posX (0.")


def test_shape_mismatch_is_a_clear_error():
  with pytest.raises(ValueError, match="equal N"):
    factors.normalized_factor_information(np.zeros((3, 1)), np.zeros((4, 2)))
