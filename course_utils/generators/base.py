"""The contract every generator in the course keeps.

A generator follows scikit-learn's conventions: hyper-parameters are keywords of
``__init__``, learning happens in ``fit``, fitted attributes end in ``_``, and
``random_state`` makes results reproducible. Generators add ``sample(n)``::

    gen = SomeSynthesizer(random_state=0)
    gen.fit(train_df)                      # metadata inferred when not given
    synth = gen.sample(1_000)              # same columns, dtypes and categories
    synth_af = gen.sample(200, conditions={"afb": 1})   # where supported

Subclasses implement ``_fit(df)`` and ``_sample(n, conditions, rng)``; this class does
the checking (bad input gives a ``ValueError`` naming the column and the problem), the
bookkeeping (metadata, column order, dtypes) and the repair of what comes out
(dtypes restored, integers rounded, values clipped to their bounds, one row of each
one-hot group set to 1).

Two promises every generator keeps through this class:

- ``fit`` is all or nothing: the new state is built on a fresh copy and replaces the
  old one only when fitting succeeds, so a ``fit`` that raises leaves a fitted
  generator exactly as it was (a never-fitted one stays unfitted).
- ``gen.save(path)`` / ``Synthesizer.load(path)`` use the course's generator file
  format (:mod:`course_utils.persistence`): data only (JSON and numpy arrays, never
  pickle), with a format version and a SHA-256 checksum. Opening a file runs no code
  from it, a damaged file is a ``ValueError``, and a loaded generator continues the
  saved one's random stream, so it samples exactly what the saved one would have.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError

from ..config import check_random_state
from ..constraints import apply_constraints, rows_satisfying
from ..schema import Metadata, infer_metadata, repair_frame, require_frame, validate


def check_table(df: Any, what: str = "training table") -> pd.DataFrame:
    """Reject what no generator can learn from, with a message that names the problem."""
    require_frame(df, what)
    for col in df.columns:
        s = df[col]
        if s.isna().all():
            raise ValueError(f"column {col!r} of the {what}: every value is missing; drop the column")
        if pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype):
            v = s.dropna().to_numpy(dtype=float)
            if not np.all(np.isfinite(v)):
                raise ValueError(f"column {col!r} of the {what}: contains infinite values")
    return df


class Synthesizer(BaseEstimator, ABC):
    """Base class for every generator: ``fit(df, metadata=None)`` then ``sample(n)``.

    A scikit-learn estimator: ``get_params(deep=True)``, ``set_params(**params)``,
    ``sklearn.base.clone(gen)`` (an unfitted copy with the same settings) and a
    ``repr`` that shows only the parameters that differ from their defaults all
    come from :class:`sklearn.base.BaseEstimator`, so subclasses must store each
    ``__init__`` keyword unchanged under its own name.

    Subclasses set ``supports_conditions = True`` when ``sample`` can fix column
    values; the others raise ``NotImplementedError`` when given ``conditions``.
    Fitted attributes: ``metadata_``, ``columns_``, ``dtypes_``, ``n_train_``, and
    ``rejection_rate_`` (share of drawn rows the last ``sample`` threw away for
    breaking a rule of ``metadata.constraints``).

    Accepted constraints (``metadata.constraints``) hold in every returned row:
    derived columns are rebuilt from their sources after sampling, and rows breaking
    a checked rule (an inequality, a survival time past its follow-up) are drawn again.
    """

    supports_conditions: bool = False
    handles_missing: bool = True
    MAX_DRAWN_PER_ROW = 50  # rows drawn per row asked for before rejection gives up

    def __init__(self, random_state: int | None = None, verbose: bool = True):
        self.random_state = random_state
        self.verbose = verbose

    # -- the contract -----------------------------------------------------------------
    def fit(self, df: pd.DataFrame, metadata: Metadata | None = None) -> Synthesizer:
        """Learn from ``df``; infer the metadata when it is not given. Returns ``self``.

        Fitting happens on a fresh copy that holds only the hyper-parameters; its
        state replaces this generator's only when fitting succeeds. A ``fit`` that
        raises (a bad table, too few rows of a class, an interrupted training)
        therefore leaves the generator exactly as it was: still fitted to its
        previous table, its random stream where it was.
        """
        work = self._unfitted_copy()
        shared = self.random_state if isinstance(self.random_state, np.random.Generator) else None
        shared_state = shared.bit_generator.state if shared is not None else None
        try:
            work._fit_new_state(df, metadata)
        except BaseException:
            if shared is not None:  # a Generator passed as random_state is shared with the caller
                shared.bit_generator.state = shared_state
            raise
        self.__dict__.clear()
        self.__dict__.update(work.__dict__)
        return self

    def _unfitted_copy(self) -> Synthesizer:
        """A new instance with this one's hyper-parameters and none of its fitted state.

        Fitted state is every attribute ending in ``_`` (scikit-learn's convention) or
        starting with ``_`` (private helpers such as the random stream).
        """
        fresh = type(self).__new__(type(self))
        fresh.__dict__.update(
            {k: v for k, v in self.__dict__.items() if not k.endswith("_") and not k.startswith("_")}
        )
        return fresh

    def _fit_new_state(self, df: pd.DataFrame, metadata: Metadata | None) -> None:
        """The body of :meth:`fit`, run on an unfitted copy."""
        check_table(df)
        if metadata is None:
            metadata = infer_metadata(df)
        elif not isinstance(metadata, Metadata):
            raise TypeError(f"metadata must be a course_utils Metadata, got {type(metadata).__name__}")
        validate(df, metadata)
        if not self.handles_missing:
            na = df.columns[df.isna().any()].tolist()
            if na:
                raise ValueError(
                    f"{type(self).__name__} cannot learn from missing values; column(s) {na} "
                    "have some. Impute or drop them first."
                )
        self.metadata_ = metadata.copy()
        self.columns_ = list(metadata.names)
        self.dtypes_ = {c: df[c].dtype for c in self.columns_}
        self.n_train_ = len(df)
        self.missing_rate_ = {c: float(df[c].isna().mean()) for c in self.columns_}
        self.rejection_rate_ = 0.0
        self._rng = check_random_state(self.random_state)
        self._fit(df[self.columns_].reset_index(drop=True))

    def sample(
        self,
        n: int,
        conditions: Mapping[str, Any] | None = None,
        random_state: int | None = None,
    ) -> pd.DataFrame:
        """Draw ``n`` synthetic rows with the training table's columns and dtypes.

        ``conditions`` fixes column values (``{"gender": "female"}``) where the
        generator supports it. ``random_state`` makes this one call reproducible on
        its own; otherwise the generator's own random stream moves on, so repeated
        calls give new rows and a fitted generator with a fixed seed gives the same
        sequence of samples every time.
        """
        self._check_fitted()
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 0:
            raise ValueError(f"n must be a whole number >= 0, got {n!r}")
        n = int(n)
        conditions = self._check_conditions(conditions)
        rng = self._rng if random_state is None else check_random_state(random_state)
        if n == 0:
            return self._empty()
        rules = getattr(self.metadata_, "constraints", [])  # files saved before rules existed have none
        if rules:
            return self._sample_with_rules(n, conditions, rng, rules)
        out = self._draw_repaired(n, conditions, rng)
        for col, value in (conditions or {}).items():
            if not (out[col] == value).all():
                raise RuntimeError(f"{type(self).__name__} did not honour the condition on {col!r}")
        return out

    def _draw_repaired(self, n: int, conditions: dict[str, Any] | None, rng: np.random.Generator) -> pd.DataFrame:
        raw = self._sample(n, conditions, rng)
        if list(raw.columns) != self.columns_:
            raw = raw[self.columns_]
        return repair_frame(raw, self.metadata_, self.dtypes_)

    def _sample_with_rules(self, n: int, conditions: dict[str, Any] | None,
                           rng: np.random.Generator, rules: list[Any]) -> pd.DataFrame:
        """Derived columns rebuilt from their sources; rows breaking a checked rule drawn again.

        Sets ``rejection_rate_``: the share of drawn rows thrown away. Gives up with a
        ``RuntimeError`` naming the most broken rule after ``MAX_DRAWN_PER_ROW`` rows
        drawn per row asked for.
        """
        kept: list[pd.DataFrame] = []
        n_kept = drawn = 0
        broken = dict.fromkeys(map(str, rules), 0)
        batch = n
        while n_kept < n:
            if drawn + batch > self.MAX_DRAWN_PER_ROW * n + 100:
                worst = max(broken, key=broken.get)
                raise RuntimeError(
                    f"{type(self).__name__}: after drawing {drawn} rows only {n_kept} kept every rule; "
                    f"'{worst}' was broken in {broken[worst] / max(drawn, 1):.0%} of them. Check that the "
                    "rule holds in the training table, or drop it from metadata.constraints"
                )
            out = apply_constraints(self._draw_repaired(batch, conditions, rng), rules)
            ok = rows_satisfying(out, rules)
            for rule in rules:
                broken[str(rule)] += int((~rule.holds(out)).sum())
            for col, value in (conditions or {}).items():
                ok &= (out[col] == value).to_numpy()  # a derived column may no longer match
            drawn += batch
            kept.append(out[ok])
            n_kept += int(ok.sum())
            rate = max(ok.mean(), 1.0 / self.MAX_DRAWN_PER_ROW)
            batch = max(int(np.ceil(1.2 * (n - n_kept) / rate)), 10)
        self.rejection_rate_ = 1.0 - n_kept / drawn
        return pd.concat(kept, ignore_index=True).iloc[:n].reset_index(drop=True)

    def fit_sample(self, df: pd.DataFrame, n: int | None = None, metadata: Metadata | None = None) -> pd.DataFrame:
        """Fit, then sample ``n`` rows (default: as many as the training table)."""
        return self.fit(df, metadata).sample(len(df) if n is None else n)

    def save(self, path: str | Path) -> Path:
        """Write the fitted generator to ``path`` in the course's generator file format.

        The format (:mod:`course_utils.persistence`) is data only: JSON plus numpy
        arrays behind a header with a format version and a SHA-256 checksum, so
        :meth:`load` runs no code from the file. The file is written to a temporary
        file in the same folder and then renamed over ``path``: a crash never leaves
        half a file. An existing file at ``path`` is replaced only if it is a
        generator file (judged by its first bytes alone, never parsed) or empty;
        anything else gives ``FileExistsError``. Returns the path.

        Raises ``NotFittedError`` before ``fit``, and ``TypeError`` naming the
        attribute when the generator holds a value the format cannot store.
        """
        self._check_fitted()
        from ..persistence import write_file

        return write_file(self, path)

    @classmethod
    def load(cls, path: str | Path) -> Synthesizer:
        """Read a generator written by :meth:`save`; it samples exactly what the saved one would have.

        ``Synthesizer.load(path)`` returns whichever generator the file holds;
        ``CARTSynthesizer.load(path)`` also checks that it is a CART generator. A file
        that is damaged, changed, cut short or not a generator file gives a
        ``ValueError``; opening one runs no code from it. What a file cannot tell you
        is whether its generator memorised the patients it learnt from: that is
        lesson 04's question, so check a model from someone else before sharing
        its samples.
        """
        from ..persistence import read_file

        obj = read_file(path)
        if not isinstance(obj, Synthesizer) or not hasattr(obj, "metadata_"):
            raise ValueError(f"{path} does not hold a fitted course generator (found {type(obj).__name__})")
        if not isinstance(obj, cls):
            raise TypeError(f"{path} holds a {type(obj).__name__}, not a {cls.__name__}")
        type(obj)._after_load(obj)
        return obj

    def _after_load(self) -> None:
        """Called by :meth:`load` on the rebuilt generator (files hold CPU tensors only)."""
        return None  # nothing to do for generators without networks

    # -- for subclasses ---------------------------------------------------------------
    @abstractmethod
    def _fit(self, df: pd.DataFrame) -> None:
        """Learn from a validated table whose columns are ``self.columns_``."""

    @abstractmethod
    def _sample(self, n: int, conditions: dict[str, Any] | None, rng: np.random.Generator) -> pd.DataFrame:
        """Return ``n`` rows (any numeric dtype is fine: the base class repairs them)."""

    # -- helpers ----------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "metadata_"):
            raise NotFittedError(
                f"this {type(self).__name__} is not fitted yet; call fit(train_df) before sample()"
            )

    def _check_conditions(self, conditions: Mapping[str, Any] | None) -> dict[str, Any] | None:
        if not conditions:
            return None
        if not isinstance(conditions, Mapping):
            raise TypeError("conditions must be a dict of {column: value}")
        for col, value in conditions.items():
            if col not in self.metadata_:
                raise ValueError(f"condition on unknown column {col!r}; columns are {self.columns_}")
            spec = self.metadata_[col]
            if spec.kind == "categorical" and value not in (spec.categories or []):
                raise ValueError(
                    f"condition {col!r}={value!r}: not a category of this column; "
                    f"allowed: {list(spec.categories or [])}"
                )
            if spec.kind == "binary" and value not in (0, 1, True, False):
                raise ValueError(f"condition {col!r}={value!r}: a binary column takes 0 or 1")
            if spec.kind in ("continuous", "integer") and spec.bounds is not None:
                if not (spec.bounds[0] <= value <= spec.bounds[1]):
                    raise ValueError(f"condition {col!r}={value!r}: outside the bounds {spec.bounds}")
        if not self.supports_conditions:
            raise NotImplementedError(
                f"{type(self).__name__} cannot sample with conditions; sample more rows and "
                "filter them, or use a generator that supports conditions (e.g. CART)"
            )
        return dict(conditions)

    def _empty(self) -> pd.DataFrame:
        return repair_frame(
            pd.DataFrame({c: pd.Series([], dtype=object) for c in self.columns_}),
            self.metadata_,
            self.dtypes_,
        )
