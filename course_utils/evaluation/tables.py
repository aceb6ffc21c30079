"""Checks of the tables handed to a metric: one family, used by every metric and by ``evaluate``.

- :func:`~course_utils.schema.require_frame`: one table is a non-empty DataFrame with
  unique column names (re-exported here);
- :func:`check_same_columns`: a table has exactly the training columns;
- :func:`check_tables`: two tables can be compared (same columns, compatible types,
  no all-missing column); returns them in the same column order;
- :func:`resolve_metadata`: the metadata of a table, inferred when not given;
- :func:`holdout_overlap` / :func:`check_holdout`: the holdout is not made of training
  rows (the one rule, for :func:`~course_utils.evaluation.evaluate` and the privacy
  metrics alike).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from ..schema import Metadata, infer_metadata, require_frame

__all__ = ["MAX_OVERLAP", "check_holdout", "check_same_columns", "check_tables", "holdout_overlap",
           "require_frame", "resolve_metadata", "row_keys"]

MAX_OVERLAP = 0.5
"""Largest tolerated share of holdout rows that are exact copies of training rows."""


def check_same_columns(df: pd.DataFrame, columns: list[str], what: str) -> None:
    """Raise ``ValueError`` naming the columns that ``df`` lacks or has in excess."""
    problem = _column_mismatch(list(columns), [str(c) for c in df.columns], "missing columns", "unexpected columns")
    if problem:
        raise ValueError(f"the {what} does not have the training columns: {problem}")


def _column_mismatch(expected: list, actual: list, missing_text: str, extra_text: str) -> str:
    """What separates two column lists, as text (empty when they hold the same columns)."""
    missing = [c for c in expected if c not in actual]
    extra = [c for c in actual if c not in expected]
    parts = [f"{missing_text} {missing}"] * bool(missing) + [f"{extra_text} {extra}"] * bool(extra)
    return "; ".join(parts)


def check_tables(
    real: pd.DataFrame,
    synthetic: pd.DataFrame,
    names: tuple[str, str] = ("real", "synthetic"),
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Check two tables can be compared; return them with ``synthetic`` in ``real``'s column order.

    Raises ``TypeError`` for non-DataFrames or a numeric column that is text in the
    other table, and ``ValueError`` for an empty table, different column sets, or a
    column whose values are all missing. Every message names the table and column.
    """
    for df, name in zip((real, synthetic), names, strict=True):
        require_frame(df, f"{name} table")
    problem = _column_mismatch(list(real.columns), list(synthetic.columns),
                               f"missing from the {names[1]} table:", f"not in the {names[0]} table:")
    if problem:
        raise ValueError("the tables have different columns; " + problem)
    synthetic = synthetic[list(real.columns)]
    for df, name in zip((real, synthetic), names, strict=True):
        all_missing = [c for c in df.columns if df[c].isna().all()]
        if all_missing:
            raise ValueError(f"in the {name} table every value is missing in column(s) {all_missing}")
    for c in real.columns:
        a, b = real[c].dtype, synthetic[c].dtype
        num_a = pd.api.types.is_numeric_dtype(a) or pd.api.types.is_bool_dtype(a)
        num_b = pd.api.types.is_numeric_dtype(b) or pd.api.types.is_bool_dtype(b)
        if num_a != num_b:
            raise TypeError(
                f"column {c!r} is {a} in the {names[0]} table but {b} in the {names[1]} table; "
                "give both tables the same column types"
            )
    return real, synthetic


def row_keys(df: pd.DataFrame) -> np.ndarray:
    """One 64-bit hash per row, equal for equal rows whatever the dtypes (int vs float, category vs text)."""
    parts = {}
    for c in df.columns:
        s = df[c]
        if pd.api.types.is_bool_dtype(s.dtype) or pd.api.types.is_numeric_dtype(s.dtype):
            parts[c] = s.astype(float)
        else:
            parts[c] = s.astype(object).where(s.notna(), None).astype(str)
    return pd.util.hash_pandas_object(pd.DataFrame(parts, index=df.index), index=False).to_numpy()


def resolve_metadata(df: pd.DataFrame, metadata: Metadata | None) -> Metadata:
    """Return ``metadata`` restricted to ``df``'s columns, inferring it from ``df`` when None."""
    if metadata is None:
        return infer_metadata(df)
    if not isinstance(metadata, Metadata):
        raise TypeError(f"metadata must be a course_utils.schema.Metadata, got {type(metadata).__name__}")
    absent = [c for c in df.columns if c not in metadata]
    if absent:
        raise ValueError(f"column(s) {absent} are not described in the metadata")
    return metadata.select(df.columns)


def holdout_overlap(train: pd.DataFrame, holdout: pd.DataFrame) -> dict[str, float]:
    """How many holdout rows are exact copies (every column equal) of a training row.

    Returns ``{"share": s, "n_copied": int, "train_duplicate_share": d}`` where ``s`` is
    the share of holdout rows that also occur in ``train`` and ``d`` the share of
    training rows that occur more than once in ``train``: a table of a few binary
    columns repeats rows naturally, and ``d`` says how much overlap that explains.
    """
    train, holdout = check_tables(train, holdout, ("train", "holdout"))
    cols = list(train.columns)
    k_train, k_hold = row_keys(train[cols]), row_keys(holdout[cols])
    copied = np.isin(k_hold, k_train)
    d = float(pd.Series(k_train).duplicated(keep=False).mean())
    return {"share": float(copied.mean()), "n_copied": int(copied.sum()), "train_duplicate_share": d}


def check_holdout(train: pd.DataFrame, holdout: pd.DataFrame, stacklevel: int = 2) -> dict[str, float]:
    """Refuse a holdout that overlaps the training table; warn about any copied row.

    The one holdout check of the evaluation package (:func:`~course_utils.evaluation.evaluate`
    and every privacy metric use it). Rule: with ``s`` and ``d`` from
    :func:`holdout_overlap`, raise ``ValueError`` when ``s > 0.5``
    and ``s > 2 d`` (more than half of the holdout rows are copies of training rows,
    far more than repeated rows within the training table explain: the holdout is, or
    contains, the training data); emit a ``UserWarning`` when ``s > d + 0.05`` (some
    copied rows, e.g. a split done after duplicating patients). Returns the overlap dict.
    """
    info = holdout_overlap(train, holdout)
    s, d = info["share"], info["train_duplicate_share"]
    if s > MAX_OVERLAP and s > 2 * d:
        raise ValueError(
            f"the holdout overlaps the training table: {info['n_copied']} of {len(holdout)} holdout rows "
            f"({s:.0%}) are exact copies of training rows (duplicates within train explain {d:.0%}). "
            "Split the data before fitting the generator and pass the rows it never saw as holdout."
        )
    if s > d + 0.05:
        warnings.warn(
            f"{info['n_copied']} holdout rows ({s:.1%}) are exact copies of training rows "
            f"(duplicates within train: {d:.1%}); references may be optimistic",
            UserWarning,
            stacklevel=stacklevel + 1,
        )
    return info
