"""Column kinds and table metadata: what each column is, and what values are valid.

``infer_metadata(df)`` guesses a :class:`Metadata` with these rules, applied in order
to each column (any column can be overridden):

1. pandas ``bool`` dtype -> ``binary``;
2. datetime dtype -> ``datetime``;
3. pandas ``category``, ``object`` or string dtype -> ``categorical`` (categories in
   their categorical order, else sorted);
4. numeric with every non-missing value in {0, 1} -> ``binary``;
5. numeric with every non-missing value a whole number -> ``integer``;
6. any other numeric column -> ``continuous``.

``nullable`` is True when the column has a missing value; ``bounds`` are the observed
minimum and maximum of numeric and datetime columns. One-hot groups (several 0/1
columns that together encode one categorical variable, exactly one 1 per row) are not
guessed unless asked for (``detect_one_hot=True`` looks for shared prefixes before
an underscore); declare them with ``one_hot_groups={"Hospital": [...]}``.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

# the value helpers live in their own module; importing them here keeps ``schema`` their address
from .values import (  # noqa: F401
    MAX_DECIMALS,
    TIME_UNITS,
    _is_whole,
    column_numbers,
    datetime_to_number,
    learn_decimals,
    number_to_datetime,
    require_frame,
)

Kind = Literal["continuous", "integer", "binary", "categorical", "datetime"]
KINDS: tuple[str, ...] = ("continuous", "integer", "binary", "categorical", "datetime")
NUMERIC_KINDS: tuple[str, ...] = ("continuous", "integer")


@dataclass
class ColumnSpec:
    """What one column holds.

    Attributes:
        name: the column name.
        kind: one of ``continuous``, ``integer``, ``binary``, ``categorical``, ``datetime``.
        nullable: whether missing values are allowed.
        bounds: ``(low, high)`` for numeric and datetime columns (inclusive), else None.
        categories: the allowed levels of a categorical column, in order.
        group: the one-hot group this 0/1 column belongs to, if any.
        decimals: for a continuous column, the number of decimals its values are
            stored with (0-6; generated values are rounded to it), None when the
            values carry more than 6 decimals.
    """

    name: str
    kind: Kind
    nullable: bool = False
    bounds: tuple[Any, Any] | None = None
    categories: list[Any] | None = None
    group: str | None = None
    decimals: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(
                f"column {self.name!r}: unknown kind {self.kind!r}; use one of {', '.join(KINDS)}"
            )
        if self.kind == "categorical" and not self.categories:
            raise ValueError(f"column {self.name!r}: a categorical column needs its categories")
        if self.bounds is not None:
            low, high = self.bounds
            if low > high:
                raise ValueError(f"column {self.name!r}: bounds low {low} is above high {high}")
            self.bounds = (low, high)
        if self.group is not None and self.kind != "binary":
            raise ValueError(
                f"column {self.name!r}: only binary (0/1) columns can be in a one-hot group, "
                f"this one is {self.kind}"
            )
        if self.decimals is not None:
            if self.kind != "continuous":
                raise ValueError(f"column {self.name!r}: decimals apply to continuous columns, this one is {self.kind}")
            if isinstance(self.decimals, bool) or not isinstance(self.decimals, int | np.integer) \
                    or not 0 <= self.decimals <= MAX_DECIMALS:
                raise ValueError(
                    f"column {self.name!r}: decimals must be a whole number from 0 to {MAX_DECIMALS}, "
                    f"got {self.decimals!r}"
                )
            self.decimals = int(self.decimals)


@dataclass
class Metadata:
    """The schema of a table: one :class:`ColumnSpec` per column, in column order.

    ``one_hot_groups`` maps a group name to its member columns; each row must have
    exactly one 1 among them. ``constraints`` are the accepted rules between columns
    (:mod:`course_utils.constraints`) that every generator keeps in every row. Use
    :func:`infer_metadata` to build one from data.
    """

    columns: dict[str, ColumnSpec]
    one_hot_groups: dict[str, list[str]] = field(default_factory=dict)
    constraints: list[Any] = field(default_factory=list)

    def __post_init__(self) -> None:
        from .constraints import check_constraint_columns

        self.constraints = list(self.constraints)
        for c in self.constraints:
            check_constraint_columns(c, self.columns)
        for group, members in self.one_hot_groups.items():
            if len(members) < 2:
                raise ValueError(f"one-hot group {group!r} needs at least two columns, got {members}")
            for m in members:
                if m not in self.columns:
                    raise ValueError(f"one-hot group {group!r}: column {m!r} is not in the table")
                spec = self.columns[m]
                if spec.kind != "binary":
                    raise ValueError(
                        f"one-hot group {group!r}: column {m!r} is {spec.kind}, it must be binary (0/1)"
                    )
                spec.group = group

    # -- convenience -----------------------------------------------------------------
    @property
    def names(self) -> list[str]:
        """Column names in table order."""
        return list(self.columns)

    def __getitem__(self, name: str) -> ColumnSpec:
        try:
            return self.columns[name]
        except KeyError:
            raise KeyError(f"column {name!r} is not in the metadata") from None

    def __contains__(self, name: object) -> bool:
        return name in self.columns

    def __len__(self) -> int:
        return len(self.columns)

    def of_kind(self, *kinds: str) -> list[str]:
        """Names of the columns whose kind is one of ``kinds``."""
        return [n for n, s in self.columns.items() if s.kind in kinds]

    @property
    def kinds(self) -> dict[str, str]:
        """``{column: kind}`` in table order."""
        return {n: s.kind for n, s in self.columns.items()}

    def update_column(self, name: str, **changes: Any) -> Metadata:
        """Return a copy with one column's spec changed, e.g. ``kind="categorical"``."""
        new = self.copy()
        spec = asdict(new[name])
        if changes.get("kind", "continuous") != "continuous" and "decimals" not in changes:
            spec["decimals"] = None  # precision is a property of continuous columns only
        spec.update(changes)
        new.columns[name] = ColumnSpec(**spec)
        return new

    def with_constraints(self, constraints: Iterable[Any]) -> Metadata:
        """Return a copy that also holds ``constraints`` (accepted rules between columns)."""
        new = self.copy()
        return Metadata(new.columns, new.one_hot_groups, [*new.constraints, *copy.deepcopy(list(constraints))])

    def select(self, names: Iterable[str]) -> Metadata:
        """Metadata of a subset of the columns (one-hot groups and constraints kept only when whole)."""
        names = list(names)
        cols = {n: copy.deepcopy(self[n]) for n in names}
        groups = {g: m for g, m in self.one_hot_groups.items() if all(c in cols for c in m)}
        for spec in cols.values():
            if spec.group not in groups:
                spec.group = None
        rules = [copy.deepcopy(c) for c in self.constraints if all(x in cols for x in c.columns())]
        return Metadata(cols, groups, rules)

    def copy(self) -> Metadata:
        """A deep copy."""
        return copy.deepcopy(self)

    # -- serialisation ---------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly dict (``Metadata.from_dict`` reads it back)."""

        def plain(v: Any) -> Any:
            if isinstance(v, np.generic):
                return v.item()
            if isinstance(v, pd.Timestamp):
                return v.isoformat()
            return v

        out = []
        for spec in self.columns.values():
            d = asdict(spec)
            if d["bounds"] is not None:
                d["bounds"] = [plain(b) for b in d["bounds"]]
            if d["categories"] is not None:
                d["categories"] = [plain(c) for c in d["categories"]]
            out.append(d)
        rules = [{k: plain(v) if not isinstance(v, list) else [plain(x) for x in v] for k, v in c.to_dict().items()}
                 for c in self.constraints]
        return {"columns": out, "one_hot_groups": self.one_hot_groups, "constraints": rules}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Metadata:
        """Rebuild from :meth:`to_dict` output."""
        cols = {}
        for c in d["columns"]:
            c = dict(c)
            if c.get("bounds") is not None:
                b = c["bounds"]
                if c["kind"] == "datetime":
                    b = [pd.Timestamp(x) for x in b]
                c["bounds"] = tuple(b)
            cols[c["name"]] = ColumnSpec(**c)
        from .constraints import constraint_from_dict

        rules = [constraint_from_dict(c) for c in d.get("constraints", [])]
        return cls(cols, {k: list(v) for k, v in d.get("one_hot_groups", {}).items()}, rules)

    def to_json(self, path: str | None = None) -> str:
        """Serialise to JSON text, and write it to ``path`` when given."""
        text = json.dumps(self.to_dict(), indent=2, default=str)
        if path is not None:
            with open(path, "w", encoding="utf-8") as fh:
                fh.write(text)
        return text

    def summary(self) -> pd.DataFrame:
        """One row per column: kind, nullable, bounds, number of categories, group, decimals."""
        rows = []
        for s in self.columns.values():
            rows.append(
                {
                    "column": s.name,
                    "kind": s.kind,
                    "nullable": s.nullable,
                    "bounds": s.bounds,
                    "n_categories": len(s.categories) if s.categories else None,
                    "group": s.group,
                    "decimals": s.decimals,
                }
            )
        return pd.DataFrame(rows).set_index("column")


def infer_column(series: pd.Series, name: str | None = None) -> ColumnSpec:
    """Infer the :class:`ColumnSpec` of one column (see the module docstring's rules)."""
    name = str(series.name if name is None else name)
    nonnull = series.dropna()
    nullable = bool(series.isna().any())
    if len(nonnull) == 0:
        raise ValueError(f"column {name!r}: every value is missing, so its kind cannot be inferred")
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return ColumnSpec(name, "binary", nullable, (0, 1))
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return ColumnSpec(name, "datetime", nullable, (nonnull.min(), nonnull.max()))
    if isinstance(dtype, pd.CategoricalDtype):
        cats = list(dtype.categories)
        return ColumnSpec(name, "categorical", nullable, None, cats)
    if not pd.api.types.is_numeric_dtype(dtype):
        try:
            cats = sorted(nonnull.unique())
        except TypeError:
            cats = sorted(nonnull.unique(), key=str)
        return ColumnSpec(name, "categorical", nullable, None, cats)
    values = nonnull.to_numpy(dtype=float)
    if not np.all(np.isfinite(values)):
        raise ValueError(f"column {name!r}: contains infinite values; replace them or mark them missing")
    low, high = values.min(), values.max()
    if np.isin(values, (0.0, 1.0)).all():
        return ColumnSpec(name, "binary", nullable, (0, 1))
    if pd.api.types.is_integer_dtype(dtype) or _is_whole(values):
        return ColumnSpec(name, "integer", nullable, (int(low), int(high)))
    return ColumnSpec(name, "continuous", nullable, (float(low), float(high)), decimals=learn_decimals(values))


def detect_one_hot_groups(df: pd.DataFrame, sep: str = "_") -> dict[str, list[str]]:
    """Find sets of 0/1 columns sharing a prefix before ``sep`` with exactly one 1 per row."""
    prefixes: dict[str, list[str]] = {}
    for col in df.columns:
        col = str(col)
        if sep in col:
            prefixes.setdefault(col.rsplit(sep, 1)[0], []).append(col)
    groups = {}
    for prefix, members in prefixes.items():
        if len(members) < 2:
            continue
        block = df[members]
        if block.isna().any().any():
            continue
        values = block.to_numpy()
        if np.isin(values, (0, 1)).all() and (values.sum(axis=1) == 1).all():
            groups[prefix] = members
    return groups


def infer_metadata(
    df: pd.DataFrame,
    overrides: Mapping[str, Mapping[str, Any] | str] | None = None,
    one_hot_groups: Mapping[str, list[str]] | None = None,
    detect_one_hot: bool = False,
) -> Metadata:
    """Infer a :class:`Metadata` for ``df``.

    Args:
        df: the table.
        overrides: per-column changes, either a kind (``{"gender": "categorical"}``)
            or a dict of fields (``{"age": {"bounds": (18, 110)}}``). A kind override
            re-derives categories or bounds from the data.
        one_hot_groups: declared groups of 0/1 columns, ``{"Hospital": ["Hosp_1", ...]}``.
        detect_one_hot: also look for groups by shared prefix (see the module docstring).
    """
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"expected a pandas DataFrame, got {type(df).__name__}")
    if df.shape[1] == 0:
        raise ValueError("the table has no columns")
    if len(df) == 0:
        raise ValueError("the table has no rows, so nothing can be inferred")
    if df.columns.duplicated().any():
        dup = list(df.columns[df.columns.duplicated()])
        raise ValueError(f"duplicate column names: {dup}")
    columns = {str(c): infer_column(df[c], str(c)) for c in df.columns}
    for name, change in (overrides or {}).items():
        if name not in columns:
            raise ValueError(f"override for column {name!r}, which is not in the table")
        change = {"kind": change} if isinstance(change, str) else dict(change)
        spec = asdict(columns[name])
        if "kind" in change and change["kind"] != spec["kind"]:
            spec.update(_derive_for_kind(df[name], name, change["kind"]))
        spec.update(change)
        columns[name] = ColumnSpec(**spec)
    groups = dict(detect_one_hot_groups(df)) if detect_one_hot else {}
    groups.update({k: list(v) for k, v in (one_hot_groups or {}).items()})
    meta = Metadata(columns, groups)
    if groups:
        validate(df, meta)
    return meta


def _derive_for_kind(series: pd.Series, name: str, kind: str) -> dict[str, Any]:
    nonnull = series.dropna()
    if kind == "categorical":
        try:
            cats = sorted(nonnull.unique())
        except TypeError:
            cats = sorted(nonnull.unique(), key=str)
        cats = [c.item() if isinstance(c, np.generic) else c for c in cats]
        return {"categories": cats, "bounds": None, "decimals": None}
    if kind in ("integer", "continuous", "binary"):
        if not pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series.dtype):
            raise ValueError(f"column {name!r}: cannot treat non-numeric values as {kind}")
        lo, hi = float(nonnull.min()), float(nonnull.max())
        bounds = (int(lo), int(hi)) if kind != "continuous" else (lo, hi)
        decimals = learn_decimals(nonnull.to_numpy(dtype=float)) if kind == "continuous" else None
        return {"categories": None, "bounds": bounds, "decimals": decimals}
    if kind == "datetime":
        return {"categories": None, "bounds": (nonnull.min(), nonnull.max()), "decimals": None}
    return {}


def validate(df: pd.DataFrame, metadata: Metadata, *, check_bounds: bool = True) -> None:
    """Check that ``df`` fits ``metadata``; raise ``ValueError`` naming column and problem.

    Checks: same columns; no missing values in non-nullable columns; numeric columns
    numeric and finite; integers whole; binaries 0/1; categories known; values within
    bounds (unless ``check_bounds=False``); one row-sum of exactly 1 per one-hot group.
    """
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"expected a pandas DataFrame, got {type(df).__name__}")
    missing = [c for c in metadata.names if c not in df.columns]
    if missing:
        raise ValueError(f"columns missing from the table: {missing}")
    extra = [c for c in df.columns if c not in metadata.columns]
    if extra:
        raise ValueError(f"columns not in the metadata: {extra}")
    for name, spec in metadata.columns.items():
        col = df[name]
        isna = col.isna()
        if isna.any() and not spec.nullable:
            raise ValueError(
                f"column {name!r}: {int(isna.sum())} missing value(s) but the column is not nullable"
            )
        nonnull = col[~isna]
        if len(nonnull) == 0:
            continue
        if spec.kind in ("continuous", "integer", "binary"):
            if not (pd.api.types.is_numeric_dtype(col.dtype) or pd.api.types.is_bool_dtype(col.dtype)):
                raise ValueError(f"column {name!r}: expected numbers ({spec.kind}), found {col.dtype}")
            values = nonnull.to_numpy(dtype=float)
            if not np.all(np.isfinite(values)):
                raise ValueError(f"column {name!r}: contains infinite or non-finite values")
            if spec.kind == "integer" and not _is_whole(values):
                raise ValueError(f"column {name!r}: integer column holds non-whole numbers")
            if spec.kind == "binary" and not np.isin(values, (0.0, 1.0)).all():
                bad = sorted(set(values[~np.isin(values, (0.0, 1.0))].tolist()))[:5]
                raise ValueError(f"column {name!r}: binary column holds values other than 0/1: {bad}")
            if check_bounds and spec.bounds is not None:
                low, high = spec.bounds
                if values.min() < low or values.max() > high:
                    raise ValueError(
                        f"column {name!r}: values from {values.min()} to {values.max()} "
                        f"fall outside bounds [{low}, {high}]"
                    )
        elif spec.kind == "categorical":
            unknown = set(nonnull.unique()) - set(spec.categories or [])
            if unknown:
                raise ValueError(
                    f"column {name!r}: unknown categories {sorted(map(str, unknown))[:5]}; "
                    f"allowed: {list(spec.categories or [])[:10]}"
                )
        elif spec.kind == "datetime":
            if not pd.api.types.is_datetime64_any_dtype(col.dtype):
                raise ValueError(f"column {name!r}: expected datetimes, found {col.dtype}")
            if check_bounds and spec.bounds is not None:
                low, high = spec.bounds
                if nonnull.min() < low or nonnull.max() > high:
                    raise ValueError(f"column {name!r}: dates fall outside bounds [{low}, {high}]")
    for group, members in metadata.one_hot_groups.items():
        sums = df[members].sum(axis=1, skipna=False)
        bad = ~(sums == 1)
        if bad.any():
            raise ValueError(
                f"one-hot group {group!r}: {int(bad.sum())} row(s) do not have exactly one 1 "
                f"among {members}"
            )
    for rule in getattr(metadata, "constraints", []):  # files saved before rules existed have none
        broken = ~rule.holds(df)
        if broken.any():
            raise ValueError(f"constraint '{rule}': broken in {int(broken.sum())} row(s) of the table")


def repair_frame(df: pd.DataFrame, metadata: Metadata, dtypes: Mapping[str, Any]) -> pd.DataFrame:
    """Make generated values valid for their column kind and restore the training dtypes.

    Integers and binaries are rounded, continuous values to their column's
    ``decimals``; numeric values clipped to their bounds;
    categoricals restricted to the training categories (anything else becomes missing);
    each one-hot group keeps exactly one 1 (its largest value).
    """
    out = pd.DataFrame(index=pd.RangeIndex(len(df)))
    for name, spec in metadata.columns.items():
        col = df[name].reset_index(drop=True)
        dtype = dtypes[name]
        if spec.kind in ("continuous", "integer", "binary"):
            v = pd.to_numeric(col, errors="coerce").to_numpy(dtype=float)
            if spec.kind != "continuous":
                v = np.round(v)
            elif spec.decimals is not None:
                v = np.round(v, spec.decimals)
            if spec.bounds is not None:
                v = np.clip(v, spec.bounds[0], spec.bounds[1])
            out[name] = _cast_numeric(v, dtype)
        elif spec.kind == "categorical":
            cats = list(spec.categories or [])
            col = col.where(col.isin(cats))
            if isinstance(dtype, pd.CategoricalDtype):
                out[name] = pd.Categorical(col, categories=dtype.categories, ordered=dtype.ordered)
            else:
                out[name] = col.astype(dtype) if not col.isna().any() else col.astype(object)
        else:  # datetime
            v = pd.to_datetime(col)
            if spec.bounds is not None:
                v = v.clip(spec.bounds[0], spec.bounds[1])
            out[name] = v.astype(dtype)
    for members in metadata.one_hot_groups.values():
        block = out[members].to_numpy(dtype=float)
        block = np.nan_to_num(block, nan=-np.inf)
        onehot = np.zeros_like(block)
        onehot[np.arange(len(block)), block.argmax(axis=1)] = 1
        for j, m in enumerate(members):
            out[m] = _cast_numeric(onehot[:, j], dtypes[m])
    return out


def _cast_numeric(v: np.ndarray, dtype: Any) -> pd.Series | np.ndarray:
    if pd.api.types.is_bool_dtype(dtype):
        if np.isnan(v).any():
            return pd.array(np.where(np.isnan(v), None, v > 0.5), dtype="boolean")
        return v > 0.5
    if pd.api.types.is_integer_dtype(dtype):
        if np.isnan(v).any():
            return pd.array(np.where(np.isnan(v), None, v).tolist(), dtype="Int64")
        return v.astype(dtype)
    return v if pd.api.types.is_object_dtype(dtype) else v.astype(dtype)
