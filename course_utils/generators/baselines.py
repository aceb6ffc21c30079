"""Reference generators that every real method must beat.

- :class:`IndependentMarginals` draws each column from its own empirical distribution:
  every column looks right on its own, and every relationship between columns is gone.
  It is the lower bracket of the course's fidelity scores.
- :class:`NoisyCopies` copies training rows and blurs their numbers a little: the
  leaky reference that the privacy metrics must catch.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .base import Synthesizer
from .copula import GaussianCopula as GaussianCopula  # re-exported: the second baseline


class IndependentMarginals(Synthesizer):
    """Sample every column independently from its training values (with replacement).

    Missing values are drawn at their training rate because they are part of the
    empirical marginal. One-hot groups are sampled as one unit (whole group rows),
    so each row still has exactly one 1 per group. ``conditions`` simply fixes the
    named columns: there is nothing for them to be related to.

    Fitted attributes: ``marginals_`` (column -> training values, or a frame for a group).
    """

    supports_conditions = True

    def __init__(self, random_state: int | None = None, verbose: bool = True):
        super().__init__(random_state=random_state, verbose=verbose)

    def _fit(self, df: pd.DataFrame) -> None:
        self.marginals_: dict[str, Any] = {}
        grouped = set()
        for group, members in self.metadata_.one_hot_groups.items():
            self.marginals_[group] = df[members].to_numpy()
            grouped.update(members)
        for col in self.columns_:
            if col not in grouped:
                self.marginals_[col] = df[col].to_numpy(dtype=object)

    def _sample(self, n: int, conditions: dict[str, Any] | None, rng: np.random.Generator) -> pd.DataFrame:
        out: dict[str, Any] = {}
        for key, values in self.marginals_.items():
            draws = values[rng.integers(0, len(values), size=n)]
            if key in self.metadata_.one_hot_groups:
                for j, m in enumerate(self.metadata_.one_hot_groups[key]):
                    out[m] = draws[:, j]
            else:
                out[key] = draws
        frame = pd.DataFrame(out)[self.columns_]
        for col, value in (conditions or {}).items():
            frame[col] = value
            group = self.metadata_[col].group
            if group is not None and value == 1:
                for m in self.metadata_.one_hot_groups[group]:
                    if m != col:
                        frame[m] = 0
        return frame


class NoisyCopies(Synthesizer):
    """A deliberately leaky generator: training rows, copied and slightly blurred.

    Each synthetic row is a training row drawn at random (with replacement). Its
    numeric columns (continuous, integer, datetime) get Gaussian noise whose standard
    deviation is ``noise`` x the column's training range; with probability ``flip``
    each binary, categorical or one-hot-group value is replaced by a draw from that
    column's training values. Missing values stay missing. The base class then rounds
    integers and clips to the training bounds.

    It exists to be caught: it has (almost) no exact copies of training rows, its
    columns and correlations look excellent, and yet every synthetic row is a
    training patient in disguise. The privacy metrics of lesson 04 must flag it.
    ``NoisyCopies(noise=0, flip=0)`` returns the training data itself (a bootstrap
    of its rows), the extreme case. Never release its output.

    Args:
        noise: standard deviation of the numeric noise as a share of each column's
            range (>= 0; 0 keeps numbers as they are).
        flip: probability, per row and non-numeric column, of replacing the value by
            a random training value of that column (0 to 1).

    Fitted attributes: ``data_`` (the training rows), ``scales_`` (column -> noise
    standard deviation in the column's units).
    """

    supports_conditions = False

    def __init__(self, noise: float = 0.05, flip: float = 0.0, random_state: int | None = None,
                 verbose: bool = True):
        super().__init__(random_state=random_state, verbose=verbose)
        self.noise = noise
        self.flip = flip

    def _fit(self, df: pd.DataFrame) -> None:
        for name, value, upper in (("noise", self.noise, np.inf), ("flip", self.flip, 1.0)):
            if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating) \
                    or not np.isfinite(value) or not 0 <= value <= upper:
                bound = "a finite number >= 0" if upper == np.inf else "a probability between 0 and 1"
                raise ValueError(f"{name} must be {bound}, got {value!r}")
        self.data_ = df.copy()
        self.scales_: dict[str, float] = {}
        for name, spec in self.metadata_.columns.items():
            if spec.kind in ("continuous", "integer"):
                v = pd.to_numeric(df[name], errors="coerce").dropna()
                self.scales_[name] = float(self.noise) * float(v.max() - v.min())
            elif spec.kind == "datetime":
                v = pd.to_datetime(df[name]).dropna()
                # in nanoseconds: datetimes are perturbed through their integer value
                self.scales_[name] = float(self.noise) * float((v.max() - v.min()).value)

    def _sample(self, n: int, conditions: dict[str, Any] | None, rng: np.random.Generator) -> pd.DataFrame:
        rows = rng.integers(0, self.n_train_, size=n)
        out = self.data_.iloc[rows].reset_index(drop=True)
        meta = self.metadata_
        for name, scale in self.scales_.items():
            eps = rng.normal(0.0, 1.0, size=n) * scale
            if meta[name].kind == "datetime":
                ts = pd.to_datetime(out[name])
                out[name] = ts + pd.to_timedelta(np.round(eps), unit="ns")
            else:
                out[name] = pd.to_numeric(out[name], errors="coerce").to_numpy(dtype=float) + eps
        if self.flip > 0:
            grouped: set[str] = set()
            for members in meta.one_hot_groups.values():
                grouped.update(members)
                hit = np.flatnonzero(rng.random(n) < self.flip)
                donors = rng.integers(0, self.n_train_, size=len(hit))
                out.loc[hit, members] = self.data_[members].iloc[donors].to_numpy()
            for name, spec in meta.columns.items():
                if name in grouped or spec.kind not in ("binary", "categorical"):
                    continue
                hit = np.flatnonzero(rng.random(n) < self.flip)
                donors = rng.integers(0, self.n_train_, size=len(hit))
                col = out[name].astype(object).to_numpy()
                col[hit] = self.data_[name].astype(object).to_numpy()[donors]
                out[name] = col
        return out
