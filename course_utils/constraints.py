"""Rules between columns that every synthetic row must obey.

Clinical tables are full of them: ``80+`` is ``Age >= 80``, ``# Comorbidities`` is the
sum of five condition columns, the stroke-severity group is a binning of the NIHSS
score, diastolic pressure is below systolic, and a survival time cannot run past the
end of the study. A generator that breaks one in a few per cent of rows is spotted at
once by a classifier (and by a clinician), so the rules live in the table's
:class:`~course_utils.schema.Metadata` (``metadata.constraints``) in the style of SDV:

- derived columns, rebuilt from their sources after sampling (by construction):
  :class:`SumOf`, :class:`Threshold`, :class:`Bins` (a categorical column or a one-hot
  group chosen by intervals of a numeric column);
- rules that can only be checked, kept by rejection (draw more rows, keep the valid
  ones): :class:`Inequality` and :class:`SurvivalPair` (time within ``[0, limit]``
  where the limit is a maximum follow-up and/or each patient's own possible follow-up
  under administrative censoring).

:func:`discover_constraints` proposes the derived columns and inequalities that hold in
every training row; the user reads them and accepts the ones that are real rules with
``metadata.with_constraints([...])``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from .schema import Metadata


def _numbers(df: pd.DataFrame, col: str) -> np.ndarray:
    return pd.to_numeric(df[col], errors="coerce").to_numpy(dtype=float)


def _put(df: pd.DataFrame, col: str, values: np.ndarray) -> None:
    """Write derived numbers into ``col``, keeping its dtype and values where a source was missing."""
    old = _numbers(df, col)
    new = np.where(np.isnan(values), old, values)
    dtype = df[col].dtype
    if np.isnan(new).any():
        df[col] = pd.array(np.where(np.isnan(new), None, new).tolist(), dtype="Float64")
    elif pd.api.types.is_bool_dtype(dtype):
        df[col] = new > 0.5
    else:
        df[col] = new.astype(dtype)


@dataclass
class Constraint:
    """A rule between columns. Subclasses say which columns and how to check or rebuild them."""

    rule: ClassVar[str] = ""
    derived: ClassVar[bool] = False
    order: ClassVar[int] = 9  # derived rules run in this order: sums before what uses them

    def columns(self) -> list[str]:
        """Every column the rule reads or writes."""
        raise NotImplementedError

    def targets(self) -> list[str]:
        """The columns the rule writes (derived rules only)."""
        return []

    def holds(self, df: pd.DataFrame) -> np.ndarray:
        """Boolean per row: does the rule hold (rows with a missing input count as holding)."""
        raise NotImplementedError

    def apply(self, df: pd.DataFrame) -> pd.DataFrame:
        """Rebuild the derived columns in place and return ``df`` (check-only rules: unchanged)."""
        return df

    def describe(self) -> str:
        """The rule in one line."""
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly dict; :func:`constraint_from_dict` reads it back."""
        return {"rule": self.rule, **asdict(self)}

    def __str__(self) -> str:
        return self.describe()


@dataclass
class SumOf(Constraint):
    """``column`` is the sum of ``sources`` (e.g. a count of conditions)."""

    column: str
    sources: list[str]
    rule: ClassVar[str] = "sum"
    derived: ClassVar[bool] = True
    order: ClassVar[int] = 0

    def columns(self) -> list[str]:
        """The target and its sources."""
        return [self.column, *self.sources]

    def targets(self) -> list[str]:
        """The sum column."""
        return [self.column]

    def _value(self, df: pd.DataFrame) -> np.ndarray:
        return np.sum([_numbers(df, s) for s in self.sources], axis=0)

    def holds(self, df: pd.DataFrame) -> np.ndarray:
        """Rows where the column equals the sum."""
        v, x = self._value(df), _numbers(df, self.column)
        return np.isnan(v) | np.isnan(x) | np.isclose(v, x)

    def apply(self, df: pd.DataFrame) -> pd.DataFrame:
        """Recompute the sum."""
        _put(df, self.column, self._value(df))
        return df

    def describe(self) -> str:
        """``column = a + b + ...``."""
        return f"{self.column} = " + " + ".join(self.sources)


@dataclass
class Threshold(Constraint):
    """``column`` is 1 when ``source >= threshold``, else 0 (e.g. ``80+ = Age >= 80``)."""

    column: str
    source: str
    threshold: float
    rule: ClassVar[str] = "threshold"
    derived: ClassVar[bool] = True
    order: ClassVar[int] = 1

    def columns(self) -> list[str]:
        """The 0/1 column and its source."""
        return [self.column, self.source]

    def targets(self) -> list[str]:
        """The 0/1 column."""
        return [self.column]

    def _value(self, df: pd.DataFrame) -> np.ndarray:
        s = _numbers(df, self.source)
        return np.where(np.isnan(s), np.nan, (s >= self.threshold).astype(float))

    def holds(self, df: pd.DataFrame) -> np.ndarray:
        """Rows where the flag matches the threshold."""
        v, x = self._value(df), _numbers(df, self.column)
        return np.isnan(v) | np.isnan(x) | (v == x)

    def apply(self, df: pd.DataFrame) -> pd.DataFrame:
        """Recompute the flag."""
        _put(df, self.column, self._value(df))
        return df

    def describe(self) -> str:
        """``column = source >= t``."""
        return f"{self.column} = {self.source} >= {self.threshold:g}"


@dataclass
class Bins(Constraint):
    """A group chosen by intervals of ``source``: label ``k`` when ``edges[k-1] <= source < edges[k]``.

    With ``column`` set, ``labels`` are the categories of that categorical column;
    without it, ``labels`` are the 0/1 columns of a one-hot group (the chosen one is 1,
    the others 0). ``edges`` are the lower ends of every label but the first.
    """

    source: str
    edges: list[float]
    labels: list[Any]
    column: str | None = None
    rule: ClassVar[str] = "bins"
    derived: ClassVar[bool] = True
    order: ClassVar[int] = 2

    def __post_init__(self) -> None:
        if len(self.labels) != len(self.edges) + 1:
            raise ValueError(f"bins of {self.source!r}: {len(self.labels)} labels need {len(self.labels) - 1} edges")
        if list(self.edges) != sorted(self.edges):
            raise ValueError(f"bins of {self.source!r}: edges must increase, got {self.edges}")

    def columns(self) -> list[str]:
        """The source and the group's column(s)."""
        return [self.source, *([self.column] if self.column is not None else self.labels)]

    def targets(self) -> list[str]:
        """The categorical column or the one-hot columns."""
        return [self.column] if self.column is not None else list(self.labels)

    def _index(self, df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        s = _numbers(df, self.source)
        return np.searchsorted(np.asarray(self.edges, dtype=float), s, side="right"), np.isnan(s)

    def holds(self, df: pd.DataFrame) -> np.ndarray:
        """Rows whose group is the one the source's value falls in."""
        k, missing = self._index(df)
        k = np.minimum(k, len(self.labels) - 1)
        if self.column is not None:
            expected = np.asarray(self.labels, dtype=object)[k]
            col = df[self.column].to_numpy(dtype=object)
            return missing | pd.isna(col) | (col == expected)
        block = np.column_stack([_numbers(df, m) for m in self.labels])
        onehot = np.eye(len(self.labels))[k]
        return missing | np.isnan(block).any(axis=1) | (block == onehot).all(axis=1)

    def apply(self, df: pd.DataFrame) -> pd.DataFrame:
        """Set the group from the source."""
        k, missing = self._index(df)
        if self.column is not None:
            new = np.asarray(self.labels, dtype=object)[np.minimum(k, len(self.labels) - 1)]
            col = df[self.column]
            values = np.where(missing, col.to_numpy(dtype=object), new)
            if isinstance(col.dtype, pd.CategoricalDtype):
                df[self.column] = pd.Categorical(values, categories=col.dtype.categories, ordered=col.dtype.ordered)
            else:
                df[self.column] = pd.Series(values, index=df.index).astype(col.dtype)
            return df
        for j, m in enumerate(self.labels):
            _put(df, m, np.where(missing, np.nan, (k == j).astype(float)))
        return df

    def describe(self) -> str:
        """``group = bins of source at e1, e2, ...``."""
        target = self.column if self.column is not None else "[" + ", ".join(map(str, self.labels)) + "]"
        return f"{target} = bins of {self.source} with lower edges {', '.join(f'{e:g}' for e in self.edges)}"


@dataclass
class Inequality(Constraint):
    """``low < high`` (or ``<=`` when ``strict=False``) in every row, e.g. ``diasbp < sysbp``."""

    low: str
    high: str
    strict: bool = True
    rule: ClassVar[str] = "inequality"

    def columns(self) -> list[str]:
        """The two columns."""
        return [self.low, self.high]

    def holds(self, df: pd.DataFrame) -> np.ndarray:
        """Rows where the inequality holds."""
        a, b = _numbers(df, self.low), _numbers(df, self.high)
        ok = a < b if self.strict else a <= b
        return np.isnan(a) | np.isnan(b) | ok

    def describe(self) -> str:
        """``low < high``."""
        return f"{self.low} {'<' if self.strict else '<='} {self.high}"


@dataclass
class SurvivalPair(Constraint):
    """A follow-up ``time`` and its ``event`` flag (1 = event seen, 0 = censored).

    ``0 <= time <= limit`` in every row, where the limit is ``max_followup`` (the
    longest follow-up of the study) and, when ``followup`` names a column, that row's
    own possible follow-up (time from enrolment to the end of the study:
    administrative censoring). ``event`` must be 0 or 1.
    """

    time: str
    event: str
    max_followup: float | None = None
    followup: str | None = None
    rule: ClassVar[str] = "survival"

    def columns(self) -> list[str]:
        """Time, event and the follow-up column when there is one."""
        return [self.time, self.event, *([self.followup] if self.followup else [])]

    def holds(self, df: pd.DataFrame) -> np.ndarray:
        """Rows with a valid event flag and a time within the possible follow-up."""
        t, e = _numbers(df, self.time), _numbers(df, self.event)
        limit = np.full(len(df), np.inf if self.max_followup is None else float(self.max_followup))
        if self.followup is not None:
            limit = np.fmin(limit, _numbers(df, self.followup))
        ok = (t >= 0) & (t <= limit) & np.isin(e, (0.0, 1.0))
        return np.isnan(t) | np.isnan(e) | ok

    def describe(self) -> str:
        """``(time, event)`` with its limits."""
        limits = [f"<= {self.max_followup:g}" if self.max_followup is not None else "",
                  f"<= {self.followup}" if self.followup else ""]
        return f"survival ({self.time}, {self.event}): 0 <= {self.time} " + " and ".join(x for x in limits if x)


RULES: dict[str, type[Constraint]] = {
    c.rule: c for c in (SumOf, Threshold, Bins, Inequality, SurvivalPair)
}


def constraint_from_dict(d: Mapping[str, Any]) -> Constraint:
    """Rebuild a constraint from :meth:`Constraint.to_dict` output."""
    d = dict(d)
    rule = d.pop("rule", None)
    if rule not in RULES:
        raise ValueError(f"unknown constraint rule {rule!r}; known: {sorted(RULES)}")
    return RULES[rule](**d)


def check_constraint_columns(constraint: Constraint, names: Iterable[str]) -> None:
    """Raise ``ValueError`` naming the rule and column when a rule uses a column not in the table."""
    if not isinstance(constraint, Constraint):
        raise TypeError(f"a constraint must be a course_utils Constraint, got {type(constraint).__name__}")
    names = set(names)
    for c in constraint.columns():
        if c not in names:
            raise ValueError(f"constraint '{constraint}': column {c!r} is not in the table")


def apply_constraints(df: pd.DataFrame, constraints: Iterable[Constraint]) -> pd.DataFrame:
    """Rebuild every derived column (sums first, then thresholds, then bins); returns ``df``."""
    for c in sorted((c for c in constraints if c.derived), key=lambda c: c.order):
        df = c.apply(df)
    return df


def rows_satisfying(df: pd.DataFrame, constraints: Iterable[Constraint]) -> np.ndarray:
    """Boolean per row: does every constraint hold."""
    ok = np.ones(len(df), dtype=bool)
    for c in constraints:
        ok &= c.holds(df)
    return ok


def constraint_violations(df: pd.DataFrame, constraints: Iterable[Constraint]) -> dict[str, int]:
    """``{rule: number of rows breaking it}`` for each constraint."""
    return {str(c): int((~c.holds(df)).sum()) for c in constraints}


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
    numeric columns whose ranges overlap (``diasbp < sysbp``). Holding in one table
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
    return [*sums, *thresholds, *bins, *_inequalities(scan, derived)]
