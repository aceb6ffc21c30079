"""Distance to the closest real record, and a filter that drops synthetic rows too close to one.

Both use the course's one distance between patients
(:mod:`course_utils.evaluation.distances`: numbers scaled by their range in the real
table, a category or flag mismatch counting like a full-range difference, missing
values as their own indicator), fitted on the **real** rows, so the SMOTE lesson's
filter and the privacy lesson's DCR measure closeness with the same ruler.
:func:`course_utils.evaluation.privacy.dcr` adds the holdout reference.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..schema import Metadata, repair_frame
from .distances import fit_encoder, nearest_distances


def nearest_real_distance(
    real: pd.DataFrame,
    synthetic: pd.DataFrame,
    columns: list[str] | None = None,
    metadata: Metadata | None = None,
) -> pd.Series:
    """Distance from each synthetic row to its nearest real row, indexed like ``synthetic``.

    Metric card:
        definition: the course's mixed-type distance (range-scaled numbers, a category
            or flag mismatch adds 1 to the squared distance; see
            :mod:`course_utils.evaluation.distances`) from a synthetic row to the closest
            real row ("distance to closest record", DCR), with scales taken from the
            *real* rows so that age in years does not drown a 0/1 flag.
        range: 0 (an exact copy of a real row) upwards.
        ideal: no lower than the same distances of real patients the generator never saw
            (pass the holdout as ``synthetic`` for that reference).
        what fools it: a wide outlier stretches a column's range and shrinks its
            differences; duplicated patients in the real data; raw output: apply it to
            repaired rows (rounded, one-hot groups fixed), because unrepaired rows are
            not what gets shared.
        source: DCR as used by Park et al. (2018), "Data synthesis based on generative
            adversarial networks", PVLDB 11(10); lesson 04 covers it with the holdout reference.

    The result is a Series carrying ``synthetic``'s own index, so a distance can never be
    attached to another row. ``metadata`` gives the column kinds (inferred from ``real``
    when None).
    """
    if not isinstance(real, pd.DataFrame) or not isinstance(synthetic, pd.DataFrame):
        raise TypeError("real and synthetic must be pandas DataFrames")
    columns = list(real.columns) if columns is None else list(columns)
    missing = [c for c in columns if c not in synthetic.columns or c not in real.columns]
    if missing:
        raise ValueError(f"column(s) {missing} are not in both tables")
    if len(real) == 0:
        raise ValueError("the real table is empty")
    if len(synthetic) == 0:
        return pd.Series([], index=synthetic.index, dtype=float, name="distance")
    encoder = fit_encoder(real[columns], None if metadata is None else metadata.select(columns))
    dist, _ = nearest_distances(synthetic[columns], real[columns], encoder=encoder, algorithm="blas")
    return pd.Series(dist[:, 0], index=synthetic.index, name="distance")


def closeness_filter(
    real: pd.DataFrame,
    synthetic: pd.DataFrame,
    share: float = 0.1,
    metadata: Metadata | None = None,
    columns: list[str] | None = None,
    return_distances: bool = False,
) -> pd.DataFrame | tuple[pd.DataFrame, pd.Series]:
    """Drop synthetic rows identical to a real row, then the ``share`` closest of the rest.

    1. If ``metadata`` is given, repair the synthetic rows first (integers rounded,
       one-hot groups fixed), because rows are shared after repair and repair can turn
       a near copy into an exact copy.
    2. Compute :func:`nearest_real_distance` (the course's distance; each distance is
       attached to its own row by index label, never by position).
    3. Drop every row at distance 0 (an exact copy of a real patient).
    4. Of the rest, drop the ``round(share * remaining)`` rows closest to any real row;
       ties are broken by index label, so the result does not depend on row order.

    Returns the kept rows in their original order with their original index (and the
    distances of all rows when ``return_distances=True``). Expect to lose more than
    ``share`` of the rows: generate about twice what you need. The synthetic index must
    be unique.
    """
    if not 0 <= share < 1:
        raise ValueError(f"share must be a fraction in [0, 1), got {share}")
    if not isinstance(synthetic, pd.DataFrame):
        raise TypeError(f"synthetic must be a pandas DataFrame, got {type(synthetic).__name__}")
    if not synthetic.index.is_unique:
        raise ValueError("the synthetic rows need a unique index: distances are attached by index label")
    if metadata is not None:
        dtypes = {c: real[c].dtype for c in metadata.names}
        repaired = repair_frame(synthetic[metadata.names], metadata, dtypes)
        repaired.index = synthetic.index
        synthetic = synthetic.assign(**{c: repaired[c] for c in metadata.names})
    distance = nearest_real_distance(real, synthetic, columns, metadata)
    keep = distance > 0
    remaining = distance[keep]
    n_drop = int(round(share * len(remaining)))
    if n_drop:
        # Sort by distance, then by index label: ties never depend on the row order.
        order = np.lexsort((_label_ranks(remaining.index), remaining.to_numpy()))
        keep[remaining.index[order[:n_drop]]] = False
    kept = synthetic.loc[keep.to_numpy()]
    return (kept, distance) if return_distances else kept


def _label_ranks(index: pd.Index) -> np.ndarray:
    """Rank of each index label among the labels (by their text when types are mixed)."""
    try:
        order = np.argsort(index.to_numpy(), kind="stable")
    except TypeError:
        order = np.argsort(index.astype(str).to_numpy(), kind="stable")
    ranks = np.empty(len(index), dtype=int)
    ranks[order] = np.arange(len(index))
    return ranks
