"""Study presets: ``quickstart``, ``unsupervised_study_v1``, ``udr_study``,
``seed_methods``, ``weak_study``.

``get_study(name, **overrides)`` returns a :class:`StudySpec`; overrides
(``steps``, ``seeds``, ``datasets``, ``families``, ``sweep``, ``metrics``,
``metric_params``, ``udr``, ``visualize``, ...) replace preset fields, so tests
and demos shrink a study through parameters instead of weakening defaults.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Dict, Optional, Sequence

from tfdis.registry import Registry
from tfdis.study.spec import StudySpec, UDRSettings, sweep_values

STUDIES = Registry("study")

# The published sweep (Locatello et al. 2019, Sec. 5; dlib
# ``config/unsupervised_study_v1/sweep.py``; UDR paper Table 5): six families
# × six values of their main hyperparameter.
PUBLISHED_SWEEP: Dict[str, Any] = {
    "beta_vae": sweep_values("beta", [1.0, 2.0, 4.0, 6.0, 8.0, 16.0]),
    "annealed_vae": sweep_values("c_max", [5.0, 10.0, 25.0, 50.0, 75.0, 100.0]),
    "factor_vae": sweep_values("gamma", [10.0, 20.0, 30.0, 40.0, 50.0, 100.0]),
    "dip_vae_i": sweep_values("lambda_od", [1.0, 2.0, 5.0, 10.0, 20.0, 50.0]),
    "dip_vae_ii": sweep_values("lambda_od", [1.0, 2.0, 5.0, 10.0, 20.0, 50.0]),
    "beta_tc_vae": sweep_values("beta", [1.0, 2.0, 4.0, 6.0, 8.0, 10.0]),
}
# Fixed (not swept) values of the published sweep; λ_d = 10·λ_od (DIP-VAE-I)
# and 1·λ_od (DIP-VAE-II) are the families' defaults.
PUBLISHED_FIXED: Dict[str, Dict[str, Any]] = {
    "annealed_vae": {"gamma": 1000.0, "iteration_threshold": 100000},
}
# dlib unsupervised_study_v1 datasets (Locatello et al. 2019, Sec. 5).
PUBLISHED_DATASETS = ("dsprites", "color_dsprites", "noisy_dsprites",
                      "scream_dsprites", "smallnorb", "cars3d", "shapes3d")
# Training defaults (spec models.md; UDR paper Table 6a).
PUBLISHED_TRAIN: Dict[str, Any] = {
    "steps": 300000, "batch_size": 64, "learning_rate": 1e-4,
    "latent_dim": 10, "architecture": {"encoder": "conv", "decoder": "deconv"},
    "reconstruction_loss": "bernoulli",
}
# dlib's unsupervised_study_v1 postprocess + evaluation metrics, all with
# their default (published) sample counts.
PUBLISHED_METRICS = ("beta_vae", "factor_vae", "mig", "dci", "sap_score",
                     "modularity_explicitness", "irs", "unsupervised",
                     "downstream_task", "fairness")


@STUDIES.register("quickstart")
def quickstart() -> StudySpec:
  """The one-command demo: 6 β-VAEs on procedural dSprites (small), ~8–10 min.

  β ∈ {1, 16} × 3 seeds (the ends of the published β range), so UDR (hyper
  mode, each model against the other two seeds of its setting) compares two
  clearly different regimes: with β = 1 all 10 latents stay informative, in a
  seed-dependent rotation; with β = 16 about half of them are pruned (UDR
  paper, Fig. 2: UDR grows with β on dSprites). This is a demo on 2 CPU
  cores, not a benchmark: 1,500 steps of batch 32 with Adam(1e-3) (published:
  300k steps, batch 64, 1e-4), two worker processes, metric sample counts
  reduced ~10-20× (every count is recorded in the metric JSONs, so these
  scores are never confused with full-size ones). After so little training
  the models are far from converged and the UDR gap between the settings is
  small; the full pipeline, not the numbers, is the point.
  """
  return StudySpec(
      name="quickstart",
      description=("β-VAE, β ∈ {1, 16} × 3 seeds on procedural_dsprites_small; "
                   "short training and reduced metric sample counts; the "
                   "whole pipeline incl. UDR and the report in minutes on a "
                   "laptop CPU."),
      datasets=("procedural_dsprites_small",),
      sweep={"beta_vae": sweep_values("beta", [1.0, 16.0])},
      seeds=(0, 1, 2),
      train=dict(PUBLISHED_TRAIN, steps=1500, batch_size=32,
                 learning_rate=1e-3),
      metrics=("beta_vae", "factor_vae", "mig", "dci", "sap_score",
               "modularity_explicitness", "irs", "unsupervised"),
      metric_params={
          "beta_vae": {"batch_size": 16, "num_train": 300, "num_eval": 150},
          "factor_vae": {"batch_size": 16, "num_variance_estimate": 2000,
                         "num_train": 300, "num_eval": 150},
          "mig": {"num_train": 2000},
          # DCI's gradient-boosted trees dominate evaluation time.
          "dci": {"num_train": 500, "num_test": 250},
          "sap_score": {"num_train": 1000, "num_test": 500},
          "modularity_explicitness": {"num_train": 1000, "num_test": 500},
          "irs": {"num_train": 2000},
          "unsupervised": {"num_train": 2000},
      },
      # dlib's UDR test config: 1000 points (the lasso paper setting is 10000).
      udr=(UDRSettings(mode="hyper", correlation="lasso",
                       num_data_points=1000),),
      visualize=True,
      visualize_params={"num_traversals": 2, "num_animations": 1},
      default_num_workers=2)


@STUDIES.register("unsupervised_study_v1")
def unsupervised_study_v1() -> StudySpec:
  """The published sweep: 7 datasets × 6 families × 6 values × 50 seeds.

  Locatello et al. 2019 (paper 000, Sec. 5) / dlib ``unsupervised_study_v1``:
  12,600 models of 300,000 steps each, every metric at its default sample
  counts, plus UDR_L (hyper mode, all 49 partners, 10,000 points; UDR paper
  A.5) per (dataset, family). Every metric is computed on both the mean and
  the sampled representation, as dlib's study did (its ``mean`` and
  ``sampled`` postprocess configs). For GPU machines: ~8 h per model on 2
  CPU cores. Note: tfdis' FactorVAE step makes one update of both networks per
  step (dlib counted two), so its 300k steps are twice dlib's updates.
  """
  return StudySpec(
      name="unsupervised_study_v1",
      description=("Locatello et al. 2019: 6 families × 6 hyperparameter "
                   "values × 50 seeds × 7 datasets, 300k steps, default "
                   "metric settings, UDR_L per family."),
      datasets=PUBLISHED_DATASETS,
      sweep={k: list(v) for k, v in PUBLISHED_SWEEP.items()},
      fixed_hyperparameters=dict(PUBLISHED_FIXED),
      seeds=tuple(range(50)),
      train=dict(PUBLISHED_TRAIN),
      metrics=PUBLISHED_METRICS,
      representation=("mean", "sampled"),
      udr=(UDRSettings(mode="hyper", correlation="lasso",
                       num_data_points=10000),),
      visualize=True)


@STUDIES.register("udr_study")
def udr_study() -> StudySpec:
  """The UDR paper's setting (Duan et al. 2020, paper 001, Sec. 5, A.4–A.6).

  From the text: dSprites and 3D Shapes; the six families with the values of
  Table 5 (= the published sweep) × S = 50 seeds; the architecture and
  optimiser of Tables 4 and 6a (dlib's, 300k steps); compared with the
  β-VAE, FactorVAE, MIG and DCI scores. UDR runs:

  - UDR_L (lasso) in hyper mode, P = all 49 other seeds of the setting (the
    paper says P = 50 with S = 50, i.e. all), on 10,000 points (A.5);
    α = 0.1 as in dlib (the paper chose λ by cross-validation: pass
    ``udr=(UDRSettings(alpha="cv"), ...)`` for that);
  - UDR_S (Spearman) in hyper mode on 1,000 points (A.5);
  - UDR_L all-to-all over 10 seeds per setting = 60 models per family (A.5
    "All-to-all calculations").
  The KL threshold for informative latents is 0.01 (Eq. 3).
  """
  return StudySpec(
      name="udr_study",
      description=("Duan et al. 2020: 6 families × 6 values × 50 seeds on "
                   "dSprites and Shapes3D; UDR_L/UDR_S (hyper) and UDR_L "
                   "all-to-all (10 seeds); β-VAE, FactorVAE, MIG, DCI scores."),
      datasets=("dsprites", "shapes3d"),
      sweep={k: list(v) for k, v in PUBLISHED_SWEEP.items()},
      fixed_hyperparameters=dict(PUBLISHED_FIXED),
      seeds=tuple(range(50)),
      train=dict(PUBLISHED_TRAIN),
      metrics=("beta_vae", "factor_vae", "mig", "dci"),
      udr=(UDRSettings(mode="hyper", correlation="lasso",
                       num_data_points=10000),
           UDRSettings(mode="hyper", correlation="spearman",
                       num_data_points=1000),
           UDRSettings(mode="a2a", correlation="lasso", num_data_points=10000,
                       max_seeds=10)),
      visualize=True)


# Short CPU settings of the seed-slide methods (issue 18). The two-stage
# models split the step budget: SCAN trains its visual β-VAE for
# ``visual_steps`` steps, DARLA its DAE for ``dae_steps`` steps; lower them
# with ``steps`` (they are fixed hyperparameters of the preset).
SEED_METHODS_STEPS = 1500
SEED_METHODS_FIXED: Dict[str, Dict[str, Any]] = {
    "scan": {"visual_beta": 4.0, "visual_steps": 1200},
    "darla": {"dae_steps": 500, "feature_depth": 3},
}


@STUDIES.register("seed_methods")
def seed_methods() -> StudySpec:
  """The seed slides' methods beside β-VAE: InfoGAN, SCAN and DARLA.

  β-VAE (β = 4), InfoGAN (λ = 1, 3 categories, d continuous codes), SCAN
  (β = 1, λ = 10 on a β = 4 visual β-VAE trained in the same run for the
  first 1,200 steps) and DARLA (β = 1, DAE for the first 500 steps, features
  of its third layer) on procedural_dsprites_small, 2 seeds, 1,500 steps of
  batch 32 (Adam 1e-3 for the VAEs; InfoGAN uses its own learning rates) —
  the same image budget for every family, the DAE and visual stages
  included. Metrics, sample counts and UDR (hyper mode: the two seeds of
  each family) as in ``quickstart``. SCAN's representation is its visual
  β-VAE's, so its scores are those of a β-VAE trained for 1,200 steps.
  A CPU demo (minutes), not a benchmark.
  """
  quick = quickstart()
  return dataclasses.replace(
      quick, name="seed_methods",
      description=("β-VAE, InfoGAN, SCAN and DARLA × 2 seeds on "
                   "procedural_dsprites_small; short training, reduced metric "
                   "sample counts, UDR per family."),
      sweep={"beta_vae": sweep_values("beta", [4.0]),
             "info_gan": sweep_values("lambda_info", [1.0]),
             "scan": sweep_values("beta", [1.0]),
             "darla": sweep_values("beta", [1.0])},
      fixed_hyperparameters={k: dict(v) for k, v in
                             SEED_METHODS_FIXED.items()},
      seeds=(0, 1),
      train=dict(quick.train, steps=SEED_METHODS_STEPS))
# Locatello et al. 2020 (weak supervision), as the spec gives dlib's sweep:
# β × k, k = -1 meaning a k drawn per pair (dlib's ``dynamics.k = -1``).
WEAK_BETAS = (1.0, 2.0, 4.0, 6.0, 8.0, 16.0)
WEAK_KS = (1, -1)
WEAK_DATASETS = ("dsprites", "smallnorb", "cars3d", "shapes3d", "mpi3d_real")


@STUDIES.register("weak_study")
def weak_study() -> StudySpec:
  """Weakly-supervised pairs: Ada-GVAE and Ada-ML-VAE, β × k sweep.

  Locatello et al. 2020 ("Weakly-supervised disentanglement without
  compromises", Sec. 5) / dlib ``methods/weak``: ``ada_gvae`` and ``ml_vae``
  with β ∈ {1, 2, 4, 6, 8, 16} × k ∈ {1, random} (k is a hyperparameter:
  the trainer hands it to the pair sampler, ``-1`` = random per pair), on
  the paper's five datasets (dSprites, SmallNORB, Cars3D, Shapes3D and
  MPI3D, here the real-world release), dlib's architecture and optimiser
  for 300k steps; a batch of 64 is 64 pairs, as in dlib. 10 seeds per
  setting is this preset's choice (override with ``seeds=``). Every metric
  at its default sample counts and UDR_L (hyper mode) per family: the k = 1
  and random-k models of a β are separate UDR groups.
  """
  settings = [{"beta": b, "k": k} for k in WEAK_KS for b in WEAK_BETAS]
  return StudySpec(
      name="weak_study",
      description=("Locatello et al. 2020: ada_gvae and ml_vae, β ∈ {1, 2, "
                   "4, 6, 8, 16} × k ∈ {1, random} × 10 seeds × 5 datasets, "
                   "300k steps on pairs, default metric settings, UDR_L."),
      datasets=WEAK_DATASETS,
      sweep={"ada_gvae": [dict(h) for h in settings],
             "ml_vae": [dict(h) for h in settings]},
      seeds=tuple(range(10)),
      train=dict(PUBLISHED_TRAIN),
      metrics=PUBLISHED_METRICS,
      udr=(UDRSettings(mode="hyper", correlation="lasso",
                       num_data_points=10000),),
      visualize=True)


def study_names() -> list:
  return STUDIES.names()


def get_study(name: str, steps: Optional[int] = None,
              seeds: Any = None, datasets: Optional[Sequence[str]] = None,
              families: Optional[Sequence[str]] = None,
              sweep: Optional[Dict[str, Any]] = None,
              metrics: Optional[Sequence[str]] = None,
              metric_params: Optional[Dict[str, Dict[str, Any]]] = None,
              udr: Any = None, udr_num_data_points: Optional[int] = None,
              visualize: Optional[bool] = None,
              train: Optional[Dict[str, Any]] = None,
              **fields: Any) -> StudySpec:
  """A preset with overrides applied (None leaves a field as the preset has it).

  Args:
    name: a preset name (``study_names()``).
    steps: training steps per model.
    seeds: an int n (seeds 0..n-1) or a list of seeds.
    datasets: replaces the preset's datasets.
    families: keep only these families of the preset's sweep.
    sweep: replaces the sweep ({family: [hyperparameters, ...]}).
    metrics: replaces the metric list (``[]`` = no evaluation).
    metric_params: {metric: params} merged into the preset's.
    udr: a sequence of UDRSettings (``()`` = no UDR) or False.
    udr_num_data_points: overrides num_data_points of every UDR run.
    visualize: write per-model visualisations.
    train: training fields merged into the preset's (e.g. batch_size).
    **fields: any other StudySpec field (representation, dataset_options, ...).
  """
  spec: StudySpec = STUDIES.get(name)()
  changes: Dict[str, Any] = {}
  if steps is not None or train:
    merged = dict(spec.train, **(train or {}))
    if steps is not None:
      if int(steps) < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
      merged["steps"] = int(steps)
    changes["train"] = merged
  if seeds is not None:
    if isinstance(seeds, int):
      if seeds < 1:
        raise ValueError(f"seeds must be >= 1 (a count) or a list, got {seeds}")
      seeds = range(seeds)
    changes["seeds"] = tuple(int(s) for s in seeds)
  if datasets is not None:
    changes["datasets"] = tuple(datasets)
  if sweep is not None:
    changes["sweep"] = {k: [dict(h) for h in v] for k, v in sweep.items()}
  if families is not None:
    base = changes.get("sweep", spec.sweep)
    unknown = sorted(set(families) - set(base))
    if unknown:
      raise ValueError(f"families {unknown} are not in study {name!r}; its "
                       f"families are {sorted(base)}")
    changes["sweep"] = {k: v for k, v in base.items() if k in families}
  if metrics is not None:
    changes["metrics"] = tuple(metrics)
  if metric_params:
    merged = {k: dict(v) for k, v in spec.metric_params.items()}
    for metric, params in metric_params.items():
      merged[metric] = dict(merged.get(metric, {}), **params)
    changes["metric_params"] = merged
  if udr is not None:
    changes["udr"] = tuple(udr) if udr else ()
  if udr_num_data_points is not None:
    changes["udr"] = tuple(
        dataclasses.replace(u, num_data_points=int(udr_num_data_points))
        for u in changes.get("udr", spec.udr))
  if visualize is not None:
    changes["visualize"] = bool(visualize)
  unknown = set(fields) - {f.name for f in dataclasses.fields(StudySpec)}
  if unknown:
    raise TypeError(f"unknown study override(s) {sorted(unknown)}")
  changes.update(fields)
  spec = dataclasses.replace(spec, **changes)
  spec.validate()
  return spec
