"""DCI-ES: explicitness (E) and size (S) next to D, C, I from probes of
increasing capacity.

Eastwood, Nicolicioiu, von Kügelgen, Kekić, Träuble, Dittadi & Schölkopf,
"DCI-ES: An Extended Disentanglement Framework with Connections to
Identifiability", ICLR 2023; reference code github.com/andreinicolicioiu/DCI-ES
(``metrics/explitcitness.py``, ``src/loss_capacity/train_model_random_forest.py``,
``src/loss_capacity/probing.py``, ``src/simple_gather.py``).

Loss–capacity curve. For each factor j and each probe capacity c (random
forest: ``max_depth``; MLP: parameters per factor, on a log axis) a probe is
trained on the train sample and its test loss recorded: 1 − accuracy for a
discrete factor (classification), 1 − R² for a continuous one (regression).
The curve is made monotone (running minimum over increasing capacity).

Explicitness (reference ``compute_explitcitness`` as called by
``simple_gather.py``)::

  E_j = 1 − AULCC_j / Z_j,   AULCC_j = ∫ (ℓ_j(c) − min_c ℓ_j(c)) dc  (trapezoids)
  Z_j = ½ (c_max − c_min) · ℓ_b,j

with ℓ_b,j the loss of the baseline predictor (1 − 1/n_j for a discrete
factor with n_j values, 1 for a continuous one: R² of the mean). E = mean_j
E_j. E is measured against the curve's *own* lowest loss, so it says how
little capacity a probe needs to get as good as it gets, not how good that is
(that is I): a flat curve (e.g. a constant code) has E = 1. The ½ in Z makes a
curve falling linearly from ℓ_b to its minimum score 0; E lies in [−1, 1].

D, C, I: as ``simple_gather.py``, at the capacity with the best mean test
score; D and C from the random forests' impurity importances (dlib's entropy
formulas, ``tfdis.metrics.dci``), I = mean test accuracy / R² there.

Size: the paper's S (Sec. 4), the size of the representation relative to the
factors, S = K / L for K factors and L codes (1 for a code of the factors'
size, smaller for larger codes). The reference code does not compute S; it
follows the paper.

Probes:

* ``random_forest`` (the reference's ``RandomForestClassifier`` /
  ``RandomForestRegressor(n_estimators=100, max_depth=d, random_state=seed)``,
  one per factor and depth; ``rf_depths`` = the reference's
  ``configs/random_forest/config.yaml`` grid). Deterministic given the seed:
  a reference run on the same arrays in the same row order gives the same
  forests (scikit-learn's forests do not depend on ``n_jobs``).
* ``mlp``: the reference trains one PyTorch MLP per factor
  (``IndependentMLPs``, 2 hidden ReLU layers of width h, h = 0: linear) with
  AdamW, a step schedule and best-validation checkpointing. tfdis fits
  scikit-learn's ``MLPClassifier`` / ``MLPRegressor`` with the same
  architecture, Adam (weight decay 0 = AdamW with the reference's 0), the
  reference's learning rate, batch 128 and the reference's number of
  gradient steps (``10 · 295488 / num_train`` epochs), without the step
  schedule and checkpointing. Capacity = the reference's parameter count per
  factor. Not bit-equal to PyTorch (different initialisation and RNG); equal
  where the curve is determined (a linear code: every probe reaches its
  minimum at the smallest capacity; the reference and tfdis both give E = 1,
  R² within 1e-6, see tests/test_metrics_dci_es.py). The reference picks the
  best of the validation scores at epochs ``int(linspace(0, E, e))`` and so
  never evaluates its last epochs (with ``e = 1`` only the first); tfdis
  scores the last epoch. Opt-in: at the reference's widths (up to 3603) it
  takes hours on a CPU.

The reference standardises the codes (``standardise=True``); so does tfdis
(train-sample mean and standard deviation).
"""

from __future__ import annotations

import math
import warnings
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from tfdis.checks import check_count
from tfdis.metrics import classifiers, results, sampling, validation
from tfdis.metrics.factor_types import check_factor_types
from tfdis.metrics.dci import dci_completeness, dci_disentanglement

# The reference's capacity grids (configs/random_forest/config.yaml and
# configs/mlp/config.yaml) and probe settings (configs/*/default.yaml).
RF_DEPTHS = (1, 2, 3, 4, 8, 10, 12, 14, 16, 18, 20, 32)
MLP_HIDDEN_SIZES = (0, 14, 21, 28, 33, 47, 75, 103, 131, 243, 467, 915, 1811,
                    3603)
PROBES = ("random_forest", "mlp")
# Number of training points the reference's epoch count is written for
# (train_model.py: epochs * 295488 // len(train set)).
REFERENCE_TRAIN_POINTS = 295488

DEFAULTS = dict(num_train=10000, num_test=5000, probes=("random_forest",),
                rf_depths=RF_DEPTHS, rf_num_trees=100,
                mlp_hidden_sizes=MLP_HIDDEN_SIZES, mlp_hidden_layers=2,
                mlp_learning_rate=0.0002, mlp_epochs=None,
                mlp_batch_size=128, probe_seed=0)


# ---------------------------------------------------------------------------
# explicitness from loss-capacity curves
# ---------------------------------------------------------------------------
def monotone_curve(losses) -> np.ndarray:
  """Running minimum: the lowest loss reached at or below each capacity."""
  return np.minimum.accumulate(np.asarray(losses, dtype=np.float64))


def explicitness_from_curve(capacities, losses, baseline_loss: float,
                            capacity_range: Optional[Tuple[float, float]] = None
                            ) -> float:
  """E of one factor from its loss–capacity curve (capacities increasing).

  ``capacity_range`` (c_min, c_max) normalises when several curves share an
  axis (the reference pads a curve to the common c_max with its last loss).
  """
  x = np.asarray(capacities, dtype=np.float64)
  y = monotone_curve(losses)
  if x.ndim != 1 or x.shape != y.shape or x.size < 2:
    raise ValueError(
        "a loss-capacity curve needs at least two capacities and one loss per "
        f"capacity, got capacities {x.shape} and losses {y.shape}")
  if np.any(np.diff(x) <= 0):
    raise ValueError(f"capacities must increase strictly, got {x.tolist()}")
  c_min, c_max = (x[0], x[-1]) if capacity_range is None else capacity_range
  if x[-1] < c_max:  # the reference's virtual point: converged at c_max
    x = np.append(x, c_max)
    y = np.append(y, y[-1])
  if baseline_loss <= 0:
    raise ValueError(f"baseline_loss must be positive, got {baseline_loss}")
  above = y - y.min()
  area = np.sum(0.5 * (above[:-1] + above[1:]) * np.diff(x))
  return float(1.0 - 2.0 * area / ((c_max - c_min) * baseline_loss))


def baseline_losses(factors, factor_types: Sequence[str],
                    factor_sizes: Optional[Sequence[int]] = None
                    ) -> np.ndarray:
  """ℓ_b per factor: 1 − 1/n (random guess among n values) or 1 (R² of the
  mean). n = ``factor_sizes[j]`` if given, else the values in the sample."""
  out = []
  for j, kind in enumerate(factor_types):
    if kind == "continuous":
      out.append(1.0)
      continue
    n = (int(factor_sizes[j]) if factor_sizes is not None else
         len(np.unique(factors[:, j])))
    # A factor with one value has nothing to guess; any positive baseline
    # keeps E defined (its curve is flat at loss 0, E = 1).
    out.append(1.0 - 1.0 / n if n > 1 else 1.0)
  return np.array(out)


# ---------------------------------------------------------------------------
# probes
# ---------------------------------------------------------------------------
def _score_constant(y_train, y_test, kind: str) -> Tuple[float, float]:
  """Train/test score of a probe for a factor constant in the train sample."""
  if kind == "continuous":
    return 1.0, float(np.all(y_test == y_train[0]))
  return 1.0, float(np.mean(y_test == y_train[0]))


def _fit_forest(x_train, y_train, x_test, y_test, kind: str, depth: int,
                num_trees: int, seed: int, n_jobs: Optional[int]):
  """(importances [L], train score, test score) of one forest."""
  from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
  if len(np.unique(y_train)) < 2:
    train, test = _score_constant(y_train, y_test, kind)
    return np.zeros(x_train.shape[1]), train, test
  cls = RandomForestRegressor if kind == "continuous" else (
      RandomForestClassifier)
  model = cls(n_estimators=num_trees, max_depth=depth, max_leaf_nodes=None,
              random_state=seed, n_jobs=n_jobs)
  model.fit(x_train, y_train)
  return (np.abs(model.feature_importances_),
          float(model.score(x_train, y_train)),
          float(model.score(x_test, y_test)))


def mlp_capacity(hidden_size: int, hidden_layers: int, num_codes: int,
                 factor_outputs: Sequence[int]) -> int:
  """Parameters per factor of the reference's ``IndependentMLPs`` probe
  (``train_probe.py``: ``count_parameters() // num_factors``)."""
  k = len(factor_outputs)
  if hidden_size == 0 or hidden_layers == 0:
    total = sum(num_codes * o + o for o in factor_outputs)
  else:
    h = hidden_size
    per_factor_trunk = (num_codes * h + h) + (hidden_layers - 1) * (h * h + h)
    total = k * per_factor_trunk + sum(h * o + o for o in factor_outputs)
  return total // k


def _fit_mlp(x_train, y_train, x_test, y_test, kind: str, hidden_size: int,
             hidden_layers: int, learning_rate: float, epochs: int,
             batch_size: int, seed: int):
  """(train score, test score) of one MLP probe."""
  from sklearn.neural_network import MLPClassifier, MLPRegressor
  if len(np.unique(y_train)) < 2:
    return _score_constant(y_train, y_test, kind)
  layers = () if hidden_size == 0 else (hidden_size,) * hidden_layers
  cls = MLPRegressor if kind == "continuous" else MLPClassifier
  model = cls(hidden_layer_sizes=layers, activation="relu", solver="adam",
              alpha=0.0, batch_size=min(batch_size, len(y_train)),
              learning_rate_init=learning_rate, max_iter=epochs, shuffle=True,
              random_state=seed, tol=0.0, n_iter_no_change=epochs + 1)
  with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # ConvergenceWarning at max_iter epochs
    model.fit(x_train, y_train)
  return (float(model.score(x_train, y_train)),
          float(model.score(x_test, y_test)))


def _check_grid(name: str, values) -> Tuple[int, ...]:
  values = tuple(int(v) for v in values)
  if len(values) < 2 or any(b <= a for a, b in zip(values, values[1:])):
    raise ValueError(f"{name} needs at least two strictly increasing "
                     f"capacities, got {list(values)}")
  if values[0] < 0:
    raise ValueError(f"{name} must be non-negative, got {list(values)}")
  return values


def check_probes(probes) -> Tuple[str, ...]:
  """The probe families as a tuple; a clear error for anything else."""
  probes = (probes,) if isinstance(probes, str) else tuple(probes)
  if not probes or any(p not in PROBES for p in probes) or (
      len(set(probes)) != len(probes)):
    raise ValueError(f"probes must be a non-empty subset of {list(PROBES)} "
                     f"(no repeats), got {list(probes)}")
  return probes


def _summary(prefix: str, capacities, train_scores, test_scores,
             baselines) -> Dict[str, float]:
  """E per factor and I at the best capacity of one probe family."""
  losses = 1.0 - np.asarray(test_scores)  # [num_capacities, K]
  per_factor = [explicitness_from_curve(capacities, losses[:, j], baselines[j])
                for j in range(losses.shape[1])]
  best = int(np.argmax(np.mean(test_scores, axis=1)))
  out = {f"{prefix}_explicitness": float(np.mean(per_factor)),
         f"{prefix}_informativeness_test": float(np.mean(test_scores[best])),
         f"{prefix}_informativeness_train": float(np.mean(train_scores[best]))}
  for j, e in enumerate(per_factor):
    out[f"{prefix}_explicitness_factor_{j}"] = e
  return out, best


def dci_es_from_codes(codes_train, factors_train, codes_test, factors_test, *,
                      factor_types=None, factor_sizes=None,
                      probes: Sequence[str] = DEFAULTS["probes"],
                      rf_depths: Sequence[int] = RF_DEPTHS,
                      rf_num_trees: int = DEFAULTS["rf_num_trees"],
                      mlp_hidden_sizes: Sequence[int] = MLP_HIDDEN_SIZES,
                      mlp_hidden_layers: int = DEFAULTS["mlp_hidden_layers"],
                      mlp_learning_rate: float = DEFAULTS["mlp_learning_rate"],
                      mlp_epochs: Optional[int] = DEFAULTS["mlp_epochs"],
                      mlp_batch_size: int = DEFAULTS["mlp_batch_size"],
                      probe_seed: int = DEFAULTS["probe_seed"],
                      n_jobs: Optional[int] = None) -> Dict[str, float]:
  """DCI-ES scores of train/test codes [N, L] and factors [N, K].

  Keys (flat floats): ``explicitness`` (of the first probe in ``probes``),
  ``size``, and per probe ``<p>_explicitness``, ``<p>_explicitness_factor_<j>``,
  ``<p>_informativeness_test/_train``, ``<p>_best_capacity``; the random
  forest also gives ``disentanglement`` and ``completeness`` (``rf_`` keys
  and unprefixed). ``<p>`` is ``rf`` or ``mlp``. ``factor_sizes``: values per
  discrete factor for the baseline loss (default: values in the sample).
  """
  codes_train = validation.check_codes(codes_train, "codes_train")
  codes_test = validation.check_codes(codes_test, "codes_test")
  if codes_test.shape[1] != codes_train.shape[1]:
    raise ValueError(f"codes_train has {codes_train.shape[1]} codes but "
                     f"codes_test has {codes_test.shape[1]}")
  k = np.shape(factors_train)[-1] if np.ndim(factors_train) == 2 else 0
  factor_types = check_factor_types(factor_types, k)
  factors_train = validation.check_factors(
      factors_train, codes_train.shape[0], "factors_train", factor_types)
  factors_test = validation.check_factors(
      factors_test, codes_test.shape[0], "factors_test", factor_types)
  if factors_test.shape[1] != k:
    raise ValueError(f"factors_train has {k} factors but factors_test has "
                     f"{factors_test.shape[1]}")
  probes = check_probes(probes)
  if factor_sizes is not None and len(factor_sizes) != k:
    raise ValueError(f"factor_sizes has {len(factor_sizes)} entries for {k} "
                     "factors")
  x_train, x_test = classifiers.standardize(codes_train, codes_test)
  num_codes = x_train.shape[1]
  baselines = baseline_losses(factors_train, factor_types, factor_sizes)
  targets = [(factors_train[:, j], factors_test[:, j], factor_types[j])
             for j in range(k)]
  scores: Dict[str, float] = {}

  if "random_forest" in probes:
    depths = _check_grid("rf_depths", rf_depths)
    if depths[0] < 1:
      raise ValueError(f"rf_depths must be >= 1, got {list(depths)}")
    num_trees = check_count("rf_num_trees", rf_num_trees, 1)
    train_s = np.zeros((len(depths), k))
    test_s = np.zeros((len(depths), k))
    importances = np.zeros((len(depths), num_codes, k))
    for c, depth in enumerate(depths):
      for j, (y_tr, y_te, kind) in enumerate(targets):
        importances[c, :, j], train_s[c, j], test_s[c, j] = _fit_forest(
            x_train, y_tr, x_test, y_te, kind, depth, num_trees, probe_seed,
            n_jobs)
    rf, best = _summary("rf", depths, train_s, test_s, baselines)
    rf["rf_best_capacity"] = float(depths[best])
    rf["rf_disentanglement"] = dci_disentanglement(importances[best])
    rf["rf_completeness"] = dci_completeness(importances[best])
    scores.update(rf)

  if "mlp" in probes:
    sizes = _check_grid("mlp_hidden_sizes", mlp_hidden_sizes)
    layers = check_count("mlp_hidden_layers", mlp_hidden_layers, 1)
    epochs = (mlp_epochs if mlp_epochs is not None else
              reference_mlp_epochs(x_train.shape[0]))
    epochs = check_count("mlp_epochs", epochs, 1)
    outputs = [1 if kind == "continuous" else
               (int(factor_sizes[j]) if factor_sizes is not None else
                len(np.unique(factors_train[:, j])))
               for j, (_, _, kind) in enumerate(targets)]
    capacities = [mlp_capacity(h, layers, num_codes, outputs) for h in sizes]
    train_s = np.zeros((len(sizes), k))
    test_s = np.zeros((len(sizes), k))
    for c, h in enumerate(sizes):
      for j, (y_tr, y_te, kind) in enumerate(targets):
        train_s[c, j], test_s[c, j] = _fit_mlp(
            x_train, y_tr, x_test, y_te, kind, h, layers, mlp_learning_rate,
            epochs, mlp_batch_size, probe_seed)
    # The reference plots (and integrates) MLP curves over log capacity.
    mlp, best = _summary("mlp", np.log(capacities), train_s, test_s,
                         baselines)
    mlp["mlp_best_capacity"] = float(capacities[best])
    scores.update(mlp)

  first = "rf" if probes[0] == "random_forest" else "mlp"
  scores["explicitness"] = scores[f"{first}_explicitness"]
  if "random_forest" in probes:
    scores["disentanglement"] = scores["rf_disentanglement"]
    scores["completeness"] = scores["rf_completeness"]
  scores["informativeness"] = scores[f"{first}_informativeness_test"]
  scores["size"] = size_score(k, num_codes)
  return scores


def reference_mlp_epochs(num_train: int) -> int:
  """The reference's epoch count for 10 epochs of its 295488-point split
  (``train_model.py``: ``epochs * 295488 // len(train set)``)."""
  return max(1, int(10 * REFERENCE_TRAIN_POINTS // int(num_train)))


def size_score(num_factors: int, num_codes: int) -> float:
  """S = K / L: the paper's size of a representation relative to the
  ground-truth factors (1 at equal size, below 1 for a larger code)."""
  return float(num_factors / num_codes)


def compute_dci_es(ground_truth_data, representation_fn, random_state,
                   num_train: int = DEFAULTS["num_train"],
                   num_test: int = DEFAULTS["num_test"],
                   probes: Sequence[str] = DEFAULTS["probes"],
                   rf_depths: Sequence[int] = RF_DEPTHS,
                   rf_num_trees: int = DEFAULTS["rf_num_trees"],
                   mlp_hidden_sizes: Sequence[int] = MLP_HIDDEN_SIZES,
                   mlp_hidden_layers: int = DEFAULTS["mlp_hidden_layers"],
                   mlp_learning_rate: float = DEFAULTS["mlp_learning_rate"],
                   mlp_epochs: Optional[int] = DEFAULTS["mlp_epochs"],
                   mlp_batch_size: int = DEFAULTS["mlp_batch_size"],
                   probe_seed: int = DEFAULTS["probe_seed"],
                   n_jobs: Optional[int] = None,
                   sampling_batch_size: int = sampling.DLIB_SAMPLING_BATCH_SIZE,
                   encode_batch_size: int = sampling.DEFAULT_ENCODE_BATCH_SIZE,
                   ) -> Dict:
  """DCI-ES on a train and a test sample (10000 / 5000 points, dlib's DCI
  counts; the reference uses its datasets' fixed splits), random-forest
  probe by default (``probes=("random_forest", "mlp")`` adds the MLP probe).

  Probes are seeded with ``probe_seed`` (the reference seeds its forests with
  its run seed); each probe is deterministic given it.
  """
  # Options are checked before anything is encoded.
  _validate_params(num_train=num_train, num_test=num_test, probes=probes,
                   rf_depths=rf_depths, rf_num_trees=rf_num_trees,
                   mlp_hidden_sizes=mlp_hidden_sizes,
                   mlp_hidden_layers=mlp_hidden_layers, mlp_epochs=mlp_epochs)
  probes = check_probes(probes)
  rs = sampling.as_random_state(random_state)
  codes_train, factors_train, codes_test, factors_test = (
      sampling.sample_train_test(ground_truth_data, representation_fn,
                                 num_train, num_test, rs, encode_batch_size,
                                 sampling_batch_size))
  factor_types = getattr(ground_truth_data, "factor_types", None)
  factor_sizes = getattr(ground_truth_data, "factor_sizes", None)
  if factor_types is not None and factor_sizes is not None:
    factor_sizes = [s if t == "discrete" else 1
                    for s, t in zip(factor_sizes, factor_types)]
  scores = dci_es_from_codes(
      codes_train, factors_train, codes_test, factors_test,
      factor_types=factor_types, factor_sizes=factor_sizes, probes=probes,
      rf_depths=rf_depths, rf_num_trees=rf_num_trees,
      mlp_hidden_sizes=mlp_hidden_sizes, mlp_hidden_layers=mlp_hidden_layers,
      mlp_learning_rate=mlp_learning_rate, mlp_epochs=mlp_epochs,
      mlp_batch_size=mlp_batch_size, probe_seed=probe_seed, n_jobs=n_jobs)
  parameters = dict(num_train=num_train, num_test=num_test,
                    probes=list(probes), probe_seed=int(probe_seed),
                    sampling_batch_size=int(sampling_batch_size),
                    size_definition="num_factors / num_codes")
  notes = ["E is measured against each curve's own lowest loss (reference "
           "explitcitness.py): read it together with informativeness"]
  if "random_forest" in probes:
    parameters.update(rf_depths=[int(d) for d in rf_depths],
                      rf_num_trees=int(rf_num_trees),
                      rf_predictor="RandomForestClassifier/Regressor("
                                   "n_estimators, max_depth, random_state)")
  if "mlp" in probes:
    parameters.update(
        mlp_hidden_sizes=[int(h) for h in mlp_hidden_sizes],
        mlp_hidden_layers=int(mlp_hidden_layers),
        mlp_learning_rate=float(mlp_learning_rate),
        mlp_epochs=int(mlp_epochs if mlp_epochs is not None else
                       reference_mlp_epochs(num_train)),
        mlp_batch_size=int(mlp_batch_size),
        mlp_predictor="MLPClassifier/MLPRegressor(adam, relu)")
    notes.append("MLP probe: scikit-learn MLPs (Adam, constant learning "
                 "rate, last epoch) in place of the reference's PyTorch "
                 "probes (AdamW, step schedule, best-validation epoch)")
  return results.make_result(scores, parameters, notes, random_state)


def _validate_params(num_train=DEFAULTS["num_train"],
                     num_test=DEFAULTS["num_test"], probes=DEFAULTS["probes"],
                     rf_depths=RF_DEPTHS, rf_num_trees=DEFAULTS["rf_num_trees"],
                     mlp_hidden_sizes=MLP_HIDDEN_SIZES,
                     mlp_hidden_layers=DEFAULTS["mlp_hidden_layers"],
                     mlp_epochs=DEFAULTS["mlp_epochs"], **_) -> None:
  """Raises ValueError for option values ``compute_dci_es`` cannot use
  (checked by tfdis_evaluate before any model is loaded)."""
  check_count("num_train", num_train, 2)
  check_count("num_test", num_test, 1)
  probes = check_probes(probes)
  if "random_forest" in probes:
    if _check_grid("rf_depths", rf_depths)[0] < 1:
      raise ValueError(f"rf_depths must be >= 1, got {list(rf_depths)}")
    check_count("rf_num_trees", rf_num_trees, 1)
  if "mlp" in probes:
    _check_grid("mlp_hidden_sizes", mlp_hidden_sizes)
    check_count("mlp_hidden_layers", mlp_hidden_layers, 1)
    if mlp_epochs is not None:
      check_count("mlp_epochs", mlp_epochs, 1)


compute_dci_es.validate_params = _validate_params
