"""The plan of sequential CART: which variables, in which order, each with its method.

:func:`plan_variables` turns the table's metadata and the synthesizer's settings
(``visit_sequence``, ``method``, ``smoothing``) into one :class:`Variable` per step of
the visit sequence (a column, or a one-hot group seen as one categorical variable);
:func:`encode_variables` turns a table into the predictor matrix the trees see and
each variable's target values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..encoding import TableEncoding
from ..schema import Metadata

METHODS: tuple[str, ...] = ("sample", "cart", "norm", "logreg", "parametric")


@dataclass
class Variable:
    """One step of the visit sequence: a column, or a one-hot group seen as one category."""

    name: str
    columns: list[str]
    numeric: bool  # continuous, integer, datetime -> regression; else classification
    kind: str  # the metadata kind, or "group"
    levels: list[Any] = field(default_factory=list)  # labels of a categorical variable
    has_missing: bool = False
    method: str = "cart"
    smooth: bool = False
    # filled by encode_variables
    pred_start: int = 0  # first column of this variable's encoding in the predictor matrix
    width: int = 1  # number of predictor columns (value [+ missing indicator])


def plan_variables(meta: Metadata, columns: Sequence[str], df: pd.DataFrame,
                   visit_sequence: Sequence[str] | None, method: str | Mapping[str, str],
                   smoothing: str | Mapping[str, str | None] | None) -> list[Variable]:
    """One :class:`Variable` per step of the visit sequence, with its method and smoothing."""
    member_of = {m: g for g, ms in meta.one_hot_groups.items() for m in ms}
    table_order = list(dict.fromkeys(member_of.get(col, col) for col in columns))
    known = set(table_order) | set(member_of)
    order = _visit_order(visit_sequence, table_order, known, member_of)
    by_var, default = _methods(method, known, member_of)
    smooth_cols = _smoothing(smoothing, table_order, known)
    out = []
    for i, name in enumerate(order):
        var = _variable(meta, name, df, smooth_cols)
        var.method = _method_of(var, by_var.get(name, "sample" if i == 0 else default))
        out.append(var)
    return out


def _visit_order(visit_sequence: Sequence[str] | None, table_order: list[str], known: set[str],
                 member_of: dict[str, str]) -> list[str]:
    """The variables in visit order: the requested ones first, the rest in table order."""
    requested: list[str] = []
    if visit_sequence is not None:
        if isinstance(visit_sequence, str):
            raise TypeError("visit_sequence must be a list of column names, not one string")
        for name in visit_sequence:
            if name not in known:
                raise ValueError(f"visit_sequence names column {name!r}, which is not in the table")
            var = member_of.get(name, name)
            if var in requested:
                raise ValueError(f"visit_sequence names {name!r} twice (or two members of group {var!r})")
            requested.append(var)
    return requested + [v for v in table_order if v not in requested]


def _methods(method: str | Mapping[str, str], known: set[str],
             member_of: dict[str, str]) -> tuple[dict[str, str], str]:
    """The method asked for each variable, and the default for the others."""
    methods = method if isinstance(method, Mapping) else {}
    default = method if isinstance(method, str) else "cart"
    if default not in METHODS:
        raise ValueError(f"method {default!r} is not one of {METHODS}")
    by_var: dict[str, str] = {}
    for name, m in methods.items():
        if name not in known:
            raise ValueError(f"method given for column {name!r}, which is not in the table")
        if m not in METHODS:
            raise ValueError(f"method {m!r} for column {name!r} is not one of {METHODS}")
        by_var[member_of.get(name, name)] = m
    return by_var, default


def _smoothing(smoothing: str | Mapping[str, str | None] | None, table_order: list[str],
               known: set[str]) -> Mapping[str, str | None]:
    """The smoothing asked for each column."""
    if isinstance(smoothing, Mapping):
        for name, s in smoothing.items():
            if name not in known:
                raise ValueError(f"smoothing given for column {name!r}, which is not in the table")
            if s not in (None, "none", "density"):
                raise ValueError(f"smoothing {s!r} for column {name!r}: use None or 'density'")
        return smoothing
    if smoothing in (None, "none", "density"):
        return {v: smoothing for v in table_order}
    raise ValueError(f"smoothing must be None, 'density' or a dict, got {smoothing!r}")


def _variable(meta: Metadata, name: str, df: pd.DataFrame, smooth_cols: Mapping[str, str | None]) -> Variable:
    """The variable of a column (kind, levels, missing values, smoothing) or of a one-hot group."""
    groups = meta.one_hot_groups
    if name in groups:
        return Variable(name, list(groups[name]), False, "group", levels=list(groups[name]))
    spec = meta[name]
    levels: list[Any] = []
    if spec.kind == "categorical":
        levels = list(spec.categories or [])
    elif spec.kind == "binary":
        levels = [0, 1]
    var = Variable(name, [name], spec.kind in ("continuous", "integer", "datetime"), spec.kind, levels=levels)
    var.has_missing = bool(df[name].isna().any())
    var.smooth = spec.kind in ("continuous", "integer") and smooth_cols.get(name) == "density"
    return var


def _method_of(var: Variable, method: str) -> str:
    """``method`` for ``var`` ("parametric" resolved), refused when it does not fit the kind."""
    if method == "parametric":
        method = "norm" if var.numeric else "logreg"
    if method == "norm" and not var.numeric:
        raise ValueError(f"method 'norm' for column {var.name!r}: it is {var.kind}; use 'logreg' or 'cart'")
    if method == "logreg" and var.numeric:
        raise ValueError(f"method 'logreg' for column {var.name!r}: it is {var.kind}; use 'norm' or 'cart'")
    return method


def encode_variables(variables: list[Variable], df: pd.DataFrame,
                     meta: Metadata) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Predictor matrix (variables in visit order) and each variable's target values.

    The course's encoding layer with CART's settings: numbers stay numbers (missing
    as NaN, which scikit-learn trees route natively) plus a 0/1 missing indicator;
    categories, flags and one-hot groups become codes, missing being the last code.
    Sets each variable's ``pred_start`` and ``width``.
    """
    encoding = TableEncoding(categories="ordinal", levels="metadata", numbers="none", binary_as_category=True,
                             missing="nan", indicate="observed", groups="ordinal", date_unit="ns")
    Z = encoding.fit(df, meta, order=[v.name for v in variables]).transform(df, "training table")
    targets: dict[str, np.ndarray] = {}
    for var, code in zip(variables, encoding.codes_, strict=True):
        var.pred_start, var.width = code.start, code.end - code.start
        targets[var.name] = Z[:, code.start].copy()
    return Z, targets
