"""Fidelity: does the synthetic table look like the real one, column by column and pair by pair?

Every function takes the real table first and the synthetic table second, as
DataFrames with the same columns, and returns tidy results (one row per metric).

How columns are scored
----------------------
Each column is treated as **numeric** or **discrete** (see :func:`column_types`):

- continuous and datetime columns are numeric;
- binary and categorical columns are discrete;
- integer columns are discrete when the real column has at most ``max_levels``
  (default 10) distinct values (scores such as the Rankin scale, counts of
  comorbidities), and numeric otherwise (age, blood pressure, length of stay).

The reason: SDMetrics treats discrete columns as categorical, and a
Kolmogorov-Smirnov statistic on a column with a handful of tied levels measures the
jump of the CDF at one level, which is harder to read than "how much probability
mass sits on the wrong levels" (total variation). Pass ``max_levels=0`` to score
every integer column as numeric.

Per column (numeric): ``ks_complement``, ``wasserstein`` (normalised by the real
range), ``range_coverage``; (discrete): ``tv_complement``, ``category_coverage``;
(both): ``missing_rate_diff``.

Per pair: ``pearson_similarity`` and ``spearman_similarity`` (numeric-numeric),
``contingency_similarity`` (every pair; numeric columns binned into 10 bins on the
real data's range), ``cramers_v_similarity`` (discrete-discrete) and
``correlation_ratio_similarity`` (numeric-discrete).

The quality score (as in SDMetrics' Quality Report)
---------------------------------------------------
- **column shapes** = mean over columns of ``ks_complement`` (numeric) or
  ``tv_complement`` (discrete);
- **column pair trends** = mean over pairs of ``pearson_similarity`` (numeric-numeric)
  or ``contingency_similarity`` (any pair with a discrete column);
- **overall** = the mean of the two (column shapes alone when there is one column).

Pairs whose score cannot be computed (a constant column) are left out of the mean.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations

import numpy as np
import pandas as pd
from scipy import stats

from ..schema import Metadata, datetime_to_number
from .association import association_matrix, correlation_ratio, cramers_v  # noqa: F401  (re-exported)
from .cards import ideals
from .tables import check_tables, resolve_metadata, row_keys  # noqa: F401  (row_keys: re-exported)

PAIR_SEP = " | "
"""Separator of the two column names in the ``column`` field of a pair metric."""

def column_types(df: pd.DataFrame, metadata: Metadata | None = None, max_levels: int = 10) -> dict[str, str]:
    """``{column: "numeric" | "discrete"}``, the scoring type of each column (module docstring)."""
    meta = resolve_metadata(df, metadata)
    out = {}
    for name, spec in meta.columns.items():
        if spec.kind in ("continuous", "datetime"):
            out[name] = "numeric"
        elif spec.kind == "integer":
            out[name] = "discrete" if df[name].nunique() <= max_levels else "numeric"
        else:
            out[name] = "discrete"
    return out


def _numeric(s: pd.Series) -> np.ndarray:
    """Float values of a numeric, boolean or datetime series (NaN for missing)."""
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        return datetime_to_number(s)
    return pd.to_numeric(s, errors="raise").to_numpy(dtype=float)


# ---------------------------------------------------------------------------------------
# one column
# ---------------------------------------------------------------------------------------
def ks_complement(real: pd.Series, synthetic: pd.Series) -> float:
    """Kolmogorov-Smirnov complement of a numeric column.

    Metric card:
        definition: ``1 - D`` with ``D = max_x |F_real(x) - F_synth(x)|`` the two-sample
            Kolmogorov-Smirnov statistic of the non-missing values.
        range: 0 (disjoint supports) to 1 (same empirical distribution). Ideal: 1.
        fools it: only the marginal shape is compared; copying the training column or
            drawing it independently of every other column both score 1. Ignores missing
            values (see :func:`missing_rate_diff`).
        source: SDMetrics ``KSComplement`` (same value, tested).
    """
    a = np.sort(_numeric(pd.Series(real)))
    b = np.sort(_numeric(pd.Series(synthetic)))
    a, b = a[~np.isnan(a)], b[~np.isnan(b)]
    if len(a) == 0 or len(b) == 0:
        return float("nan")
    grid = np.concatenate([a, b])
    d = np.abs(np.searchsorted(a, grid, side="right") / len(a) - np.searchsorted(b, grid, side="right") / len(b))
    return float(1.0 - d.max())


def _frequencies(s: pd.Series) -> pd.Series:
    return s.dropna().value_counts(normalize=True, sort=False)


def tv_complement(real: pd.Series, synthetic: pd.Series) -> float:
    """Total-variation complement of a discrete column.

    Metric card:
        definition: ``1 - 0.5 * sum_k |p_real(k) - p_synth(k)|`` over the levels ``k``
            seen in either column, missing values left out.
        range: 0 (no shared level) to 1 (same frequencies). Ideal: 1.
        fools it: as for :func:`ks_complement`: marginals only.
        source: SDMetrics ``TVComplement`` (same value, tested).
    """
    p, q = _frequencies(pd.Series(real)), _frequencies(pd.Series(synthetic))
    if len(p) == 0 or len(q) == 0:
        return float("nan")
    p, q = p.align(q, fill_value=0.0)
    return float(1.0 - 0.5 * np.abs(p.to_numpy() - q.to_numpy()).sum())


def wasserstein(real: pd.Series, synthetic: pd.Series) -> float:
    """Normalised Wasserstein (earth mover's) distance of a numeric column.

    Metric card:
        definition: the 1-Wasserstein distance between the two empirical distributions
            of non-missing values, divided by the real column's range (max - min), so
            it reads as "average shift, as a share of the range".
        range: 0 to about 1 (can exceed 1 when synthetic values leave the real range).
            Ideal: 0.
        fools it: marginals only; unlike the KS statistic it grows with how *far* mass
            is moved, so a small share of wild values weighs more here.
        source: Villani, *Optimal Transport* (2009); ``scipy.stats.wasserstein_distance``.
    """
    a, b = _numeric(pd.Series(real)), _numeric(pd.Series(synthetic))
    a, b = a[~np.isnan(a)], b[~np.isnan(b)]
    if len(a) == 0 or len(b) == 0:
        return float("nan")
    span = a.max() - a.min()
    d = stats.wasserstein_distance(a, b)
    if span == 0:
        return float(0.0 if d == 0 else np.nan)
    return float(d / span)


def missing_rate_diff(real: pd.Series, synthetic: pd.Series) -> float:
    """Absolute difference of the share of missing values.

    Metric card:
        definition: ``|mean(real is missing) - mean(synthetic is missing)|``.
        range: 0 to 1. Ideal: 0.
        fools it: says nothing about *which* rows are missing (missingness that
            depends on other columns).
        source: SDMetrics ``MissingValueSimilarity`` is ``1 -`` this value.
    """
    return float(abs(pd.Series(real).isna().mean() - pd.Series(synthetic).isna().mean()))


def range_coverage(real: pd.Series, synthetic: pd.Series) -> float:
    """Share of the real range that the synthetic column covers.

    Metric card:
        definition: ``1 - (max(0, min_s - min_r) + max(0, max_r - max_s)) / (max_r - min_r)``,
            clipped to [0, 1].
        range: 0 to 1. Ideal: 1.
        fools it: one extreme synthetic value covers the range; values outside the
            real range are not penalised (check bounds separately).
        source: SDMetrics ``RangeCoverage``.
    """
    a, b = _numeric(pd.Series(real)), _numeric(pd.Series(synthetic))
    a, b = a[~np.isnan(a)], b[~np.isnan(b)]
    if len(a) == 0 or len(b) == 0:
        return float("nan")
    lo, hi = a.min(), a.max()
    if hi == lo:
        return 1.0 if (b.min() <= lo <= b.max()) else 0.0
    gap = max(0.0, b.min() - lo) + max(0.0, hi - b.max())
    return float(np.clip(1.0 - gap / (hi - lo), 0.0, 1.0))


def category_coverage(real: pd.Series, synthetic: pd.Series) -> float:
    """Share of the real levels that appear at least once in the synthetic column.

    Metric card:
        definition: ``|levels(real) & levels(synthetic)| / |levels(real)|``, missing left out.
        range: 0 to 1. Ideal: 1.
        fools it: a level counts as covered with one row; rare categories (rare
            diagnoses) are the ones generators drop, so read it with :func:`tv_complement`.
        source: SDMetrics ``CategoryCoverage``.
    """
    r = set(pd.Series(real).dropna().unique())
    s = set(pd.Series(synthetic).dropna().unique())
    return float(len(r & s) / len(r)) if r else float("nan")


# ---------------------------------------------------------------------------------------
# pairs
# ---------------------------------------------------------------------------------------
def correlation_similarity(real: pd.DataFrame, synthetic: pd.DataFrame, method: str = "pearson") -> float:
    """Similarity of the correlation of two numeric columns.

    Metric card:
        definition: ``1 - |r_real - r_synth| / 2`` with ``r`` the Pearson (or Spearman)
            correlation of the rows where both columns are present.
        range: 0 (opposite perfect correlations) to 1 (same correlation). Ideal: 1.
        fools it: only linear (Pearson) or monotone (Spearman) association; two very
            different joint shapes can share a correlation.
        source: SDMetrics ``CorrelationSimilarity`` (same value, tested).
    """
    if method not in ("pearson", "spearman"):
        raise ValueError(f"method must be 'pearson' or 'spearman', got {method!r}")
    real, synthetic = check_tables(real, synthetic)
    if real.shape[1] != 2:
        raise ValueError(f"expected two columns, got {real.shape[1]}")
    r = _corr(real, method)
    s = _corr(synthetic, method)
    return float(1.0 - abs(r - s) / 2.0)


def _corr(df: pd.DataFrame, method: str) -> float:
    x = pd.DataFrame({c: _numeric(df[c]) for c in df.columns}).dropna()
    if len(x) < 2:
        return float("nan")
    return float(x.corr(method=method).iloc[0, 1])


def contingency_similarity(real: pd.DataFrame, synthetic: pd.DataFrame, numeric: Sequence[str] = (), bins: int = 10) -> float:
    """Similarity of the joint frequency table of two columns.

    Metric card:
        definition: ``1 - 0.5 * sum_ij |p_real(i, j) - p_synth(i, j)|``: the total
            variation complement of the two-way table. Missing is its own level;
            columns named in ``numeric`` are first cut into ``bins`` equal-width bins
            on the real column's range (outer bins open-ended).
        range: 0 to 1. Ideal: 1.
        fools it: binning hides structure within a bin; with many levels the table is
            sparse and even an independent real sample scores well below 1 (compare
            with the holdout reference).
        source: SDMetrics ``ContingencySimilarity`` (same value with
            ``num_rows_subsample=None``, tested).
    """
    real, synthetic = check_tables(real, synthetic)
    if real.shape[1] != 2:
        raise ValueError(f"expected two columns, got {real.shape[1]}")
    codes_r, codes_s = [], []
    for c in real.columns:
        if c in numeric:
            a, b = _bin(_numeric(real[c]), _numeric(synthetic[c]), bins)
        else:
            a, b = _codes(real[c], synthetic[c])
        codes_r.append(a)
        codes_s.append(b)
    return _contingency_score(codes_r[0], codes_r[1], codes_s[0], codes_s[1])


def _codes(real: pd.Series, synthetic: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Shared integer codes of two discrete columns; missing gets the last code."""
    both = pd.concat([real.astype(object), synthetic.astype(object)], ignore_index=True)
    codes, uniques = pd.factorize(both, use_na_sentinel=True)
    codes = np.where(codes < 0, len(uniques), codes)
    return codes[: len(real)], codes[len(real) :]


def _bin(real: np.ndarray, synthetic: np.ndarray, bins: int) -> tuple[np.ndarray, np.ndarray]:
    """Equal-width bins on the real range, open at both ends (missing -> its own bin)."""
    edges = np.histogram_bin_edges(real[~np.isnan(real)], bins=bins)
    edges[0], edges[-1] = -np.inf, np.inf
    return np.digitize(real, edges), np.digitize(synthetic, edges)


def _contingency_score(a_r: np.ndarray, b_r: np.ndarray, a_s: np.ndarray, b_s: np.ndarray) -> float:
    ka = int(max(a_r.max(), a_s.max())) + 1
    kb = int(max(b_r.max(), b_s.max())) + 1
    p = np.bincount(a_r * kb + b_r, minlength=ka * kb) / len(a_r)
    q = np.bincount(a_s * kb + b_s, minlength=ka * kb) / len(a_s)
    return float(1.0 - 0.5 * np.abs(p - q).sum())


# ---------------------------------------------------------------------------------------
# whole tables
# ---------------------------------------------------------------------------------------
def _prepare(real, synthetic, metadata, max_levels):
    real, synthetic = check_tables(real, synthetic)
    meta = resolve_metadata(real, metadata)
    types = column_types(real, meta, max_levels)
    return real, synthetic, types


def column_metrics(
    real: pd.DataFrame, synthetic: pd.DataFrame, metadata: Metadata | None = None, max_levels: int = 10
) -> pd.DataFrame:
    """Per-column fidelity: one row per (metric, column) with ``value`` and ``ideal``.

    Numeric columns get ``ks_complement``, ``wasserstein``, ``range_coverage``;
    discrete columns ``tv_complement``, ``category_coverage``; every column
    ``missing_rate_diff``. See the module docstring for numeric vs discrete.
    """
    real, synthetic, types = _prepare(real, synthetic, metadata, max_levels)
    return _column_rows(real, synthetic, types)


def _column_rows(real, synthetic, types) -> pd.DataFrame:
    rows = []
    for c, t in types.items():
        r, s = real[c], synthetic[c]
        if t == "numeric":
            funcs = (ks_complement, wasserstein, range_coverage)
        else:
            funcs = (tv_complement, category_coverage)
        for f in (*funcs, missing_rate_diff):
            rows.append((f.__name__, c, f(r, s)))
    out = pd.DataFrame(rows, columns=["metric", "column", "value"])
    out["ideal"] = ideals(out["metric"])
    return out


def pair_metrics(
    real: pd.DataFrame,
    synthetic: pd.DataFrame,
    metadata: Metadata | None = None,
    max_levels: int = 10,
    bins: int = 10,
) -> pd.DataFrame:
    """Per-pair fidelity: one row per (metric, pair); ``column`` is ``"a | b"``.

    Numeric pairs: ``pearson_similarity``, ``spearman_similarity``,
    ``contingency_similarity`` (binned). Discrete pairs: ``contingency_similarity``,
    ``cramers_v_similarity``. Mixed pairs: ``contingency_similarity`` (numeric column
    binned), ``correlation_ratio_similarity``. The association similarities are
    ``1 - |a_real - a_synth|`` (both measures lie in [0, 1]).
    """
    real, synthetic, types = _prepare(real, synthetic, metadata, max_levels)
    return _pair_rows(real, synthetic, types, bins)


def _pair_rows(real, synthetic, types, bins) -> pd.DataFrame:
    cols = list(types)
    numeric = [c for c in cols if types[c] == "numeric"]
    num_r = {c: _numeric(real[c]) for c in numeric}
    num_s = {c: _numeric(synthetic[c]) for c in numeric}
    # contingency codes: discrete -> shared codes, numeric -> bins on the real range
    cr, cs = {}, {}
    # association codes: discrete columns only, with missing as -1
    ar, as_ = {}, {}
    for c in cols:
        if types[c] == "numeric":
            cr[c], cs[c] = _bin(num_r[c], num_s[c], bins)
        else:
            cr[c], cs[c] = _codes(real[c], synthetic[c])
            ar[c] = np.where(real[c].isna().to_numpy(), -1, cr[c])
            as_[c] = np.where(synthetic[c].isna().to_numpy(), -1, cs[c])
    corr = {}
    if len(numeric) > 1:
        for method in ("pearson", "spearman"):
            corr[method] = (pd.DataFrame(num_r).corr(method=method), pd.DataFrame(num_s).corr(method=method))
    rows = []
    for a, b in combinations(cols, 2):
        pair = f"{a}{PAIR_SEP}{b}"
        ta, tb = types[a], types[b]
        if ta == tb == "numeric":
            for method in ("pearson", "spearman"):
                r, s = corr[method][0].loc[a, b], corr[method][1].loc[a, b]
                rows.append((f"{method}_similarity", pair, 1.0 - abs(r - s) / 2.0))
        rows.append(("contingency_similarity", pair, _contingency_score(cr[a], cr[b], cs[a], cs[b])))
        if ta == tb == "discrete":
            v_r, v_s = cramers_v(ar[a], ar[b]), cramers_v(as_[a], as_[b])
            rows.append(("cramers_v_similarity", pair, 1.0 - abs(v_r - v_s)))
        elif ta != tb:
            x, g = (a, b) if ta == "numeric" else (b, a)
            e_r, e_s = correlation_ratio(num_r[x], ar[g]), correlation_ratio(num_s[x], as_[g])
            rows.append(("correlation_ratio_similarity", pair, 1.0 - abs(e_r - e_s)))
    out = pd.DataFrame(rows, columns=["metric", "column", "value"])
    out["value"] = out["value"].astype(float)
    out["ideal"] = ideals(out["metric"])
    return out


def _quality(col_rows: pd.DataFrame, pair_rows: pd.DataFrame, types: dict[str, str]) -> dict[str, float]:
    shapes = col_rows[col_rows["metric"].isin(["ks_complement", "tv_complement"])]["value"]
    numeric_pairs = {
        f"{a}{PAIR_SEP}{b}" for a, b in combinations(types, 2) if types[a] == types[b] == "numeric"
    }
    trend_mask = (pair_rows["metric"] == "pearson_similarity") | (
        (pair_rows["metric"] == "contingency_similarity") & ~pair_rows["column"].isin(numeric_pairs)
    )
    trends = pair_rows[trend_mask]["value"]
    shape = float(np.nanmean(shapes)) if shapes.notna().any() else float("nan")
    trend = float(np.nanmean(trends)) if trends.notna().any() else float("nan")
    overall = shape if np.isnan(trend) else float(np.mean([shape, trend]))
    return {"column_shapes": shape, "column_pair_trends": trend, "overall": overall}


def quality_score(
    real: pd.DataFrame, synthetic: pd.DataFrame, metadata: Metadata | None = None, max_levels: int = 10
) -> dict[str, float]:
    """The aggregated fidelity score: ``{"column_shapes", "column_pair_trends", "overall"}``.

    Metric card:
        definition: column shapes = mean KS / TV complement over columns; column pair
            trends = mean Pearson correlation similarity (numeric pairs) or
            contingency similarity (other pairs); overall = mean of the two.
        range: 0 to 1. Ideal: 1, but an independent real sample (the holdout) scores
            below 1 by sampling noise alone: that is the honest ceiling.
        fools it: copying the training rows scores 1 (check privacy); it averages
            hundreds of pairs, so one broken clinical relationship barely moves it.
        source: SDMetrics Quality Report (single table), same aggregation.
    """
    real, synthetic, types = _prepare(real, synthetic, metadata, max_levels)
    return _quality(_column_rows(real, synthetic, types), _pair_rows(real, synthetic, types, 10), types)


def fidelity_report(
    real: pd.DataFrame, synthetic: pd.DataFrame, metadata: Metadata | None = None, max_levels: int = 10
) -> pd.DataFrame:
    """Every fidelity metric in one tidy table: ``metric, column, value, ideal``.

    Column rows, pair rows (``column`` = ``"a | b"``), then three summary rows
    (``column_shapes``, ``column_pair_trends``, ``quality_score``) with ``column`` None.
    """
    real, synthetic, types = _prepare(real, synthetic, metadata, max_levels)
    return fidelity_rows(real, synthetic, types)


def fidelity_rows(real: pd.DataFrame, synthetic: pd.DataFrame, types: dict[str, str]) -> pd.DataFrame:
    """:func:`fidelity_report` of tables already checked, with their scoring ``types`` (see :func:`column_types`)."""
    col_rows = _column_rows(real, synthetic, types)
    pair_rows = _pair_rows(real, synthetic, types, 10)
    q = _quality(col_rows, pair_rows, types)
    summary = pd.DataFrame(
        {
            "metric": ["column_shapes", "column_pair_trends", "quality_score"],
            "column": [None, None, None],
            "value": [q["column_shapes"], q["column_pair_trends"], q["overall"]],
            "ideal": ideals(["column_shapes", "column_pair_trends", "quality_score"]),
        }
    )
    return pd.concat([col_rows, pair_rows, summary], ignore_index=True)
