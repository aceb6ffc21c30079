"""Values of one column: dates as numbers, whole numbers, decimals, and the table check.

The helpers every other module shares (:mod:`course_utils.schema` re-exports them):
the one conversion of dates to numbers and back, the check that a table is a usable
DataFrame, and the precision rule that learns how many decimals a column is stored with.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

MAX_DECIMALS = 6

TIME_UNITS: dict[str, int] = {"ns": 1, "s": 10**9, "day": 86_400 * 10**9}
"""Units of :func:`datetime_to_number`, in nanoseconds."""


def datetime_to_number(values: Any, unit: str = "ns") -> np.ndarray:
    """Dates as float time since 1970-01-01 in ``unit`` (``"ns"``, ``"s"`` or ``"day"``); NaN if missing.

    The one conversion of a datetime column to numbers: encoders, metrics and
    generators all go through it, and :func:`number_to_datetime` goes back.
    """
    if unit not in TIME_UNITS:
        raise ValueError(f"unit must be one of {sorted(TIME_UNITS)}, got {unit!r}")
    ts = pd.Series(pd.to_datetime(values, errors="coerce"))
    out = ts.to_numpy(dtype="datetime64[ns]").astype("int64").astype(float)
    out[ts.isna().to_numpy()] = np.nan
    return out if unit == "ns" else out / TIME_UNITS[unit]


def number_to_datetime(values: Any, unit: str = "ns") -> np.ndarray:
    """Inverse of :func:`datetime_to_number`: rounded to the nanosecond, NaT where NaN."""
    x = np.asarray(values, dtype=float)
    if unit != "ns":
        x = x * TIME_UNITS[unit]
    missing = np.isnan(x)
    out = np.where(missing, 0, np.round(x)).astype("int64").astype("datetime64[ns]")
    out[missing] = np.datetime64("NaT")
    return out


def python_scalar(value: Any) -> Any:
    """A numpy scalar as the plain Python value (``np.int64(3)`` -> ``3``); anything else unchanged.

    For values that go into JSON, dict keys or a third-party library's validation.
    """
    return value.item() if isinstance(value, np.generic) else value


def column_numbers(series: pd.Series, kind: str) -> np.ndarray:
    """Float values of a numeric or datetime column of ``kind`` (NaN where missing or unreadable)."""
    if kind == "datetime":
        return datetime_to_number(series)
    return pd.to_numeric(series, errors="coerce").to_numpy(dtype=float)


def require_frame(df: Any, what: str = "table") -> pd.DataFrame:
    """Raise a clear error unless ``df`` is a DataFrame with rows, columns and unique names.

    ``what`` names the table in the message ("training table", "holdout", ...).
    """
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"the {what} must be a pandas DataFrame, got {type(df).__name__}")
    if df.shape[1] == 0:
        raise ValueError(f"the {what} has no columns")
    if len(df) == 0:
        raise ValueError(f"the {what} is empty (0 rows)")
    if df.columns.duplicated().any():
        raise ValueError(f"the {what} has duplicate column names: {list(df.columns[df.columns.duplicated()])}")
    return df


def _is_whole(values: np.ndarray) -> bool:
    return bool(np.all(np.isfinite(values)) and np.all(np.mod(values, 1) == 0))


def learn_decimals(values: Any, max_decimals: int = MAX_DECIMALS) -> int | None:
    """The fewest decimals (0 to ``max_decimals``) that reproduce every finite value, else None.

    The rule of RDT's ``FloatFormatter(learn_rounding_scheme=True)``: lab values stored
    as ``4.7`` or ``0.125`` give 1 and 3; a column of computed ratios gives None.
    """
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if len(v) == 0:
        return None
    scale = np.maximum(np.abs(v), 1.0)
    for d in range(max_decimals + 1):
        # float error of a decimal stored in binary is ~1e-16 relative; allow a little more
        if np.all(np.abs(np.round(v, d) - v) <= 1e-9 * scale):
            return d
    return None
