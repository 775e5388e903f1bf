"""Known answers of MIG-sup, DCIMIG and JEMMIG and of their wrappers
(tfdis_evaluate runs them in tests/test_evaluate_cli.py).

On a full factorial grid every pair of factors is exactly independent (their
plug-in MI is 0 up to rounding), so the scores of these representations
have closed forms (10 bins; factors with s <= 10 values keep one bin per
value):

- perfectly disentangled (code k = factor k): MIG-sup = DCIMIG = JEMMIG = 1;
- duplicated codes [f, f]: each code still holds one factor (MIG-sup = 1),
  each factor's best code gap is H(f_k) (DCIMIG = 1), but JEMMIG's second
  code is as informative as the first: JEMMIG = 1 − mean_k H_k / (H_k +
  log2 10), H_k = log2 s_k;
- entangled by modular mixing (z1 = f1 + f2 mod s, z2 = f1 − f2 mod s: each
  code is independent of each factor, the factors live only in the pair):
  MIG-sup = DCIMIG = 0 and, with s = 10 values, JEMMIG = 0;
- constant codes: MIG-sup = DCIMIG = 0 (the reference's MIG-sup is NaN) and
  JEMMIG = 1 − mean_k H_k / (H_k + log2 10).
"""

import itertools
import os
import subprocess
import sys

import numpy as np
import pytest

from tfdis import metrics as M
from tfdis.data import get_dataset
from tfdis.errors import UserError

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOL = 1e-12
SIZES = (3, 4, 5, 10)


def grid(sizes):
  return np.array(list(itertools.product(*[range(s) for s in sizes])))


def scores(codes, factors, **kwargs):
  return {**M.mig_sup_from_codes(codes, factors, **kwargs),
          **M.dcimig_from_codes(codes, factors, **kwargs),
          **M.jemmig_from_codes(codes, factors, **kwargs)}


def jemmig_closed_form(sizes):
  h = np.log2(np.asarray(sizes, dtype=np.float64))
  return float(1 - np.mean(h / (h + np.log2(10))))


def test_perfectly_disentangled_scores_one():
  factors = grid(SIZES)
  got = scores(factors * 0.7 + 3.0, factors)
  for key in ("mig_sup", "dcimig", "jemmig"):
    assert got[key] == pytest.approx(1.0, abs=TOL), key


def test_duplicated_codes():
  factors = grid(SIZES)
  got = scores(np.hstack([factors, factors]).astype(float), factors)
  assert got["mig_sup"] == pytest.approx(1.0, abs=TOL)
  assert got["dcimig"] == pytest.approx(1.0, abs=TOL)
  assert got["jemmig"] == pytest.approx(jemmig_closed_form(SIZES), abs=TOL)


def test_modular_mixing_is_fully_entangled():
  factors = grid((10, 10))
  f1, f2 = factors[:, 0], factors[:, 1]
  codes = np.stack([(f1 + f2) % 10, (f1 - f2) % 10], axis=1).astype(float)
  got = scores(codes, factors)
  for key in ("mig_sup", "dcimig", "jemmig"):
    assert got[key] == pytest.approx(0.0, abs=TOL), key


def test_rotation_scores_below_the_aligned_codes():
  """A 45-degree rotation of two continuous factors spreads each over both
  codes: every score drops far below the aligned codes' score."""
  rs = np.random.RandomState(0)
  factors = rs.uniform(size=(4000, 2))
  rotated = factors @ (np.array([[1.0, 1.0], [1.0, -1.0]]) / np.sqrt(2))
  types = ("continuous", "continuous")
  aligned = scores(factors, factors, factor_types=types)
  mixed = scores(rotated, factors, factor_types=types)
  for key in ("mig_sup", "dcimig", "jemmig"):
    assert aligned[key] > 0.98, key  # 1 minus the plug-in MI's small bias
    assert mixed[key] < aligned[key] - 0.5, (key, mixed[key])


def test_constant_codes():
  factors = grid(SIZES)
  codes = np.zeros((len(factors), 3))
  got = scores(codes, factors)
  assert got["mig_sup"] == 0.0
  assert got["dcimig"] == 0.0
  assert got["jemmig"] == pytest.approx(jemmig_closed_form(SIZES), abs=TOL)
  assert np.isnan(M.mig_sup_from_codes(codes, factors,
                                       dead_codes="nan")["mig_sup"])


def test_mig_sup_factor_normalization():
  """normalization='factor' divides by H(factor): a code that copies a
  3-valued factor but is binned into 10 bins has H(code) = H(factor), so
  both normalisations agree; a code merging two values of a factor does
  not reach 1 under 'factor' but does under 'code'."""
  factors = grid((4, 5))
  merged = np.minimum(factors[:, :1], 2).astype(float)  # values 0, 1, 2, 2
  codes = np.hstack([merged, factors[:, 1:].astype(float)])
  by_code = M.mig_sup_from_codes(codes, factors)["mig_sup"]
  by_factor = M.mig_sup_from_codes(codes, factors,
                                   normalization="factor")["mig_sup"]
  h4, h_merged = 2.0, 1.5  # bits: uniform over 4; (1/4, 1/4, 1/2)
  assert by_code == pytest.approx(1.0, abs=TOL)
  assert by_factor == pytest.approx((h_merged / h4 + 1.0) / 2, abs=TOL)


@pytest.mark.parametrize("kwargs,match", [
    (dict(num_bins=1), "num_bins"),
    (dict(factor_types=("discrete",)), "factor_types has 1"),
    (dict(factor_types=("discrete", "ordinal")), "'ordinal'"),
    (dict(normalization="codes"), "normalization"),
])
def test_bad_options_are_user_errors(kwargs, match):
  factors = grid((3, 3))
  with pytest.raises(UserError, match=match):
    M.mig_sup_from_codes(factors.astype(float), factors, **kwargs)


def test_real_valued_factor_declared_discrete_is_explained():
  factors = np.random.RandomState(0).uniform(size=(50, 2))
  with pytest.raises(UserError, match="continuous"):
    M.jemmig_from_codes(factors, factors)


# ---------------------------------------------------------------------------
# sampling wrappers (identity dataset: observations are the factors)
# ---------------------------------------------------------------------------
def identity_rep(x):
  return x.reshape(len(x), -1)


@pytest.mark.parametrize("metric", ["mig_sup", "dcimig", "jemmig"])
def test_wrappers_on_the_identity_dataset(metric):
  data = get_dataset("identity", factor_sizes=[4] * 5)
  result = M.get_metric(metric)(data, identity_rep, 0, num_train=3000)
  assert result[metric] > 0.97
  assert isinstance(result[metric], float)
  params = result["parameters"]
  assert params["num_train"] == 3000 and params["num_bins"] == 10
  assert params["factor_types"] == ["discrete"] * 5
  assert params["seed"] == 0
  again = M.get_metric(metric)(data, identity_rep, 0, num_train=3000)
  assert again[metric] == result[metric]
  # the same points scored with the array-level function
  codes, factors = M.sample_codes_and_factors(
      data, identity_rep, 3000, np.random.RandomState(0))
  direct = getattr(M, f"{metric}_from_codes")(codes, factors)[metric]
  assert direct == result[metric]


def test_wrapper_honours_the_datasets_factor_types_and_notes_dead_codes():
  from tfdis.data.identity import IdentityData

  class MixedTypes(IdentityData):
    factor_types = ("discrete", "continuous", "discrete")

  data = MixedTypes(factor_sizes=[4] * 3)

  def with_dead_code(x):
    return np.hstack([identity_rep(x), np.zeros((len(x), 1))])

  result = M.compute_mig_sup(data, with_dead_code, 1, num_train=1000)
  assert result["parameters"]["factor_types"] == [
      "discrete", "continuous", "discrete"]
  assert result["mig_sup"] == pytest.approx(0.75, abs=0.03)  # 3 of 4 codes
  assert any("constant code" in note for note in result["notes"])


def test_all_stays_dlibs_suite_and_every_adds_the_new_metrics():
  from tfdis.evaluate import resolve_metrics

  assert "mig_sup" not in resolve_metrics("all")
  assert len(resolve_metrics("all")) == 10
  assert {"mig_sup", "dcimig", "jemmig"} <= set(resolve_metrics("every"))
  assert resolve_metrics("jemmig,mig_sup") == ["jemmig", "mig_sup"]


def test_modules_do_not_import_tensorflow():
  code = ("import sys\n"
          "import numpy as np\n"
          "from tfdis.metrics import mig_sup, dcimig, jemmig\n"
          "f = np.arange(40).reshape(20, 2) % 4\n"
          "jemmig.jemmig_from_codes(f * 1.0, f)\n"
          "assert 'tensorflow' not in sys.modules\n"
          "print('ok')\n")
  env = dict(os.environ, PYTHONPATH=REPO_ROOT + os.pathsep +
             os.environ.get("PYTHONPATH", ""))
  out = subprocess.run([sys.executable, "-c", code], capture_output=True,
                       text=True, timeout=300, env=env, cwd=REPO_ROOT)
  assert out.returncode == 0, out.stderr[-2000:]
  assert out.stdout.strip() == "ok"


@pytest.mark.parametrize("metric,params", [
    ("mig_sup", dict(num_bins=1)), ("mig_sup", dict(dead_codes="skip")),
    ("dcimig", dict(num_bins=0)), ("jemmig", dict(num_bins=2.5)),
])
def test_wrappers_refuse_bad_options_before_sampling(metric, params):
  class NeverSampled:
    def sample_factors(self, *args):
      raise AssertionError("sampled before checking the options")

  with pytest.raises(UserError):
    M.get_metric(metric)(NeverSampled(), identity_rep, 0, **params)
