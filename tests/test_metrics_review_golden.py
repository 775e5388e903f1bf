"""MIG-sup, DCIMIG and JEMMIG equal the reference implementations of the
Carbonneau et al. review on the same arrays.

How the golden numbers were obtained: the reference repository
ubisoft/ubisoft-laforge-disentanglement-metrics at commit
05d5667c129bc1445c343a651d26ccd2926fdde6, with ``src/`` on ``sys.path`` and
its pinned pyitlib 0.2.2 (Python 3.11, numpy 1.26.4, scikit-learn 1.5.2,
scipy 1.13.1, pandas 2.2.3), called as

  from metrics.mig_sup import mig_sup    # src/metrics/mig_sup.py
  from metrics.dcimig import dcimig      # src/metrics/dcimig.py
  from metrics.jemmig import jemmig      # src/metrics/jemmig.py
  fn(factors, codes, continuous_factors=CONT, nb_bins=BINS)

on the arrays ``make_case(name)`` below returns (seeded ``RandomState``;
CONT = all factor types "continuous", BINS = the case's num_bins), printed with
``repr``. The computations are deterministic histogram estimates; tfdis
computes them in the same arithmetic order, so they agree to the last bit or
within a few ulps (NumPy's log2 may differ in the last bit between versions):
tolerance 1e-12 absolute.
"""

import numpy as np
import pytest

from tfdis.metrics import binned_information as bi
from tfdis.metrics.dcimig import dcimig_from_codes
from tfdis.metrics.jemmig import jemmig_from_codes
from tfdis.metrics.mig_sup import mig_sup_from_codes

TOL = 1e-12


# --- cases ---
def make_case(name):
  """(factors, codes, factor_types, num_bins) of a golden case."""
  if name in ("near_disentangled", "dead_code"):
    # Discrete factor indices; each code is one factor (permuted, scaled)
    # plus noise, and one code is pure noise.
    rs = np.random.RandomState(0)
    sizes = np.array([3, 6, 10, 8])
    factors = rs.randint(0, sizes, size=(3000, 4))
    perm = np.array([2, 0, 3, 1])
    codes = factors[:, perm] / sizes[perm] + 0.05 * rs.randn(3000, 4)
    codes = np.hstack([codes, rs.randn(3000, 1)])
    if name == "dead_code":
      codes = np.hstack([codes, np.full((3000, 1), 0.5)])
    return factors, codes, ("discrete",) * 4, 10
  if name == "rotated_continuous":
    # Continuous factors, codes = a random rotation of them plus noise.
    rs = np.random.RandomState(1)
    factors = rs.uniform(size=(3000, 3))
    rotation = np.linalg.qr(rs.randn(3, 3))[0]
    codes = factors @ rotation + 0.05 * rs.randn(3000, 3)
    return factors, codes, ("continuous",) * 3, 10
  if name == "mixed_discrete_7_bins":
    # Discrete factors linearly mixed into more codes; 7 bins.
    rs = np.random.RandomState(2)
    factors = rs.randint(0, 5, size=(1000, 3))
    codes = factors @ rs.randn(3, 4) + rs.randn(1000, 4)
    return factors, codes, ("discrete",) * 3, 7
  if name in ("tied_best_codes", "tied_best_codes_swapped"):
    # Two codes equally informative about factor 0 (bitwise equal MI): a
    # copy of it, and a finer code that also holds a coin flip. The reference
    # takes the last of equal MIs as JEMMIG's best code, so the order of the
    # codes changes the score; tfdis breaks the tie the same way.
    rs = np.random.RandomState(4)
    factors = rs.randint(0, 5, size=(2000, 2))
    finer = 2 * factors[:, 0] + rs.randint(0, 2, size=2000)
    codes = np.stack([factors[:, 0], finer, factors[:, 1]], axis=1) * 1.0
    if name == "tied_best_codes_swapped":
      codes = codes[:, [1, 0, 2]]
    return factors, codes, ("discrete",) * 2, 10
  if name == "constant_codes":
    rs = np.random.RandomState(6)
    factors = rs.randint(0, 6, size=(1000, 3))
    return factors, np.full((1000, 2), -1.5), ("discrete",) * 3, 10
  if name == "indices_as_continuous":
    # The review's default call (continuous_factors=True) on factor indices
    # with more values than bins: the factors are binned too.
    rs = np.random.RandomState(7)
    sizes = np.array([3, 40, 32])
    factors = rs.randint(0, sizes, size=(3000, 3))
    codes = factors / sizes + 0.1 * rs.randn(3000, 3)
    return factors, codes, ("continuous",) * 3, 10
  raise KeyError(name)
# --- end cases ---


GOLDEN = {
    "near_disentangled": {"mig_sup": 0.5037949826664004,
                          "dcimig": 0.7561873583381855,
                          "jemmig": 0.7050098452964758},
    "rotated_continuous": {"mig_sup": 0.05383245628215592,
                           "dcimig": 0.0442460731929399,
                           "jemmig": 0.1575666974227786},
    "mixed_discrete_7_bins": {"mig_sup": 0.0995426067909222,
                              "dcimig": 0.12557504945308073,
                              "jemmig": 0.22132756507025075},
    # The reference's MIG-sup is NaN here (the constant code); DCIMIG and
    # JEMMIG are unaffected by it.
    "dead_code": {"mig_sup": float("nan"),
                  "dcimig": 0.7561873583381855,
                  "jemmig": 0.7050098452964758},
    "tied_best_codes": {"mig_sup": 0.8976850161539911,
                        "dcimig": 0.9983496752235828,
                        "jemmig": 0.7050904169933091},
    "tied_best_codes_swapped": {"mig_sup": 0.8976850161539911,
                                "dcimig": 0.9983496752235828,
                                "jemmig": 0.7935227982078166},
    "constant_codes": {"mig_sup": float("nan"), "dcimig": 0.0,
                       "jemmig": 0.5625791103859302},
    "indices_as_continuous": {"mig_sup": 0.44623612191398926,
                              "dcimig": 0.4917898657322577,
                              "jemmig": 0.5059800531514104},
}

FUNCTIONS = {"mig_sup": mig_sup_from_codes, "dcimig": dcimig_from_codes,
             "jemmig": jemmig_from_codes}


@pytest.mark.parametrize("case", sorted(GOLDEN))
@pytest.mark.parametrize("metric", sorted(FUNCTIONS))
def test_equals_reference_on_the_same_arrays(case, metric):
  factors, codes, factor_types, num_bins = make_case(case)
  kwargs = dict(factor_types=factor_types, num_bins=num_bins)
  if metric == "mig_sup":
    kwargs["dead_codes"] = "nan"  # the reference's behaviour
  score = FUNCTIONS[metric](codes, factors, **kwargs)[metric]
  expected = GOLDEN[case][metric]
  if np.isnan(expected):
    assert np.isnan(score)
  else:
    assert score == pytest.approx(expected, abs=TOL, rel=0)


def test_mig_sup_dead_code_fix_counts_the_dead_code_as_a_zero_gap():
  """The fixed MIG-sup averages the live codes' gaps (the reference's number
  without the dead column) over all codes, the dead one adding 0."""
  factors, codes, factor_types, num_bins = make_case("dead_code")
  fixed = mig_sup_from_codes(codes, factors, factor_types=factor_types,
                             num_bins=num_bins)["mig_sup"]
  live = GOLDEN["near_disentangled"]["mig_sup"]
  assert fixed == pytest.approx(live * 5 / 6, abs=TOL, rel=0)


def test_mixed_factor_types_bin_only_the_continuous_columns():
  """A continuous column is binned exactly as the reference bins it; the
  discrete ones are used as they are."""
  rs = np.random.RandomState(5)
  discrete = rs.randint(0, 4, size=(800, 1))
  continuous = rs.uniform(-2, 3, size=(800, 1))
  factors = np.hstack([discrete, continuous])
  codes = np.hstack([discrete + 0.1 * rs.randn(800, 1),
                     continuous + 0.1 * rs.randn(800, 1)])
  types = ("discrete", "continuous")
  pre_binned = np.hstack([discrete, bi.bin_index(continuous, 10)])
  for metric, fn in FUNCTIONS.items():
    mixed = fn(codes, factors, factor_types=types)[metric]
    binned = fn(codes, pre_binned)[metric]
    assert mixed == binned, metric


def test_information_matrices_match_scikit_learn_in_nats():
  """MI and entropies (bits) equal scikit-learn's plug-in estimates (nats)
  divided by ln 2 on the same binned arrays."""
  import sklearn.metrics

  factors, codes, _, _ = make_case("mixed_discrete_7_bins")
  info, _, _ = bi.information(codes, factors, None, 7)
  codes_d = bi.bin_index(codes, 7)
  for f in range(factors.shape[1]):
    for c in range(codes.shape[1]):
      nats = sklearn.metrics.mutual_info_score(factors[:, f], codes_d[:, c])
      assert info.mutual_info[f, c] == pytest.approx(nats / np.log(2),
                                                     abs=1e-12)
