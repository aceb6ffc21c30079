"""One way to turn a table into numbers: :class:`TableEncoding`, configured for each use.

Every model and metric of the course that needs a float matrix goes through this
layer; what differs between uses is a handful of settings, not the code:

=====================  ============  ========  ========  ==========  ========
use                    categories    numbers   flags     missing     groups
=====================  ============  ========  ========  ==========  ========
privacy distance       one-hot/√2    range     0/1       indicator   one-hot
utility models         one-hot       standard  scaled    last        columns
SMOTE                  ordinal       standard  scaled    error       ordinal
CART predictors        ordinal       none      codes     nan         ordinal
neural generators      one-hot       none*     0/1       indicator   one-hot
=====================  ============  ========  ========  ==========  ========

(:class:`~course_utils.evaluation.distances.MixedEncoder`,
:class:`~course_utils.evaluation.utility.TableEncoder`,
:class:`~course_utils.generators.SMOTESynthesizer`,
:class:`~course_utils.generators.CARTSynthesizer` and
:class:`~course_utils.transform.TabularTransformer`, the encoder of the VAE, GAN and
MCM generators: it fits this layer with :func:`~course_utils.transform.neural_encoding`
and adds, *on the unscaled numbers, an invertible scaler per column, the layout of
spans with their activations, and the exact inverse.)

Column kinds are the schema's (:data:`course_utils.schema.KINDS`); dates become
numbers through :func:`course_utils.schema.datetime_to_number` (``date_unit``).
Settings:

- ``categories``: ``"onehot"`` (one coordinate per level, times ``category_weight``;
  a level unseen in fit is all zeros) or ``"ordinal"`` (the level's position);
  ``levels``: ``"metadata"`` (the metadata's categories) or ``"seen"`` (the levels
  seen in fit, in the metadata's order, then unknown ones sorted); ``drop_first``
  leaves out the first level's coordinate;
- ``numbers``: ``"none"``, ``"standard"`` (mean and standard deviation of the values
  after filling missing ones with the median), ``"range"`` (minimum and max - min of
  the observed values) or ``"robust"`` (median and inter-quartile range);
- binary flags stay 0/1 unless ``scale_binary`` (scaled like numbers) or
  ``binary_as_category`` (coded like a category with levels 0 and 1);
- ``missing``: ``"indicator"`` (numbers filled with the median plus a 0/1 indicator
  right after; one-hot gets one more "missing" coordinate), ``"last"`` (the same, with
  every indicator after all the columns, a missing category as all zeros), ``"nan"``
  (numbers keep NaN plus an indicator; an ordinal code for missing after the levels)
  or ``"error"``; ``indicate="observed"`` gives an indicator to the columns with a
  missing value in fit, ``"nullable"`` also to those the metadata declares nullable;
- ``groups``: a declared one-hot group as ``"onehot"`` (its members, times
  ``category_weight``), ``"ordinal"`` (the position of its 1) or ``"columns"`` (each
  member as a 0/1 column);
- ``weights``: ``{column or group: w}`` multiplies that column's coordinates.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .schema import Metadata, datetime_to_number, infer_metadata

NUMBER_SCALINGS = ("none", "standard", "range", "robust")
MISSING = ("indicator", "last", "nan", "error")


@dataclass
class ColumnCode:
    """How one column (or one one-hot group) becomes coordinates ``start:end``."""

    name: str  # column name, or the group name for a one-hot group
    kind: str  # the schema's column kind, or "group" for a one-hot group
    start: int
    end: int
    members: list[str]  # the table columns it reads
    center: float = 0.0
    scale: float = 1.0
    fill: float = 0.0  # encoded value of a missing number (the fit median)
    has_missing: bool = False
    categories: list[Any] | None = None
    weight: float = 1.0
    indicator: int = -1  # position of the missing indicator (-1: none)


def column_values(series: pd.Series, datetime: bool, date_unit: str = "s") -> np.ndarray:
    """Float values of a numeric, boolean or datetime column (NaN where missing).

    Raises ``TypeError`` naming the column when the values are not numbers.
    """
    if datetime or pd.api.types.is_datetime64_any_dtype(series.dtype):
        return datetime_to_number(series, date_unit)
    if pd.api.types.is_bool_dtype(series.dtype) or pd.api.types.is_numeric_dtype(series.dtype):
        return series.astype(float).to_numpy(dtype=float)
    try:
        return pd.to_numeric(series, errors="raise").to_numpy(dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"column {series.name!r}: expected numbers, found {series.dtype} values") from None


class TableEncoding:
    """A table -> float matrix encoding, fitted on one table and applied to others.

    See the module docstring for the settings. Fitted attributes: ``metadata_``,
    ``columns_``, ``codes_`` (one :class:`ColumnCode` per column or group),
    ``n_features_`` and ``feature_names_``.
    """

    def __init__(self, metadata: Metadata | None = None, categories: str = "onehot", levels: str = "metadata",
                 numbers: str = "none", scale_binary: bool = False, binary_as_category: bool = False,
                 missing: str = "indicator", indicate: str = "observed", groups: str = "onehot",
                 category_weight: float = 1.0, drop_first: bool = False, date_unit: str = "s",
                 weights: Mapping[str, float] | None = None):
        self.metadata = metadata
        self.categories = categories
        self.levels = levels
        self.numbers = numbers
        self.scale_binary = scale_binary
        self.binary_as_category = binary_as_category
        self.missing = missing
        self.indicate = indicate
        self.groups = groups
        self.category_weight = category_weight
        self.drop_first = drop_first
        self.date_unit = date_unit
        self.weights = weights

    # -- fit ---------------------------------------------------------------------------
    def fit(self, df: pd.DataFrame, metadata: Metadata | None = None,
            order: list[str] | None = None) -> TableEncoding:
        """Learn levels, centres, scales, fill values and indicators from ``df``.

        ``order`` lists columns (or one-hot group names) in the order their coordinates
        should come; by default the metadata's order.
        """
        if self.numbers not in NUMBER_SCALINGS:
            raise ValueError(f"numbers must be one of {NUMBER_SCALINGS}, got {self.numbers!r}")
        if self.missing not in MISSING:
            raise ValueError(f"missing must be one of {MISSING}, got {self.missing!r}")
        meta = metadata if metadata is not None else self.metadata
        meta = infer_metadata(df) if meta is None else meta
        weights = dict(self.weights or {})
        codes: list[ColumnCode] = []
        done: set[str] = set()
        names = list(meta.names) if order is None else [
            meta.one_hot_groups[n][0] if n in meta.one_hot_groups else n for n in order]
        for name in names:
            spec = meta[name]
            if name in done:
                continue
            group = spec.group if self.groups != "columns" else None
            if group is not None and group in meta.one_hot_groups:
                members = list(meta.one_hot_groups[group])
                done.update(members)
                w = weights.get(group, float(np.mean([weights.get(m, 1.0) for m in members])))
                codes.append(ColumnCode(group, "group", 0, 0, members, weight=w,
                                        has_missing=bool(df[members].isna().any().any())))
                continue
            done.add(name)
            codes.append(self._fit_column(df[name], name, spec, float(weights.get(name, 1.0))))
        self.metadata_ = meta
        self.columns_ = list(meta.names)
        self.codes_ = codes
        self._lay_out()
        return self

    def _is_category(self, kind: str) -> bool:
        return kind == "categorical" or (kind == "binary" and self.binary_as_category)

    def _fit_column(self, col: pd.Series, name: str, spec: Any, weight: float) -> ColumnCode:
        has_missing = bool(col.isna().any()) or (self.indicate == "nullable" and bool(spec.nullable))
        if self._is_category(spec.kind):
            cats = [0, 1] if spec.kind == "binary" else list(spec.categories or [])
            if self.levels == "seen":
                seen = set(col.dropna().unique())
                cats = [v for v in cats if v in seen] + sorted((v for v in seen if v not in cats), key=str)
                if not cats:
                    raise ValueError(f"column {name!r}: every value is missing")
            return ColumnCode(name, spec.kind, 0, 0, [name], has_missing=has_missing, categories=cats,
                              weight=weight)
        values = column_values(col, spec.kind == "datetime", self.date_unit)
        finite = values[~np.isnan(values)]
        if len(finite) == 0:
            raise ValueError(f"column {name!r}: every value is missing")
        if not np.all(np.isfinite(finite)):
            raise ValueError(f"column {name!r} of the training table: contains infinite values")
        scaled = spec.kind != "binary" or self.scale_binary
        center, scale, median = 0.0, 1.0, float(np.median(finite))
        if scaled and self.numbers == "standard":
            filled = np.where(np.isnan(values), median, values)
            center, scale = float(filled.mean()), float(filled.std())
        elif scaled and self.numbers == "range":
            center, scale = float(finite.min()), float(finite.max() - finite.min())
        elif scaled and self.numbers == "robust":
            center = median
            q75, q25 = np.percentile(finite, [75, 25])
            scale = float(q75 - q25)
            if scale <= 0:
                scale = float(finite.max() - finite.min())
        if not scale > 0:
            scale = 1.0
        return ColumnCode(name, spec.kind, 0, 0, [name], center=center, scale=scale, fill=(median - center) / scale,
                          has_missing=has_missing, weight=weight)

    def _has_inline_indicator(self, c: ColumnCode) -> bool:
        if not c.has_missing or self.missing not in ("indicator", "nan"):
            return False
        if c.kind == "group" or c.categories is not None:
            # an ordinal code gives missing a code of its own; one-hot a coordinate
            onehot = self.groups == "onehot" if c.kind == "group" else self.categories == "onehot"
            return onehot and self.missing == "indicator"
        return True

    def _lay_out(self) -> None:
        pos = 0
        names: list[str] = []
        for c in self.codes_:
            if c.categories is not None and self.categories == "onehot":
                coords = [f"{c.name}={v}" for v in (c.categories or [])[int(self.drop_first):]]
            elif c.kind == "group" and self.groups == "onehot":
                coords = list(c.members)
            else:
                coords = [c.name]
            c.indicator = -1
            if self._has_inline_indicator(c):
                coords.append(f"{c.name}=<missing>")
            c.start, c.end = pos, pos + len(coords)
            if self._has_inline_indicator(c):
                c.indicator = c.end - 1
            pos = c.end
            names += coords
        if self.missing == "last":
            for c in self.codes_:
                if c.has_missing:
                    c.indicator = pos
                    pos += 1
                    names.append(f"{c.name}__missing")
        self.n_features_ = pos
        self.feature_names_ = names

    # -- transform -------------------------------------------------------------------------
    def transform(self, df: pd.DataFrame, what: str = "table") -> np.ndarray:
        """Encode ``df`` (the fit columns) as a float64 matrix of ``n_features_`` columns."""
        out = np.zeros((len(df), self.n_features_), dtype=float)
        for c in self.codes_:
            if c.kind == "group":
                self._encode_group(out, df, c, what)
            elif c.categories is not None:
                self._encode_category(out, df[c.name], c, what)
            else:
                self._encode_number(out, df[c.name], c, what)
        return out

    def _missing(self, miss: np.ndarray, c: ColumnCode, what: str) -> None:
        if miss.any() and (self.missing == "error" or not c.has_missing) and self.missing != "last":
            raise ValueError(
                f"column {c.name!r} of the {what}: has missing values but the training column had none, "
                "so the encoding has no place for them; impute them or refit on data with missing values"
            )

    def _encode_group(self, out: np.ndarray, df: pd.DataFrame, c: ColumnCode, what: str) -> None:
        block = df[c.members]
        miss = block.isna().any(axis=1).to_numpy()
        self._missing(miss, c, what)
        vals = block.to_numpy(dtype=float, na_value=0.0)
        if self.groups == "ordinal":
            out[:, c.start] = vals.argmax(axis=1).astype(float)
            return
        w = self.category_weight * c.weight
        out[:, c.start:c.start + len(c.members)] = vals * w
        if miss.any():
            out[miss, c.start:c.start + len(c.members)] = 0.0
            out[miss, c.end - 1] = w

    def _encode_category(self, out: np.ndarray, col: pd.Series, c: ColumnCode, what: str) -> None:
        miss = col.isna().to_numpy()
        self._missing(miss, c, what)
        cats = list(c.categories or [])
        if self.categories == "ordinal":
            if self.binary_as_category and cats == [0, 1]:
                codes = pd.to_numeric(col.astype("float"), errors="coerce").to_numpy(dtype=float)
            else:
                codes = pd.Categorical(col, categories=cats).codes.astype(float)
                codes[codes < 0] = np.nan
            out[:, c.start] = np.where(np.isnan(codes), len(cats), codes) if self.missing == "nan" else codes
            return
        w = self.category_weight * c.weight
        kept = cats[int(self.drop_first):]
        if self.levels == "seen":
            # matching by equality keeps text and categorical values alike
            values = col.astype(object).to_numpy()
            for j, v in enumerate(kept):
                out[:, c.start + j] = (values == v) * w
        else:
            codes = pd.Categorical(col, categories=cats).codes - int(self.drop_first)
            rows = np.flatnonzero(codes >= 0)
            out[rows, c.start + codes[rows]] = w
        if c.indicator >= 0:
            out[miss, c.indicator] = w if self.missing == "indicator" else 1.0

    def _encode_number(self, out: np.ndarray, col: pd.Series, c: ColumnCode, what: str) -> None:
        values = column_values(col, c.kind == "datetime", self.date_unit)
        miss = np.isnan(values)
        self._missing(miss, c, what)
        if not np.all(np.isfinite(values[~miss])):
            raise ValueError(f"column {c.name!r} of the {what}: contains infinite values")
        if self.missing == "nan":
            z = values if self.numbers == "none" else (values - c.center) / c.scale
        else:
            z = (values - c.center) / c.scale
            z[miss] = c.fill
        out[:, c.start] = z * c.weight
        if c.indicator >= 0:
            out[:, c.indicator] = miss.astype(float) * (c.weight if self.missing != "last" else 1.0)
