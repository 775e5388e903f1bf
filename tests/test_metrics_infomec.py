"""InfoMEC (tfdis.metrics.infomec): golden numbers from the authors' code,
known answers, degenerate cases and the sampling wrapper.

Golden numbers were obtained by running the reference
``disentangle/metrics/infomec.py`` of github.com/kylehkhsu/latent_quantization
(commit 9a420a33505e03914f9b4fbfcafd221d25b8162f) unmodified, in a separate
venv with scikit-learn 1.3.2, NumPy 1.26.4, SciPy 1.11.4 (its
``LogisticRegression(multi_class='multinomial')`` no longer exists in today's
scikit-learn), on the arrays of ``_arrays()`` below::

    np.random.seed(0); compute_infomec(factors, codes, False)
    np.random.seed(0); compute_infomec(factors, codes_d.astype(np.float64), True)

(``np.random.seed(0)`` fixes the tie-breaking noise ``mutual_info_classif``
draws from the global RNG; tfdis's ``mi_seed=0`` reproduces it.) tfdis's
module run in that same venv returns all three scores bit-identical. Under
the pinned scikit-learn InfoM and InfoC still agree to 1e-15 (asserted at
1e-12); InfoE differs by up to 2e-5 because lbfgs takes a slightly different
path in the newer scikit-learn (asserted at 1e-4).
"""

import math

import numpy as np
import pytest

from tfdis import metrics as M
from tfdis.data import get_dataset
from tfdis.metrics import infomec
from tfdis.registry import METRICS

GOLDEN = {
    "continuous": dict(infom=0.4711844581213389, infoe=0.09654938306846395,
                       infoc=0.27802359779322844),
    "discrete": dict(infom=0.29627309025397025, infoe=0.1461906438541741,
                     infoc=0.1844912218610358),
}
TOLERANCE = dict(infom=1e-12, infoc=1e-12, infoe=1e-4)


def _arrays(seed=0, n=600):
  rs = np.random.RandomState(seed)
  factors = np.stack([rs.randint(0, 3, n), rs.randint(0, 6, n),
                      rs.randint(0, 4, n)], axis=1)
  mix = rs.randn(3, 5)
  codes = factors @ mix * 0.3 + rs.randn(n, 5)
  codes[:, 4] = 0.01 * rs.randn(n)  # below max range / 20: inactive
  codes_d = np.round(codes).astype(np.int64)
  return factors, codes, codes_d


@pytest.mark.parametrize("kind", ["continuous", "discrete"])
def test_equals_reference_on_the_same_arrays(kind):
  factors, codes, codes_d = _arrays()
  if kind == "continuous":
    scores = M.infomec_from_codes(codes, factors)
  else:
    scores = M.infomec_from_codes(codes_d.astype(np.float64), factors,
                                  discrete_latents=True)
  for key, expected in GOLDEN[kind].items():
    assert scores[key] == pytest.approx(expected, abs=TOLERANCE[key]), key
  assert scores["num_active_latents"] == 4.0


def test_global_rng_path_is_the_reference_call():
  # mi_seed=None draws from NumPy's global RNG as the reference does; after
  # np.random.seed(0) it matches mi_seed=0 exactly.
  factors, codes, _ = _arrays()
  np.random.seed(0)
  a = infomec.normalized_mutual_info(factors, codes, mi_seed=None)
  b = infomec.normalized_mutual_info(factors, codes, mi_seed=0)
  np.testing.assert_array_equal(a, b)
  c = infomec.normalized_mutual_info(factors, codes, mi_seed=0)
  np.testing.assert_array_equal(b, c)  # reproducible


def test_integer_discrete_latents_work():
  # The reference's InfoE asserts a float dtype on an all-zeros copy of the
  # latents and crashes on integer codes; tfdis accepts them.
  factors, _, codes_d = _arrays(n=200)
  factors, codes_d = factors[:, :2], np.clip(codes_d[:, :2], -2, 2)
  as_int = M.infomec_from_codes(codes_d, factors, discrete_latents=True)
  as_float = M.infomec_from_codes(codes_d.astype(np.float64), factors,
                                  discrete_latents=True)
  assert as_int == as_float
  with pytest.raises(ValueError, match="non-integral"):
    M.infomec_from_codes(codes_d + 0.5, factors, discrete_latents=True)


def _grid(n=800, seed=1):
  rs = np.random.RandomState(seed)
  return np.stack([rs.randint(0, 5, n), rs.randint(0, 4, n),
                   rs.randint(0, 6, n)], axis=1)


def test_known_answers_disentangled_entangled_constant():
  factors = _grid()
  rs = np.random.RandomState(2)
  perfect = factors + 0.05 * rs.randn(*factors.shape)
  rotation = np.linalg.qr(rs.randn(3, 3))[0]
  entangled = perfect @ rotation
  good = M.infomec_from_codes(perfect, factors)
  bad = M.infomec_from_codes(entangled, factors)
  const = M.infomec_from_codes(np.zeros((len(factors), 3)), factors)
  assert good["infom"] > 0.95 and good["infoc"] > 0.95
  assert good["infoe"] > 0.9
  assert bad["infom"] < good["infom"] - 0.3
  assert bad["infoc"] < good["infoc"] - 0.3
  # A rotation keeps the information (InfoE: a linear probe reads it back).
  assert bad["infoe"] == pytest.approx(good["infoe"], abs=0.05)
  assert const == dict(infom=0.0, infoe=0.0, infoc=0.0,
                       num_active_latents=0.0)
  # Discrete latents equal to the factors: near 1 (the plug-in MI of
  # independent columns is slightly positive in a finite sample).
  disc = M.infomec_from_codes(factors, factors, discrete_latents=True)
  assert disc["infom"] > 0.97 and disc["infoc"] > 0.97
  assert disc["infoe"] > 0.99


def test_degenerate_cases_defined_unless_reference_behaviour():
  factors = _grid()
  zeros = np.zeros((len(factors), 3))
  ref = M.infomec_from_codes(zeros, factors, reference_behaviour=True)
  assert math.isnan(ref["infom"]) and not math.isfinite(ref["infoc"])
  # One active latent carrying one factor: InfoC is the 0/0 of the
  # reference's normalisation; tfdis gives its limit, 1.
  codes = np.zeros((len(factors), 3))
  codes[:, 0] = factors[:, 0]
  one = M.infomec_from_codes(codes, factors)
  assert one["num_active_latents"] == 1.0 and one["infoc"] == 1.0
  assert math.isnan(M.infomec_from_codes(
      codes, factors, reference_behaviour=True)["infoc"])
  # One source: InfoM's normalisation is 0/0 in the reference; limit 1.
  single = M.infomec_from_codes(codes[:, :1], factors[:, :1])
  assert single["infom"] == 1.0


def test_continuous_factors_are_discretised():
  rs = np.random.RandomState(3)
  values = rs.uniform(0, 1, size=(300, 2))
  codes = values + 0.01 * rs.randn(300, 2)
  scores = M.infomec_from_codes(codes, values, factor_bins=5,
                                factor_types=["continuous", "continuous"])
  binned = M.discretize(values, 5)
  assert scores == M.infomec_from_codes(codes, binned)
  assert scores["infom"] > 0.9
  with pytest.raises(ValueError, match="declared discrete"):
    M.infomec_from_codes(codes, values)
  with pytest.raises(ValueError, match="factor_types"):
    M.infomec_from_codes(codes, values, factor_types=["continuous"])


def test_wrapper_on_a_dataset():
  data = get_dataset("identity", factor_sizes=[4, 4, 4])
  assert METRICS.get("infomec") is M.compute_infomec
  assert "infomec" not in M.default_metric_names()

  def identity_rep(x):
    return x.reshape(len(x), -1)

  result = M.compute_infomec(data, identity_rep, 0, num_train=400)
  again = M.compute_infomec(data, identity_rep, 0, num_train=400)
  assert M.scores_of(result) == M.scores_of(again)
  assert result["infom"] > 0.95 and result["infoc"] > 0.95
  assert result["parameters"]["mi_seed"] == 0
  assert result["parameters"]["num_train"] == 400
  assert any("global RNG" in n for n in result["notes"])
