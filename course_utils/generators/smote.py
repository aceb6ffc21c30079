"""SMOTE: from the five steps to imbalanced-learn, with type repair and a closeness filter.

SMOTE (Synthetic Minority Over-sampling TEchnique; Chawla et al., 2002, JAIR 16:321-357)
makes a new row of a class in five steps:

1. pick a row of that class at random;
2. find its ``k`` nearest neighbours *within the same class*;
3. pick one of them at random;
4. place the new row a uniformly random fraction of the way from the row to that
   neighbour: ``new = row + u * (neighbour - row)`` with ``u ~ Uniform(0, 1)``;
5. repeat until there are enough new rows.

This module offers the steps as plain functions for teaching
(:func:`smote_step`, :func:`smote_from_scratch`), the bookkeeping that
imbalanced-learn expects (:func:`totals_for`: its ``sampling_strategy`` dict holds the
*total* count per class after resampling, real rows included, not the number of new
rows), a generator on the course contract (:class:`SMOTESynthesizer`, a DataFrame in
and a repaired DataFrame out, in "replace" or "bulk" mode) and a closeness filter
(:func:`~course_utils.evaluation.closeness.nearest_real_distance` and
:func:`~course_utils.evaluation.closeness.closeness_filter`, defined with the metrics
in :mod:`course_utils.evaluation` and re-exported here) that drops synthetic rows
identical or very close to a real patient.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
import pandas as pd
from sklearn.neighbors import NearestNeighbors

from ..config import make_rng
from ..encoding import TableEncoding
from ..evaluation.closeness import closeness_filter, nearest_real_distance
from ..schema import Metadata
from ..values import python_scalar
from .base import Synthesizer, repair_frame

__all__ = [
    "SMOTESynthesizer",
    "closeness_filter",
    "counts_in_proportion",
    "nearest_real_distance",
    "new_from_totals",
    "smote_from_scratch",
    "smote_step",
    "totals_for",
]

Variant = Literal["scratch", "smote", "smotenc", "borderline"]
VARIANTS: tuple[str, ...] = ("scratch", "smote", "smotenc", "borderline")


# -- the five steps ----------------------------------------------------------------------
def smote_step(row: Any, neighbour: Any, fraction: float | np.ndarray) -> np.ndarray:
    """Step 4 of SMOTE: the point ``fraction`` of the way from ``row`` to ``neighbour``.

    ``fraction`` 0 gives ``row``, 1 gives ``neighbour``; SMOTE draws it uniformly from
    [0, 1) so that new rows fill the whole segment rather than piling up at one spot.
    Works on single rows or, with ``fraction`` of shape ``(m, 1)``, on ``m`` rows at once.
    """
    row = np.asarray(row, dtype=float)
    neighbour = np.asarray(neighbour, dtype=float)
    return row + np.asarray(fraction, dtype=float) * (neighbour - row)


def _as_numeric_matrix(X: Any, what: str) -> tuple[np.ndarray, list[str] | None]:
    """Turn a frame or array into a float matrix; name non-numeric and missing columns."""
    if isinstance(X, pd.DataFrame):
        bad = [
            c for c in X.columns
            if not (pd.api.types.is_numeric_dtype(X[c].dtype) or pd.api.types.is_bool_dtype(X[c].dtype))
        ]
        if bad:
            raise TypeError(
                f"plain SMOTE interpolates numbers, but column(s) {bad} of the {what} are not "
                "numeric; one-hot encode them first or use variant='smotenc'"
            )
        na = X.columns[X.isna().any()].tolist()
        if na:
            raise ValueError(f"column(s) {na} of the {what} have missing values; SMOTE cannot use them. "
                             "Impute or drop them first.")
        return X.to_numpy(dtype=float), [str(c) for c in X.columns]
    arr = np.asarray(X)
    if arr.ndim != 2:
        raise ValueError(f"the {what} must be 2-dimensional (rows x features), got shape {arr.shape}")
    if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise TypeError(f"the {what} must hold numbers, got dtype {arr.dtype}; use variant='smotenc'")
    arr = arr.astype(float)
    if np.isnan(arr).any():
        cols = np.where(np.isnan(arr).any(axis=0))[0].tolist()
        raise ValueError(f"column(s) {cols} of the {what} have missing values; impute or drop them first")
    return arr, None


def smote_from_scratch(
    X: Any, n_new: int, k: int = 5, random_state: int | np.random.Generator | None = None
) -> tuple[np.ndarray | pd.DataFrame, pd.DataFrame]:
    """Make ``n_new`` SMOTE rows from the rows of ONE class, ``X`` (array or DataFrame).

    Returns ``(new, steps)``: the new rows (a DataFrame with ``X``'s columns when ``X``
    is one, else an array) and a DataFrame ``steps`` with one line per new row: the
    position of the ``row`` it started from, of the ``neighbour`` it moved towards and
    the ``fraction`` of the way it went. Neighbours are found on the values as given
    (imbalanced-learn does the same): scale the features first when their units differ.

    Raises ``ValueError`` when the class has fewer than ``k + 1`` rows (a row needs ``k``
    neighbours besides itself) or missing values, ``TypeError`` for non-numeric columns.
    """
    values, columns = _as_numeric_matrix(X, "minority-class rows")
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise ValueError(f"k must be a whole number >= 1, got {k!r}")
    if isinstance(n_new, bool) or not isinstance(n_new, int | np.integer) or n_new < 0:
        raise ValueError(f"n_new must be a whole number >= 0, got {n_new!r}")
    n = len(values)
    if n < k + 1:
        raise ValueError(
            f"SMOTE with k={k} needs at least k + 1 = {k + 1} rows of the class, got {n}; "
            "lower k or collect more rows of this class"
        )
    rng = make_rng(random_state)
    # Steps 1-3, vectorised: every row's k neighbours at once (column 0 is the row itself).
    nn = NearestNeighbors(n_neighbors=k + 1).fit(values)
    neighbours = nn.kneighbors(values, return_distance=False)[:, 1:]
    rows = rng.integers(0, n, size=n_new)
    picked = neighbours[rows, rng.integers(0, k, size=n_new)]
    fraction = rng.random(n_new)
    # Step 4 for every new row; step 5 is the vectorisation itself.
    new = smote_step(values[rows], values[picked], fraction[:, None])
    steps = pd.DataFrame({"row": rows, "neighbour": picked, "fraction": fraction})
    if columns is not None:
        return pd.DataFrame(new, columns=X.columns), steps
    return new, steps


# -- imbalanced-learn's counting convention ----------------------------------------------
def totals_for(y: Any, extra: Mapping[Any, int]) -> dict[Any, int]:
    """The ``sampling_strategy`` dict imbalanced-learn wants for ``extra`` new rows per class.

    imbalanced-learn counts *totals after resampling* (real rows + new rows), so asking
    for 500 new rows of class 1 when 751 exist means ``{1: 1251}``. Every class of ``y``
    appears in the result (classes not named in ``extra`` get 0 new rows)::

        totals_for(y, extra={1: 500})   # {0: 1111, 1: 1251} when y has 1111 zeros, 751 ones
    """
    counts = pd.Series(np.asarray(y)).value_counts()
    unknown = [c for c in extra if c not in counts.index]
    if unknown:
        raise ValueError(f"extra names class(es) {unknown} that y does not have; classes: {sorted(counts.index)}")
    for c, v in extra.items():
        if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 0:
            raise ValueError(f"extra[{c!r}] must be a whole number of new rows >= 0, got {v!r}")
    return {python_scalar(c): int(counts[c]) + int(extra.get(c, 0)) for c in sorted(counts.index)}


def new_from_totals(y: Any, totals: Mapping[Any, int]) -> dict[Any, int]:
    """The inverse of :func:`totals_for`: how many *new* rows per class ``totals`` asks for."""
    counts = pd.Series(np.asarray(y)).value_counts()
    out = {}
    for c, t in totals.items():
        if c not in counts.index:
            raise ValueError(f"totals names class {c!r} that y does not have")
        if t < counts[c]:
            raise ValueError(f"total for class {c!r} is {t}, below its {counts[c]} real rows; "
                             "imbalanced-learn's totals include the real rows")
        out[python_scalar(c)] = int(t - counts[c])
    return out


def counts_in_proportion(n: int, weights: Mapping[Any, float]) -> dict[Any, int]:
    """Split ``n`` into whole counts proportional to ``weights`` (largest remainder method)."""
    keys = list(weights)
    w = np.array([float(weights[k]) for k in keys])
    if w.sum() <= 0:
        raise ValueError("weights must have a positive sum")
    exact = n * w / w.sum()
    counts = np.floor(exact).astype(int)
    short = n - counts.sum()
    order = np.argsort(-(exact - counts), kind="stable")
    counts[order[:short]] += 1
    return {k: int(c) for k, c in zip(keys, counts, strict=True)}


# -- the generator on the course contract ------------------------------------------------
class SMOTESynthesizer(Synthesizer):
    """SMOTE as a course generator: a DataFrame in, a repaired DataFrame out.

    Args:
        target: the class column; SMOTE interpolates only between rows of one class.
        k_neighbors: neighbours per row (imbalanced-learn's default is 5).
        mode: ``"replace"``: ``sample(n)`` returns ``n`` synthetic rows in the training
            class proportions (synthetic data to share *instead of* the real rows);
            ``"bulk"``: ``sample(n)`` returns ``n`` new rows of the minority class(es)
            only, to add to the real rows (see :meth:`bulk_out`).
        variant: ``"scratch"`` (this module's :func:`smote_from_scratch`), ``"smote"``
            (imbalanced-learn ``SMOTE``), ``"smotenc"`` (``SMOTENC``: categorical columns
            and one-hot groups take the most common value among the neighbours instead of
            being interpolated), ``"borderline"`` (``BorderlineSMOTE``, kind
            borderline-1: only minority rows near the class boundary are used; it may
            make fewer rows than asked for when no row is near the boundary).
        scale: standardise numeric features before finding neighbours, so that age in
            years does not decide who is a neighbour over a 0/1 flag. Interpolation is
            linear, so scaling changes only which neighbours are used.
        closeness_share: when > 0, ``sample`` makes about twice the rows it needs and
            applies :func:`closeness_filter` against the training rows (drops copies of
            real rows and this share of the closest), then draws the rows it returns
            from what is left, class by class.
        random_state: seed.

    Fitted attributes: ``classes_``, ``class_counts_``, ``features_``.
    """

    handles_missing = False

    def __init__(
        self,
        target: str,
        k_neighbors: int = 5,
        mode: Literal["replace", "bulk"] = "replace",
        variant: Variant = "smote",
        scale: bool = True,
        closeness_share: float = 0.0,
        random_state: int | None = None,
        verbose: bool = True,
    ):
        super().__init__(random_state=random_state, verbose=verbose)
        self.target = target
        self.k_neighbors = k_neighbors
        self.mode = mode
        self.variant = variant
        self.scale = scale
        self.closeness_share = closeness_share

    # -- fitting -----------------------------------------------------------------------
    def _check_params(self) -> None:
        if self.mode not in ("replace", "bulk"):
            raise ValueError(f"mode must be 'replace' or 'bulk', got {self.mode!r}")
        if self.variant not in VARIANTS:
            raise ValueError(f"variant must be one of {VARIANTS}, got {self.variant!r}")
        k = self.k_neighbors
        if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
            raise ValueError(f"k_neighbors must be a whole number >= 1, got {k!r}")
        if not 0 <= self.closeness_share < 1:
            raise ValueError(f"closeness_share must be in [0, 1), got {self.closeness_share}")

    def fit(self, df: pd.DataFrame, metadata: Metadata | None = None) -> SMOTESynthesizer:
        """Check the target, then learn (see :meth:`Synthesizer.fit`)."""
        self._check_params()
        if isinstance(df, pd.DataFrame) and self.target not in df.columns:
            raise ValueError(f"target column {self.target!r} is not in the table; columns: {list(df.columns)}")
        return super().fit(df, metadata)

    def _fit(self, df: pd.DataFrame) -> None:
        y = df[self.target]
        counts = y.value_counts()
        if len(counts) < 2:
            raise ValueError(
                f"target {self.target!r} has a single class ({python_scalar(counts.index[0])!r}); SMOTE "
                "needs at least two classes (use another generator for one-class data)"
            )
        self.classes_ = [python_scalar(c) for c in counts.sort_index().index]
        self.class_counts_ = {python_scalar(c): int(counts[c]) for c in counts.sort_index().index}
        self.features_ = [c for c in self.columns_ if c != self.target]
        if not self.features_:
            raise ValueError("the table has only the target column; SMOTE needs features")
        self._groups = {g: m for g, m in self.metadata_.one_hot_groups.items() if self.target not in m}
        grouped = {c for m in self._groups.values() for c in m}
        kinds = {c: self.metadata_[c].kind for c in self.features_}
        self._categorical = [c for c in self.features_ if kinds[c] in ("categorical", "datetime")]
        if self.variant != "smotenc":
            if self._categorical:
                raise TypeError(
                    f"variant {self.variant!r} interpolates numbers, but column(s) {self._categorical} "
                    "are categorical; use variant='smotenc' or one-hot encode them"
                )
            self._cat_cols: list[str] = []
            self._num_cols = list(self.features_)
        else:
            bad = [c for c in self._categorical if kinds[c] == "datetime"]
            if bad:
                raise TypeError(f"SMOTENC cannot use datetime column(s) {bad}; convert them to numbers")
            # A one-hot group is one categorical variable: SMOTENC votes on it as a whole.
            self._cat_cols = list(self._categorical) + list(self._groups)
            self._num_cols = [c for c in self.features_ if c not in self._categorical and c not in grouped]
            if not self._num_cols:
                raise TypeError("SMOTENC needs at least one numeric feature; all features are categorical")
        to_make = self._classes_to_make()
        small = {c: self.class_counts_[c] for c in to_make if self.class_counts_[c] < self.k_neighbors + 1}
        if small:
            raise ValueError(
                f"SMOTE with k_neighbors={self.k_neighbors} needs at least {self.k_neighbors + 1} rows "
                f"per class; class(es) of {self.target!r} with too few rows: {small}. Lower k_neighbors "
                "or collect more rows."
            )
        self._X = self._encode(df)
        self._y = y.to_numpy()
        self.train_ = df.copy()

    def _classes_to_make(self) -> list[Any]:
        if self.mode == "replace":
            return list(self.classes_)
        top = max(self.class_counts_.values())
        return [c for c, n in self.class_counts_.items() if n < top] or list(self.classes_)

    def _encode(self, df: pd.DataFrame) -> np.ndarray:
        """Features as one float matrix: numbers (standardised with ``scale``), then category codes.

        The course's encoding layer with SMOTE's settings: every number and flag
        standardised (or left as is), categories and one-hot groups as ordinal codes, so
        that imbalanced-learn interpolates the numbers and votes on the codes.
        """
        meta = self.metadata_.select(self.features_)
        encoding = TableEncoding(categories="ordinal", levels="metadata",
                                 numbers="standard" if self.scale else "none", scale_binary=True,
                                 missing="error", groups="ordinal" if self._cat_cols else "columns")
        X = encoding.fit(df, meta, order=self._num_cols + self._cat_cols).transform(df, "training table")
        numbers = encoding.codes_[: len(self._num_cols)]
        self._mean = np.array([c.center for c in numbers])
        self._sd = np.array([c.scale for c in numbers])
        return X

    def _decode(self, X: np.ndarray, y: np.ndarray) -> pd.DataFrame:
        out: dict[str, Any] = {}
        p = len(self._num_cols)
        num = X[:, :p] * self._sd + self._mean
        for j, c in enumerate(self._num_cols):
            out[c] = num[:, j]
        for j, c in enumerate(self._cat_cols):
            codes = np.rint(X[:, p + j]).astype(int)
            if c in self._groups:
                for i, m in enumerate(self._groups[c]):
                    out[m] = (codes == i).astype(float)
            else:
                out[c] = np.asarray(self.metadata_[c].categories, dtype=object)[codes]
        out[self.target] = y
        return pd.DataFrame(out)[self.columns_]

    # -- sampling ----------------------------------------------------------------------
    def counts_for(self, n: int) -> dict[Any, int]:
        """How :meth:`sample` splits ``n`` rows over the classes in this mode."""
        self._check_fitted()
        if self.mode == "replace":
            return counts_in_proportion(n, self.class_counts_)
        top = max(self.class_counts_.values())
        short = {c: top - m for c, m in self.class_counts_.items() if m < top}
        if not short:  # already balanced: share the rows evenly
            short = {c: 1 for c in self.classes_}
        out = dict.fromkeys(self.classes_, 0)
        out.update(counts_in_proportion(n, short))
        return out

    def sample_per_class(
        self, n_new_per_class: Mapping[Any, int], random_state: int | None = None
    ) -> pd.DataFrame:
        """Make exactly ``n_new_per_class[c]`` NEW rows of each class ``c`` (repaired).

        This is the number of new rows, not imbalanced-learn's total per class; classes
        left out get none.
        """
        self._check_fitted()
        unknown = [c for c in n_new_per_class if c not in self.classes_]
        if unknown:
            raise ValueError(f"unknown class(es) {unknown} of {self.target!r}; classes: {self.classes_}")
        rng = self._rng if random_state is None else make_rng(random_state)
        raw = self._generate_filtered({c: int(v) for c, v in n_new_per_class.items()}, rng)
        return repair_frame(raw, self.metadata_, self.dtypes_)

    def bulk_out(self, n_new_per_class: Mapping[Any, int] | None = None,
                 random_state: int | None = None) -> pd.DataFrame:
        """The training rows plus new rows: by default enough to balance every class.

        For training a model on a rare class; never share the result (it holds the
        real rows). The real rows come first, then the synthetic ones;
        ``result.attrs["n_real"]`` says where the synthetic rows start.
        """
        self._check_fitted()
        if n_new_per_class is None:
            top = max(self.class_counts_.values())
            n_new_per_class = {c: top - m for c, m in self.class_counts_.items() if m < top}
        new = self.sample_per_class(n_new_per_class, random_state=random_state)
        real = self.train_.copy()
        out = pd.concat([real, new], ignore_index=True)
        out.attrs["n_real"] = len(real)
        return out

    def _sample(self, n: int, conditions: dict[str, Any] | None, rng: np.random.Generator) -> pd.DataFrame:
        raw = self._generate_filtered(self.counts_for(n), rng)
        return raw.sample(frac=1.0, random_state=int(rng.integers(2**31 - 1))).reset_index(drop=True)

    def _generate_filtered(self, counts: dict[Any, int], rng: np.random.Generator) -> pd.DataFrame:
        counts = {c: v for c, v in counts.items() if v > 0}
        if not counts:
            return self._decode(np.zeros((0, self._X.shape[1])), np.array([], dtype=object))
        if self.closeness_share <= 0:
            X, y = self._generate(counts, rng)
            return self._decode(X, y)
        pieces = []
        for attempt in range(4):
            factor = 2 ** (attempt + 1)  # about twice what is needed; more if the filter bites
            X, y = self._generate({c: factor * v for c, v in counts.items()}, rng)
            cand = repair_frame(self._decode(X, y), self.metadata_, self.dtypes_)
            kept = closeness_filter(self.train_, cand, share=self.closeness_share)
            have = kept[self.target].value_counts()
            if all(have.get(c, 0) >= v for c, v in counts.items()):
                for c, v in counts.items():
                    rows = kept[kept[self.target] == c]
                    pieces.append(rows.iloc[np.sort(rng.choice(len(rows), size=v, replace=False))])
                return pd.concat(pieces, ignore_index=True)
        raise RuntimeError(
            "too few synthetic rows survive the closeness filter (most are copies of real rows); "
            "lower closeness_share or use another generator"
        )

    def _generate(self, counts: dict[Any, int], rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        if self.variant == "scratch":
            Xs, ys = [], []
            for c, v in counts.items():
                new, _ = smote_from_scratch(self._X[self._y == c], v, k=self.k_neighbors, random_state=rng)
                Xs.append(new)
                ys.append(np.repeat(np.array([c], dtype=object), v))
            return np.vstack(Xs), np.concatenate(ys)
        seed = int(rng.integers(2**31 - 1))
        # imbalanced-learn wants plain class labels: use each class's position in classes_.
        code = {c: i for i, c in enumerate(self.classes_)}
        y_codes = np.array([code[python_scalar(v)] for v in self._y])
        totals = totals_for(y_codes, extra={code[c]: v for c, v in counts.items()})
        kw: dict[str, Any] = {"sampling_strategy": totals, "k_neighbors": self.k_neighbors, "random_state": seed}
        from imblearn.over_sampling import SMOTE, SMOTENC, BorderlineSMOTE

        if self.variant == "smote":
            sampler = SMOTE(**kw)
        elif self.variant == "borderline":
            sampler = BorderlineSMOTE(**kw)
        else:
            p = len(self._num_cols)
            sampler = SMOTENC(categorical_features=list(range(p, p + len(self._cat_cols))), **kw)
        X_res, y_res = sampler.fit_resample(self._X, y_codes)
        # imbalanced-learn returns the real rows first, then the new ones.
        X_new, y_new = np.asarray(X_res)[len(self._X):], np.asarray(y_res)[len(self._X):]
        for c, v in counts.items():
            made = int((y_new == code[c]).sum())
            if made < v:
                raise RuntimeError(
                    f"{type(sampler).__name__} made only {made} of the {v} rows asked for class {c!r} "
                    "(too few minority rows near the class boundary); use variant='smote'"
                )
        return X_new, np.asarray(self.classes_, dtype=object)[y_new]

