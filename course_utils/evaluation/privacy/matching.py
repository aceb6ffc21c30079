"""Exact matches: synthetic rows that copy a training row in every column.

Rows are compared in the course's encoding (:mod:`course_utils.evaluation.distances`),
so missing equals missing and an integer equals the same float.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ...schema import Metadata
from ..context import EvaluationContext


def _row_bytes(X: np.ndarray) -> list[bytes]:
    # + 0.0 turns -0.0 into 0.0 so that equal values have equal bytes.
    X = np.ascontiguousarray(X + 0.0)
    return [r.tobytes() for r in X]


def _exact_share(query: np.ndarray, reference: np.ndarray) -> float:
    ref = set(_row_bytes(reference))
    return float(np.mean([k in ref for k in _row_bytes(query)]))


def exact_match_rate(
    train: pd.DataFrame,
    synthetic: pd.DataFrame,
    holdout: pd.DataFrame | None = None,
    metadata: Metadata | None = None,
) -> dict[str, float]:
    """Share of synthetic rows that are an exact copy of some training row.

    Metric card:
        Definition: fraction of synthetic rows equal, in every column (missing equals
            missing), to at least one training row. The reference is the same fraction
            for the holdout rows: how often a new real patient happens to equal a
            training patient.
        Range: 0 to 1. Ideal: 0, or no higher than the holdout's rate (tables of a few
            coarse columns have identical patients by nature).
        What fools it: a row copied with one value changed by a tiny amount is not an
            exact match; use :func:`dcr` and :func:`nndr` for near copies.
        Source: the minimum privacy check of most synthetic-data reports (e.g.
            SDMetrics' ``NewRowSynthesis``, which reports its complement).

    Returns ``{"synthetic": rate, "holdout": rate or nan}``.
    """
    ctx = EvaluationContext(train, synthetic, holdout, metadata)
    return _exact_rates(ctx)


def _exact_rates(ctx: EvaluationContext) -> dict[str, float]:
    return {
        "synthetic": _exact_share(ctx.S, ctx.T),
        "holdout": _exact_share(ctx.H, ctx.T) if ctx.H is not None else float("nan"),
    }
