"""rPU composes typed PBT configs (RPUConfig.metaepoch_pbt_config /
final_pbt_config) and its ReductionParams from its own fields; no
TensorFlow.

Known answers: the expected fields are Algorithm 1's settings and the
RPUConfig values set here (metaEpoch: eval udr on the subset with the leaf-run
stop; final: surrogate_mig on all of D with the final_* settings), with
``pbt_options`` applied last.
"""

import dataclasses

import pytest

from tfdis.pbt.config import PBTConfig
from tfdis.rpu import controller, reduction
from tfdis.specs import ConfigError


def _rpu(tmp_path, **kw):
  base = dict(output_dir=str(tmp_path / "rpu"),
              dataset="procedural_dsprites_small", population_size=3,
              latent_dim=4, ensemble_size=2, udr_stop_threshold=0.2)
  base.update(kw)
  return controller.RPUConfig(**base)


def test_metaepoch_and_final_configs_are_composed(tmp_path):
  rpu = _rpu(tmp_path, pbt_options={"mig_num_train": 100,
                                    "stop_below_score": 0.3},
             final_population_size=4, final_max_generations=None,
             max_generations=7, final_convergence_threshold=0.01, seed=11)
  meta = rpu.metaepoch_pbt_config("m", "sub.npz", seed=1012)
  assert isinstance(meta, PBTConfig)
  # The shared parts are the rPU config's own.
  for name in ("dataset", "latent_dim", "population_size", "ensemble_size",
               "convergence_threshold", "model", "architecture"):
    assert getattr(meta, name) == getattr(rpu, name)
  assert (meta.output_dir, meta.indices_path, meta.eval, meta.seed) == (
      "m", "sub.npz", "udr", 1012)
  assert meta.stop_below_score == 0.3     # pbt_options last
  assert meta.mig_num_train == 100
  final = rpu.final_pbt_config("f", ["a.npz", "b.npz"])
  assert (final.eval, final.surrogate_labels, final.indices_path) == (
      "surrogate_mig", ("a.npz", "b.npz"), None)
  assert (final.population_size, final.max_generations,
          final.convergence_threshold, final.seed) == (4, 7, 0.01, 11)
  # Round-trips like every spec (a runner may rebuild it from its JSON).
  assert PBTConfig.from_dict(meta.to_dict()) == meta


def test_bad_pbt_option_is_refused_before_anything_runs(tmp_path):
  rpu = _rpu(tmp_path, pbt_options={"mig_num_trian": 100})
  with pytest.raises(ConfigError, match="metaEpoch PBT configuration"):
    controller.validate_pbt_configs(rpu)


def test_reduction_params_from_the_config_fields(tmp_path):
  rpu = _rpu(tmp_path, trim_denominator=9, peak_distance_denominator=20.0,
             median_sigma_factor=5.0, global_std_factor=3.0,
             edge_peak_height=2.0, edge_max_peaks=2, top_intervals=4,
             min_intersection_size=7, intersection_rule="largest",
             reduction_slices="authors", zero_peak_latent="unrestricted")
  assert dataclasses.asdict(rpu.reduction_params()) == {
      "trim_denominator": 9, "peak_distance_denominator": 20.0,
      "median_sigma_factor": 5.0, "global_std_factor": 3.0,
      "edge_peak_height": 2.0, "edge_max_peaks": 2, "top_intervals": 4,
      "min_subset_size": 7, "rule": "largest", "slices": "authors",
      "zero_peak_latent": "unrestricted"}
  # Every ReductionParams field has its RPUConfig field.
  names = {f.name for f in dataclasses.fields(controller.RPUConfig)}
  for f in dataclasses.fields(reduction.ReductionParams):
    assert reduction.CONFIG_NAMES.get(f.name, f.name) in names
