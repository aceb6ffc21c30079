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
_ROUNDTRIP_TOL = 1e-4
"""Continuous values that differ by less come back (float32 keeps about 7 digits)."""


@lru_cache(maxsize=1)
def _whas() -> pd.DataFrame:
    from ..data import load_whas500

    return load_whas500()


@lru_cache(maxsize=1)
def _stroke() -> pd.DataFrame:
    from ..data import load_stroke

    return load_stroke()


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


def _as_counts(obj: Any, what: str) -> dict[str, int]:
    """The learner's ``{column: number of patients}``, without zero entries, or a CheckFailed."""
    if isinstance(obj, pd.Series):
        obj = obj.to_dict()
    if not isinstance(obj, dict):
        raise CheckFailed(
            f"expected a dict {{column name: number of holdout patients}} for {what}, found a "
            f"{type(obj).__name__}"
            + (": give the number of patients for each column, not only the names"
               if isinstance(obj, list | tuple | set) else "")
        )
    counts = {}
    for col, n in obj.items():
        if not isinstance(col, str) or col not in _whas().columns:
            raise CheckFailed(f"expected WHAS500 column names as keys, found {col!r}")
        if isinstance(n, bool | np.bool_) or not isinstance(n, Real | np.number) or n != int(n) or n < 0:
            raise CheckFailed(f"expected a whole number of patients for {col!r}, found {n!r}")
        if n:
            counts[col] = int(n)
    return counts


def _describe(counts: dict[str, int]) -> str:
    return "{" + ", ".join(f"{c!r}: {n}" for c, n in sorted(counts.items())) + "}" if counts else "{}"


@lru_cache(maxsize=1)
def holdout_changes() -> dict[str, int]:
    """Per column, the holdout patients whose value a train-fitted transformer does not give back.

    Continuous columns count as changed beyond ``_ROUNDTRIP_TOL`` (float32 keeps about 7
    digits); every other column must come back exactly.
    """
    from ..transform import TabularTransformer
    from . import whas500_split

    train, holdout, meta = whas500_split()
    transformer = TabularTransformer().fit(train, meta)
    back = transformer.inverse_transform(transformer.transform(holdout))
    changes = {}
    for col in holdout.columns:
        orig, got = holdout[col].reset_index(drop=True), back[col].reset_index(drop=True)
        if meta[col].kind == "continuous":
            same = np.isclose(got.to_numpy(float), orig.to_numpy(float), rtol=0, atol=_ROUNDTRIP_TOL)
        else:
            same = orig.astype(object).to_numpy() == got.astype(object).to_numpy()
        if (~same).sum():
            changes[col] = int((~same).sum())
    return changes


@lru_cache(maxsize=1)
def outside_training_range() -> dict[str, int]:
    """Per numeric column, the holdout values below the training minimum or above its maximum."""
    from . import whas500_split

    train, holdout, meta = whas500_split()
    out = {}
    for col in holdout.columns:
        if meta[col].kind in ("integer", "continuous"):
            n = int(((holdout[col] < train[col].min()) | (holdout[col] > train[col].max())).sum())
            if n:
                out[col] = n
    return out


@register(
    "01.holdout_roundtrip",
    target="changed",
    points=1,
    hint="Revisit the reversible transformation in lesson 01: it is exact on the table it was "
    "fitted on. Fit on train, transform the holdout, decode, and compare column by column "
    "(continuous columns allow float32 rounding, about 1e-4). Which holdout values lie where "
    "the transformer never saw a training value?",
)
def holdout_roundtrip(obj: Any) -> None:
    """``changed``: per column, the holdout patients a train-fitted transformer changes."""
    counts = _as_counts(obj, "the changed values")
    right = holdout_changes()
    if counts == right:
        return
    if not counts:
        raise CheckFailed(
            "found no changed value: that is what the training table's own round trip gives (or "
            "another scaler's). Use TabularTransformer() as in the lesson (quantile scaling), fitted "
            "on train, and compare on the holdout: patients the transformer never saw"
        )
    if set(counts) == set(right):
        bad = [c for c in right if counts[c] != right[c]]
        raise CheckFailed(
            f"the columns are right but the counts are not (column {bad[0]!r}: found "
            f"{counts[bad[0]]}): count patients, and let continuous columns differ by float32 "
            "rounding (about 1e-4) without counting them"
        )
    extra = sorted(set(counts) - set(right))
    if extra:
        raise CheckFailed(
            f"found changes in {extra}, but every holdout value of these columns comes back: a "
            "value the training table lacks is not lost by itself (integers are rounded, "
            "numbers between training values are interpolated)"
        )
    raise CheckFailed(
        f"found {_describe(counts)}: some columns with changed values are missing; compare every "
        "column, not only the continuous ones"
    )


@register(
    "01.holdout_roundtrip_why",
    target="outside_range",
    points=1,
    hidden=True,
    hint="Revisit the reversible transformation in lesson 01: count, per numeric column, the "
    "holdout values below the training minimum or above the training maximum.",
)
def holdout_roundtrip_why(obj: Any) -> None:
    """Grader-only: ``outside_range``, the holdout values outside the training range, per column."""
    counts = _as_counts(obj, "the values outside the training range")
    right = outside_training_range()
    if counts == right:
        return
    if not counts:
        raise CheckFailed(
            "found no value outside the range: compare the holdout with the TRAINING table's "
            "minimum and maximum (the whole table's range contains the holdout by definition)"
        )
    raise CheckFailed(
        f"found {_describe(counts)}: count, per numeric column, the holdout values below the "
        "training minimum plus those above the training maximum"
    )


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
