"""PBT eval functions (spec pbt_rpu.md "Eval functions"; paper 003).

* ``mig``  (PBT-S-VAE): MIG (20 bins) of the mean codes against ground-truth
  factors on fixed rows chosen once from the controller seed
  (``mig_num_train`` = 50,000 as the authors, or ``num_labels`` rows for the
  few-label variant, e.g. 1000-PBT-S-VAE).
* ``dci``: DCI disentanglement on fixed train/test rows.
* ``udr`` (PBT-U-VAE): UDR_L (lasso, KL filter 0.01) of the K VAEs of a member
  on the same images; score = mean over the K models of each model's UDR
  (median over its K − 1 partners).
* ``surrogate_mig`` (rPU-VAE's final model): per leaf-run and metaEpoch, MIG of
  the codes of the stored rows against the stored surrogate labels discretised
  into 20 bins; leaf-run score = mean over metaEpochs; member score = median
  over leaf-runs (the authors' behaviour; docs/design.md).

The functions take codes, not models, so they are cheap to test; the worker
encodes the images.
"""

from __future__ import annotations

import os
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from tfdis import io_utils
from tfdis.udr.spec import UDRSpec
# UDR's KL filter and rPU's active-latent rule share one definition
# (re-exported for the PBT/rPU callers).
from tfdis.kl import (AUTHORS_LABEL_BATCH, AUTHORS_UDR_BATCH,  # noqa: F401
                      KL_ESTIMATORS, per_latent_kl)

EVAL_INDICES_FILE = "eval_indices.npz"
# PBT-U-VAE's UDR: UDR_L with UDR's defaults (spec pbt_rpu.md: lasso, KL
# filter 0.01); its image count is PBTConfig.udr_num_data_points.
_UDR = UDRSpec()



def choose_eval_indices(config, pool: np.ndarray) -> Dict[str, np.ndarray]:
  """Rows used by the eval for the whole run (chosen once from the seed)."""
  rng = np.random.default_rng([int(config.seed), 0xE7A1])
  pool = np.asarray(pool, dtype=np.int64)

  def pick(n):
    n = min(int(n), len(pool))
    return np.sort(rng.choice(pool, size=n, replace=False))

  if config.eval == "mig":
    rows = pick(config.num_labels or config.mig_num_train)
    return {"indices": rows, "num_train": np.int64(len(rows))}
  if config.eval == "dci":
    if config.num_labels is not None:
      total = min(config.num_labels, len(pool))
      n_train = max(1, int(round(0.8 * total)))
    else:
      total = min(config.dci_num_train + config.dci_num_test, len(pool))
      n_train = min(config.dci_num_train, total - 1)
    rows = rng.choice(pool, size=total, replace=False)  # train rows first
    return {"indices": rows.astype(np.int64), "num_train": np.int64(n_train)}
  if config.eval == "udr":
    rows = pick(config.udr_num_data_points)
    return {"indices": rows, "num_train": np.int64(len(rows))}
  return {"indices": np.zeros([0], np.int64), "num_train": np.int64(0)}


def write_eval_indices(output_dir: str, config, pool: np.ndarray) -> str:
  path = os.path.join(output_dir, EVAL_INDICES_FILE)
  if not os.path.isfile(path):
    io_utils.write_npz(path, **choose_eval_indices(config, pool))
  return path


def mig_score(codes: np.ndarray, factors: np.ndarray, num_bins: int = 20
              ) -> Tuple[float, Dict[str, Any]]:
  from tfdis.metrics.mig import mig_from_codes
  score = float(mig_from_codes(codes, factors, num_bins)["discrete_mig"])
  return score, {"discrete_mig": score}


def dci_score(codes: np.ndarray, factors: np.ndarray, num_train: int,
              random_state: int = 0) -> Tuple[float, Dict[str, Any]]:
  from tfdis.metrics.dci import dci_from_codes
  res = dci_from_codes(codes[:num_train], factors[:num_train],
                       codes[num_train:], factors[num_train:],
                       random_state=random_state, n_jobs=1)
  return float(res["disentanglement"]), {k: float(v) for k, v in res.items()}


def udr_score(means: np.ndarray, kls: np.ndarray,
              kl_threshold: float = UDRSpec.kl_filter_threshold,
              random_state: int = 0) -> Tuple[float, Dict[str, Any]]:
  """means [N, K, d], kls [K, d] -> (mean of the K model UDRs, details).

  UDR_L with UDR's own defaults (:class:`tfdis.udr.spec.UDRSpec`: lasso,
  alpha 0.1, KL filter, relative-strength aggregation); every model of the
  member is the others' partner."""
  from tfdis.udr import udr_from_representations
  k = means.shape[1]
  res = udr_from_representations(
      [means[:, i] for i in range(k)], [kls[i] for i in range(k)],
      correlation=_UDR.correlation, filter_low_kl=_UDR.filter_low_kl,
      kl_filter_threshold=kl_threshold, alpha=_UDR.alpha,
      random_state=random_state, aggregation=_UDR.aggregation, n_jobs=1)
  scores = np.nan_to_num(np.asarray(res["model_scores"], np.float64), nan=0.0)
  return float(np.mean(scores)), {
      "model_scores": scores.tolist(),
      "best_model": int(np.argmax(scores)),
      "num_informative": np.asarray(res["num_informative"]).tolist()}


def load_surrogate_labels(paths: Sequence[str]
                          ) -> List[List[Tuple[np.ndarray, np.ndarray]]]:
  """Per leaf-run file: [(indices [n_j], labels [n_j, k_j]) per metaEpoch]."""
  leaves = []
  for path in paths:
    with np.load(path) as f:
      if "num_metaepochs" not in f:
        raise ValueError(f"{path!r} is not an rPU surrogate-label file "
                         "(no num_metaepochs)")
      n = int(f["num_metaepochs"])
      leaves.append([(np.asarray(f[f"metaepoch_{j}_indices"], np.int64),
                      np.asarray(f[f"metaepoch_{j}_labels"], np.float32))
                     for j in range(n)])
  return leaves


def subsample_surrogate_labels(leaves, max_rows: Optional[int], seed: int):
  """Each metaEpoch's (rows, labels) cut to at most ``max_rows`` rows.

  The subset is a uniform draw without replacement from ``seed`` (kept in row
  order), so every generation and a resumed run score the same rows.
  ``max_rows=None`` keeps everything.
  """
  if max_rows is None:
    return leaves
  rng = np.random.default_rng(int(seed))
  out = []
  for metaepochs in leaves:
    blocks = []
    for rows, labels in metaepochs:
      if len(rows) > max_rows:
        keep = np.sort(rng.choice(len(rows), int(max_rows), replace=False))
        rows, labels = rows[keep], labels[keep]
      blocks.append((rows, labels))
    out.append(blocks)
  return out


def surrogate_mig_score(encode_rows: Callable[[np.ndarray], np.ndarray],
                        leaves, num_bins: int = 20
                        ) -> Tuple[float, Dict[str, Any]]:
  """Median over leaf-runs of the mean over metaEpochs of MIG(codes, labels)."""
  from tfdis.metrics.mig import mig_from_codes
  from tfdis.metrics.information import discretize
  leaf_scores = []
  for metaepochs in leaves:
    values = []
    for rows, labels in metaepochs:
      if len(rows) < 2 or labels.ndim != 2 or labels.shape[1] == 0:
        continue
      codes = encode_rows(rows)
      values.append(float(mig_from_codes(codes, discretize(labels, num_bins),
                                         num_bins)["discrete_mig"]))
    if values:
      leaf_scores.append(float(np.mean(values)))
  score = float(np.median(leaf_scores)) if leaf_scores else 0.0
  return score, {"leaf_scores": leaf_scores}
