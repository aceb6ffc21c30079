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
  ones): :class:`Inequality`, :class:`FixedCombinations` (only the listed combinations
  of a few categorical columns) and :class:`BoundedSum` (a total of parts plus a part the
  table does not hold);
- :class:`SurvivalPair` (time within ``[0, limit]`` where the limit is a maximum
  follow-up and/or each patient's own possible follow-up under administrative
  censoring): a drawn time past its limit is censored there, as the study would have
  censored that patient; what cannot be repaired (a negative time, an event flag that
  is not 0 or 1) is rejected.

:func:`discover_constraints` proposes the derived columns and inequalities that hold in
every training row; the user reads them and accepts the ones that are real rules with
``metadata.with_constraints([...])``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from .values import python_scalar


def _numbers(df: pd.DataFrame, col: str) -> np.ndarray:
    return pd.to_numeric(df[col], errors="coerce").to_numpy(dtype=float)


def _sum_of(df: pd.DataFrame, cols: list[str]) -> np.ndarray:
    """Row sums of ``cols`` as floats (NaN where a part is missing)."""
    return np.sum([_numbers(df, c) for c in cols], axis=0)


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
        """Rebuild the derived columns in place and return ``df`` (a check-only rule leaves it
        unchanged unless it can repair a row, as :class:`SurvivalPair` censors a late time)."""
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
        return _sum_of(df, self.sources)

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
class BoundedSum(Constraint):
    """``column`` is the sum of ``sources`` plus a part the table does not hold, between ``low`` and ``high``.

    The NIHSS total on arrival is the sum of the score's items; a table that keeps all the
    items but item 1a (level of consciousness, 0-3) has ``total - sum(items)`` between 0
    and 3 in every row. The hidden part cannot be rebuilt, so the rule is kept by rejection.
    """

    column: str
    sources: list[str]
    low: float
    high: float
    rule: ClassVar[str] = "bounded_sum"

    def __post_init__(self) -> None:
        self.sources = list(self.sources)
        if not self.low <= self.high:
            raise ValueError(f"bounded sum of {self.column!r}: low ({self.low}) must not exceed high ({self.high})")

    def columns(self) -> list[str]:
        """The total and its parts."""
        return [self.column, *self.sources]

    def holds(self, df: pd.DataFrame) -> np.ndarray:
        """Rows where the total minus the parts lies in ``[low, high]``."""
        rest = _numbers(df, self.column) - _sum_of(df, self.sources)
        return np.isnan(rest) | ((rest >= self.low - 1e-9) & (rest <= self.high + 1e-9))

    def describe(self) -> str:
        """``column = a + b + ... + [low, high]``."""
        return f"{self.column} = " + " + ".join(self.sources) + f" + a part from {self.low:g} to {self.high:g}"


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

    With ``censor_at_limit`` (the default) a generated row whose time runs past its
    limit is not thrown away but censored at the limit (``time = limit``,
    ``event = 0``): a patient whose event would come after the end of the study is seen
    event-free at its end, which is how the real censored times at the limit arose.
    Set it to ``False`` when the limit is not an end of follow-up, and such rows are
    rejected instead.
    """

    time: str
    event: str
    max_followup: float | None = None
    followup: str | None = None
    censor_at_limit: bool = True
    rule: ClassVar[str] = "survival"

    def columns(self) -> list[str]:
        """Time, event and the follow-up column when there is one."""
        return [self.time, self.event, *([self.followup] if self.followup else [])]

    def _limit(self, df: pd.DataFrame) -> np.ndarray:
        limit = np.full(len(df), np.inf if self.max_followup is None else float(self.max_followup))
        if self.followup is not None:
            limit = np.fmin(limit, _numbers(df, self.followup))
        return limit

    def holds(self, df: pd.DataFrame) -> np.ndarray:
        """Rows with a valid event flag and a time within the possible follow-up."""
        t, e = _numbers(df, self.time), _numbers(df, self.event)
        ok = (t >= 0) & (t <= self._limit(df)) & np.isin(e, (0.0, 1.0))
        return np.isnan(t) | np.isnan(e) | ok

    def apply(self, df: pd.DataFrame) -> pd.DataFrame:
        """Censor at its limit every row whose time runs past it (with ``censor_at_limit``)."""
        if not self.censor_at_limit:
            return df
        t, e, limit = _numbers(df, self.time), _numbers(df, self.event), self._limit(df)
        late = (t > limit) & np.isfinite(limit) & (limit >= 0) & np.isin(e, (0.0, 1.0))
        if late.any():
            _put(df, self.time, np.where(late, limit, np.nan))
            _put(df, self.event, np.where(late, 0.0, np.nan))
        return df

    def describe(self) -> str:
        """``(time, event)`` with its limits."""
        limits = [f"<= {self.max_followup:g}" if self.max_followup is not None else "",
                  f"<= {self.followup}" if self.followup else ""]
        return f"survival ({self.time}, {self.event}): 0 <= {self.time} " + " and ".join(x for x in limits if x)


@dataclass
class FixedCombinations(Constraint):
    """Only the listed combinations of ``columns`` may occur, e.g. no pregnant male patient.

    ``combinations`` lists the allowed value tuples (in the order of ``columns``); any
    other combination is rejected. Kept by rejection.
    """

    column_names: list[str]
    combinations: list[list[Any]]
    rule: ClassVar[str] = "combinations"

    def __post_init__(self) -> None:
        self.column_names = list(self.column_names)
        if len(self.column_names) < 2:
            raise ValueError(f"FixedCombinations needs two or more columns, got {self.column_names}")
        self.combinations = [list(c) for c in self.combinations]
        for combo in self.combinations:
            if len(combo) != len(self.column_names):
                raise ValueError(f"FixedCombinations on {self.column_names}: the combination {combo} "
                                 f"has {len(combo)} values, expected {len(self.column_names)}")

    def columns(self) -> list[str]:
        """The columns whose combination is restricted."""
        return list(self.column_names)

    def holds(self, df: pd.DataFrame) -> np.ndarray:
        """Rows whose combination is one of the allowed ones."""
        allowed = {tuple(_plain(v) for v in combo) for combo in self.combinations}
        values = [df[c].to_numpy(dtype=object) for c in self.column_names]
        missing = np.zeros(len(df), dtype=bool)
        for v in values:
            missing |= pd.isna(v)
        seen = [tuple(_plain(x) for x in row) in allowed for row in zip(*values, strict=True)]
        return missing | np.asarray(seen, dtype=bool)

    def describe(self) -> str:
        """``(a, b) in {(x, y), ...}``."""
        combos = ", ".join("(" + ", ".join(map(str, c)) + ")" for c in self.combinations)
        return f"({', '.join(self.column_names)}) in {{{combos}}}"


def _plain(value: Any) -> Any:
    """A value as JSON would give it back (numpy scalars and floats that are whole become ints)."""
    value = python_scalar(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


RULES: dict[str, type[Constraint]] = {
    c.rule: c for c in (SumOf, BoundedSum, Threshold, Bins, Inequality, SurvivalPair, FixedCombinations)
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
    """Rebuild every derived column (sums first, then thresholds, then bins), then let the
    checked rules repair what they can (a survival time past its limit is censored there);
    returns ``df``."""
    constraints = list(constraints)
    for c in sorted((c for c in constraints if c.derived), key=lambda c: c.order):
        df = c.apply(df)
    for c in constraints:
        if not c.derived:
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


from .constraint_discovery import discover_constraints  # noqa: E402, F401  (it builds on the rules above)
