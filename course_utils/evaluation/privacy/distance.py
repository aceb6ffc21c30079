"""Distance-based privacy metrics: DCR, NNDR and nearest-neighbour adversarial accuracy.

Every distance is the course's mixed-type distance (:mod:`course_utils.evaluation.distances`)
fitted on the training table, and every search goes through the shared
:class:`~course_utils.evaluation.context.EvaluationContext`, so a search between two
whole tables is done once for all of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ...config import make_rng
from ...schema import Metadata
from ..context import EvaluationContext, balance_share, check_max_rows, need_rows, share_less

MAX_ROWS = 10_000
"""Default cap on the rows per table of the statistical-only metrics (NNAA, attribute
inference) in :func:`privacy_report`: their results are averages over rows, which a
random subsample of 10,000 rows estimates to about +-0.01, while their cost would grow with
the square of the table size. Exact matches, DCR, NNDR, epsilon-identifiability and the
distance membership attack always use every row."""


@dataclass
class DCRResult:
    """Distances to closest record and the summaries computed from them.

    Attributes:
        synthetic_to_train: DCR of each synthetic row to the training table.
        holdout_to_train: DCR of each holdout row to the training table (the reference).
        synthetic_to_holdout: DCR of each synthetic row to the holdout table.
        share_closer_to_train: size-adjusted share of synthetic rows closer to the
            training table than to the holdout (0.5 when nothing leaks).
        share_closer_to_train_raw: the same share before the size adjustment.
        expected_share_raw: the raw share a generator of fresh patients would get,
            ``n_train / (n_train + n_holdout)``.
        p5_ratio: 5th percentile of ``synthetic_to_train`` over the 5th percentile of
            ``holdout_to_train`` (nan when the latter is 0).
    """

    synthetic_to_train: np.ndarray
    holdout_to_train: np.ndarray
    synthetic_to_holdout: np.ndarray
    share_closer_to_train: float
    share_closer_to_train_raw: float
    expected_share_raw: float
    p5_ratio: float
    extra: dict[str, Any] = field(default_factory=dict)


def dcr(
    train: pd.DataFrame,
    synthetic: pd.DataFrame,
    holdout: pd.DataFrame,
    metadata: Metadata | None = None,
) -> DCRResult:
    """Distance to closest record (DCR), the share closer to train, and the 5th-percentile ratio.

    Metric card:
        Definition: the DCR of a row is its distance to the nearest training row.
            *Share closer to train*: for each synthetic row, is its nearest training row
            closer than its nearest holdout row? Ties (equal distances, e.g. a row
            equally far from both, or exact duplicates in both) count one half. With
            ``n_T`` training and ``n_H`` holdout rows, a generator of fresh patients
            gets ``p0 = n_T / (n_T + n_H)`` on average (the nearest of the pooled real
            patients is equally likely to be any of them), so the raw share ``s`` is
            reported size-adjusted by odds rescaling,
            ``s (1 - p0) / (s (1 - p0) + (1 - s) p0)``, whose no-leakage value is 0.5
            for any split (with a 50/50 split it equals the raw share).
            *5th-percentile ratio*: ``P5(DCR synthetic->train) / P5(DCR holdout->train)``:
            do the closest synthetic rows sit closer to training patients than the
            closest new real patients do?
        Range: share 0 to 1, ideal 0.5 (1 = every synthetic row hugs a training patient;
            below 0.5 = synthetic rows resemble the holdout more, i.e. they are not
            copies). Ratio 0 to infinity, ideal about 1; well below 1 flags near copies.
        What fools it: a generator that copies rare rows only moves the share a little
            (look at the 5th percentile and at :func:`nndr`); a holdout drawn from a
            different population than the training table biases the share towards 1.
            Adding noise to copies raises DCR while keeping the row identifiable.
        Source: Platzer & Reutterer (2021), Holdout-based fidelity and privacy assessment
            of mixed-type synthetic data; the "DCR share" of commercial QA reports.

    Returns a :class:`DCRResult` whose arrays are ready for a histogram.
    """
    ctx = EvaluationContext(train, synthetic, holdout, metadata)
    return _dcr_result(ctx)


def _dcr_result(ctx: EvaluationContext) -> DCRResult:
    d_st = ctx.nearest("S", "T")[0][:, 0]
    d_ht = ctx.nearest("H", "T")[0][:, 0]
    d_sh = ctx.nearest("S", "H")[0][:, 0]
    raw = share_less(d_st, d_sh)
    p0 = len(ctx.T) / (len(ctx.T) + len(ctx.H))
    p5_s = float(np.percentile(d_st, 5))
    p5_h = float(np.percentile(d_ht, 5))
    ratio = p5_s / p5_h if p5_h > 0 else float("nan")
    return DCRResult(d_st, d_ht, d_sh, balance_share(raw, p0), raw, p0, ratio)


def _distance_ratio(d: np.ndarray) -> np.ndarray:
    d1, d2 = d[:, 0], d[:, 1]
    with np.errstate(invalid="ignore", divide="ignore"):
        r = d1 / d2
    # 0/0: the row equals two (identical) training rows; no single patient stands out.
    return np.where(d2 > 0, r, 1.0)


def nndr(
    train: pd.DataFrame,
    synthetic: pd.DataFrame,
    holdout: pd.DataFrame | None = None,
    metadata: Metadata | None = None,
) -> dict[str, Any]:
    """Nearest-neighbour distance ratio of synthetic rows (and of holdout rows) to the training table.

    Metric card:
        Definition: for a row, distance to its closest training row divided by the
            distance to its second closest (0/0, a row equal to two identical training
            rows, counts as 1). Reported per row and as a mean; the reference is the
            holdout rows' NNDR.
        Range: 0 to 1. Higher is more private; ideal: no lower than the holdout's.
            A value near 0 means the row is far closer to one training patient than to
            any other: that patient is singled out, even if the DCR looks large.
        What fools it: copies of patients who have a near twin in the training data
            get a ratio near 1; sparse, high-dimensional data push every ratio towards 1.
        Source: nearest-neighbour distance ratio as used in privacy evaluations of
            synthetic data (e.g. Zhao et al. 2021, CTAB-GAN); Lowe (2004) for the ratio test.

    Returns ``{"synthetic": array, "holdout": array or None, "synthetic_mean", "holdout_mean"}``.
    """
    ctx = EvaluationContext(train, synthetic, holdout, metadata)
    return _nndr_result(ctx)


def _nndr_result(ctx: EvaluationContext) -> dict[str, Any]:
    need_rows(ctx.T, 2, "training")
    s = _distance_ratio(ctx.nearest("S", "T", 2)[0])
    h = _distance_ratio(ctx.nearest("H", "T", 2)[0]) if ctx.H is not None else None
    return {
        "synthetic": s,
        "holdout": h,
        "synthetic_mean": float(np.mean(s)),
        "holdout_mean": float(np.mean(h)) if h is not None else float("nan"),
    }


def _adversarial_accuracy(ctx: EvaluationContext, a_name: str, b_name: str, rng: np.random.Generator, n_repeats: int,
        max_rows: int | None = None) -> float:
    A, B = ctx.matrix(a_name), ctx.matrix(b_name)
    n = min(len(A), len(B))
    if n < 2:
        raise ValueError(f"adversarial accuracy needs at least 2 rows in each table, got {len(A)} and {len(B)}")
    whole_a, whole_b = len(A) == n, len(B) == n
    reps = 1 if whole_a and whole_b else max(1, int(n_repeats))
    capped = max_rows is not None and n > max_rows

    def to_other(x_name, X, x_whole, rows, y_name, Y, y_whole) -> np.ndarray:
        # searches between whole tables are shared with the other metrics through ctx
        if x_whole and y_whole:
            if rows is None:
                return ctx.nearest(x_name, y_name)[0][:, 0]
            done = ctx.cached(x_name, y_name)
            if done is not None:
                return done[rows]
        return ctx.search(X if rows is None else X[rows], Y)[0][:, 0]

    def to_own(x_name, X, x_whole, rows) -> np.ndarray:
        if rows is not None:
            return ctx.search_rows(X, rows)
        return ctx.nearest(x_name, x_name)[0][:, 0] if x_whole else ctx.search(X, X, exclude_self=True)[0][:, 0]

    vals = []
    for _ in range(reps):
        a = A if whole_a else A[np.sort(rng.choice(len(A), n, replace=False))]
        b = B if whole_b else B[np.sort(rng.choice(len(B), n, replace=False))]
        # with a cap, the accuracy (a mean over rows) is estimated on max_rows rows of
        # each set, whose neighbours are still searched among all n rows of both sets
        ra = np.sort(rng.choice(n, int(max_rows), replace=False)) if capped else None
        rb = np.sort(rng.choice(n, int(max_rows), replace=False)) if capped else None
        d_aa = to_own(a_name, a, whole_a, ra)
        d_bb = to_own(b_name, b, whole_b, rb)
        d_ab = to_other(a_name, a, whole_a, ra, b_name, b, whole_b)
        d_ba = to_other(b_name, b, whole_b, rb, a_name, a, whole_a)
        # the adversary is right about a row when its nearest neighbour is in its own set
        vals.append(0.5 * (share_less(d_aa, d_ab) + share_less(d_bb, d_ba)))
    return float(np.mean(vals))


def nnaa(
    train: pd.DataFrame,
    synthetic: pd.DataFrame,
    holdout: pd.DataFrame | None = None,
    metadata: Metadata | None = None,
    n_repeats: int = 5,
    random_state: int | np.random.Generator | None = 0,
    max_rows: int | None = None,
    n_jobs: int | None = None,
) -> dict[str, float]:
    """Nearest-neighbour adversarial accuracy (NNAA) and the privacy loss it implies.

    Metric card:
        Definition (Yale et al. 2020): an adversary labels each row "real" or
            "synthetic" by the set its nearest neighbour belongs to.
            ``AA_TS = 1/2 (mean_i 1[d_TS(i) > d_TT(i)] + mean_j 1[d_ST(j) > d_SS(j)])``,
            where ``d_TS(i)`` is the distance from training row i to the closest
            synthetic row and ``d_TT(i)`` the distance to the closest *other* training
            row (leave one out); likewise for synthetic rows. Ties count one half.
            Both sets are used at the same size: the larger is subsampled to the
            smaller (averaged over ``n_repeats`` draws of ``random_state``).
            With ``max_rows`` (default None here; :func:`privacy_report` uses
            :data:`MAX_ROWS` = 10,000) the two means are taken over random subsets of
            at most ``max_rows`` rows of each set (their nearest neighbours are still
            searched among all rows of both sets, so copies stay copies): AA is a mean
            over rows, so the cap adds sampling noise of about +-0.01 and no bias, and
            the cost grows with ``max_rows x n`` instead of ``n x n``. Tables below the
            cap give the same result as without it.
            ``AA_HS`` is the same with the holdout in place of the training table, and
            the *privacy loss* is ``AA_HS - AA_TS``: how much better the synthetic data
            "fit" the training patients than new ones. The reference ``AA_TH`` puts the
            holdout in the synthetic role.
        Range: 0 to 1. Ideal 0.5 (the adversary cannot tell). Near 1: synthetic rows
            are easy to tell apart (poor fidelity). Near 0: synthetic rows sit on top
            of training rows (copies, overfitting). Privacy loss ideal 0; positive
            values mean leakage.
        What fools it: a generator that copies a few rows and produces the rest well
            barely moves the mean; the distance ignores which columns matter clinically.
        Source: Yale, Dash, Dutta, Guyon, Pavao, Bennett (2020), Generation and
            evaluation of privacy preserving synthetic health data, Neurocomputing 416.

    Returns ``{"train_synthetic": AA_TS, "holdout_synthetic": AA_HS or nan,
    "privacy_loss": AA_HS - AA_TS or nan, "train_holdout": AA_TH or nan}``.
    """
    check_max_rows(max_rows)
    ctx = EvaluationContext(train, synthetic, holdout, metadata, n_jobs=n_jobs)
    return _nnaa_result(ctx, n_repeats, random_state, max_rows)


def _nnaa_result(ctx: EvaluationContext, n_repeats: int, random_state, max_rows: int | None = None) -> dict[str, float]:
    rng = make_rng(random_state)
    ts = _adversarial_accuracy(ctx, "T", "S", rng, n_repeats, max_rows)
    if ctx.H is None:
        nan = float("nan")
        return {"train_synthetic": ts, "holdout_synthetic": nan, "privacy_loss": nan, "train_holdout": nan}
    hs = _adversarial_accuracy(ctx, "H", "S", rng, n_repeats, max_rows)
    th = _adversarial_accuracy(ctx, "T", "H", rng, n_repeats, max_rows)
    return {"train_synthetic": ts, "holdout_synthetic": hs, "privacy_loss": hs - ts, "train_holdout": th}
