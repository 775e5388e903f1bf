"""tfdis_rpu: the whole rPU-VAE recursion in one command (paper 003, Alg. 1).

  tfdis_rpu --output_dir=runs/dsprites/rpu --dataset=procedural_dsprites \
      --max_leaf_runs=3 --population_size=24

Root metaEpoch (PBT-U-VAE with UDR on all of D), leaf-runs on reduced
subsets, surrogate labels under surrogate_labels/, then the final PBT-S-VAE
on D (final/). Rerunning the same command resumes after an interruption.
Writes rpu_results.json and (with --report) report/index.html.
"""

from __future__ import annotations

import json

from absl import app, flags, logging

from tfdis.errors import run_main
from tfdis.rpu import reduction as reduction_lib

FLAGS = flags.FLAGS

flags.DEFINE_string("output_dir", None, "rPU directory (state.json, leaf_<i>/"
                    "metaepoch_<j>/, surrogate_labels/, final/), e.g. "
                    "runs/<experiment>/rpu.")
flags.DEFINE_string("dataset", "procedural_dsprites", "Registered dataset.")
flags.DEFINE_string("dataset_options", "{}", "JSON object of options for "
                    "get_dataset, e.g. '{\"config\": \"small\"}'.")
# Recursion.
flags.DEFINE_integer("max_leaf_runs", 3, "MaxNrLeafRuns (paper: 3).",
                     lower_bound=0)
flags.DEFINE_float("udr_stop_threshold", 0.1, "A leaf-run ends when the best "
                   "UDR of a metaEpoch is below this.")
flags.DEFINE_integer("min_dataset_size", 10, "A leaf-run ends when |d| is "
                     "below this.", lower_bound=1)
flags.DEFINE_float("active_kl_threshold", 1.0, "A latent is active if its "
                   "mean KL exceeds this (authors' code: 1.0; the paper "
                   "cites 0.01).", lower_bound=0.0)
# Reduction.
flags.DEFINE_enum("intersection_rule", "median", list(reduction_lib.RULES),
                  "Order of interval intersections: median (authors' code: "
                  "|size - median size|), largest (paper: 'as large as "
                  "possible'), best_ratio.")
flags.DEFINE_integer("min_intersection_size", 5, "Keep candidate subsets "
                     "with more than this many rows.", lower_bound=0)
flags.DEFINE_integer("top_intervals", 5, "Intervals per latent that enter "
                     "the intersections.", lower_bound=1)
flags.DEFINE_integer("trim_denominator", 15, "Trim |d|/N differences from "
                     "each end before peak finding.", lower_bound=2)
flags.DEFINE_float("median_sigma_factor", 7.0, "threshold = median(Δ) + "
                   "F·σ.", lower_bound=0.0)
flags.DEFINE_float("global_std_factor", 4.0, "σ = std(Δ < median) + "
                   "G·std(Δ).", lower_bound=0.0)
flags.DEFINE_float("peak_distance_denominator", 50.0, "find_peaks distance "
                   "= |d|/N.", lower_bound=1e-9)
flags.DEFINE_float("edge_peak_height", 1.0, "Height of the dataset edges "
                   "when they count as peaks.")
flags.DEFINE_integer("edge_max_peaks", 3, "Edges count as peaks when a "
                     "latent has at most this many (several active latents).",
                     lower_bound=0)
# metaEpoch convergence and PBT.
flags.DEFINE_float("convergence_threshold", 0.005, "A metaEpoch converges "
                   "when |Δ best UDR| stays below this ...", lower_bound=0.0)
flags.DEFINE_integer("convergence_patience", 6, "... for this many "
                     "generations.", lower_bound=1)
flags.DEFINE_integer("population_size", 24, "PBT population size (paper "
                     "runs: 56).", lower_bound=2)
flags.DEFINE_integer("max_generations", 50, "Upper bound of generations per "
                     "metaEpoch.", lower_bound=1)
flags.DEFINE_integer("interval_images", None, "Images per PBT interval "
                     "(default: PBT's rule, one pass over d).", lower_bound=1)
flags.DEFINE_integer("interval_steps", None, "Steps per PBT interval instead "
                     "of images.", lower_bound=1)
flags.DEFINE_integer("ensemble_size", 5, "VAEs per PBT-U-VAE member (K).",
                     lower_bound=2)
flags.DEFINE_integer("udr_num_data_points", 1000, "Images for the UDR eval.",
                     lower_bound=2)
flags.DEFINE_string("model", "beta_tc_vae", "Base model.")
flags.DEFINE_string("architecture", "conv_bn", "Encoder/decoder "
                    "architecture.")
flags.DEFINE_integer("latent_dim", 10, "Latent dimensions.", lower_bound=1)
flags.DEFINE_integer("num_workers", 1, "Parallel PBT workers.", lower_bound=1)
flags.DEFINE_integer("seed", 0, "Base seed (metaEpoch seed = seed + "
                     "1000·leaf + metaEpoch).")
flags.DEFINE_string("pbt_options", "{}", "JSON object of further PBTConfig "
                    "fields (e.g. '{\"cutoff\": 0.25}').")
# Final model.
flags.DEFINE_enum("final_supervision", "eval", ["eval", "eval+loss"],
                  "Surrogate labels as PBT eval only (authors) or also as a "
                  "masked semi-supervised loss (paper).")
flags.DEFINE_integer("final_population_size", None, "Default: "
                     "--population_size.", lower_bound=2)
flags.DEFINE_integer("final_max_generations", None, "Default: "
                     "--max_generations.", lower_bound=1)
flags.DEFINE_float("final_convergence_threshold", None, "Optional "
                   "convergence rule for the final PBT-S-VAE.",
                   lower_bound=0.0)
flags.DEFINE_bool("leaf_run_curve", False, "Paper Fig. 6: also train the "
                  "final PBT-S-VAE on the labels of the root and the first k "
                  "leaf-runs only (k = 0 .. max_leaf_runs; the k using every "
                  "label file is final/) and plot scores against k. "
                  "May be switched on when resuming a finished run.")
# Report.
flags.DEFINE_bool("report", True, "Write report/index.html at the end.")
flags.DEFINE_multi_string("baseline", [], "NAME=DIR[,DIR...]: models scored "
                          "next to rPU-VAE in the report (e.g. "
                          "beta_tcvae=runs/x/m1,runs/x/m2).")
flags.DEFINE_integer("report_num_train", 10000, "MIG/DCI training points in "
                     "the report.", lower_bound=10)
flags.DEFINE_integer("report_num_test", 5000, "DCI test points.",
                     lower_bound=10)

flags.mark_flags_as_required(["output_dir"])


def _json_object(value: str):
  try:
    obj = json.loads(value)
  except json.JSONDecodeError:
    return None
  return obj if isinstance(obj, dict) else None


for _name in ("dataset_options", "pbt_options"):
  flags.register_validator(
      _name, lambda v: _json_object(v) is not None,
      message=f"--{_name} must be a JSON object, e.g. '{{\"key\": 1}}'.")

flags.register_multi_flags_validator(
    ["interval_images", "interval_steps"],
    lambda f: f["interval_images"] is None or f["interval_steps"] is None,
    message="Set at most one of --interval_images and --interval_steps.")


def _parse_baselines(items):
  out = {}
  for item in items:
    name, sep, dirs = item.partition("=")
    if not sep or not name or not dirs:
      raise app.UsageError(f"--baseline {item!r}: use NAME=DIR[,DIR...]")
    out.setdefault(name, []).extend(d for d in dirs.split(",") if d)
  return out


flags.register_validator(
    "baseline", lambda v: all("=" in x and x.split("=", 1)[1] for x in v),
    message="--baseline takes NAME=DIR[,DIR...].")


def build_config():
  from tfdis.rpu.controller import RPUConfig
  try:
    return RPUConfig(
        output_dir=FLAGS.output_dir, dataset=FLAGS.dataset,
        dataset_options=_json_object(FLAGS.dataset_options),
        max_leaf_runs=FLAGS.max_leaf_runs,
        udr_stop_threshold=FLAGS.udr_stop_threshold,
        min_dataset_size=FLAGS.min_dataset_size,
        active_kl_threshold=FLAGS.active_kl_threshold,
        intersection_rule=FLAGS.intersection_rule,
        min_intersection_size=FLAGS.min_intersection_size,
        top_intervals=FLAGS.top_intervals,
        trim_denominator=FLAGS.trim_denominator,
        median_sigma_factor=FLAGS.median_sigma_factor,
        global_std_factor=FLAGS.global_std_factor,
        peak_distance_denominator=FLAGS.peak_distance_denominator,
        edge_peak_height=FLAGS.edge_peak_height,
        edge_max_peaks=FLAGS.edge_max_peaks,
        convergence_threshold=FLAGS.convergence_threshold,
        convergence_patience=FLAGS.convergence_patience,
        population_size=FLAGS.population_size,
        max_generations=FLAGS.max_generations,
        interval_images=FLAGS.interval_images,
        interval_steps=FLAGS.interval_steps,
        ensemble_size=FLAGS.ensemble_size,
        udr_num_data_points=FLAGS.udr_num_data_points, model=FLAGS.model,
        architecture=FLAGS.architecture, latent_dim=FLAGS.latent_dim,
        num_workers=FLAGS.num_workers, seed=FLAGS.seed,
        pbt_options=_json_object(FLAGS.pbt_options),
        final_supervision=FLAGS.final_supervision,
        final_population_size=FLAGS.final_population_size,
        final_max_generations=FLAGS.final_max_generations,
        final_convergence_threshold=FLAGS.final_convergence_threshold,
        leaf_run_curve=FLAGS.leaf_run_curve)
  except ValueError as e:
    raise app.UsageError(str(e)) from e


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  from tfdis.data import dataset_names
  if FLAGS.dataset not in dataset_names():
    raise app.UsageError(f"--dataset={FLAGS.dataset!r} is not registered; "
                         f"known: {dataset_names()}")
  config = build_config()
  baselines = _parse_baselines(FLAGS.baseline)
  from tfdis.rpu.controller import run_rpu
  result = run_rpu(config)
  print(f"rPU-VAE results: {config.output_dir}/rpu_results.json; final "
        f"model: {result['final_saved_model']}")
  if FLAGS.report:
    from tfdis.rpu.report import write_report
    path = write_report(config.output_dir, baselines=baselines,
                        num_train=FLAGS.report_num_train,
                        num_test=FLAGS.report_num_test, seed=FLAGS.seed)
    logging.info("report: %s", path)
    print(f"report: {path}")


def run():
  run_main(main)


if __name__ == "__main__":
  run()
