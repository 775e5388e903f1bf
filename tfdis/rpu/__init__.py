"""rPU-VAE (Estermann et al. 2020): reduction, surrogate labels, controller.

``reduction`` is pure NumPy/SciPy; ``labels`` encodes subsets with a
SavedModel; ``controller`` runs Algorithm 1 on top of ``tfdis.pbt``;
``report`` writes the HTML report (paper Figs. 3, 5).
"""

from tfdis.rpu.controller import RPUConfig, run_rpu
from tfdis.rpu.labels import (SubsetLabels, active_latents, label_subset,
                              labels_from_encoding, per_latent_kl)
from tfdis.rpu.reduction import (RULES, Reduction, ReductionParams,
                                 latent_candidates, peak_threshold,
                                 reduce_labels)

__all__ = ["RPUConfig", "run_rpu", "SubsetLabels", "active_latents",
           "label_subset", "labels_from_encoding", "per_latent_kl", "RULES",
           "Reduction", "ReductionParams", "latent_candidates",
           "peak_threshold", "reduce_labels"]
