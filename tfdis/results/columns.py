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
    "mig_sup": "mig_sup",
    "dcimig": "dcimig",
    "jemmig": "jemmig",
    "dci_es": "explicitness",
    "infomec": "infom",
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
    "mig_sup": "MIG-sup",
    "dcimig": "DCIMIG",
    "jemmig": "JEMMIG",
    "dci_es": "DCI-ES explicitness",
    "infomec": "InfoM",
    "udr": "UDR",
}

# Short column headers of the report's tables (full names in DISPLAY_NAMES).
SHORT_NAMES: Dict[str, str] = {
    "beta_vae": "BetaVAE",
    "factor_vae": "FactorVAE",
    "mig": "MIG",
    "dci": "DCI",
    "sap_score": "SAP",
    "modularity_explicitness": "Modularity",
    "irs": "IRS",
    "unsupervised": "Gauss. TC",
    "mig_sup": "MIG-sup",
    "dcimig": "DCIMIG",
    "jemmig": "JEMMIG",
    "dci_es": "DCI-ES E",
    "infomec": "InfoM",
    "udr": "UDR",
}

# Readable headers of the other columns the report shows.
COLUMN_LABELS: Dict[str, str] = {
    "train.final_losses.elbo": "ELBO",
    "train.elbo": "ELBO",
    "train.final_losses.reconstruction_loss": "Reconstruction",
    "train.reconstruction_loss": "Reconstruction",
    "udr.num_informative": "Informative latents",
    "steps": "Steps",
    "models": "Models",
    "model": "Family",
    "dataset": "Dataset",
    "hyperparameters": "Hyperparameters",
    "seed": "Seed",
    "model_id": "Model",
}

REPRESENTATIONS = ("mean", "sampled")

IDENTITY_COLUMNS = ("model_id", "model", "dataset", "hyperparameters", "seed",
                    "model_dir")
CONFIG_COLUMNS = ("steps", "batch_size", "learning_rate", "latent_dim",
                  "architecture", "reconstruction_loss")


def metric_column(metric: str, key: str, representation: str = "mean") -> str:
  if representation == "mean":
    return f"{metric}.{key}"
  return f"{metric}[{representation}].{key}"


def headline_columns(frame: pd.DataFrame, representation: str = "mean"
                     ) -> List[str]:
  """Headline supervised/unsupervised score columns present in ``frame``
  for one representation (``mean``: plain ``<metric>.<key>`` columns)."""
  cols = [metric_column(m, k, representation)
          for m, k in HEADLINE_SCORES.items()]
  return [c for c in cols if c in frame.columns and frame[c].notna().any()]


def representations_in(frame: pd.DataFrame) -> List[str]:
  """The representations with at least one headline score in ``frame``."""
  return [r for r in REPRESENTATIONS if headline_columns(frame, r)]


def short_name(column: str) -> str:
  """A compact, readable table header: ``mig[sampled].discrete_mig`` ->
  ``MIG (sampled)``, ``train.final_losses.elbo`` -> ``ELBO``."""
  if column in COLUMN_LABELS:
    return COLUMN_LABELS[column]
  if column == "udr" or column.startswith("udr["):
    return "UDR" + (f" {column[3:]}" if column != "udr" else "")
  metric = column.split(".", 1)[0]
  base, _, rep = metric.partition("[")
  rep = rep.rstrip("]")
  if base in SHORT_NAMES and column.endswith("." + HEADLINE_SCORES.get(
      base, "\0")):
    return SHORT_NAMES[base] + (f" ({rep})" if rep else "")
  return column


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
