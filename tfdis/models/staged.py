"""Two training stages in one run, switched by the step counter.

DARLA (a denoising autoencoder, then a β-VAE in its feature space) and SCAN
(a visual β-VAE, then the symbol VAE grounded in it) train their first stage
for ``n`` steps and their second stage afterwards. The stage is a function of
the model's step counter alone, which every checkpoint holds, so a run
killed in either stage resumes in the right one with the right optimiser
state; one command trains both stages.

Inside the traced step a ``tf.cond`` on ``step < n`` picks the branch; each
branch computes its loss, updates its own variables with its own optimiser
and returns the same set of logged terms (terms a stage does not have are 0).
"""

from __future__ import annotations

from typing import Callable, Dict, Iterable, Mapping, Sequence

import tensorflow as tf

# Terms every model logs (the trainer's progress line reads them).
COMMON_TERMS = ("loss", "reconstruction_loss", "kl_loss", "regularizer",
                "elbo", "num_active_latents")


def apply_update(model, loss_fn: Callable[[], tuple], variables: Sequence,
                 optimizer) -> Dict[str, tf.Tensor]:
  """One step of ``optimizer`` on ``loss_fn() -> (loss, terms)`` over
  ``variables``, through :meth:`GaussianVAE.minimize` (replica scaling
  included); returns terms."""
  return model.minimize(loss_fn, lambda loss, terms: [(loss, variables,
                                                       optimizer)])


def complete_terms(terms: Mapping[str, tf.Tensor], scalar_names: Iterable[str],
                   latent_dim: int, stage: int) -> Dict[str, tf.Tensor]:
  """The same keys and shapes in both stages: missing scalars are 0,
  ``per_latent_kl`` zeros [d]; adds ``stage`` (0 or 1)."""
  out = {k: tf.cast(v, tf.float32) for k, v in terms.items()}
  for name in scalar_names:
    out.setdefault(name, tf.constant(0.0))
  out.setdefault("per_latent_kl", tf.zeros([latent_dim]))
  out["stage"] = tf.constant(float(stage))
  return out


def two_stage_step(model, first_stage_steps: int,
                   first: Callable[[], Dict[str, tf.Tensor]],
                   second: Callable[[], Dict[str, tf.Tensor]]
                   ) -> Dict[str, tf.Tensor]:
  """Runs ``first()`` while ``model.step < first_stage_steps``, else
  ``second()``; advances the step counter by one.

  Both callables update their own variables (:func:`apply_update`) and
  return terms with the same keys (use :func:`complete_terms`).
  """
  in_first = model.step < tf.constant(int(first_stage_steps), tf.int64)
  terms = tf.cond(in_first, first, second)
  model.step.assign_add(1)
  return terms


def check_fixed_hyperparameters(family: str, names: Iterable[str],
                                current: Mapping[str, float],
                                new: Mapping[str, float]) -> None:
  """Hyperparameters that size networks or the traced graph (InfoGAN's
  categories, DARLA's feature depth, ...) cannot change on a built model."""
  for name in names:
    if float(new[name]) != float(current[name]):
      raise ValueError(
          f"{family}: hyperparameter {name} is fixed when the model is built "
          f"(it shapes the networks or the training graph); it cannot change "
          f"from {current[name]} to {new[name]}. Train a new model instead.")
