"""Survival curves and scores that need no model: Kaplan-Meier, C-index, Brier score.

The building blocks of :mod:`course_utils.evaluation.survival` (which re-exports them):
the product-limit curve and the distance between two curves, Harrell's C-index of a
risk score, and the censoring-weighted Brier score and its integral. Every function
takes follow-up times and 0/1 event indicators (1 = event, 0 = censored).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "brier_scores",
    "concordance_index",
    "evaluation_times",
    "integrated_brier_score",
    "kaplan_meier",
    "km_max_gap",
]


# ---------------------------------------------------------------------------------------
# checks
# ---------------------------------------------------------------------------------------
def _check_survival_frame(df: Any, duration: str, event: str, what: str) -> pd.DataFrame:
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"the {what} table must be a pandas DataFrame, got {type(df).__name__}")
    if len(df) == 0:
        raise ValueError(f"the {what} table has no rows")
    for col in (duration, event):
        if col not in df.columns:
            raise ValueError(f"the {what} table has no column {col!r}; columns are {list(df.columns)}")
    t = pd.to_numeric(df[duration], errors="coerce").to_numpy(dtype=float)
    if not np.all(np.isfinite(t)):
        raise ValueError(f"column {duration!r} of the {what} table: follow-up times must be finite numbers")
    if np.any(t < 0):
        raise ValueError(f"column {duration!r} of the {what} table: follow-up times must be >= 0")
    e = pd.to_numeric(df[event], errors="coerce").to_numpy(dtype=float)
    if not np.all(np.isin(e, (0.0, 1.0))):
        raise ValueError(f"column {event!r} of the {what} table: the event indicator must be 0 or 1")
    return df


def _time_event(time: Any, event: Any) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(time, dtype=float).ravel()
    e = np.asarray(event, dtype=float).ravel()
    if t.shape != e.shape:
        raise ValueError(f"time ({t.size} values) and event ({e.size} values) differ in length")
    if t.size == 0:
        raise ValueError("no observations")
    if not np.all(np.isfinite(t)) or np.any(t < 0):
        raise ValueError("time: follow-up times must be finite numbers >= 0")
    if not np.all(np.isin(e, (0.0, 1.0))):
        raise ValueError("event: the event indicator must be 0 or 1")
    return t, e.astype(bool)


# ---------------------------------------------------------------------------------------
# Kaplan-Meier
# ---------------------------------------------------------------------------------------
def kaplan_meier(time: Any, event: Any) -> pd.DataFrame:
    """The Kaplan-Meier (product-limit) estimate of the survival curve.

    Metric card:
        definition: at each distinct time ``t`` with ``d`` events among the ``n`` people
            still at risk (follow-up ``>= t``), survival is multiplied by ``1 - d / n``.
            A censored patient leaves the risk set after their time without an event:
            they count as alive up to then and as unknown afterwards.
        range: a step function from 1 down to at least 0.
        fools it: informative censoring (sicker patients lost to follow-up) biases it
            upwards; it ignores covariates.
        source: Kaplan & Meier (1958), JASA 53(282).

    Returns one row per distinct time: ``time, at_risk, events, censored, survival``.
    """
    t, e = _time_event(time, event)
    times = np.unique(t)
    events = np.array([np.sum(e & (t == s)) for s in times])
    leaving = np.array([np.sum(t == s) for s in times])
    at_risk = len(t) - np.concatenate([[0], np.cumsum(leaving)[:-1]])
    survival = np.cumprod(1.0 - events / at_risk)
    return pd.DataFrame({"time": times, "at_risk": at_risk, "events": events,
                         "censored": leaving - events, "survival": survival})


def _step(curve: pd.DataFrame, at: np.ndarray, left: bool = False) -> np.ndarray:
    """Value of a KM step function at ``at`` (``left=True``: just before ``at``)."""
    side = "left" if left else "right"
    idx = np.searchsorted(curve["time"].to_numpy(), np.asarray(at, dtype=float), side=side) - 1
    surv = np.concatenate([[1.0], curve["survival"].to_numpy()])
    return surv[idx + 1]


def km_max_gap(real: pd.DataFrame, synthetic: pd.DataFrame, duration: str = "lenfol",
               event: str = "fstat", min_at_risk: float = 0.1) -> float:
    """Largest vertical distance between the Kaplan-Meier curves of two tables.

    Metric card:
        definition: ``max_t |S_real(t) - S_synthetic(t)|`` over every time either curve
            steps, while both tables still follow at least ``min_at_risk`` of their
            patients (in the tail a single death among the last few patients at risk
            moves a curve by a third: that is noise, not a difference).
        range: 0 to 1. Ideal: 0; two independent samples of a few hundred patients
            differ by about 0.05-0.10 by chance alone.
        fools it: a generator that copies the two outcome columns from real rows gets 0.
        source: the Kolmogorov-type distance between survival curves (Fleming et al. 1980).
    """
    _check_survival_frame(real, duration, event, "real")
    _check_survival_frame(synthetic, duration, event, "synthetic")
    a = kaplan_meier(real[duration], real[event])
    b = kaplan_meier(synthetic[duration], synthetic[event])
    if not 0.0 <= min_at_risk < 1.0:
        raise ValueError(f"min_at_risk must be a share in [0, 1), got {min_at_risk!r}")
    end = min(c.loc[c["at_risk"] >= max(1.0, min_at_risk * c["at_risk"].iloc[0]), "time"].max()
              for c in (a, b))
    grid = np.union1d(a["time"], b["time"])
    grid = grid[grid <= end]
    return float(np.max(np.abs(_step(a, grid) - _step(b, grid))))


# ---------------------------------------------------------------------------------------
# discrimination and calibration
# ---------------------------------------------------------------------------------------
def concordance_index(time: Any, event: Any, risk: Any) -> float:
    """Harrell's C-index: how often the patient who died first had the higher predicted risk.

    Metric card:
        definition: over *comparable* pairs (the one with the shorter time had an
            event; a patient censored earlier says nothing about who died first), the
            share in which the shorter-lived patient has the higher ``risk``; tied
            risks count one half. Computed by lifelines' ``concordance_index``.
        range: 0 to 1. Ideal 1; 0.5 is a random ranking; WHAS500's Cox model reaches
            about 0.75-0.8 on a holdout.
        fools it: it only ranks patients (a model can be perfectly ranked and badly
            calibrated: see :func:`integrated_brier_score`); heavy censoring leaves few
            comparable pairs.
        source: Harrell, Califf, Pryor, Lee & Rosati (1982), JAMA 247(18).
    """
    from lifelines.utils import concordance_index as _lifelines_c

    t, e = _time_event(time, event)
    r = np.asarray(risk, dtype=float).ravel()
    if r.shape != t.shape:
        raise ValueError(f"risk has {r.size} values for {t.size} patients")
    if not np.all(np.isfinite(r)):
        raise ValueError("risk: predicted risks must be finite")
    # lifelines expects scores that are higher for longer survival
    return float(_lifelines_c(t, -r, e))


def brier_scores(time: Any, event: Any, survival: Any, times: Any, censoring_time: Any = None,
                 censoring_event: Any = None) -> np.ndarray:
    """Brier score at each of ``times``, weighted for censoring (Graf et al. 1999).

    Metric card:
        definition: at time ``t``, a patient who died by ``t`` contributes
            ``S(t|x)^2 / G(T_i-)``, a patient still followed after ``t`` contributes
            ``(1 - S(t|x))^2 / G(t)``, and a patient censored before ``t`` contributes 0
            (their status at ``t`` is unknown, and the weights ``1/G`` give the others
            their share). ``G`` is the Kaplan-Meier curve of *censoring* (event and
            censoring swapped) fitted on ``censoring_time``/``censoring_event`` (default:
            the scored patients themselves). The sum is divided by the number of patients.
        range: 0 to 1; ideal 0; predicting 0.5 for everyone scores 0.25.
        fools it: times beyond most follow-up rest on a few heavily weighted patients.
        source: Graf, Schmoor, Sauerbrei & Schumacher (1999), Statistics in Medicine 18.

    ``survival`` has shape ``(n_patients, n_times)``: predicted ``S(t|x)``.
    """
    t, e = _time_event(time, event)
    grid = np.asarray(times, dtype=float).ravel()
    S = np.asarray(survival, dtype=float)
    if S.shape != (len(t), len(grid)):
        raise ValueError(f"survival must have shape ({len(t)}, {len(grid)}), got {S.shape}")
    if censoring_time is None:
        censoring_time, censoring_event = t, e
    ct, ce = _time_event(censoring_time, censoring_event)
    G = kaplan_meier(ct, ~ce)
    g_at_death = _step(G, t, left=True)
    out = np.empty(len(grid))
    for k, s in enumerate(grid):
        g_s = _step(G, np.array([s]))[0]
        died = e & (t <= s)
        alive = t > s
        with np.errstate(divide="ignore", invalid="ignore"):
            term = np.where(died, S[:, k] ** 2 / g_at_death, 0.0)
            term += np.where(alive, (1 - S[:, k]) ** 2 / g_s, 0.0)
        out[k] = np.nan_to_num(term, nan=0.0, posinf=0.0).sum() / len(t)
    return out


def integrated_brier_score(time: Any, event: Any, survival: Any, times: Any, censoring_time: Any = None,
                           censoring_event: Any = None) -> float:
    """Brier score averaged over ``times`` (trapezoid rule divided by the time span).

    Metric card:
        definition: ``1 / (t_max - t_min) * integral of BS(t) dt`` over the grid, with
            :func:`brier_scores` for ``BS(t)``.
        range: 0 to 1; ideal 0; below 0.25 beats a coin; the Kaplan-Meier curve of the
            training data (no covariates) is the usual reference.
        fools it: the grid matters: report it and use the same one for every model.
        source: Graf et al. (1999); scikit-survival's ``integrated_brier_score``.
    """
    grid = np.asarray(times, dtype=float).ravel()
    if grid.size < 2 or np.any(np.diff(grid) <= 0):
        raise ValueError("times must hold at least two increasing values")
    bs = brier_scores(time, event, survival, grid, censoring_time, censoring_event)
    return float(np.trapezoid(bs, grid) / (grid[-1] - grid[0]))


def evaluation_times(holdout: pd.DataFrame, duration: str = "lenfol", n_times: int = 20) -> np.ndarray:
    """A grid of ``n_times`` times between the 10th and 80th percentile of the holdout's follow-up.

    The ends are left out: early on almost nobody has died, late on few are still followed.
    """
    t = pd.to_numeric(holdout[duration]).to_numpy(dtype=float)
    lo, hi = np.percentile(t, [10, 80])
    if hi <= lo:
        raise ValueError(f"column {duration!r}: follow-up times are too alike to build a time grid")
    return np.linspace(lo, hi, int(n_times))
