"""Association between two columns on one scale, whatever their kinds.

Pearson correlation for two numeric columns, Cramér's V for two discrete ones and the
correlation ratio for a numeric and a discrete one: :func:`association_matrix` puts
them in one matrix (the correlation-difference plot shows it), and the fidelity pair
metrics compare them between a real and a synthetic table
(:mod:`course_utils.evaluation.fidelity`).
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd

from ..schema import Metadata


def cramers_v(a: np.ndarray, b: np.ndarray) -> float:
    """Cramér's V of two code arrays (negative codes = missing, left out); NaN if a column is constant."""
    keep = (a >= 0) & (b >= 0)
    a, b = a[keep], b[keep]
    if len(a) == 0:
        return float("nan")
    _, a = np.unique(a, return_inverse=True)
    _, b = np.unique(b, return_inverse=True)
    r, c = a.max() + 1, b.max() + 1
    if min(r, c) < 2:
        return float("nan")
    table = np.bincount(a * c + b, minlength=r * c).reshape(r, c).astype(float)
    n = table.sum()
    expected = np.outer(table.sum(1), table.sum(0)) / n
    chi2 = ((table - expected) ** 2 / expected).sum()
    return float(np.sqrt(chi2 / (n * (min(r, c) - 1))))


def correlation_ratio(x: np.ndarray, groups: np.ndarray) -> float:
    """Correlation ratio eta of a numeric ``x`` on group codes (missing left out); NaN if ``x`` is constant."""
    keep = ~np.isnan(x) & (groups >= 0)
    x, g = x[keep], groups[keep]
    if len(x) < 2:
        return float("nan")
    total = ((x - x.mean()) ** 2).sum()
    if total == 0:
        return float("nan")
    _, g = np.unique(g, return_inverse=True)
    n_g = np.bincount(g)
    mean_g = np.bincount(g, weights=x) / n_g
    between = (n_g * (mean_g - x.mean()) ** 2).sum()
    return float(np.sqrt(min(1.0, between / total)))


def association_matrix(
    df: pd.DataFrame,
    metadata: Metadata | None = None,
    max_levels: int = 10,
    types: dict[str, str] | None = None,
) -> pd.DataFrame:
    """Pairwise association of every column pair, on one scale.

    Pearson correlation for numeric pairs (in [-1, 1]), Cramér's V for discrete pairs
    and the correlation ratio for mixed pairs (both in [0, 1]); 1 on the diagonal.
    ``types`` (from :func:`column_types` of another table) fixes which columns are
    numeric, so a real and a synthetic table are scored alike. Used by
    :func:`course_utils.plotting.plot_correlation_difference`.
    """
    if not isinstance(df, pd.DataFrame) or df.empty:
        raise ValueError("association_matrix needs a non-empty DataFrame")
    from .fidelity import (  # fidelity scores pairs with this module's measures
        _numeric,
        column_types,
    )

    if types is None:
        types = column_types(df, metadata, max_levels)
    cols = list(df.columns)
    num = {c: _numeric(df[c]) for c in cols if types[c] == "numeric"}
    codes = {}
    for c in cols:
        if types[c] == "discrete":
            codes[c], _ = pd.factorize(df[c].astype(object), use_na_sentinel=True)
    out = pd.DataFrame(np.eye(len(cols)), index=cols, columns=cols)
    if num:
        out.loc[list(num), list(num)] = pd.DataFrame(num).corr().to_numpy()
    for a, b in combinations(cols, 2):
        ta, tb = types[a], types[b]
        if ta == tb == "numeric":
            continue
        if ta == tb == "discrete":
            v = cramers_v(codes[a], codes[b])
        elif ta == "numeric":
            v = correlation_ratio(num[a], codes[b])
        else:
            v = correlation_ratio(num[b], codes[a])
        out.loc[a, b] = out.loc[b, a] = v
    return out
