"""DCI-ES (tfdis.metrics.dci_es): golden explicitness numbers from the
authors' code, the probes' capacities, known answers and the wrapper.

Golden numbers: the reference ``metrics/explitcitness.py`` of
github.com/andreinicolicioiu/DCI-ES (commit
9329daec05ac18038e080596c5bde997d28a1aaa), run unmodified (NumPy 1.26.4),
called as ``src/simple_gather.py`` calls it: one ``Explitcitness()`` per
factor, ``add_curve(capacities, losses, baseline_loss, name)`` then
``get_explitcitness()[name]``. The curves are the lists below (drawn once
with ``np.random.RandomState(7)``: ``uniform(0, 0.7, 12)`` and a sorted
``uniform(0, 1, 12)``, rounded to 6 decimals); the MLP curve uses the log of
parameter counts as ``simple_gather.py`` does for MLP probes; the padded case
adds a short and a long curve to one ``Explitcitness`` (the reference extends
the short one to the common largest capacity). The arithmetic is
deterministic, so equality is asserted to 1e-12.

The random-forest probe end to end (``RF_GOLDEN``): the reference's
``src/loss_capacity/train_model_random_forest.py::train_test_random_forest``
run unmodified with the pinned scikit-learn 1.9.1, on the arrays of
``_rf_arrays()`` (the test arrays as its val and test sets), once per
depth in (1, 2, 4, 8) with ``method='rf', max_leaf_nodes=None,
num_trees=10, seed=0``; then ``simple_gather.py``'s
steps with ``plot_probe='rf'`` (x = depth, loss = 1 − test score, baseline
1 − 1/size for discrete and 1 for continuous factors, D/C/I at the argmax of
``informativeness_test``). Its data loading was replaced by a function
returning the given float32 arrays in order (the reference draws them
through an unseeded shuffling PyTorch DataLoader; row order changes the
bootstrap samples), and its torch/xgboost/sage imports, unused on this path,
by empty modules; all targets are passed as ``index / (size − 1)``, as its
loaders normalise them (the continuous columns of ``_rf_arrays`` hold those
values). D, C, I are then equal bit for bit and E to
1e-15 (summation order); asserted at 1e-12.

The MLP probe (a scikit-learn MLP in place of the reference's PyTorch one)
is checked where its curve is determined. Against the reference it was
compared once, outside the suite (too slow for it): the reference's
``ProbeIndividual(RawData(latent_dim=2), num_factors=2, num_hidden_layers=2,
hidden_dim=h)`` trained by its ``train_model.py::train_test_probe`` (PyTorch
2.13, unmodified; AdamW lr 0.005, step schedule [0.4, 0.8], batch 128,
``epochs=3``, i.e. 30 epochs of 29548 points, best of the evaluations after
epochs 0 and 15) for h in (0, 4, 16) on codes = two continuous factors drawn
with ``RandomState(5).uniform(0, 1, (29548, 2))`` (test: the next 2000 rows),
then ``Explitcitness`` on log capacities: capacities 3, 37, 337 (equal to
``mlp_capacity``), test R² 1.0 / ≥ 0.9999993, E = 1.0. tfdis on the same
arrays (``probes=("mlp",), mlp_hidden_sizes=(0, 4, 16), mlp_epochs=30,
mlp_learning_rate=0.005``): the same capacities, R² 1.0, E = 1.0. So on a
determined curve |ΔE| = 0 and |ΔI| < 1e-6. (With the reference's
``epochs=1`` its only evaluation is after the first epoch, where its linear
probe had R² 0.42 against scikit-learn's 0.998: the probes differ in
initialisation, so curves that are not determined differ.)
"""

import numpy as np
import pytest

from tfdis import metrics as M
from tfdis.data import get_dataset
from tfdis.metrics import dci_es
from tfdis.registry import METRICS

DEPTHS = [1, 2, 3, 4, 8, 10, 12, 14, 16, 18, 20, 32]
LOSS_A = [0.053416, 0.545943, 0.306886, 0.506426, 0.684593, 0.376947,
          0.350784, 0.050436, 0.187907, 0.349918, 0.475461, 0.562617]
LOSS_B = [0.95013, 0.931206, 0.909594, 0.600549, 0.54849, 0.452124,
          0.380941, 0.288146, 0.230303, 0.213385, 0.065936, 0.024899]
MLP_PARAMS = [55, 339, 606, 1023, 1332, 2586, 6150, 11442, 18510, 64330,
              232806, 881590]


@pytest.mark.parametrize("capacities,losses,baseline,capacity_range,golden", [
    (DEPTHS, LOSS_A, 2.0 / 3, None, 0.9965393548387097),
    (DEPTHS, LOSS_B, 1.0, None, 0.45602693548387097),
    (list(np.log(MLP_PARAMS)), LOSS_B, 5.0 / 6, None, -0.014557969312109176),
    (DEPTHS[:6], LOSS_B[:6], 1.0, (1, 32), 0.8809215806451614),
])
def test_explicitness_equals_reference(capacities, losses, baseline,
                                       capacity_range, golden):
  e = dci_es.explicitness_from_curve(capacities, losses, baseline,
                                     capacity_range)
  assert e == pytest.approx(golden, abs=1e-12)


RF_GOLDEN = dict(explicitness=0.8634987677777457,
                 disentanglement=0.2402166267969254,
                 completeness=0.21754715963300034,
                 informativeness=0.7475630977641541,
                 rf_informativeness_train=0.945188637376075,
                 rf_best_capacity=8.0,
                 rf_explicitness_factor_0=0.9175,
                 rf_explicitness_factor_1=0.932142857142857,
                 rf_explicitness_factor_2=0.7666511453117836,
                 rf_explicitness_factor_3=0.8377010686563426)


def _rf_arrays():
  """Two discrete and two continuous factors, five mixed noisy codes,
  standardised with the train statistics and stored as float32 (as the
  reference's representation loaders hand them over)."""
  rs = np.random.RandomState(11)
  sizes = [3, 5, 8, 6]
  index_train = np.stack([rs.randint(0, s, 400) for s in sizes], 1)
  index_test = np.stack([rs.randint(0, s, 200) for s in sizes], 1)
  mix = rs.randn(4, 5)

  def encode(index):
    return (index / (np.array(sizes) - 1.0)) @ mix + 0.2 * rs.randn(
        len(index), 5)

  codes_train, codes_test = encode(index_train), encode(index_test)
  mean, std = codes_train.mean(0), codes_train.std(0)
  codes_train = ((codes_train - mean) / std).astype(np.float32)
  codes_test = ((codes_test - mean) / std).astype(np.float32)

  def factors(index):
    out = index.astype(np.float64)
    for j in (2, 3):  # continuous: the reference's normalised value
      out[:, j] = (index[:, j] / (sizes[j] - 1.0)).astype(np.float32)
    return out

  return (sizes, codes_train, factors(index_train), codes_test,
          factors(index_test))


def test_random_forest_probe_equals_reference():
  sizes, codes_train, f_train, codes_test, f_test = _rf_arrays()
  scores = M.dci_es_from_codes(
      codes_train, f_train, codes_test, f_test,
      factor_types=["discrete", "discrete", "continuous", "continuous"],
      factor_sizes=sizes, rf_depths=(1, 2, 4, 8), rf_num_trees=10,
      probe_seed=0, n_jobs=2)
  for key, expected in RF_GOLDEN.items():
    assert scores[key] == pytest.approx(expected, abs=1e-12), key
  assert scores["size"] == 4 / 5


def test_explicitness_known_curves():
  x = [1, 2, 3]
  # Lowest loss from the smallest capacity on: flat curve, E = 1.
  assert dci_es.explicitness_from_curve(x, [0.2, 0.2, 0.2], 1.0) == 1.0
  # Falls linearly from the baseline to 0: E = 0 (the reference's ½ in Z).
  assert dci_es.explicitness_from_curve(x, [1.0, 0.5, 0.0], 1.0) == 0.0
  # Stays at the baseline until the last step: E = -0.5 (tends to -1 with
  # more capacities).
  assert dci_es.explicitness_from_curve(x, [1.0, 1.0, 0.0], 1.0) == (
      pytest.approx(-0.5))
  with pytest.raises(ValueError, match="increase"):
    dci_es.explicitness_from_curve([2, 1], [0.1, 0.2], 1.0)


def test_mlp_capacity_counts_the_reference_parameters():
  # IndependentMLPs with L=10 codes, 2 hidden layers of width 14 and factors
  # of 6, 6, 1 (continuous) outputs: per factor (10*14+14) + (14*14+14)
  # trunk parameters, plus the heads 14*6+6, 14*6+6, 14+1; the reference
  # reports the total // 3. Width 0 is the linear probe.
  trunk = (10 * 14 + 14) + (14 * 14 + 14)
  heads = (14 * 6 + 6) * 2 + (14 + 1)
  assert dci_es.mlp_capacity(14, 2, 10, [6, 6, 1]) == (3 * trunk + heads) // 3
  assert dci_es.mlp_capacity(0, 2, 10, [6, 6, 1]) == (
      (10 * 6 + 6) * 2 + 11) // 3


def _grid(n, seed):
  rs = np.random.RandomState(seed)
  return np.stack([rs.randint(0, 3, n), rs.randint(0, 6, n),
                   rs.randint(0, 8, n)], axis=1)


SMALL_RF = dict(rf_depths=(1, 2, 4, 8), rf_num_trees=10, n_jobs=1)


def test_known_answers_disentangled_entangled_constant():
  f_train, f_test = _grid(600, 0), _grid(300, 1)
  rotation = np.linalg.qr(np.random.RandomState(2).randn(3, 3))[0]
  perfect = M.dci_es_from_codes(f_train, f_train, f_test, f_test, **SMALL_RF)
  mixed = M.dci_es_from_codes(f_train @ rotation, f_train,
                              f_test @ rotation, f_test, **SMALL_RF)
  const = M.dci_es_from_codes(np.zeros((600, 3)), f_train,
                              np.zeros((300, 3)), f_test, **SMALL_RF)
  assert perfect["informativeness"] > 0.98
  assert perfect["disentanglement"] > 0.7 and perfect["completeness"] > 0.7
  assert mixed["disentanglement"] < 0.2 and mixed["completeness"] < 0.2
  # The forests need more depth to undo a rotation: less explicit.
  assert mixed["explicitness"] < perfect["explicitness"] - 0.1
  # A constant code: informativeness of guessing the majority, nothing to
  # gain from capacity (flat curves, E = 1 by the reference's definition),
  # no importance anywhere.
  assert const["informativeness"] < 0.4
  assert const["explicitness"] == 1.0
  assert const["disentanglement"] == pytest.approx(0.0, abs=1e-9)
  assert perfect["size"] == 1.0
  for scores in (perfect, mixed, const):
    assert all(isinstance(v, float) and np.isfinite(v)
               for v in scores.values())
  again = M.dci_es_from_codes(f_train, f_train, f_test, f_test, **SMALL_RF)
  assert again == perfect


def test_mlp_probe_on_a_determined_curve():
  # Continuous factors, codes = factors: the linear probe (width 0) already
  # reaches R² ≈ 1, so the curve is flat at its minimum and E ≈ 1 whatever
  # the training details (the setting where a scikit-learn MLP must agree
  # with the reference's PyTorch one).
  rs = np.random.RandomState(4)
  v_train, v_test = rs.uniform(-1, 1, (800, 2)), rs.uniform(-1, 1, (400, 2))
  scores = M.dci_es_from_codes(
      v_train, v_train, v_test, v_test,
      factor_types=["continuous", "continuous"], probes=("mlp",),
      mlp_hidden_sizes=(0, 4, 16), mlp_epochs=60, mlp_learning_rate=0.01)
  assert scores["mlp_informativeness_test"] > 0.99
  assert scores["explicitness"] == pytest.approx(1.0, abs=0.02)
  assert "disentanglement" not in scores
  assert scores["size"] == 1.0
  wide = M.dci_es_from_codes(
      np.hstack([v_train, rs.randn(800, 2)]), v_train,
      np.hstack([v_test, rs.randn(400, 2)]), v_test,
      factor_types=["continuous", "continuous"], probes=("mlp",),
      mlp_hidden_sizes=(0, 4), mlp_epochs=5)
  assert wide["size"] == 0.5  # 2 factors in 4 codes


def test_bad_arguments_raise_one_clear_error():
  f = _grid(50, 0)
  with pytest.raises(ValueError, match="probes"):
    M.dci_es_from_codes(f, f, f, f, probes=("svm",))
  with pytest.raises(ValueError, match="increasing"):
    M.dci_es_from_codes(f, f, f, f, rf_depths=(4, 2))
  with pytest.raises(ValueError, match="factor_types"):
    M.dci_es_from_codes(f, f, f, f, factor_types=["discrete"])


def test_wrapper_on_a_dataset():
  data = get_dataset("identity", factor_sizes=[4, 4, 4])
  assert METRICS.get("dci_es") is M.compute_dci_es
  assert "dci_es" not in M.default_metric_names()

  def identity_rep(x):
    return x.reshape(len(x), -1)

  result = M.compute_dci_es(data, identity_rep, 0, num_train=300,
                            num_test=100, **SMALL_RF)
  assert result["disentanglement"] > 0.7
  assert result["informativeness"] > 0.98
  assert result["parameters"]["rf_depths"] == [1, 2, 4, 8]
  assert result["parameters"]["probes"] == ["random_forest"]
  assert result["parameters"]["size_definition"] == "num_factors / num_codes"
  again = M.compute_dci_es(data, identity_rep, 0, num_train=300,
                           num_test=100, **SMALL_RF)
  assert M.scores_of(result) == M.scores_of(again)
