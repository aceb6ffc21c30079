"""Privacy metrics for synthetic tables, always judged against a real holdout.

A synthetic patient that sits close to a training patient is not by itself a leak:
in a dense region of the data, real new patients sit just as close. A generator is
only suspicious when its rows are closer to the training patients than patients it
never saw (the holdout) are. So every metric here takes ``train`` (what the generator
learned from), ``synthetic`` and ``holdout`` (real patients kept out of training), and
reports the holdout's value next to the synthetic one where that is meaningful.

All distances are the course's mixed-type distance of
:mod:`course_utils.evaluation.distances` (numeric columns scaled by their training
range, a categorical mismatch counting like a full-range difference, missing values
as their own indicator), fitted on the training table.

Metrics, one module per family (each function's docstring is its metric card; every
public name is importable from here):

- :mod:`.matching` - :func:`exact_match_rate`: synthetic rows identical to a training row;
- :mod:`.distance` - :func:`dcr`: distance to closest record, share closer to train than to holdout,
  5th-percentile ratio;
- :func:`nndr` - nearest-neighbour distance ratio;
- :func:`nnaa` - nearest-neighbour adversarial accuracy (Yale et al. 2020);
- :mod:`.identifiability` - :func:`epsilon_identifiability`: Yoon et al. 2020 (ADS-GAN);
- :mod:`.inference` - :func:`membership_inference`: distance and density (DOMIAS-like) attacks, ROC AUC;
- :func:`attribute_inference` - predict a sensitive field from key fields;
- :mod:`.quasi_identifiers` - :func:`quasi_identifier_uniqueness`: uniqueness and
  k-anonymity of key fields, and :func:`k_anonymity` / :func:`uniqueness_table` for a
  real table (lesson 00);
- :mod:`.report` - :func:`privacy_report`: all of them as one tidy table.

The holdout must not contain training patients: every metric runs the evaluation
package's one holdout check (:func:`~course_utils.evaluation.tables.check_holdout`,
re-exported here), which warns when more holdout rows have an exact copy in the
training table than the training table's own rate of duplicate rows explains, and
raises ``ValueError`` when more than half of the holdout rows do (the split was not
made, or made after synthesis).
"""

from __future__ import annotations

from ..tables import check_holdout
from .distance import MAX_ROWS, DCRResult, dcr, nnaa, nndr
from .identifiability import entropy_weights, epsilon_identifiability
from .inference import MAX_ROWS_DENSITY, _fit_kde, attribute_inference, membership_inference  # noqa: F401
from .matching import exact_match_rate
from .quasi_identifiers import (
    equivalence_class_sizes,
    k_anonymity,
    quasi_identifier_uniqueness,
    uniqueness_table,
)
from .report import privacy_report, privacy_rows

__all__ = [
    "MAX_ROWS",
    "MAX_ROWS_DENSITY",
    "DCRResult",
    "attribute_inference",
    "check_holdout",
    "dcr",
    "entropy_weights",
    "epsilon_identifiability",
    "equivalence_class_sizes",
    "exact_match_rate",
    "k_anonymity",
    "membership_inference",
    "nnaa",
    "nndr",
    "privacy_report",
    "privacy_rows",
    "quasi_identifier_uniqueness",
    "uniqueness_table",
]
