"""rPU-VAE controller logic (Algorithm 1) with an injected metaEpoch runner.

The PBT runner and the labeler are our own tiny functions (no TensorFlow):
the runner returns a scripted best UDR, the labeler returns ground-truth
factors of procedural_dsprites_small as "surrogate labels", so every stop
rule and the on-disk formats can be checked exactly and in milliseconds.
"""

import os
import re

import numpy as np
import pytest

from tfdis.errors import UserError

from tfdis import io_utils
from tfdis.pbt.config import PBTConfig
from tfdis.rpu import controller
from tfdis.rpu.labels import SubsetLabels

DATA = "procedural_dsprites_small"  # shape 3, scale 3, orientation 4, x 8, y 8


class FakePBT:
  """Records every call; best UDR from a {(leaf, metaepoch): udr} script."""

  def __init__(self, udr=None, fail_at=None):
    self.udr = udr or {}
    self.fail_at = fail_at
    self.calls = []

  def __call__(self, config):
    # The real runner is run_pbt(config): rPU hands it a typed, validated
    # PBTConfig (a misspelt or removed field fails where it is built).
    assert isinstance(config, PBTConfig)
    self.calls.append(config)
    if self.fail_at is not None and len(self.calls) == self.fail_at:
      raise KeyboardInterrupt("simulated kill")
    os.makedirs(config.output_dir, exist_ok=True)
    if config.eval == "surrogate_mig":
      return {"generations": 2, "best_member": "m0", "best_score": 0.4,
              "best_scores": [0.3, 0.4], "converged": False,
              "best_saved_model": os.path.join(config.output_dir, "best"),
              "generations_csv": "x.csv"}
    key = _key(config.output_dir)
    return {"generations": 3, "best_member": "m1",
            "best_score": self.udr.get(key, 0.5), "best_scores": [0.5] * 3,
            "converged": True, "best_saved_model": config.output_dir,
            "generations_csv": "x.csv"}


def _key(path):
  m = re.search(r"leaf_(\d+)/metaepoch_(\d+)", path)
  return int(m.group(1)), int(m.group(2))


class FactorLabeler:
  """Labels = chosen ground-truth factors (+ tiny noise) per metaEpoch."""

  def __init__(self, factors_at=None, default=(2,)):
    # root: scale and shape (3 plateaus each -> 9 cells of 256 rows)
    self.factors_at = {(0, 0): (1, 0)}
    self.factors_at.update(factors_at or {})
    self.default = default
    self.calls = []

  def __call__(self, model_dir, data, indices, threshold, kl_estimator):
    key = _key(model_dir)
    self.calls.append(key)
    cols = self.factors_at.get(key, self.default)
    factors = data.index_to_factors(indices).astype(np.float64)
    rs = np.random.RandomState(len(indices))
    # Column -1: evenly spaced codes in random order (no peak anywhere).
    factors = np.concatenate(
        [factors, rs.permutation(len(indices))[:, None] * 1.0], axis=1)
    labels = factors[:, list(cols)] + rs.normal(0, 1e-3, (len(indices),
                                                          len(cols)))
    kl = np.zeros(10)
    kl[:len(cols)] = 5.0
    return SubsetLabels(kl=kl, active=np.arange(len(cols)),
                        labels=labels.astype(np.float32))


def _config(tmp_path, **kw):
  base = dict(output_dir=str(tmp_path / "rpu"), dataset=DATA,
              max_leaf_runs=2, population_size=2, max_generations=2)
  base.update(kw)
  return controller.RPUConfig(**base)


def _load(path):
  with np.load(path) as f:
    return {k: f[k] for k in f.files}


def test_full_recursion_and_label_files(tmp_path, small_dsprites):
  pbt, lab = FakePBT(), FactorLabeler()
  res = controller.run_rpu(_config(tmp_path), pbt, lab)
  root = str(tmp_path / "rpu")
  factors = small_dsprites.index_to_factors(np.arange(2304))
  # root (leaf 0) + leaf 1: 2 metaEpochs + leaf 2: 2 metaEpochs + final
  assert [c.eval for c in pbt.calls] == ["udr"] * 5 + ["surrogate_mig"]
  assert pbt.calls[0].indices_path is None  # root = all of D
  assert pbt.calls[1].indices_path.endswith("leaf_1/metaepoch_0/subset.npz")
  assert pbt.calls[0].convergence_threshold == 0.005
  assert pbt.calls[0].convergence_patience == 6
  # The leaf-run stop rule is checked by PBT after every generation.
  assert pbt.calls[0].stop_below_score == 0.1
  assert pbt.calls[0].kl_estimator == "analytic"
  seeds = [c.seed for c in pbt.calls[:5]]
  assert seeds == [0, 1000, 1001, 2000, 2001]

  leaves = {x["leaf"]: x for x in res["leaves"]}
  assert leaves[1]["sizes"] == [256, 64] and leaves[2]["sizes"] == [256, 64]
  assert leaves[1]["stop_reason"] == "no_peak"   # 8 x-values in 64 rows
  # Leaf 1 and 2 start from different root candidates (distinct cells).
  s1 = _load(os.path.join(root, "leaf_1/metaepoch_0/subset.npz"))["indices"]
  s2 = _load(os.path.join(root, "leaf_2/metaepoch_0/subset.npz"))["indices"]
  assert len(np.unique(factors[s1][:, :2], axis=0)) == 1
  assert not np.array_equal(factors[s1[0], :2], factors[s2[0], :2])
  # Next subset: a single orientation plateau of the leaf's cell.
  s1b = _load(os.path.join(root, "leaf_1/metaepoch_1/subset.npz"))["indices"]
  assert set(s1b) < set(s1)
  assert len(np.unique(factors[s1b][:, :3], axis=0)) == 1

  # Surrogate labels in the docs/design.md format.
  lab0 = _load(os.path.join(root, "surrogate_labels/leaf_0.npz"))
  assert int(lab0["num_metaepochs"]) == 1
  np.testing.assert_array_equal(lab0["metaepoch_0_indices"], np.arange(2304))
  assert lab0["metaepoch_0_labels"].shape == (2304, 2)
  assert lab0["metaepoch_0_labels"].dtype == np.float32
  lab1 = _load(os.path.join(root, "surrogate_labels/leaf_1.npz"))
  assert int(lab1["num_metaepochs"]) == 2
  np.testing.assert_array_equal(lab1["metaepoch_0_indices"], s1)
  np.testing.assert_array_equal(lab1["metaepoch_1_indices"], s1b)
  assert lab1["metaepoch_0_indices"].dtype == np.int64
  np.testing.assert_allclose(lab1["metaepoch_1_labels"][:, 0],
                             factors[s1b, 2], atol=0.01)
  manifest = io_utils.read_json(
      os.path.join(root, "surrogate_labels/manifest.json"))
  assert [f["file"] for f in manifest["files"]] == [
      "leaf_0.npz", "leaf_1.npz", "leaf_2.npz"]
  assert manifest["files"][1]["metaepochs"][0]["size"] == 256
  assert manifest["files"][1]["metaepochs"][0]["active_latents"] == [0]

  final = pbt.calls[-1]
  assert final.indices_path is None
  assert final.final_supervision == "eval"
  assert [os.path.basename(p) for p in final.surrogate_labels] == [
      "leaf_0.npz", "leaf_1.npz", "leaf_2.npz"]
  assert final.output_dir == os.path.join(root, "final")
  assert res["final_saved_model"].endswith("final/best")
  state = io_utils.read_json(os.path.join(root, "state.json"))
  assert state["phase"] == "done"
  assert os.path.isfile(os.path.join(root, "rpu_results.json"))
  assert os.path.isfile(os.path.join(root, "leaf_0/metaepoch_0/reduction.npz"))


def test_stop_rules(tmp_path):
  # leaf 1: UDR below threshold at its 2nd metaEpoch (labels not stored);
  # leaf 2: no active latent at its 1st metaEpoch (no label file at all).
  pbt = FakePBT(udr={(1, 1): 0.05})
  lab = FactorLabeler(factors_at={(2, 0): ()})
  res = controller.run_rpu(_config(tmp_path), pbt, lab)
  leaves = {x["leaf"]: x for x in res["leaves"]}
  assert leaves[1]["stop_reason"] == "udr_below_threshold"
  assert leaves[1]["sizes"] == [256, 64]
  assert (1, 1) not in lab.calls  # no labelling of a noise metaEpoch
  root = str(tmp_path / "rpu")
  lab1 = _load(os.path.join(root, "surrogate_labels/leaf_1.npz"))
  assert int(lab1["num_metaepochs"]) == 1
  assert leaves[2]["stop_reason"] == "no_active_latent"
  assert leaves[2]["labels_file"] is None
  assert not os.path.exists(os.path.join(root, "surrogate_labels/leaf_2.npz"))
  assert [os.path.basename(p) for p in pbt.calls[-1].surrogate_labels] == [
      "leaf_0.npz", "leaf_1.npz"]


def test_dataset_too_small_and_eval_loss(tmp_path):
  pbt = FakePBT()
  res = controller.run_rpu(
      _config(tmp_path, min_dataset_size=100, max_leaf_runs=1,
              final_supervision="eval+loss", final_population_size=3,
              final_max_generations=7), pbt, FactorLabeler())
  leaf = res["leaves"][1]
  assert leaf["stop_reason"] == "dataset_too_small"
  assert leaf["sizes"] == [256] and leaf["final_subset_size"] == 64
  final = pbt.calls[-1]
  assert final.final_supervision == "eval+loss"
  assert final.population_size == 3 and final.max_generations == 7


def test_root_without_peak_skips_leaves(tmp_path):
  # Root labels = scale (3 plateaus: peaks) and an evenly spaced code (no
  # peak): the latent without peaks stops the reduction as the authors';
  # leaf_0 labels are still stored.
  pbt = FakePBT()
  res = controller.run_rpu(
      _config(tmp_path), pbt, FactorLabeler(factors_at={(0, 0): (1, -1)}))
  assert res["root"]["stop_reason"] == "no_peak"
  assert [x["stop_reason"] for x in res["leaves"][1:]] == ["root_stopped"] * 2
  assert len(pbt.calls) == 2 and pbt.calls[-1].eval == "surrogate_mig"


def test_root_udr_below_threshold_no_final(tmp_path):
  pbt = FakePBT(udr={(0, 0): 0.01})
  res = controller.run_rpu(_config(tmp_path), pbt, FactorLabeler())
  assert res["root"]["stop_reason"] == "udr_below_threshold"
  assert res["final"] is None and res["surrogate_label_files"] == []
  assert len(pbt.calls) == 1


def test_resume_skips_completed_steps(tmp_path):
  # A "kill" in the 4th PBT call (leaf 2, metaEpoch 0), then a rerun.
  first = FakePBT(fail_at=4)
  with pytest.raises(KeyboardInterrupt):
    controller.run_rpu(_config(tmp_path), first, FactorLabeler())
  state = io_utils.read_json(str(tmp_path / "rpu/state.json"))
  assert (state["phase"], state["leaf"], state["metaepoch"]) == ("leaf", 2, 0)
  assert state["subset_path"].endswith("leaf_2/metaepoch_0/subset.npz")
  second, lab = FakePBT(), FactorLabeler()
  res = controller.run_rpu(_config(tmp_path, num_workers=2), second, lab)
  # Only leaf 2's two metaEpochs and the final run are left.
  assert [_key(c.output_dir) for c in second.calls[:-1]] == [(2, 0), (2, 1)]
  assert (0, 0) not in lab.calls
  full = FakePBT()
  ref = controller.run_rpu(_config(tmp_path / "ref"), full, FactorLabeler())
  assert [x["sizes"] for x in res["leaves"]] == [
      x["sizes"] for x in ref["leaves"]]
  # A finished run resumes to the same result without any PBT call.
  third = FakePBT()
  controller.run_rpu(_config(tmp_path), third, FactorLabeler())
  assert third.calls == []
  # Changing what is computed is refused.
  with pytest.raises(UserError, match="udr_stop_threshold: stored 0.1"):
    controller.run_rpu(_config(tmp_path, udr_stop_threshold=0.2), FakePBT(),
                       FactorLabeler())


def test_config_validation(tmp_path):
  with pytest.raises(ValueError, match="final_supervision"):
    _config(tmp_path, final_supervision="loss")
  with pytest.raises(ValueError, match="intersection_rule"):
    _config(tmp_path, intersection_rule="biggest")
  with pytest.raises(ValueError, match="pbt_options"):
    _config(tmp_path, pbt_options={"eval": "mig"})
  cfg = controller.RPUConfig()
  assert (cfg.max_leaf_runs, cfg.udr_stop_threshold, cfg.min_dataset_size,
          cfg.active_kl_threshold, cfg.intersection_rule,
          cfg.min_intersection_size, cfg.top_intervals,
          cfg.convergence_threshold, cfg.convergence_patience,
          cfg.final_supervision) == (3, 0.1, 10, 1.0, "median", 5, 5, 0.005,
                                     6, "eval")
  # No generation cap on metaEpochs (the authors); the final PBT-S-VAE stops
  # after the authors' 15 generations.
  assert cfg.max_generations is None
  assert cfg.metaepoch_pbt_config("x", None, 0).max_generations is None
  assert cfg.final_pbt_config("x", []).max_generations == 15
  with pytest.raises(ValueError, match="no stop rule"):
    controller.RPUConfig(final_max_generations=None)
  with pytest.raises(ValueError, match="kl_estimator"):
    controller.RPUConfig(kl_estimator="sampled")
  with pytest.raises(ValueError, match="slices"):
    controller.RPUConfig(reduction_slices="shifted")
  assert controller.RPUConfig.from_dict(cfg.to_dict()) == cfg


def test_report_from_fake_run(tmp_path):
  from tfdis.rpu.report import write_report
  controller.run_rpu(_config(tmp_path), FakePBT(), FactorLabeler())
  index = write_report(str(tmp_path / "rpu"), traversals=False, scores=False)
  page = open(index).read()
  out = os.path.dirname(index)
  for png in ("subset_sizes.png", "reduction_leaf0_me0.png",
              "reduction_leaf1_me0.png"):
    assert f'src="{png}"' in page
    assert os.path.getsize(os.path.join(out, png)) > 1000
  assert "no_peak" in page and "leaf-run" in page


def test_leaf_run_curve_reuses_runs_and_resumes_finished_run(tmp_path):
  pbt, lab = FakePBT(), FactorLabeler()
  controller.run_rpu(_config(tmp_path), pbt, lab)
  n_calls = len(pbt.calls)
  # Switching the Fig. 6 curve on when resuming a finished run only adds
  # the final runs on fewer label files; nothing else is recomputed.
  res = controller.run_rpu(_config(tmp_path, leaf_run_curve=True), pbt, lab)
  new = pbt.calls[n_calls:]
  assert [c.eval for c in new] == ["surrogate_mig"] * 2
  assert [len(c.surrogate_labels) for c in new] == [1, 2]
  assert new[0].output_dir.endswith("final_leaf_runs_0")
  curve = res["leaf_run_curve"]
  assert [e["num_leaf_runs"] for e in curve] == [0, 1, 2]
  assert [len(e["label_files"]) for e in curve] == [1, 2, 3]
  assert curve[2]["directory"] == "final"   # all files: the main final run
  on_disk = io_utils.read_json(str(tmp_path / "rpu" / "leaf_run_curve.json"))
  assert on_disk["entries"] == curve
  # A third call finds every marker and trains nothing.
  controller.run_rpu(_config(tmp_path, leaf_run_curve=True), pbt, lab)
  assert len(pbt.calls) == n_calls + 2


def test_state_written_before_a_new_field_resumes(tmp_path):
  pbt, lab = FakePBT(), FactorLabeler()
  controller.run_rpu(_config(tmp_path), pbt, lab)
  path = str(tmp_path / "rpu" / "state.json")
  state = io_utils.read_json(path)
  del state["config"]["final_convergence_threshold"]  # an older version
  io_utils.write_json(path, state)
  controller.run_rpu(_config(tmp_path), pbt, lab)   # default: same run
  with pytest.raises(UserError, match="final_convergence_threshold"):
    controller.run_rpu(_config(tmp_path, final_convergence_threshold=0.1),
                       pbt, lab)
