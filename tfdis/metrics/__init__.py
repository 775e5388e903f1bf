"""Disentanglement metrics: array-level functions and sampling wrappers.

Two public layers (spec metrics.md):

1. Array-level, pure NumPy/scikit-learn, rows = samples: ``mig_from_codes``,
   ``dci_from_codes``, ``sap_from_codes``,
   ``modularity_explicitness_from_codes``, ``irs_from_codes``,
   ``unsupervised_from_codes``, ``downstream_task_from_codes``,
   ``dci_es_from_codes``, ``infomec_from_codes``, the
   FactorVAE / BetaVAE functions on votes / features, the fairness functions
   on predictions, and the building blocks ``discretize``,
   ``discrete_mutual_info``, ``discrete_entropy``, ``dci_importance_matrix``.
   MIG-sup, DCIMIG and JEMMIG (``mig_sup_from_codes``, ``dcimig_from_codes``,
   ``jemmig_from_codes``; the Carbonneau et al. review's reference code,
   ``binned_information``) take ``factor_types`` for continuous factors.
2. Sampling wrappers ``compute_<metric>(ground_truth_data,
   representation_fn, random_state, **params)`` with dlib's
   ``unsupervised_study_v1`` defaults, registered in
   ``tfdis.registry.METRICS`` under the ``--metrics`` flag names. Each returns
   the flat float scores plus ``parameters``, ``versions`` and ``notes``.

Same seed, same samples as disentanglement_lib: the wrappers consume their
``RandomState`` call for call as dlib's wrappers do (``sampling.RNG_ORDER``),
then encode in large batches. ``sklearn_compat`` ('current' / 'dlib', see
``classifiers.SKLEARN_COMPAT_MODES``) picks the classifier defaults of the
metrics that fit a logistic regression or linear SVM; ``gbt_seeding``
(``seeding.GBT_SEEDINGS``) how the gradient-boosted trees are seeded, and
``classifier`` (``classifiers.CLASSIFIERS``: dlib's exact 'gbt', the default,
or the opt-in 'hist_gbt') which gradient boosting DCI, the downstream task and
fairness fit. Factors may be declared continuous (``factor_types`` of the
array functions, ``GroundTruthData.factor_types``); see docs/python-api.md
for what each metric does with them. The public entry points for any
encoder or array are in ``tfdis.scoring``.
"""

from tfdis.metrics.information import (discrete_entropy, discrete_mutual_info,
                                       discretize)
from tfdis.metrics.results import RESERVED_KEYS, scores_of
from tfdis.metrics.sampling import (encode, encode_factors,
                                    sample_codes_and_factors)
from tfdis.metrics.beta_vae import (beta_vae_features, beta_vae_from_features,
                                    compute_beta_vae)
from tfdis.metrics.factor_vae import (active_dims, compute_factor_vae,
                                      factor_vae_from_votes, factor_vae_votes)
from tfdis.metrics.mig import compute_mig, mig_from_codes, mig_from_mutual_info
from tfdis.metrics.dci import (compute_dci, dci_completeness, dci_disentanglement,
                               dci_from_codes, dci_importance_matrix)
from tfdis.metrics.sap_score import (compute_sap_score, sap_from_codes,
                                     sap_from_matrix, sap_score_matrix)
from tfdis.metrics.modularity_explicitness import (
    compute_modularity_explicitness, modularity_explicitness_from_codes,
    modularity_from_mutual_info)
from tfdis.metrics.irs import compute_irs, irs_from_codes
from tfdis.metrics.unsupervised import (compute_unsupervised,
                                        gaussian_total_correlation,
                                        gaussian_wasserstein_correlation,
                                        unsupervised_from_codes)
from tfdis.metrics.downstream_task import (compute_downstream_task,
                                           downstream_task_from_codes)
from tfdis.metrics.fairness import (compute_fairness, fairness_from_predictions,
                                    fairness_scores_dict, inter_group_fairness)
from tfdis.metrics.mig_sup import (compute_mig_sup, mig_sup_from_codes,
                                   mig_sup_from_matrix)
from tfdis.metrics.dcimig import (compute_dcimig, dcimig_from_codes,
                                  dcimig_from_matrix)
from tfdis.metrics.jemmig import (compute_jemmig, jemmig_from_codes,
                                  jemmig_from_matrices)
from tfdis.metrics.dci_es import compute_dci_es, dci_es_from_codes
from tfdis.metrics.infomec import compute_infomec, infomec_from_codes
from tfdis.registry import METRICS

# Flag name -> sampling wrapper. Registration happens on import.
_WRAPPERS = {
    "beta_vae": compute_beta_vae,
    "factor_vae": compute_factor_vae,
    "mig": compute_mig,
    "dci": compute_dci,
    "sap_score": compute_sap_score,
    "modularity_explicitness": compute_modularity_explicitness,
    "irs": compute_irs,
    "unsupervised": compute_unsupervised,
    "downstream_task": compute_downstream_task,
    "fairness": compute_fairness,
}
# dlib's ten: what ``--metrics=all`` (the default of tfdis_evaluate) scores.
DEFAULT_SUITE = tuple(_WRAPPERS)
# Metrics from the literature after dlib, registered (``--metrics=<name>``,
# or ``--metrics=every`` for all registered) but not in the default suite.
_WRAPPERS.update({
    "mig_sup": compute_mig_sup,
    "dcimig": compute_dcimig,
    "jemmig": compute_jemmig,
    "dci_es": compute_dci_es,
    "infomec": compute_infomec,
})
for _name, _fn in _WRAPPERS.items():
  METRICS.register(_name, _fn)


def get_metric(name: str):
  """The ``compute_<metric>`` wrapper registered under ``name``."""
  return METRICS.get(name)


def metric_names() -> list:
  """Every registered metric (``--metrics=every``)."""
  return METRICS.names()


def default_metric_names() -> list:
  """The default suite (``--metrics=all``): dlib's ten metrics."""
  return [name for name in DEFAULT_SUITE if name in METRICS]


__all__ = [
    "discretize", "discrete_mutual_info", "discrete_entropy", "encode",
    "encode_factors", "sample_codes_and_factors", "scores_of", "RESERVED_KEYS",
    "beta_vae_features", "beta_vae_from_features", "compute_beta_vae",
    "active_dims", "factor_vae_votes", "factor_vae_from_votes",
    "compute_factor_vae", "mig_from_codes", "mig_from_mutual_info",
    "compute_mig", "dci_from_codes", "dci_importance_matrix",
    "dci_disentanglement", "dci_completeness", "compute_dci",
    "sap_from_codes", "sap_score_matrix", "sap_from_matrix",
    "compute_sap_score", "modularity_explicitness_from_codes",
    "modularity_from_mutual_info", "compute_modularity_explicitness",
    "irs_from_codes", "compute_irs", "unsupervised_from_codes",
    "gaussian_total_correlation", "gaussian_wasserstein_correlation",
    "compute_unsupervised", "downstream_task_from_codes",
    "compute_downstream_task", "inter_group_fairness", "fairness_scores_dict",
    "fairness_from_predictions", "compute_fairness", "mig_sup_from_codes",
    "mig_sup_from_matrix", "compute_mig_sup", "dcimig_from_codes",
    "dcimig_from_matrix", "compute_dcimig", "jemmig_from_codes",
    "jemmig_from_matrices", "compute_jemmig", "dci_es_from_codes",
    "compute_dci_es", "infomec_from_codes", "compute_infomec", "get_metric",
    "metric_names", "default_metric_names", "DEFAULT_SUITE",
]
