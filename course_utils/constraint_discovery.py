"""Proposing rules that hold in every training row: :func:`discover_constraints`.

Holding in one table does not make a rule real, so nothing found here is applied until the
user accepts it with ``metadata.with_constraints([...])``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import combinations
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .constraints import (
    Bins,
    Constraint,
    FixedCombinations,
    Inequality,
    SumOf,
    Threshold,
    _numbers,
    _plain,
)

if TYPE_CHECKING:
    from .schema import Metadata

MIN_EXPECTED = 10.0
"""A combination counts as impossible when it never occurs although independence predicts this many rows."""


@dataclass
class _Scan:
    df: pd.DataFrame
    metadata: Metadata
    numeric: list[str] = field(default_factory=list)
    binary: list[str] = field(default_factory=list)


def _thresholds(scan: _Scan) -> list[Threshold]:
    found = []
    grouped = {m for ms in scan.metadata.one_hot_groups.values() for m in ms}
    for b in scan.binary:
        if b in grouped:
            continue
        flag = _numbers(scan.df, b)
        best = None
        for x in scan.numeric:
            v = _numbers(scan.df, x)
            ok = ~np.isnan(v) & ~np.isnan(flag)
            ones, zeros = v[ok & (flag == 1)], v[ok & (flag == 0)]
            if len(ones) == 0 or len(zeros) == 0 or zeros.max() >= ones.min():
                continue
            gap = ones.min() - zeros.max()
            if best is None or gap < best[0]:
                best = (gap, Threshold(b, x, float(ones.min())))
        if best is not None:
            found.append(best[1])
    return found


def _sums(scan: _Scan, thresholds: list[Threshold]) -> list[SumOf]:
    found = []
    grouped = {m for ms in scan.metadata.one_hot_groups.values() for m in ms}
    flags_of = {}
    for t in thresholds:
        flags_of.setdefault(t.source, set()).add(t.column)
    for target in scan.numeric:
        if scan.metadata[target].kind != "integer":
            continue
        y = _numbers(scan.df, target)
        cands = []
        for b in scan.binary:
            if b in grouped or b in flags_of.get(target, set()):
                continue
            v = _numbers(scan.df, b)
            if np.all(v <= y):  # a term of a sum of 0/1 columns never exceeds the sum
                cands.append(b)
        if len(cands) >= 2 and np.allclose(np.sum([_numbers(scan.df, c) for c in cands], axis=0), y):
            found.append(SumOf(target, cands))
    return found


def _bins(scan: _Scan) -> list[Bins]:
    groups: list[tuple[str | None, list[Any], np.ndarray]] = []
    for members in scan.metadata.one_hot_groups.values():
        block = scan.df[members].to_numpy(dtype=float)
        groups.append((None, list(members), block.argmax(axis=1)))
    for name in scan.metadata.of_kind("categorical"):
        cats = list(scan.metadata[name].categories or [])
        codes = pd.Categorical(scan.df[name], categories=cats).codes
        if (codes < 0).any():
            continue
        groups.append((name, cats, codes))
    found = []
    for column, labels, codes in groups:
        for x in scan.numeric:
            v = _numbers(scan.df, x)
            if np.isnan(v).any() or len(np.unique(v)) <= len(labels):
                continue
            spans = []
            for k in range(len(labels)):
                vk = v[codes == k]
                if len(vk) == 0:
                    break
                spans.append((vk.min(), vk.max(), labels[k]))
            if len(spans) < len(labels):
                continue
            spans.sort(key=lambda s: s[0])
            if all(spans[i][1] < spans[i + 1][0] for i in range(len(spans) - 1)):
                found.append(Bins(x, [float(s[0]) for s in spans[1:]], [s[2] for s in spans], column))
                break
    return found


def _inequalities(scan: _Scan, derived: set[str]) -> list[Inequality]:
    found = []
    cols = [c for c in scan.numeric if c not in derived]
    values = {c: _numbers(scan.df, c) for c in cols}
    for a in cols:
        for b in cols:
            if a == b:
                continue
            va, vb = values[a], values[b]
            ok = ~np.isnan(va) & ~np.isnan(vb)
            if not ok.any():
                continue
            va, vb = va[ok], vb[ok]
            # a rule the bounds already imply (max a < min b) is not worth a constraint
            if np.all(va < vb) and va.max() >= vb.min():
                found.append(Inequality(a, b, strict=True))
    return found


def discover_constraints(df: pd.DataFrame, metadata: Metadata | None = None) -> list[Constraint]:
    """Propose rules that hold in every row of ``df``, for the user to read and accept.

    Looks for: 0/1 columns that are a threshold of a numeric column (``80+ = Age >=
    80``); whole-number columns that are the sum of 0/1 columns (a count of
    conditions); one-hot groups and categorical columns fully determined by intervals
    of a numeric column (severity groups of a score); strict inequalities between two
    numeric columns whose ranges overlap (``diasbp < sysbp``); pairs of categorical or 0/1
    columns with a combination that never occurs although independence predicts at
    least :data:`MIN_EXPECTED` rows (no pregnant men). Holding in one table
    does not make a rule real: accept only those that are true by definition or by
    biology, with ``metadata.with_constraints(rules)``.
    """
    from .schema import infer_metadata

    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"expected a pandas DataFrame, got {type(df).__name__}")
    metadata = infer_metadata(df) if metadata is None else metadata
    scan = _Scan(df.reset_index(drop=True), metadata)
    for name, spec in metadata.columns.items():
        if spec.kind == "binary":
            scan.binary.append(name)
        elif spec.kind in ("integer", "continuous") and df[name].nunique() > 2:
            scan.numeric.append(name)
    thresholds = _thresholds(scan)
    sums = _sums(scan, thresholds)
    bins = _bins(scan)
    derived = {t for c in (*sums, *thresholds, *bins) for t in c.targets()}
    return [*sums, *thresholds, *bins, *_inequalities(scan, derived), *_combinations(scan, derived)]


def _combinations(scan: _Scan, derived: set[str]) -> list[FixedCombinations]:
    """Pairs of categorical or 0/1 columns with a combination that never occurs although
    independence predicts at least :data:`MIN_EXPECTED` rows.

    A member of a one-hot group takes part as a 0/1 column (``Stroke Type_PIH`` and
    thrombolysis: never both), but never with a member of its own group (two members are
    never both 1 by definition), and of a group of two only the second member is used
    (the first is its complement and would give the same rule again).
    """
    group_of = {m: g for g, ms in scan.metadata.one_hot_groups.items() for m in ms}
    complements = {ms[0] for ms in scan.metadata.one_hot_groups.values() if len(ms) == 2}
    kinds = {*scan.binary, *scan.metadata.of_kind("categorical")}
    cols = [c for c in scan.df.columns  # in the table's order
            if c in kinds and c not in complements and c not in derived and scan.df[c].notna().all()]
    n = len(scan.df)
    found = []
    for a, b in combinations(cols, 2):
        if a in group_of and group_of[a] == group_of.get(b):
            continue
        table = pd.crosstab(scan.df[a], scan.df[b])
        expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / max(n, 1)
        absent = (table.to_numpy() == 0) & (expected >= MIN_EXPECTED)
        if absent.any():
            allowed = [[_plain(x), _plain(y)] for x in table.index for y in table.columns
                       if table.loc[x, y] > 0]
            found.append(FixedCombinations([a, b], allowed))
    return found
