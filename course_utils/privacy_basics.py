"""Re-identification risk of a *real* table: uniqueness and k-anonymity.

These functions live with the other quasi-identifier measures in
:mod:`course_utils.evaluation.privacy.quasi_identifiers`; this module keeps the names
lesson 00 imports. Synthetic rows need other checks (distance to the closest record,
membership inference: lesson 04).
"""

from __future__ import annotations

from .evaluation.privacy.quasi_identifiers import (
    equivalence_class_sizes,
    k_anonymity,
    uniqueness_table,
)

__all__ = ["equivalence_class_sizes", "k_anonymity", "uniqueness_table"]
