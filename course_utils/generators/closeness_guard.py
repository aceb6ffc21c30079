"""A closeness guard: reject synthetic rows that sit closer to a training patient than new patients do.

A generator that draws values from small groups of real patients (a CART leaf, a SMOTE
neighbourhood) produces some rows that land right on top of one training patient.
The privacy lesson measures that with a holdout (the DCR share); a generator cannot
use the holdout, because then the holdout would no longer be a fair judge. The guard
learns its ruler from the **training table only**:

1. Encode the training rows with the course's one distance between patients
   (:func:`course_utils.evaluation.distances.fit_encoder`: numbers scaled by their
   training range, a category or flag mismatch counting like a full-range difference).
2. For every training patient ``t``, measure ``own(t)``: the distance to the nearest
   *other* training patient (leave-one-out). It says how crowded the table is around
   ``t``: a patient in a dense region has a near neighbour, an unusual one does not.
3. A synthetic row ``s`` whose nearest training patient is ``t`` is rejected when it is
   an exact copy of ``t`` (distance 0) or when ``d(s, t) < factor * own(t)``: with
   ``factor=1`` it is closer to ``t`` than any other real patient of the training table is.

The threshold adapts to each patient: around a typical patient only true near copies
are rejected; around an outlier (the patient who is easiest to re-identify) the
guard keeps synthetic rows at a distance. Rejected rows are replaced by new draws,
and the share thrown away is reported, because a high share says the generator
copies a lot.

What it does not do: it gives no formal guarantee (that is differential privacy,
lesson 10), and it cannot see closeness to patients outside the training table.

:class:`GuardedDraws` is the sampling loop a generator mixes in to apply the guard
(:class:`~course_utils.generators.cart.CARTSynthesizer` and
:class:`~course_utils.generators.guarded.GuardedSynthesizer`, which puts the guard
around any generator).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..constraints import apply_constraints
from ..evaluation.distances import fit_encoder, nearest_distances
from ..schema import Metadata


class ClosenessGuard:
    """Learns from the training rows how close a synthetic row may come to each patient.

    Args:
        factor: a synthetic row is rejected when its distance to its nearest training
            patient is below ``factor`` times that patient's distance to the nearest
            other training patient. ``0`` rejects exact copies only.

    Fitted attributes: ``encoder_`` (the course's distance, fitted on the training
    rows), ``train_matrix_`` (the encoded training rows) and ``own_distance_`` (each
    training patient's leave-one-out nearest-neighbour distance).
    """

    def __init__(self, factor: float = 1.0):
        self.factor = check_factor(factor)

    def fit(self, train: pd.DataFrame, metadata: Metadata | None = None) -> ClosenessGuard:
        """Encode the training rows and measure each one's distance to its nearest other row."""
        if len(train) < 2:
            raise ValueError("the closeness guard needs at least 2 training rows")
        self.encoder_ = fit_encoder(train, metadata)
        self.train_matrix_ = self.encoder_.encode(train, "training table")
        own, _ = nearest_distances(self.train_matrix_, self.train_matrix_, exclude_self=True,
                                   algorithm="blas")
        self.own_distance_ = own[:, 0]
        return self

    def nearest(self, rows: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """``(distance, index)`` of each row's nearest training patient."""
        if not hasattr(self, "own_distance_"):
            raise RuntimeError("the closeness guard is not fitted; call fit(train) first")
        d, idx = nearest_distances(self.encoder_.encode(rows, "synthetic rows"), self.train_matrix_,
                                   algorithm="blas")
        return d[:, 0], idx[:, 0]

    def keep(self, rows: pd.DataFrame) -> np.ndarray:
        """A boolean mask: ``True`` for the rows the guard lets through."""
        d, idx = self.nearest(rows)
        return (d > 0) & (d >= self.factor * self.own_distance_[idx])


def check_factor(factor: object) -> float:
    """The guard's factor as a float, or a clear error for anything but a finite number >= 0."""
    if isinstance(factor, bool) or not isinstance(factor, int | float | np.integer | np.floating):
        raise TypeError(f"closeness_guard must be a number or None, got {type(factor).__name__}")
    if not np.isfinite(factor) or factor < 0:
        raise ValueError(f"closeness_guard must be a finite number >= 0 (or None), got {factor!r}")
    return float(factor)


class GuardedDraws:
    """Mixed into a :class:`~course_utils.generators.base.Synthesizer` (listed before it): rows
    the fitted guard ``closeness_guard_`` refuses are replaced by new draws.

    The generator provides ``closeness_guard`` (the factor), ``closeness_guard_`` (a fitted
    :class:`ClosenessGuard`, or ``None`` for no guard) and ``max_rejection_draws``, and
    may override :meth:`_guard_advice`. After each ``sample`` call,
    ``closeness_rejection_rate_`` is the share of drawn rows the guard threw away.
    """

    def sample(self, n: int, conditions: Any = None, random_state: Any = None) -> pd.DataFrame:
        """Draw ``n`` rows (see :meth:`Synthesizer.sample`); rows too close to a training
        patient are replaced and ``closeness_rejection_rate_`` is updated."""
        self._check_fitted()
        self._guard_tally = [0, 0]  # rows drawn, rows kept by the guard in this call
        try:
            return super().sample(n, conditions, random_state)
        finally:
            drawn, kept = self._guard_tally
            self.closeness_rejection_rate_ = 1.0 - kept / drawn if drawn else 0.0

    def _guard_advice(self) -> str:
        return "lower closeness_guard, or use settings under which the generator copies less"

    def _draw_repaired(self, n: int, conditions: Any, rng: np.random.Generator) -> pd.DataFrame:
        guard = getattr(self, "closeness_guard_", None)
        draw = super()._draw_repaired
        if guard is None:
            return draw(n, conditions, rng)
        # The guard judges rows as they will be shared: repaired (rounding, one-hot fixing) and
        # with derived columns rebuilt, since either can turn a near copy into an exact one.
        rules = getattr(self.metadata_, "constraints", [])
        kept: list[pd.DataFrame] = []
        n_kept = drawn = 0
        batch = n
        while n_kept < n:
            if drawn >= self.max_rejection_draws * n:
                raise RuntimeError(
                    f"closeness_guard={self.closeness_guard}: only {n_kept} of {drawn} rows drawn "
                    f"were far enough from every training patient (needed {n}); {self._guard_advice()}"
                )
            rows = apply_constraints(draw(batch, conditions, rng), rules)
            ok = guard.keep(rows)
            kept.append(rows[ok])
            n_kept += int(ok.sum())
            drawn += batch
            self._guard_tally[0] += batch
            self._guard_tally[1] += int(ok.sum())
            rate = max(float(ok.mean()), 1.0 / self.max_rejection_draws)
            batch = max(int(np.ceil(1.2 * (n - n_kept) / rate)), 10)
        return pd.concat(kept, ignore_index=True).iloc[:n].reset_index(drop=True)
