"""The estimation core shared by the model stage (:mod:`linkage.models`) and the curve (:mod:`linkage.multiverse`).

Domain layer; imports numpy and the foundation only.

* :mod:`.conventions` - the small-sample conventions (covariance factor, K, reference df), once,
  for one fit (:func:`scaling`) and for a batch of fits (:func:`scaling_arrays`).
* :mod:`.within` - the within-trust transformations (group means, one- and two-way demeaning,
  within-trust SDs) and the rank check of a transformed design.

The model families themselves are entries of the registry in :mod:`linkage.vocab`
(:class:`linkage.vocab.FamilyEntry`); each entry carries its one-specification fitter and its
batched curve fitter.
"""

from .conventions import Scaling, scaling, scaling_arrays
from .within import (
    check_full_rank,
    codes_of,
    group_demean,
    group_means,
    run_starts,
    twoway_demean,
    within_sd,
    within_stats,
)

__all__ = [
    "Scaling", "check_full_rank", "codes_of", "group_demean", "group_means", "run_starts", "scaling",
    "scaling_arrays", "twoway_demean", "within_sd", "within_stats",
]
