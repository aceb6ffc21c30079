"""Checks of lesson 01, clinical tables (``solutions/01_clinical_tables.ipynb``).

Each check recomputes what it needs from the course data and compares facts that do
not depend on the platform: column names, group members, shapes, dtypes, counts.
"""

from __future__ import annotations

from functools import lru_cache
from numbers import Real
from typing import Any

import numpy as np
import pandas as pd

from . import CheckFailed, register

_TOL = 1e-6


@lru_cache(maxsize=1)
def _whas() -> pd.DataFrame:
    from ..data import load_whas500

    return load_whas500()


@lru_cache(maxsize=1)
def _stroke() -> pd.DataFrame:
    from ..data import load_stroke

    return load_stroke()


@lru_cache(maxsize=1)
def _whas_output_dim() -> int:
    from ..data import load_whas500
    from ..transform import TabularTransformer

    df, meta = load_whas500(return_metadata=True)
    return int(TabularTransformer().fit(df, meta).output_dim_)


def _unique_share(df: pd.DataFrame) -> float:
    """Share of rows whose combination of values in ``df`` occurs exactly once."""
    counts = df.value_counts(dropna=False)
    return float((counts == 1).sum() / len(df))


def _stroke_hospital() -> pd.Series:
    from ..data import STROKE_GROUPS

    block = _stroke()[STROKE_GROUPS["Hospital"]]
    return pd.Series(block.to_numpy().argmax(axis=1) + 1, name="hospital")


def _as_share(obj: Any, what: str) -> float:
    """The learner's number as a float, or a CheckFailed that says what is wrong with it."""
    if isinstance(obj, np.ndarray) and obj.ndim == 0:
        obj = obj.item()
    if isinstance(obj, bool | np.bool_) or not isinstance(obj, Real | np.number):
        raise CheckFailed(
            f"expected one number, the {what} (a share between 0 and 1); "
            f"found a {type(obj).__name__}"
        )
    value = float(obj)
    if not np.isfinite(value):
        raise CheckFailed(f"expected a share between 0 and 1, found {value}")
    if 1 < value <= 100 and value != int(value):
        raise CheckFailed(
            f"expected a share between 0 and 1, found {value:g}: that looks like a percentage; "
            "divide by 100"
        )
    if value > 1:
        raise CheckFailed(
            f"expected a share between 0 and 1, found {value:g}: that looks like a count of "
            "patients; divide by the number of patients in the table"
        )
    if value < 0:
        raise CheckFailed(f"expected a share between 0 and 1, found {value:g}")
    return value


@register(
    "01.stroke_metadata",
    target="stroke_meta",
    points=1,
    hint="Revisit one-hot groups in lesson 01: several 0/1 columns that together encode one variable "
    "(exactly one 1 per row). Declare them with infer_metadata(df, one_hot_groups={...}); "
    "the stroke table has six (Hospital, onset-time type, antiplatelet, anticoagulant, "
    "severity group, stroke type).",
)
def stroke_metadata(obj: Any) -> None:
    """The stroke table's metadata with its six one-hot groups declared."""
    from ..data import STROKE_GROUPS
    from ..schema import Metadata

    if not isinstance(obj, Metadata):
        raise CheckFailed(
            f"expected a Metadata object (what infer_metadata returns), found a {type(obj).__name__}"
        )
    columns = list(_stroke().columns)
    if list(obj.names) != columns:
        missing = [c for c in columns if c not in obj.columns]
        extra = [c for c in obj.names if c not in columns]
        raise CheckFailed(
            f"expected the {len(columns)} columns of the stroke table, found {len(obj.names)} "
            f"(missing: {missing[:3]}, not in the stroke table: {extra[:3]}); "
            "build it from load_stroke()"
        )
    expected = {frozenset(m): g for g, m in STROKE_GROUPS.items()}
    found = {frozenset(m): g for g, m in obj.one_hot_groups.items()}
    wrong = [f"{g!r} {sorted(m)}" for m, g in found.items() if m not in expected]
    if wrong:
        raise CheckFailed(
            f"expected each group to hold exactly the 0/1 columns of one variable; found "
            f"{wrong[0]}, which is not one of the table's one-hot groups"
        )
    absent = [g for m, g in expected.items() if m not in found]
    if absent:
        raise CheckFailed(
            f"expected 6 one-hot groups, found {len(found)}; not declared yet: {', '.join(absent)}"
        )
    for name, kind in (("Age", "integer"), ("Male", "binary"), ("Hosp_1", "binary")):
        if obj[name].kind != kind:
            raise CheckFailed(f"expected column {name!r} to be {kind}, found {obj[name].kind}")


def _check_pair(obj: Any) -> tuple[np.ndarray, pd.DataFrame]:
    if not isinstance(obj, tuple | list) or len(obj) != 2:
        raise CheckFailed(
            f"expected a pair (X, back): the matrix and the table rebuilt from it; found a "
            f"{type(obj).__name__}" + (f" of length {len(obj)}" if isinstance(obj, tuple | list) else "")
        )
    X, back = obj
    if not isinstance(X, np.ndarray):
        raise CheckFailed(
            f"expected X to be a NumPy array (what .transform returns), found a {type(X).__name__}"
        )
    if not isinstance(back, pd.DataFrame):
        raise CheckFailed(
            f"expected back to be a DataFrame (what .inverse_transform returns), found a "
            f"{type(back).__name__}"
        )
    return X, back


@register(
    "01.roundtrip",
    target="roundtrip",
    points=1,
    hint="Revisit the reversible transformation in lesson 01: fit one TabularTransformer on "
    "WHAS500 with its metadata, encode the table, decode the matrix with the same "
    "transformer. Categorical columns become one-hot blocks, so X is wider than the table.",
)
def roundtrip(obj: Any) -> None:
    """(X, back): WHAS500 encoded as a float32 matrix, and decoded back to the same table."""
    X, back = _check_pair(obj)
    whas = _whas()
    dim = _whas_output_dim()
    if X.dtype != np.float32:
        raise CheckFailed(
            f"expected X with dtype float32 (the transformer's output), found {X.dtype}: "
            "did you take the table's values instead of transforming them?"
        )
    if X.shape != (len(whas), dim):
        raise CheckFailed(
            f"expected X of shape ({len(whas)}, {dim}): one row per patient and one column per "
            f"number the transformer makes (categoricals are one-hot); found {X.shape}"
        )
    if not np.isfinite(X).all():
        raise CheckFailed("expected only finite numbers in X, found NaN or infinity")
    if list(back.columns) != list(whas.columns) or len(back) != len(whas):
        raise CheckFailed(
            f"expected back to have WHAS500's {len(whas)} rows and columns {list(whas.columns)[:4]}..., "
            f"found {len(back)} rows and columns {list(back.columns)[:4]}..."
        )
    for col in whas.columns:
        orig, got = whas[col], back[col].reset_index(drop=True)
        if isinstance(orig.dtype, pd.CategoricalDtype):
            same = orig.astype(object).to_numpy() == got.astype(object).to_numpy()
        else:
            try:
                values = got.to_numpy(dtype=float)
            except (TypeError, ValueError):
                raise CheckFailed(
                    f"expected numbers in column {col!r} of back, found {got.dtype}"
                ) from None
            same = np.isclose(values, orig.to_numpy(dtype=float), rtol=_TOL, atol=_TOL)
        if not np.all(same):
            n_bad = int(np.size(same) - np.count_nonzero(same))
            raise CheckFailed(
                f"expected back to equal the original table, found {n_bad} different value(s) in "
                f"column {col!r}: decode with the same fitted transformer, from X unchanged"
            )


@register(
    "01.roundtrip_dtypes",
    target="roundtrip",
    points=1,
    hidden=True,
    hint="Revisit the reversible transformation in lesson 01: inverse_transform restores each column's "
    "type (integers stay integers, categoricals keep their categories).",
)
def roundtrip_dtypes(obj: Any) -> None:
    """Grader-only: the rebuilt table also has WHAS500's column types."""
    _, back = _check_pair(obj)
    whas = _whas()
    for col in whas.columns:
        if col not in back.columns:
            raise CheckFailed(f"expected column {col!r} in back, found it missing")
        want, got = whas[col].dtype, back[col].dtype
        if isinstance(want, pd.CategoricalDtype):
            if not isinstance(got, pd.CategoricalDtype) or list(got.categories) != list(want.categories):
                raise CheckFailed(
                    f"expected column {col!r} to be categorical with categories "
                    f"{list(want.categories)}, found {got}"
                )
        elif pd.api.types.is_integer_dtype(want) and not pd.api.types.is_integer_dtype(got):
            raise CheckFailed(f"expected column {col!r} to hold integers, found {got}")
        elif pd.api.types.is_float_dtype(want) and not pd.api.types.is_float_dtype(got):
            raise CheckFailed(f"expected column {col!r} to hold decimals, found {got}")


@register(
    "01.whas_unique",
    target="whas_unique_share",
    points=1,
    hint="Revisit quasi-identifiers (exercise 3, 'How unique is a patient?'): count each "
    "(age, gender) combination, keep the combinations seen exactly once, and divide "
    "their number by the number of patients.",
)
def whas_unique(obj: Any) -> None:
    """Share of WHAS500 patients whose (age, gender) combination is unique."""
    value = _as_share(obj, "share of patients unique on age and gender")
    whas = _whas()
    right = _unique_share(whas[["age", "gender"]])
    if abs(value - right) <= _TOL:
        return
    if abs(value - _unique_share(whas[["age"]])) <= _TOL:
        raise CheckFailed(f"found {value:.4f}, the share unique on age alone: add gender")
    distinct = len(whas[["age", "gender"]].drop_duplicates()) / len(whas)
    if abs(value - distinct) <= _TOL:
        raise CheckFailed(
            f"found {value:.4f}, the number of distinct combinations divided by the number of "
            "patients; count only the combinations that occur exactly once"
        )
    if abs(value - (1 - right)) <= _TOL:
        raise CheckFailed(f"found {value:.4f}, the share of patients who are NOT unique")
    raise CheckFailed(
        f"expected the share of patients whose (age, gender) pair appears once in the table, "
        f"found {value:.4f}, which is not it"
    )


@register(
    "01.stroke_unique",
    target="stroke_unique_share",
    points=1,
    hint="Revisit quasi-identifiers and one-hot groups: the hospital is one variable stored in seven "
    "one-hot columns (Hosp_1 ... Hosp_7); use all of them (or turn them into one hospital "
    "number) together with Age and Male.",
)
def stroke_unique(obj: Any) -> None:
    """Share of stroke patients whose (Age, Male, hospital) combination is unique."""
    value = _as_share(obj, "share of patients unique on Age, Male and hospital")
    stroke = _stroke()
    keys = pd.concat([stroke[["Age", "Male"]], _stroke_hospital()], axis=1)
    right = _unique_share(keys)
    if abs(value - right) <= _TOL:
        return
    if abs(value - _unique_share(stroke[["Age", "Male"]])) <= _TOL:
        raise CheckFailed(
            f"found {value:.4f}, the share unique on Age and Male alone: the hospital is missing"
        )
    if abs(value - _unique_share(stroke[["Age", "Male", "Hosp_1"]])) <= _TOL:
        raise CheckFailed(
            f"found {value:.4f}: that uses only Hosp_1; the hospital needs all seven Hosp_ columns"
        )
    if abs(value - (1 - right)) <= _TOL:
        raise CheckFailed(f"found {value:.4f}, the share of patients who are NOT unique")
    raise CheckFailed(
        f"expected the share of patients whose (Age, Male, hospital) combination appears once, "
        f"found {value:.4f}, which is not it"
    )
