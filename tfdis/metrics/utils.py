"""Transitional: the three names tfdis.pbt.evaluation and tfdis.rpu.factors
still import from here. The metrics' building blocks live in modules named
for what they hold (information, sampling, validation, factor_types,
classifiers, seeding, parallel, results); import from those. Delete this
module once those two importers read ``tfdis.metrics.information``."""

from tfdis.metrics.information import (discrete_entropy,  # noqa: F401
                                       discrete_mutual_info, discretize)
