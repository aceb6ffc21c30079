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

``factor="match"`` goes one step further. A fixed factor only cuts: every row past the
threshold is kept, so the rows that survive pile up just beyond it, or, on a small table
where the guard rejects most draws, drift towards the edges of the data. The training
patients themselves say how far a row should sit. For each patient ``t``, its *closeness
ratio* is ``own(t) / own(n)``, where ``n`` is ``t``'s nearest other patient: it is 1 when
the two are each other's nearest neighbours and larger for patients on the edge of a
cluster, never below 1. The matching guard measures the same ratio for synthetic rows,
``d(s, t) / own(t)``, and thins them so that its distribution matches the patients' own
(ratios below 1, closer than any real patient sits, are always rejected):

4. After fitting, a pilot sample from the generator shows how its rows spread over
   bands of the ratio (the deciles of the patients' ratios);
5. each band keeps a share of its rows proportional to ``patients' share / pilot
   share``, so an over-full band is thinned and the emptiest band keeps every row (a band
   may count at most :data:`MAX_BOOST` times more than the pilot gives it, so that a band
   the generator almost never reaches cannot make every other band reject nearly all).

It is rejection sampling towards the spacing real patients have from each other, learnt
from the training rows only. Samples with conditions are thinned with the same
keep-probabilities, learnt from the unconditional pilot.

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

MATCH = "match"
"""The ``closeness_guard`` value of the matching guard (see the module docstring)."""

MAX_BOOST = 4.0
"""The matching guard never favours a band more than this many times over its pilot share."""

PILOT_ROWS = (2000, 20_000)
"""Rows of the matching guard's pilot sample: 5 per training row, within these bounds (ten bands'
shares are estimated to about +-0.01 from 2,000 rows; more only costs time on a large table)."""


class ClosenessGuard:
    """Learns from the training rows how close a synthetic row may come to each patient.

    Args:
        factor: a synthetic row is rejected when its distance to its nearest training
            patient is below ``factor`` times that patient's distance to the nearest
            other training patient. ``0`` rejects exact copies only. ``"match"``: the
            matching guard of the module docstring (call :meth:`calibrate` with a pilot
            sample of the generator before :meth:`keep`).

    Fitted attributes: ``encoder_`` (the course's distance, fitted on the training
    rows), ``train_matrix_`` (the encoded training rows) and ``own_distance_`` (each
    training patient's leave-one-out nearest-neighbour distance). The matching guard adds
    ``patient_ratio_`` (each patient's closeness ratio), ``band_edges_`` and
    ``patient_share_`` (the patients' share in each band of the ratio; the first band,
    below the smallest ratio, holds none) and, after :meth:`calibrate`, ``pilot_share_``
    and ``acceptance_`` (the probability of keeping a row in each band).
    """

    def __init__(self, factor: float | str = 1.0):
        self.factor = check_factor(factor)

    @property
    def matches(self) -> bool:
        """Whether this is the matching guard (``factor="match"``)."""
        return self.factor == MATCH

    def fit(self, train: pd.DataFrame, metadata: Metadata | None = None) -> ClosenessGuard:
        """Encode the training rows and measure each one's distance to its nearest other row."""
        if len(train) < 2:
            raise ValueError("the closeness guard needs at least 2 training rows")
        self.encoder_ = fit_encoder(train, metadata)
        self.train_matrix_ = self.encoder_.encode(train, "training table")
        own, near = nearest_distances(self.train_matrix_, self.train_matrix_, exclude_self=True,
                                      algorithm="blas")
        self.own_distance_ = own[:, 0]
        if self.matches:
            self.patient_ratio_ = closeness_ratio(self.own_distance_, self.own_distance_[near[:, 0]])
            finite = self.patient_ratio_[np.isfinite(self.patient_ratio_)]
            self.band_edges_ = np.unique(np.quantile(finite, np.arange(10) / 10)) if len(finite) else np.ones(1)
            self.patient_share_ = self._band_share(self.patient_ratio_)
        return self

    def _bands(self, ratio: np.ndarray) -> np.ndarray:
        """The band of each ratio: 0 below the smallest edge, ``len(band_edges_)`` above the largest."""
        return np.searchsorted(self.band_edges_, ratio, side="right")

    def _band_share(self, ratio: np.ndarray) -> np.ndarray:
        return np.bincount(self._bands(ratio), minlength=len(self.band_edges_) + 1) / max(len(ratio), 1)

    def ratio(self, rows: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """``(closeness ratio, distance)`` of each row: the distance to its nearest training
        patient over that patient's distance to its nearest other patient."""
        d, idx = self.nearest(rows)
        return closeness_ratio(d, self.own_distance_[idx]), d

    def calibrate(self, pilot: pd.DataFrame) -> ClosenessGuard:
        """The matching guard's acceptance per band, from a pilot sample of the generator."""
        if not self.matches:
            raise ValueError(f"calibrate is for the matching guard (factor='match'), not factor={self.factor!r}")
        r, d = self.ratio(pilot)
        self.pilot_share_ = self._band_share(r[d > 0])
        boost = np.where(self.pilot_share_ > 0, self.patient_share_ / np.maximum(self.pilot_share_, 1e-300),
                         MAX_BOOST)
        # a band no patient falls in (below every patient's ratio) is never kept, even when the
        # pilot happened to miss it; the patients' shares sum to 1, so some band keeps every row
        boost = np.where(self.patient_share_ > 0, np.minimum(boost, MAX_BOOST), 0.0)
        self.acceptance_ = boost / boost.max()
        return self

    def nearest(self, rows: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """``(distance, index)`` of each row's nearest training patient."""
        if not hasattr(self, "own_distance_"):
            raise RuntimeError("the closeness guard is not fitted; call fit(train) first")
        d, idx = nearest_distances(self.encoder_.encode(rows, "synthetic rows"), self.train_matrix_,
                                   algorithm="blas")
        return d[:, 0], idx[:, 0]

    def keep(self, rows: pd.DataFrame, rng: np.random.Generator | None = None) -> np.ndarray:
        """A boolean mask: ``True`` for the rows the guard lets through (the matching guard
        draws its keep-or-thin decisions from ``rng``)."""
        if not self.matches:
            d, idx = self.nearest(rows)
            return (d > 0) & (d >= self.factor * self.own_distance_[idx])
        if not hasattr(self, "acceptance_"):
            raise RuntimeError("the matching guard is not calibrated; call calibrate(pilot_rows) after fit")
        if rng is None:
            raise ValueError("the matching guard thins rows at random: pass rng")
        r, d = self.ratio(rows)
        return (d > 0) & (rng.random(len(rows)) < self.acceptance_[self._bands(r)])


def closeness_ratio(distance: np.ndarray, own: np.ndarray) -> np.ndarray:
    """``distance / own``, with ``0 / 0`` (a copy of a patient who has a twin) as 1 and
    ``x / 0`` as infinity."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(own > 0, distance / np.where(own > 0, own, 1.0), np.where(distance > 0, np.inf, 1.0))


def check_factor(factor: object) -> float | str:
    """The guard's factor as a float (or ``"match"``), or a clear error for anything else."""
    if isinstance(factor, str):
        if factor == MATCH:
            return factor
        raise ValueError(f"closeness_guard must be a number >= 0, {MATCH!r} or None, got {factor!r}")
    if isinstance(factor, bool) or not isinstance(factor, int | float | np.integer | np.floating):
        raise TypeError(f"closeness_guard must be a number, {MATCH!r} or None, got {type(factor).__name__}")
    if not np.isfinite(factor) or factor < 0:
        raise ValueError(f"closeness_guard must be a finite number >= 0 (or None), got {factor!r}")
    return float(factor)


def check_max_draws(value: object) -> int:
    """``max_rejection_draws`` as an int, or a clear error for anything but a whole number >= 1."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(f"max_rejection_draws must be an int >= 1, got {value!r}")
    return int(value)


class GuardedDraws:
    """Mixed into a :class:`~course_utils.generators.base.Synthesizer` (listed before it): rows
    the fitted guard ``closeness_guard_`` refuses are replaced by new draws.

    The generator provides ``closeness_guard`` (the factor), ``closeness_guard_`` (a fitted
    :class:`ClosenessGuard`, or ``None`` for no guard) and ``max_rejection_draws``, calls
    :meth:`_calibrate_guard` at the end of its ``_fit``, and may override
    :meth:`_guard_advice`. After each ``sample`` call, ``closeness_rejection_rate_`` is
    the share of drawn rows the guard threw away.
    """

    def _calibrate_guard(self) -> None:
        """The matching guard's pilot sample, drawn from the fitted generator (no-op otherwise)."""
        guard = getattr(self, "closeness_guard_", None)
        if guard is None or not guard.matches:
            return
        rules = getattr(self.metadata_, "constraints", [])
        n = int(np.clip(5 * self.n_train_, *PILOT_ROWS))
        guard.calibrate(apply_constraints(super()._draw_repaired(n, None, self._rng), rules))

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
            ok = guard.keep(rows, rng)
            kept.append(rows[ok])
            n_kept += int(ok.sum())
            drawn += batch
            self._guard_tally[0] += batch
            self._guard_tally[1] += int(ok.sum())
            rate = max(float(ok.mean()), 1.0 / self.max_rejection_draws)
            batch = max(int(np.ceil(1.2 * (n - n_kept) / rate)), 10)
        return pd.concat(kept, ignore_index=True).iloc[:n].reset_index(drop=True)
