"""Study-level UDR over exported SavedModels (paper 001, Sec. 3 steps 1-4).

``run_udr_study`` loads every model by its signatures only, draws the same
``num_data_points`` images once (seeded), encodes them with each model once,
picks each model's P partners (``hyper``: same model + hyperparameters, other
seeds; ``a2a``: any other model) and writes udr.json, udr.csv,
similarity.npz and heat-maps into ``output_dir``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from typing import Any, Dict, List, Optional, Sequence

import numpy as np
from absl import logging

from tfdis import io_utils
from tfdis.kl import per_latent_kl
from tfdis.export import code_cache
from tfdis.errors import UserError
from tfdis.registry import check_choice
from tfdis.udr.scores import NonFiniteInputError, udr_from_representations
from tfdis.udr.spec import MODES, UDRSpec

FIXES = [
    "kl_filter_threshold is used both to zero uninformative latents before "
    "the regression and to filter R (dlib hard-coded 0.01 for the zeroing).",
    "a pair without informative latents scores 0 (dlib: NaN).",
]


class GroupSkippedError(RuntimeError):
  """A model of the UDR group cannot be loaded or encoded. UDR compares every
  model with its partners, so the whole group is skipped (no partial UDR
  whose numbers would depend on which model happened to fail)."""

  def __init__(self, model_dir: str, reason: str):
    self.model_dir = model_dir
    self.reason = reason
    super().__init__(
        f"UDR group skipped: model {model_dir} cannot be used ({reason}). "
        "UDR needs every model of the group: repair or retrain that model, "
        "or leave it out of --model_dirs, and rerun.")


def _model_guard(model_dir: str):
  """Turns a per-model failure into GroupSkippedError naming the model."""
  import contextlib

  from tfdis.failures import describe

  @contextlib.contextmanager
  def guard():
    try:
      yield
    except (IncompatibleModelsError, GroupSkippedError):
      raise
    except Exception as e:  # pylint: disable=broad-except
      raise GroupSkippedError(model_dir, describe(e)) from e
  return guard()


class IncompatibleModelsError(UserError, ValueError):
  """The models of one UDR run cannot be compared (latent size, observation
  shape, too few partners)."""


def hyperparameter_key(metadata: Dict[str, Any]) -> str:
  """Group key of a model: its family plus its hyperparameters (JSON)."""
  return json.dumps({"model": metadata.get("model"),
                     "hyperparameters": metadata.get("hyperparameters", {})},
                    sort_keys=True)


def select_partners(groups: Sequence[str], mode: str = UDRSpec.mode,
                    num_pairs: Optional[int] = UDRSpec.num_pairs,
                    seed: int = UDRSpec.seed,
                    names: Optional[Sequence[str]] = None
                    ) -> List[List[int]]:
  """The P partners of each model (step 2); a sampled P is seeded.

  ``groups[i]`` is model i's hyperparameter key. ``hyper``: candidates share
  the key; ``a2a``: all other models. ``num_pairs`` None takes all.
  """
  check_choice("mode", mode, MODES)
  names = list(names) if names is not None else [str(i) for i in
                                                   range(len(groups))]
  rng = np.random.RandomState(seed)
  partners = []
  for i, group in enumerate(groups):
    candidates = [j for j, g in enumerate(groups)
                  if j != i and (mode == "a2a" or g == group)]
    if not candidates:
      raise IncompatibleModelsError(
          f"model {names[i]} has no partner in mode {mode!r}: hyper mode "
          "needs at least 2 seeds per hyperparameter setting (its setting is "
          f"{group}); add seeds or use --mode=a2a")
    if num_pairs is not None:
      if num_pairs > len(candidates):
        raise IncompatibleModelsError(
            f"num_pairs={num_pairs} but model {names[i]} has only "
            f"{len(candidates)} candidate partners in mode {mode!r}; lower "
            "--num_pairs or leave it unset to use all")
      candidates = sorted(int(j) for j in rng.choice(candidates, num_pairs,
                                                     replace=False))
    partners.append(candidates)
  return partners


def _resolve_dataset(dataset, metadatas: Sequence[Dict], model_dirs):
  from tfdis.data import GroundTruthData, get_dataset

  if isinstance(dataset, GroundTruthData):
    return dataset
  if dataset != "auto":
    return get_dataset(dataset)
  specs = []
  for meta, model_dir in zip(metadatas, model_dirs):
    info = meta.get("dataset") or {}
    if "name" not in info:
      raise UserError(
          f"{model_dir}: its SavedModel metadata names no dataset, so "
          "dataset='auto' cannot rebuild it; pass dataset=NAME (--dataset)")
    specs.append((info["name"], json.dumps(info.get("options", {}),
                                           sort_keys=True)))
  if len(set(specs)) > 1:
    raise UserError(
        "the models were trained on different datasets "
        f"{sorted(set(specs))}; UDR compares models on the same images: pass "
        "models of one dataset (or force one with dataset=NAME)")
  return get_dataset(specs[0][0], **json.loads(specs[0][1]))


def _check_metadata_shapes(metadatas, model_dirs) -> None:
  """Early mismatch check from metadata (signatures are checked on load)."""
  reference = None
  for meta, model_dir in zip(metadatas, model_dirs):
    if "latent_dim" not in meta or "observation_shape" not in meta:
      continue
    shape = (int(meta["latent_dim"]), tuple(meta["observation_shape"]))
    if reference is None:
      reference = (shape, model_dir)
    elif shape != reference[0]:
      raise IncompatibleModelsError(_mismatch_message(model_dir, shape, *reference))


def _mismatch_message(model_dir, shape, ref_shape, ref_dir) -> str:
  return (f"{model_dir} has latent size {shape[0]} and observation shape "
          f"{tuple(shape[1])}, but {ref_dir} has latent size {ref_shape[0]} "
          f"and observation shape {tuple(ref_shape[1])}; UDR needs all models "
          "to share both: remove the offending model from --model_dirs")


def encode_models(model_dirs: Sequence[str], data, factors: np.ndarray,
                  random_state, batch_size: int = UDRSpec.batch_size,
                  cache_encodings: str = UDRSpec.cache_encodings):
  """Means [N, d] and per-latent KL [d] of every model on the images of the
  factor rows ``factors`` of ``data``.

  Models whose codes of ``data`` are cached per row
  (``tfdis.export.code_cache``) look the rows up (bit for bit the codes of
  the images); otherwise the images are rendered once, with
  ``random_state`` (the stream that drew ``factors``), and encoded.
  """
  from tfdis.export.load import load_saved_model

  images = None
  means, kls, reference = [], [], None
  start = time.time()
  for m, model_dir in enumerate(model_dirs):
    with _model_guard(model_dir):
      model = load_saved_model(model_dir, batch_size=batch_size)
    shape = (model.latent_dim, tuple(model.observation_shape))
    if reference is None:
      reference = (shape, model_dir)
    elif shape != reference[0]:
      raise IncompatibleModelsError(_mismatch_message(model_dir, shape, *reference))
    with _model_guard(model_dir):
      cache = code_cache.open_cache(model, data, cache_encodings)
    if cache is None and images is None:  # the data, not the model
      images = data.sample_observations_from_factors(factors, random_state)
    with _model_guard(model_dir):
      if cache is not None:
        mean, logvar = cache.gaussian_of_rows(data.factors_to_index(factors))
        cache.flush()
      else:
        mean, logvar = model.gaussian_encoder(images)
    means.append(mean.astype(np.float64))
    kls.append(per_latent_kl(mean, logvar))
    elapsed = time.time() - start
    logging.info("UDR: encoded model %d/%d (%s) — %.1f s elapsed, ETA %.0f s",
                 m + 1, len(model_dirs), model_dir, elapsed,
                 elapsed / (m + 1) * (len(model_dirs) - m - 1))
    del model
  return means, kls


def _display_name(model_dir: str) -> str:
  parts = os.path.normpath(os.path.abspath(model_dir)).split(os.sep)
  if parts[-1] == "saved_model" and len(parts) > 1:
    return parts[-2]
  return parts[-1]


def _nan_to_none(values):
  return [None if not np.isfinite(v) else float(v) for v in values]


def run_udr_study(model_dirs: Sequence[str], output_dir: str,
                  spec: Optional[UDRSpec] = None, *, dataset: Any = "auto",
                  plots: bool = True, **settings: Any) -> Dict[str, Any]:
  """UDR of a set of SavedModels (paper 001, Sec. 3; appendix A.5).

  Args:
    model_dirs: model directories (with saved_model/) or SavedModels; all must
      share latent size and observation shape.
    output_dir: receives udr.json, udr.csv, similarity.npz, pairwise.png,
      similarity_most.png and similarity_least.png (atomic writes).
    spec: the :class:`tfdis.udr.spec.UDRSpec` (default: ``UDRSpec()``, UDR's
      published settings).
    dataset: "auto" (rebuilt from the models' metadata), a registered name or
      a GroundTruthData.
    plots: write the PNG heat-maps.
    **settings: UDRSpec fields replacing the spec's (keyword API), e.g.
      ``mode="a2a"``, ``num_data_points=1000``:

      - mode: "hyper" (partners share model + hyperparameters) or "a2a";
      - correlation: "lasso" (UDR_L) or "spearman" (UDR_S);
      - num_pairs: P partners per model, sampled with ``seed``; None = all;
      - num_data_points: images encoded by every model (paper A.5: 10000
        for the lasso variant; dlib's test config used 1000);
      - seed: seeds the image draw, the partner sampling and the lasso;
      - kl_filter_threshold, filter_low_kl, alpha, aggregation: see
        :func:`tfdis.udr.udr_from_representations`;
      - batch_size: encoder batch size;
      - cache_encodings: 'disk', 'memory' or 'off': look the images' codes
        up in (and add them to) each model's row cache where the dataset
        allows (``tfdis.export.code_cache``; identical codes).

  Returns:
    dict: ``model_scores`` {model_dir: score}, ``pairwise_scores`` (M, M),
    ``partners``, ``outputs`` {artifact: path} and ``settings``.
  """
  from tfdis.export.load import read_metadata

  if spec is not None and not isinstance(spec, UDRSpec):
    raise TypeError(f"spec must be a UDRSpec, got {spec!r} (pass settings "
                    "by keyword, e.g. mode='a2a')")
  spec = (spec if spec is not None else UDRSpec()).udr_spec()
  unknown = sorted(set(settings) - {f.name for f in
                                    dataclasses.fields(UDRSpec)})
  if unknown:
    raise TypeError(f"run_udr_study() got unexpected keyword argument(s) "
                    f"{unknown}; UDR settings are the UDRSpec fields")
  spec = spec.replace(**settings).validate()
  model_dirs = [os.fspath(d) for d in model_dirs]
  if len(model_dirs) < 2:
    raise ValueError(f"UDR needs at least 2 models, got {len(model_dirs)}")
  if len(set(model_dirs)) != len(model_dirs):
    raise ValueError("model_dirs contains duplicates")
  mode, correlation, seed = spec.mode, spec.correlation, spec.seed
  num_data_points, num_pairs = spec.num_data_points, spec.num_pairs

  metadatas = []
  for d in model_dirs:  # also checks the dirs
    with _model_guard(d):
      metadatas.append(read_metadata(d))
  _check_metadata_shapes(metadatas, model_dirs)
  groups = [hyperparameter_key(m) for m in metadatas]
  partners = select_partners(groups, mode, num_pairs, seed, model_dirs)
  data = _resolve_dataset(dataset, metadatas, model_dirs)

  logging.info("UDR: drawing %d images from %s (seed %d)", num_data_points,
               data.name, seed)
  # data.sample_observations' draws: factor rows, then (if rendered) their
  # images from the same stream
  rs = np.random.RandomState(seed)
  factors = data.sample_factors(int(num_data_points), rs)
  means, kls = encode_models(model_dirs, data, factors, rs,
                             batch_size=spec.batch_size,
                             cache_encodings=spec.cache_encodings)

  start = time.time()
  try:
    result = udr_from_representations(
        means, kls, correlation=correlation,
        filter_low_kl=spec.filter_low_kl,
        kl_filter_threshold=spec.kl_filter_threshold, alpha=spec.alpha,
        random_state=seed, aggregation=spec.aggregation, partners=partners)
  except NonFiniteInputError as e:  # name the directory, not the index
    raise NonFiniteInputError(f"{model_dirs[e.model_index]}: {e}",
                              e.model_index) from None
  logging.info("UDR: %d pair scores in %.1f s",
               int(np.isfinite(result["pairwise_scores"]).sum()),
               time.time() - start)

  settings = {
      "correlation": correlation, "variant": ("UDR_L" if correlation ==
                                              "lasso" else "UDR_S"),
      "mode": mode, "num_pairs": num_pairs,
      "num_data_points": int(num_data_points), "alpha": spec.alpha,
      "kl_filter_threshold": float(spec.kl_filter_threshold),
      "filter_low_kl": bool(spec.filter_low_kl),
      "aggregation": spec.aggregation,
      "seed": int(seed), "dataset": data.info(),
      "score_convention": "model i's score is the median over its partners j "
                          "of pairwise_scores[j][i] (R rows from j, columns "
                          "from i; dlib's column convention)",
  }
  return _write_outputs(output_dir, model_dirs, metadatas, groups, kls,
                        result, settings, plots)


def _write_outputs(output_dir, model_dirs, metadatas, groups, kls, result,
                   settings, plots=True) -> Dict[str, Any]:
  import pandas as pd

  pairwise = result["pairwise_scores"]
  partners = result["partners"]
  names = [_display_name(d) for d in model_dirs]
  models = []
  for i, model_dir in enumerate(model_dirs):
    meta = metadatas[i]
    models.append({
        "model_dir": model_dir, "name": names[i],
        "model": meta.get("model"),
        "hyperparameters": meta.get("hyperparameters", {}),
        "seed": meta.get("seed"),
        "udr": float(result["model_scores"][i]),
        "num_informative": int(result["num_informative"][i]),
        "informative_latents": [int(a) for a in
                                np.flatnonzero(result["informative"][i])],
        "kl": [float(k) for k in kls[i]],
        "partners": [model_dirs[j] for j in partners[i]],
        "pair_scores": [float(pairwise[j, i]) for j in partners[i]],
    })
  os.makedirs(output_dir, exist_ok=True)
  outputs = {name: os.path.join(output_dir, name) for name in (
      "udr.json", "udr.csv", "similarity.npz")}
  io_utils.write_json(outputs["udr.json"], {
      "settings": settings, "fixes": FIXES,
      "versions": io_utils.library_versions(),
      "model_dirs": model_dirs, "models": models,
      "pairwise_scores": [_nan_to_none(row) for row in pairwise],
  })
  io_utils.write_csv(outputs["udr.csv"], pd.DataFrame([{
      "model_dir": m["model_dir"], "model": m["model"],
      "hyperparameters": json.dumps(m["hyperparameters"], sort_keys=True),
      "seed": m["seed"], "udr": m["udr"],
      "num_informative": m["num_informative"],
      "num_partners": len(m["partners"]),
      "correlation": settings["correlation"], "mode": settings["mode"],
  } for m in models]))
  io_utils.write_npz(
      outputs["similarity.npz"],
      similarity_matrices=result["similarity_matrices"],
      pairwise_scores=pairwise, model_scores=result["model_scores"],
      informative=result["informative"], kls=np.stack(kls),
      model_dirs=np.array(model_dirs), groups=np.array(groups))
  if plots:
    outputs.update(_write_plots(output_dir, names, result, settings))
  return {"model_scores": dict(zip(model_dirs,
                                   map(float, result["model_scores"]))),
          "pairwise_scores": pairwise, "partners": partners,
          "outputs": outputs, "settings": settings}


def _write_plots(output_dir, names, result, settings) -> Dict[str, str]:
  from tfdis.udr.plots import plot_pairwise_scores, plot_similarity_matrix

  pairwise = result["pairwise_scores"]
  paths = {"pairwise.png": os.path.join(output_dir, "pairwise.png")}
  plot_pairwise_scores(paths["pairwise.png"], pairwise, names,
                       title=f"{settings['variant']} pair scores "
                       f"({settings['mode']})")
  computed = np.argwhere(np.isfinite(pairwise))
  values = pairwise[np.isfinite(pairwise)]
  for label, index in (("most", int(np.argmax(values))),
                       ("least", int(np.argmin(values)))):
    i, j = computed[index]
    name = f"similarity_{label}.png"
    paths[name] = os.path.join(output_dir, name)
    plot_similarity_matrix(paths[name], result["similarity_matrices"][i, j],
                           names[i], names[j], float(pairwise[i, j]),
                           result["informative"][i], result["informative"][j])
  return paths
