"""A reversible transform between a patient table and a numeric matrix.

Models learn from numbers; clinicians read tables. :class:`TabularTransformer` turns a
mixed-type DataFrame into a float32 matrix (or a torch tensor) and turns model output
back into a table with the original columns, dtypes and categories.

It is a configuration of the course's one encoding layer,
:class:`~course_utils.encoding.TableEncoding` (see :func:`neural_encoding`): that layer
decides each column's kind, levels, missing-value indicator and date conversion. The
transformer adds what neural generators need on top: a scaler per numeric column, the
layout of spans with their activations, and the exact inverse.

Encodings, column by column:

- continuous, integer and datetime columns: one number each, scaled by the chosen
  ``continuous`` method: ``"standard"`` (z-score), ``"minmax"`` (to [0, 1]),
  ``"quantile"`` (to normal scores through the empirical CDF: skewed and multi-modal
  shapes become a standard normal, which neural networks find easy) or ``"boxcox"``
  (Box-Cox on the shifted values, then min-max). Datetimes are counted in days.
- binary columns: one 0/1 number.
- categorical columns: a one-hot block; a one-hot group declared in the metadata
  (several 0/1 columns that encode one variable) is one block as well.
- what the generators add (both off by default): ``ordinal_levels`` codes an integer
  column with few levels (an NIHSS item scored 0-4) as a one-hot block of its observed
  values, and ``point_masses`` decodes a quantile-scaled column whose values repeat (a
  score recorded in tens) onto those values instead of between them. A classifier spots
  rounded network output on such columns at once; see :class:`TabularTransformer`.
- missing values: a numeric or binary column that may be missing gets a 0/1 indicator
  column after its value; a categorical gets an extra "missing" level in its block.

``layout_`` says which output slice belongs to which column and of what kind, so a
model can apply a softmax to each one-hot block (``activate``) and a loss per kind.

Decoding (``inverse_transform``) takes the argmax of each block, or samples from it
with ``sample=True``; integers are rounded and every number is clipped to the bounds
in the metadata. On its own output the round trip is exact for categorical, binary and
integer columns and exact up to float32 precision for continuous ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import special, stats
from sklearn.exceptions import NotFittedError

from .config import make_rng
from .encoding import ColumnCode, TableEncoding, column_values
from .schema import Metadata, infer_metadata, repair_frame, validate
from .values import TIME_UNITS

CONTINUOUS_METHODS = ("standard", "minmax", "quantile", "boxcox")
POINT_MASS_ROWS = 10  # quantile scaling: a column whose values repeat this often on average decodes onto them
# the generators code an integer column with at most this many levels as a one-hot block
# (clinical ordinal scales: NIHSS items 0-2 to 0-4, the modified Rankin scale 0-6)
ORDINAL_LEVELS = 7
_SCALED_KINDS = ("continuous", "integer", "datetime")  # the schema's kinds that get a scaler
DATE_UNIT = "day"  # dates become days since 1970 before their scaler
_DAY_NS = TIME_UNITS[DATE_UNIT]
_EPS = 1e-6  # keeps normal scores finite at the ends of the empirical CDF


@dataclass(frozen=True)
class Span:
    """One slice ``[start, end)`` of the encoded matrix.

    ``column`` is the table column (or the one-hot group name); ``kind`` is how a
    network treats the slice (not the column's kind, which is the schema's):
    ``numeric``, ``binary``, ``onehot`` or ``missing`` (the indicator of a nullable
    column); ``columns`` lists the table columns the slice encodes; ``levels`` the
    one-hot levels in order (categories, or group members).
    """

    column: str
    start: int
    end: int
    kind: str
    columns: tuple[str, ...]
    levels: tuple[Any, ...] = ()

    @property
    def width(self) -> int:
        return self.end - self.start

    @property
    def slice(self) -> slice:
        return slice(self.start, self.end)


class _Scaler:
    """Scale one numeric column; fitted on its non-missing values."""

    def __init__(self, method: str, point_masses: bool = False):
        self.method = method
        self.point_masses = point_masses

    def fit(self, x: np.ndarray) -> _Scaler:
        x = np.asarray(x, dtype=float)
        self.min_, self.max_ = float(x.min()), float(x.max())
        if self.method == "standard":
            self.mean_ = float(x.mean())
            sd = float(x.std())
            self.scale_ = sd if sd > 0 else 1.0
        elif self.method == "minmax":
            self.scale_ = self.max_ - self.min_ or 1.0
        elif self.method == "quantile":
            knots, counts = np.unique(x, return_counts=True)
            cdf = np.cumsum(counts) / counts.sum()
            mid = cdf - counts / counts.sum() / 2  # mid-rank of each distinct value
            self.knots_ = knots
            self.scores_ = stats.norm.ppf(np.clip(mid, _EPS, 1 - _EPS))
            # values that repeat (a score recorded in steps of 10) are point masses:
            # decoding lands on them instead of between them
            self.discrete_ = bool(self.point_masses and len(knots) > 1 and counts.mean() >= POINT_MASS_ROWS)
            if self.discrete_:
                self.edges_ = stats.norm.ppf(np.clip(cdf[:-1], _EPS, 1 - _EPS))
        elif self.method == "boxcox":
            shifted = x - self.min_ + 1.0
            if np.ptp(shifted) == 0:
                self.lambda_ = 1.0
            else:
                self.lambda_ = float(stats.boxcox_normmax(shifted, method="mle"))
            y = special.boxcox(shifted, self.lambda_)
            self.ymin_, self.yscale_ = float(y.min()), float(np.ptp(y)) or 1.0
        else:
            raise ValueError(f"unknown continuous method {self.method!r}; use one of {CONTINUOUS_METHODS}")
        return self

    def transform(self, x: np.ndarray) -> np.ndarray:
        if self.method == "standard":
            return (x - self.mean_) / self.scale_
        if self.method == "minmax":
            return (x - self.min_) / self.scale_
        if self.method == "quantile":
            if len(self.knots_) == 1:
                return np.zeros_like(x)
            return np.interp(x, self.knots_, self.scores_)
        shifted = np.maximum(x - self.min_ + 1.0, 1e-9)
        return (special.boxcox(shifted, self.lambda_) - self.ymin_) / self.yscale_

    def inverse(self, z: np.ndarray) -> np.ndarray:
        if self.method == "standard":
            return z * self.scale_ + self.mean_
        if self.method == "minmax":
            return z * self.scale_ + self.min_
        if self.method == "quantile":
            if len(self.knots_) == 1:
                return np.full_like(z, self.knots_[0])
            if getattr(self, "discrete_", False):  # files saved before point masses interpolate
                return self.knots_[np.searchsorted(self.edges_, z)].astype(float)
            return np.interp(z, self.scores_, self.knots_)
        y = z * self.yscale_ + self.ymin_
        if self.lambda_ != 0:
            # outside the Box-Cox range the inverse is undefined; stay at its edge
            y = np.maximum(y, -1.0 / self.lambda_ + 1e-9) if self.lambda_ > 0 else np.minimum(y, -1.0 / self.lambda_ - 1e-9)
        return special.inv_boxcox(y, self.lambda_) + self.min_ - 1.0


def _time_resolution(dates: pd.Series) -> int:
    """The coarsest of day, hour, minute, second, nanosecond dividing every timestamp."""
    ns = pd.to_datetime(dates.dropna()).astype("int64").to_numpy()
    for step in (_DAY_NS, 3600 * 10**9, 60 * 10**9, 10**9):
        if np.all(ns % step == 0):
            return step
    return 1


def neural_encoding() -> TableEncoding:
    """The :class:`~course_utils.encoding.TableEncoding` under every :class:`TabularTransformer`.

    One-hot categories (the metadata's levels, a missing level last), declared one-hot
    groups as one block, numbers unscaled (each column's scaler comes after), dates in
    days, and a 0/1 indicator after each column the metadata declares nullable.
    """
    return TableEncoding(categories="onehot", levels="metadata", numbers="none", missing="indicator",
                         indicate="nullable", groups="onehot", date_unit=DATE_UNIT)


def _spans(code: ColumnCode) -> list[Span]:
    """The spans of one column (or one-hot group) of the encoding, in its coordinates."""
    if code.kind == "group":
        members = tuple(code.members)
        return [Span(code.name, code.start, code.end, "onehot", members, members)]
    if code.categories is not None:
        levels = tuple(code.categories) + ((None,) if code.indicator >= 0 else ())
        return [Span(code.name, code.start, code.end, "onehot", (code.name,), levels)]
    kind = "binary" if code.kind == "binary" else "numeric"
    spans = [Span(code.name, code.start, code.start + 1, kind, (code.name,))]
    if code.indicator >= 0:
        spans.append(Span(code.name, code.indicator, code.indicator + 1, "missing", (code.name,)))
    return spans


def _encoding_of_layout(tt: TabularTransformer) -> TableEncoding:
    """The encoding of a transformer saved before it kept one, rebuilt from its layout and fills."""
    encoding = neural_encoding()
    encoding.metadata_, encoding.columns_, encoding.codes_ = tt.metadata_, list(tt.columns_), []
    for span in tt.layout_:
        if span.kind == "missing":
            encoding.codes_[-1].has_missing = True
        elif len(span.columns) > 1:
            encoding.codes_.append(ColumnCode(span.column, "group", 0, 0, list(span.columns)))
        elif span.kind == "onehot":
            encoding.codes_.append(ColumnCode(span.column, "categorical", 0, 0, [span.column],
                                              has_missing=None in span.levels,
                                              categories=[v for v in span.levels if v is not None]))
        else:
            encoding.codes_.append(ColumnCode(span.column, tt.metadata_[span.column].kind, 0, 0, [span.column],
                                              fill=tt.__dict__["fill_"][span.column]))
    encoding._lay_out()
    return encoding


class TabularTransformer:
    """DataFrame <-> float32 matrix, with an exact inverse.

    Args:
        continuous: scaling of numeric columns: ``standard``, ``minmax``,
            ``quantile`` (default) or ``boxcox``; a dict ``{column: method}`` sets it
            per column (unlisted columns use ``standard``).
        random_state: seed for ``inverse_transform(..., sample=True)`` when the call
            gives none.
        point_masses: with ``quantile`` scaling, a numeric column whose values repeat
            (``POINT_MASS_ROWS`` training rows per distinct value or more on average, e.g. a
            performance score recorded in steps of 10) decodes onto its observed values
            instead of between them. Off by default, so that a value the training rows
            never held (a holdout patient's) comes back as itself; the generators turn it on,
            because a synthetic score of 47 on a scale recorded in tens gives every row away.
        ordinal_levels: an integer column with at most this many distinct values (an NIHSS
            item scored 0-4, a Rankin scale, a count of conditions) is coded as a one-hot block
            of its observed values instead of one scaled number (0: never). A network then
            gives each level its own probability, and the combinations of levels across such
            columns follow the training rows far more closely than rounded numbers do; the
            generators use it. The order of the levels is lost to the model, not to the table.

    Fitted attributes: ``metadata_``, ``encoding_`` (the fitted :func:`neural_encoding`),
    ``scalers_`` (one per numeric column), ``layout_`` (list of :class:`Span`),
    ``output_dim_``, ``columns_``, ``dtypes_``.
    """

    def __init__(self, continuous: str | dict[str, str] = "quantile", random_state: int | None = None,
                 point_masses: bool = False, ordinal_levels: int = 0):
        self.continuous = continuous
        self.point_masses = point_masses
        self.ordinal_levels = ordinal_levels
        self.random_state = random_state

    # -- fitting ----------------------------------------------------------------------
    def fit(self, df: pd.DataFrame, metadata: Metadata | None = None) -> TabularTransformer:
        """Learn the encoding of each column of ``df``."""
        if not isinstance(df, pd.DataFrame):
            raise TypeError(f"expected a pandas DataFrame, got {type(df).__name__}")
        if len(df) == 0:
            raise ValueError("cannot fit a transformer on an empty table")
        metadata = infer_metadata(df) if metadata is None else metadata
        validate(df, metadata)
        if isinstance(self.continuous, str) and self.continuous not in CONTINUOUS_METHODS:
            raise ValueError(f"unknown continuous method {self.continuous!r}; use one of {CONTINUOUS_METHODS}")
        self.metadata_ = metadata.copy()
        self.columns_ = metadata.names
        self.dtypes_ = {c: df[c].dtype for c in self.columns_}
        self.encoding_ = neural_encoding().fit(df, self._coding_metadata(df))
        self.scalers_: dict[str, _Scaler] = {}
        self.resolution_: dict[str, int] = {}
        for code in self.encoding_.codes_:
            if code.kind == "binary":
                code.fill = 0.0  # a missing flag reads 0; its indicator says it is missing
            elif code.kind in _SCALED_KINDS:
                values = column_values(df[code.name], code.kind == "datetime", DATE_UNIT)
                values = values[~np.isnan(values)]
                if code.kind == "datetime":
                    self.resolution_[code.name] = _time_resolution(df[code.name])
                self.scalers_[code.name] = _Scaler(self._method_for(code.name), self.point_masses).fit(values)
        self.layout_ = [span for code in self.encoding_.codes_ for span in _spans(code)]
        self.output_dim_ = self.encoding_.n_features_
        return self

    def _coding_metadata(self, df: pd.DataFrame) -> Metadata:
        """The metadata the encoding is built from: integer columns with few levels become categories."""
        levels = self.ordinal_levels
        if isinstance(levels, bool) or not isinstance(levels, int | np.integer) or levels < 0:
            raise ValueError(f"ordinal_levels must be a whole number >= 0, got {levels!r}")
        meta = self.metadata_
        for name in meta.names:
            if meta[name].kind != "integer" or meta[name].group is not None:
                continue
            seen = pd.unique(df[name].dropna())
            if 2 <= len(seen) <= levels:
                meta = meta.update_column(name, kind="categorical", bounds=None,
                                          categories=sorted(int(v) for v in seen))
        return meta

    def _method_for(self, name: str) -> str:
        if isinstance(self.continuous, dict):
            method = self.continuous.get(name, "standard")
            if method not in CONTINUOUS_METHODS:
                raise ValueError(f"column {name!r}: unknown continuous method {method!r}")
            return method
        return self.continuous

    def _check_fitted(self) -> None:
        if not hasattr(self, "layout_"):
            raise NotFittedError("this TabularTransformer is not fitted yet; call fit(df) first")
        if "encoding_" not in self.__dict__:
            self.encoding_ = _encoding_of_layout(self)

    # -- encoding ---------------------------------------------------------------------
    def transform(self, df: pd.DataFrame) -> np.ndarray:
        """Encode ``df`` (same columns as at fit) as a float32 matrix of ``output_dim_`` columns."""
        self._check_fitted()
        if not isinstance(df, pd.DataFrame):
            raise TypeError(f"expected a pandas DataFrame, got {type(df).__name__}")
        validate(df, self.metadata_, check_bounds=False)
        out = self.encoding_.transform(df)
        for span in self.layout_:
            if span.kind == "numeric":
                out[:, span.start] = self.scalers_[span.column].transform(out[:, span.start])
        return out.astype(np.float32)

    def fit_transform(self, df: pd.DataFrame, metadata: Metadata | None = None) -> np.ndarray:
        """``fit`` then ``transform``."""
        return self.fit(df, metadata).transform(df)

    def transform_tensor(self, df: pd.DataFrame, device: Any = None):
        """Like :meth:`transform`, as a float32 torch tensor (on ``device`` if given)."""
        import torch

        t = torch.from_numpy(self.transform(df))
        return t.to(device) if device is not None else t

    # -- decoding ---------------------------------------------------------------------
    def inverse_transform(
        self, X: Any, sample: bool = False, random_state: int | np.random.Generator | None = None
    ) -> pd.DataFrame:
        """Decode a matrix (NumPy array or torch tensor) back into a table.

        Each one-hot block becomes the level with the largest value, or with
        ``sample=True`` a level drawn with probabilities proportional to the block's
        (non-negative) values; binary and missing indicators are thresholded at 0.5
        (or drawn as Bernoulli with that probability). Integers are rounded and every
        number clipped to its bounds; the result has the training columns and dtypes.
        """
        self._check_fitted()
        X = self._as_array(X)
        rng = make_rng(self.random_state if random_state is None else random_state) if sample else None
        n = len(X)
        cols: dict[str, Any] = {}
        for span in self.layout_:
            block = X[:, span.slice]
            if span.kind == "onehot":
                idx = self._choose(block, rng)
                if len(span.columns) > 1:
                    for j, member in enumerate(span.columns):
                        cols[member] = (idx == j).astype(float)
                else:
                    levels = np.array(span.levels, dtype=object)
                    cols[span.column] = levels[idx]
            elif span.kind == "missing":
                miss = self._flip(block[:, 0], rng)
                values = np.asarray(cols[span.column], dtype=object if self.metadata_[span.column].kind == "datetime" else float)
                values = values.copy()
                values[miss] = np.nan if values.dtype != object else None
                cols[span.column] = values
            elif span.kind == "binary":
                cols[span.column] = self._flip(block[:, 0], rng).astype(float)
            else:
                spec = self.metadata_[span.column]
                x = self.scalers_[span.column].inverse(block[:, 0].astype(float))
                if spec.kind == "datetime":
                    # float32 keeps about a minute of precision on today's dates: round
                    # back to the finest unit the training dates used (often whole days)
                    step = self.resolution_[span.column]
                    ns = np.round(x * _DAY_NS / step).astype("int64") * step
                    x = pd.to_datetime(ns).to_numpy(dtype=object)
                cols[span.column] = x
        frame = pd.DataFrame({c: cols[c] for c in self.columns_}, index=pd.RangeIndex(n))
        for c in self.columns_:
            if self.metadata_[c].kind == "datetime":
                frame[c] = pd.to_datetime(frame[c])
        return repair_frame(frame, self.metadata_, self.dtypes_)

    @staticmethod
    def _as_array(X: Any) -> np.ndarray:
        if hasattr(X, "detach"):
            X = X.detach().cpu().numpy()
        X = np.asarray(X, dtype=float)
        if X.ndim != 2:
            raise ValueError(f"expected a 2-D matrix, got shape {X.shape}")
        return X

    @staticmethod
    def _choose(block: np.ndarray, rng: np.random.Generator | None) -> np.ndarray:
        if rng is None:
            return block.argmax(axis=1)
        p = np.clip(np.nan_to_num(block, nan=0.0), 0, None)
        totals = p.sum(axis=1, keepdims=True)
        p = np.where(totals > 0, p / np.where(totals > 0, totals, 1), 1.0 / block.shape[1])
        u = rng.random((len(block), 1))
        return np.minimum((p.cumsum(axis=1) < u).sum(axis=1), block.shape[1] - 1)

    @staticmethod
    def _flip(p: np.ndarray, rng: np.random.Generator | None) -> np.ndarray:
        if rng is None:
            return p > 0.5
        return rng.random(len(p)) < np.clip(p, 0, 1)

    # -- helpers for models -----------------------------------------------------------
    def onehot_spans(self) -> list[Span]:
        """The one-hot blocks (categoricals and declared groups)."""
        self._check_fitted()
        return [s for s in self.layout_ if s.kind == "onehot"]

    def activate(self, logits):
        """Turn raw model output (torch tensor) into values the decoder understands.

        Softmax over each one-hot block, sigmoid for binary and missing indicators,
        identity for numeric columns (:func:`course_utils.generators.neural.activate`
        on this layout). Use it on a decoder's or generator's output.
        """
        from .generators.neural import activate

        self._check_fitted()
        return activate(logits, self.layout_)

    def describe_layout(self) -> pd.DataFrame:
        """The layout as a table: column, kind, start, end, width, levels."""
        self._check_fitted()
        return pd.DataFrame(
            [
                {"column": s.column, "kind": s.kind, "start": s.start, "end": s.end,
                 "width": s.width, "levels": list(s.levels) if s.levels else None}
                for s in self.layout_
            ]
        )
