"""MICE used as a regenerator: chained regressions with posterior sampling fill hidden cells (lesson 08).

Multiple imputation by chained equations (MICE) fills missing values column by
column: each column is regressed on all the others, and a missing value is replaced
by a *draw* from the fitted model's predictive distribution (``sample_posterior=True``
in scikit-learn's ``IterativeImputer``), round after round. Hide cells of real rows
on purpose and MICE regenerates them, the same use MCM makes of its network; hide
every cell and the chained draws become a Gibbs sampler that produces whole rows.

Two corrections to how MICE is often described: with posterior sampling it is not
deterministic (two runs give different values, which is the point of *multiple*
imputation), and it is not tied to linear models (``estimator`` can be any
regressor; the default, a Bayesian ridge regression, is linear because that is what
gives a predictive distribution to sample from cheaply).

Columns are encoded as numbers for the regressions (categories as their level
codes, 0/1 flags as they are); draws are rounded back to valid codes and clipped to
the training range. The training rows are kept: the regressions are refitted on them
together with the rows being filled, as MICE does.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..config import check_random_state
from .base import Synthesizer

__all__ = ["MICESynthesizer"]


class MICESynthesizer(Synthesizer):
    """Chained-equation imputation with posterior sampling, used to regenerate hidden cells.

    Args:
        max_iter: rounds of chained regressions.
        estimator: a scikit-learn regressor with ``predict(X, return_std=True)``
            (default ``BayesianRidge``).
        chunk_size: largest number of rows filled in one pass (more would let the
            filled rows outweigh the real ones in the regressions); default: the
            number of training rows.
        random_state: seed.
        verbose: unused (the imputer is quick); kept for the common signature.

    Fitted attributes: ``train_codes_`` (the encoded training rows), ``levels_``
    (categorical column -> categories).
    """

    supports_conditions = True
    handles_missing = False

    def __init__(self, max_iter: int = 10, estimator: Any = None, chunk_size: int | None = None,
                 random_state: int | None = None, verbose: bool = True):
        super().__init__(random_state=random_state, verbose=verbose)
        self.max_iter = max_iter
        self.estimator = estimator
        self.chunk_size = chunk_size

    def _fit(self, df: pd.DataFrame) -> None:
        if isinstance(self.max_iter, bool) or not isinstance(self.max_iter, int | np.integer) or self.max_iter < 1:
            raise ValueError(f"max_iter must be a positive integer, got {self.max_iter!r}")
        self.levels_ = {c: list(self.metadata_[c].categories or []) for c in self.columns_
                        if self.metadata_[c].kind == "categorical"}
        self.train_codes_ = self._encode(df)
        self.low_ = np.nanmin(self.train_codes_, axis=0)
        self.high_ = np.nanmax(self.train_codes_, axis=0)

    def _encode(self, df: pd.DataFrame) -> np.ndarray:
        cols = []
        for c in self.columns_:
            if c in self.levels_:
                codes = pd.Categorical(df[c], categories=self.levels_[c]).codes.astype(float)
                codes[codes < 0] = np.nan
                cols.append(codes)
            elif self.metadata_[c].kind == "datetime":
                raise TypeError(f"column {c!r}: MICESynthesizer does not handle datetime columns")
            else:
                cols.append(pd.to_numeric(df[c]).to_numpy(dtype=float))
        return np.column_stack(cols)

    def _decode(self, codes: np.ndarray) -> pd.DataFrame:
        codes = np.clip(codes, self.low_, self.high_)
        out = {}
        for j, c in enumerate(self.columns_):
            kind = self.metadata_[c].kind
            if c in self.levels_:
                idx = np.rint(codes[:, j]).astype(int)
                out[c] = pd.Categorical.from_codes(idx, categories=self.levels_[c])
            elif kind in ("binary", "integer"):
                out[c] = np.rint(codes[:, j])
            else:
                out[c] = codes[:, j]
        return pd.DataFrame(out)

    def _impute(self, query: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        from sklearn.experimental import enable_iterative_imputer  # noqa: F401
        from sklearn.impute import IterativeImputer

        chunk = int(self.chunk_size or len(self.train_codes_))
        out = query.copy()
        for start in range(0, len(query), chunk):
            part = query[start : start + chunk]
            imputer = IterativeImputer(estimator=self.estimator, sample_posterior=True,
                                       max_iter=int(self.max_iter), skip_complete=False,
                                       random_state=int(rng.integers(0, 2**31 - 1)))
            with warnings.catch_warnings():
                # the chained draws rarely "converge": with posterior sampling they are not meant to
                warnings.simplefilter("ignore")
                filled = imputer.fit_transform(np.vstack([self.train_codes_, part]))
            out[start : start + chunk] = filled[len(self.train_codes_):]
        return out

    def _sample(self, n: int, conditions: dict[str, Any] | None, rng: np.random.Generator) -> pd.DataFrame:
        query = np.full((n, len(self.columns_)), np.nan)
        for col, value in (conditions or {}).items():
            j = self.columns_.index(col)
            query[:, j] = self.levels_[col].index(value) if col in self.levels_ else float(value)
        return self._decode(self._impute(query, rng))

    def regenerate(self, df: pd.DataFrame, mask_ratio: float = 0.25, keep: Sequence[str] = (),
                   random_state: int | np.random.Generator | None = None) -> pd.DataFrame:
        """Hide ``mask_ratio`` of each row's columns (not those in ``keep``) and impute them again."""
        self._check_fitted()
        if isinstance(mask_ratio, bool) or not isinstance(mask_ratio, int | float) or not 0 <= mask_ratio <= 1:
            raise ValueError(f"mask_ratio must be a share between 0 and 1, got {mask_ratio!r}")
        unknown = [c for c in keep if c not in self.columns_]
        if unknown:
            raise ValueError(f"keep names unknown column(s) {unknown}; columns are {self.columns_}")
        rng = self._rng if random_state is None else check_random_state(random_state)
        codes = self._encode(df[self.columns_])
        eligible = np.array([c not in keep for c in self.columns_])
        m = max(int(round(mask_ratio * eligible.sum())), 1 if mask_ratio > 0 else 0)
        keys = rng.random(codes.shape)
        keys[:, ~eligible] = np.inf
        hidden = (keys.argsort(axis=1).argsort(axis=1) < m) & eligible[None, :]
        codes[hidden] = np.nan
        decoded = self._decode(self._impute(codes, rng))
        out = df[self.columns_].reset_index(drop=True).copy()
        for j, col in enumerate(self.columns_):
            out.loc[hidden[:, j], col] = decoded.loc[hidden[:, j], col]
        out.index = df.index
        return out
