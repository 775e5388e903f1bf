"""Column naming of the aggregated results table and the headline score per metric.

One row per model. Column families:

- identity: ``model_id``, ``model_dir`` (relative to the aggregation root),
  ``model`` (family), ``dataset``, ``seed``, ``hyperparameters`` (a readable
  label such as ``beta=4``) and ``hp.<name>`` (numeric hyperparameters);
- configuration: ``steps``, ``batch_size``, ``learning_rate``, ``latent_dim``,
  ``architecture``, ``reconstruction_loss``;
- training: ``train.<key>`` (numeric leaves of ``results/train.json``);
- metrics: ``<metric>.<key>`` for the ``mean`` representation and
  ``<metric>[<representation>].<key>`` for any other (e.g. ``sampled``);
- UDR: ``udr`` and ``udr.<key>`` (e.g. ``udr.num_informative_latents``); a
  model scored by several UDR runs gets ``udr[<run>]`` for the extra ones.
"""

from __future__ import annotations

from typing import Dict, List

import pandas as pd

# The score each metric is usually reported by (Locatello et al. 2019, Fig. 1;
# Duan et al. 2020, Fig. 2/3): used for box plots and rank correlations.
HEADLINE_SCORES: Dict[str, str] = {
    "beta_vae": "eval_accuracy",
    "factor_vae": "eval_accuracy",
    "mig": "discrete_mig",
    "dci": "disentanglement",
    "sap_score": "SAP_score",
    "modularity_explicitness": "modularity_score",
    "irs": "IRS",
    "unsupervised": "gaussian_total_correlation",
}

# Readable names for plot titles.
DISPLAY_NAMES: Dict[str, str] = {
    "beta_vae": "BetaVAE score",
    "factor_vae": "FactorVAE score",
    "mig": "MIG",
    "dci": "DCI disentanglement",
    "sap_score": "SAP",
    "modularity_explicitness": "Modularity",
    "irs": "IRS",
    "unsupervised": "Gaussian total correlation",
    "udr": "UDR",
}

IDENTITY_COLUMNS = ("model_id", "model", "dataset", "hyperparameters", "seed",
                    "model_dir")
CONFIG_COLUMNS = ("steps", "batch_size", "learning_rate", "latent_dim",
                  "architecture", "reconstruction_loss")


def metric_column(metric: str, key: str, representation: str = "mean") -> str:
  if representation == "mean":
    return f"{metric}.{key}"
  return f"{metric}[{representation}].{key}"


def headline_columns(frame: pd.DataFrame) -> List[str]:
  """Headline supervised/unsupervised score columns present in ``frame``."""
  return [metric_column(m, k) for m, k in HEADLINE_SCORES.items()
          if metric_column(m, k) in frame.columns
          and frame[metric_column(m, k)].notna().any()]


def udr_columns(frame: pd.DataFrame) -> List[str]:
  return [c for c in frame.columns
          if (c == "udr" or c.startswith("udr[")) and frame[c].notna().any()]


def display_name(column: str) -> str:
  """``mig.discrete_mig`` -> ``MIG``; unknown columns are returned unchanged."""
  if column == "udr":
    return "UDR"
  if column.startswith("udr["):
    return "UDR " + column[3:]
  metric = column.split(".", 1)[0]
  base = metric.split("[", 1)[0]
  for name, key in HEADLINE_SCORES.items():
    if base == name and column.endswith("." + key):
      suffix = metric[len(base):]
      return DISPLAY_NAMES[name] + (f" {suffix}" if suffix else "")
  return column
