"""Privacy metrics for synthetic tables, always judged against a real holdout.

A synthetic patient that sits close to a training patient is not by itself a leak:
in a dense region of the data, real new patients sit just as close. A generator is
only suspicious when its rows are closer to the training patients than patients it
never saw (the holdout) are. So every metric here takes ``train`` (what the generator
learned from), ``synthetic`` and ``holdout`` (real patients kept out of training), and
reports the holdout's value next to the synthetic one where that is meaningful.

All distances are the course's mixed-type distance of
:mod:`course_utils.evaluation.distances` (numeric columns scaled by their training
range, a categorical mismatch counting like a full-range difference, missing values
as their own indicator), fitted on the training table.

Metrics (each function's docstring is its metric card):

- :func:`exact_match_rate` - synthetic rows identical to a training row;
- :func:`dcr` - distance to closest record, share closer to train than to holdout,
  5th-percentile ratio;
- :func:`nndr` - nearest-neighbour distance ratio;
- :func:`nnaa` - nearest-neighbour adversarial accuracy (Yale et al. 2020);
- :func:`epsilon_identifiability` - Yoon et al. 2020 (ADS-GAN);
- :func:`membership_inference` - distance and density (DOMIAS-like) attacks, ROC AUC;
- :func:`attribute_inference` - predict a sensitive field from key fields;
- :func:`quasi_identifier_uniqueness` - uniqueness and k-anonymity of key fields;
- :func:`privacy_report` - all of them as one tidy table.

The holdout must not contain training patients: :func:`check_holdout` warns when
more holdout rows have an exact copy in the training table than the training table's
own rate of duplicate rows explains, and raises ``ValueError`` when more than half of
the holdout rows do (the split was not made, or made after synthesis).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import entropy as _entropy
from sklearn.metrics import roc_auc_score

from ..config import make_rng
from ..schema import Metadata, datetime_to_number, infer_metadata
from .cards import get_card
from .distances import (
    MixedEncoder,
    _blas_search,
    _resolve_jobs,
    _run_blocks,
    check_frame,
    check_same_columns,
    fit_encoder,
    nearest_distances,
)

__all__ = [
    "DCRResult",
    "attribute_inference",
    "check_holdout",
    "dcr",
    "entropy_weights",
    "epsilon_identifiability",
    "exact_match_rate",
    "membership_inference",
    "nnaa",
    "nndr",
    "privacy_report",
    "quasi_identifier_uniqueness",
]

# Two distances closer than this count as a tie (they come from different searches,
# whose floating-point rounding differs).
_RTOL = 1e-9
_ATOL = 1e-12

MAX_ROWS = 10_000
"""Default cap on the rows per table of the statistical-only metrics (NNAA, attribute
inference) in :func:`privacy_report`: their results are averages over rows, which a
random subsample of 10,000 rows estimates to about +-0.01, while their cost would grow with
the square of the table size. Exact matches, DCR, NNDR, epsilon-identifiability and the
distance membership attack always use every row."""

MAX_ROWS_DENSITY = 5_000
"""Default cap of :func:`membership_inference` on members, non-members and the rows
that fit each kernel density."""


# ---------------------------------------------------------------------------------
# shared plumbing
# ---------------------------------------------------------------------------------
def _prepare(
    train: pd.DataFrame,
    others: dict[str, pd.DataFrame | None],
    metadata: Metadata | None,
    encoder: MixedEncoder | None = None,
) -> tuple[MixedEncoder, np.ndarray, dict[str, np.ndarray | None]]:
    check_frame(train, "training table")
    cols = [str(c) for c in train.columns]
    for what, df in others.items():
        if df is None:
            continue
        check_frame(df, f"{what} table")
        check_same_columns(df, cols, f"{what} table")
    if encoder is None:
        encoder = fit_encoder(train, metadata)
    T = encoder.encode(train, "training table")
    enc = {w: (None if df is None else encoder.encode(df[cols], f"{w} table")) for w, df in others.items()}
    return encoder, T, enc


def _row_keys(X: np.ndarray) -> list[bytes]:
    # + 0.0 turns -0.0 into 0.0 so that equal values have equal bytes.
    X = np.ascontiguousarray(X + 0.0)
    return [r.tobytes() for r in X]


def _exact_share(query: np.ndarray, reference: np.ndarray) -> float:
    ref = set(_row_keys(reference))
    return float(np.mean([k in ref for k in _row_keys(query)]))


def _loo_duplicate_share(X: np.ndarray) -> float:
    keys = pd.Series(_row_keys(X))
    return float(keys.duplicated(keep=False).mean())


def _share_less(a: np.ndarray, b: np.ndarray) -> float:
    """Mean of 1[a < b] with ties counted as one half."""
    tie = np.isclose(a, b, rtol=_RTOL, atol=_ATOL)
    return float(np.mean(np.where(tie, 0.5, (a < b).astype(float))))


def _balance(share: float, p0: float) -> float:
    """Move a share whose no-leakage value is ``p0`` onto a scale whose no-leakage value is 0.5.

    Odds rescaling: ``s (1 - p0) / (s (1 - p0) + (1 - s) p0)``; keeps 0 and 1 fixed.
    """
    if not 0 < p0 < 1 or np.isnan(share):
        return float(share)
    num = share * (1 - p0)
    den = num + (1 - share) * p0
    return float(num / den) if den > 0 else 0.5


def _rescale(share: float, p_from: float, p_to: float) -> float:
    """Odds rescaling of a share from a no-leakage level ``p_from`` to one of ``p_to``."""
    b = _balance(share, p_from)
    if not 0 < p_to < 1 or np.isnan(b):
        return b
    num = b * p_to
    den = num + (1 - b) * (1 - p_to)
    return float(num / den) if den > 0 else float(p_to)


def check_holdout(train: pd.DataFrame, holdout: pd.DataFrame, metadata: Metadata | None = None,
                  encoder: MixedEncoder | None = None) -> float:
    """Check that the holdout is not made of training patients; return its exact-match rate.

    Tables of a few coarse columns have identical patients by nature, so the holdout's
    share of rows with an exact copy in the training table is compared with the
    training table's own share of duplicated rows. Warns (``UserWarning``) when the
    holdout's share exceeds that by more than 5 percentage points; raises
    ``ValueError`` when more than half of the holdout rows are copies and that is more
    than twice the training table's duplicate share.
    """
    _, T, enc = _prepare(train, {"holdout": holdout}, metadata, encoder)
    H = enc["holdout"]
    return _check_overlap(T, H)


def _check_overlap(T: np.ndarray, H: np.ndarray) -> float:
    rate = _exact_share(H, T)
    own = _loo_duplicate_share(T)
    if rate > 0.5 and rate > 2 * own:
        raise ValueError(
            f"{rate:.0%} of the holdout rows are exact copies of training rows (the training table's own "
            f"duplicate rate is {own:.0%}): the holdout overlaps the training data. Split before "
            "synthesising and pass rows the generator never saw."
        )
    if rate > own + 0.05:
        warnings.warn(
            f"{rate:.0%} of the holdout rows have an exact copy in the training table, more than the "
            f"training table's own duplicate rate ({own:.0%}); check that the holdout was split off "
            "before synthesis.",
            UserWarning,
            stacklevel=3,
        )
    return rate


class _Context:
    """Encoded tables plus a cache of nearest-neighbour searches, shared by the metrics."""

    def __init__(self, train, synthetic, holdout, metadata=None, encoder=None, check_overlap=True,
                 n_jobs=None):
        self.n_jobs = _resolve_jobs(n_jobs)
        self.encoder, self.T, enc = _prepare(train, {"synthetic": synthetic, "holdout": holdout},
                                             metadata, encoder)
        self.S = enc["synthetic"]
        self.H = enc["holdout"]
        self.holdout_overlap = _check_overlap(self.T, self.H) if (self.H is not None and check_overlap) else None
        self._cache: dict[tuple[str, str, int], tuple[np.ndarray, np.ndarray]] = {}

    def mat(self, name: str) -> np.ndarray:
        X = {"T": self.T, "S": self.S, "H": self.H}[name]
        if X is None:
            raise ValueError("this metric needs a holdout table (real patients the generator never saw)")
        return X

    def nn(self, q: str, r: str, k: int = 1) -> tuple[np.ndarray, np.ndarray]:
        key = (q, r, k)
        if key not in self._cache:
            bigger = [kk for kk in self._cache if kk[:2] == (q, r) and kk[2] > k]
            if bigger:
                d, i = self._cache[bigger[0]]
                return d[:, :k], i[:, :k]
            self._cache[key] = self.search(self.mat(q), self.mat(r), k=k, exclude_self=(q == r))
        return self._cache[key]

    def search(self, Q: np.ndarray, R: np.ndarray, k: int = 1, exclude_self: bool = False):
        """Exact search with the fast blocked brute force on this context's threads."""
        return nearest_distances(Q, R, k=k, exclude_self=exclude_self, algorithm="blas", n_jobs=self.n_jobs)

    def search_rows(self, R: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Leave-one-out nearest distance of the rows ``rows`` of ``R`` to the rest of ``R``."""
        return _blas_search(R[rows], R, 1, rows, 10_000, self.n_jobs)[0][:, 0]

    def cached(self, q: str, r: str) -> np.ndarray | None:
        """Nearest distances from every row of ``q`` to ``r`` if already searched, else None."""
        for key, (d, _) in self._cache.items():
            if key[:2] == (q, r):
                return d[:, 0]
        return None


def _need_rows(X: np.ndarray, n: int, what: str) -> None:
    if len(X) < n:
        raise ValueError(f"the {what} table needs at least {n} rows for this metric, got {len(X)}")


# ---------------------------------------------------------------------------------
# exact matches
# ---------------------------------------------------------------------------------
def exact_match_rate(
    train: pd.DataFrame,
    synthetic: pd.DataFrame,
    holdout: pd.DataFrame | None = None,
    metadata: Metadata | None = None,
) -> dict[str, float]:
    """Share of synthetic rows that are an exact copy of some training row.

    Metric card:
        Definition: fraction of synthetic rows equal, in every column (missing equals
            missing), to at least one training row. The reference is the same fraction
            for the holdout rows: how often a new real patient happens to equal a
            training patient.
        Range: 0 to 1. Ideal: 0, or no higher than the holdout's rate (tables of a few
            coarse columns have identical patients by nature).
        What fools it: a row copied with one value changed by a tiny amount is not an
            exact match; use :func:`dcr` and :func:`nndr` for near copies.
        Source: the minimum privacy check of most synthetic-data reports (e.g.
            SDMetrics' ``NewRowSynthesis``, which reports its complement).

    Returns ``{"synthetic": rate, "holdout": rate or nan}``.
    """
    ctx = _Context(train, synthetic, holdout, metadata)
    return _exact(ctx)


def _exact(ctx: _Context) -> dict[str, float]:
    return {
        "synthetic": _exact_share(ctx.S, ctx.T),
        "holdout": _exact_share(ctx.H, ctx.T) if ctx.H is not None else float("nan"),
    }


# ---------------------------------------------------------------------------------
# distance to closest record
# ---------------------------------------------------------------------------------
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
    ctx = _Context(train, synthetic, holdout, metadata)
    return _dcr(ctx)


def _dcr(ctx: _Context) -> DCRResult:
    d_st = ctx.nn("S", "T")[0][:, 0]
    d_ht = ctx.nn("H", "T")[0][:, 0]
    d_sh = ctx.nn("S", "H")[0][:, 0]
    raw = _share_less(d_st, d_sh)
    p0 = len(ctx.T) / (len(ctx.T) + len(ctx.H))
    p5_s = float(np.percentile(d_st, 5))
    p5_h = float(np.percentile(d_ht, 5))
    ratio = p5_s / p5_h if p5_h > 0 else float("nan")
    return DCRResult(d_st, d_ht, d_sh, _balance(raw, p0), raw, p0, ratio)


# ---------------------------------------------------------------------------------
# nearest-neighbour distance ratio
# ---------------------------------------------------------------------------------
def _ratio(d: np.ndarray) -> np.ndarray:
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
    ctx = _Context(train, synthetic, holdout, metadata)
    return _nndr(ctx)


def _nndr(ctx: _Context) -> dict[str, Any]:
    _need_rows(ctx.T, 2, "training")
    s = _ratio(ctx.nn("S", "T", 2)[0])
    h = _ratio(ctx.nn("H", "T", 2)[0]) if ctx.H is not None else None
    return {
        "synthetic": s,
        "holdout": h,
        "synthetic_mean": float(np.mean(s)),
        "holdout_mean": float(np.mean(h)) if h is not None else float("nan"),
    }


# ---------------------------------------------------------------------------------
# nearest-neighbour adversarial accuracy
# ---------------------------------------------------------------------------------
def _aa(ctx: _Context, a_name: str, b_name: str, rng: np.random.Generator, n_repeats: int,
        max_rows: int | None = None) -> float:
    A, B = ctx.mat(a_name), ctx.mat(b_name)
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
                return ctx.nn(x_name, y_name)[0][:, 0]
            done = ctx.cached(x_name, y_name)
            if done is not None:
                return done[rows]
        return ctx.search(X if rows is None else X[rows], Y)[0][:, 0]

    def to_own(x_name, X, x_whole, rows) -> np.ndarray:
        if rows is not None:
            return ctx.search_rows(X, rows)
        return ctx.nn(x_name, x_name)[0][:, 0] if x_whole else ctx.search(X, X, exclude_self=True)[0][:, 0]

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
        vals.append(0.5 * (_share_less(d_aa, d_ab) + _share_less(d_bb, d_ba)))
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
    _check_max_rows(max_rows)
    ctx = _Context(train, synthetic, holdout, metadata, n_jobs=n_jobs)
    return _nnaa(ctx, n_repeats, random_state, max_rows)


def _check_max_rows(max_rows: int | None, allow_none: bool = True) -> None:
    if max_rows is None and allow_none:
        return
    if isinstance(max_rows, bool) or not isinstance(max_rows, int | np.integer) or max_rows < 2:
        raise ValueError(f"max_rows must be an integer >= 2{' or None' if allow_none else ''}, got {max_rows!r}")


def _nnaa(ctx: _Context, n_repeats: int, random_state, max_rows: int | None = None) -> dict[str, float]:
    rng = make_rng(random_state)
    ts = _aa(ctx, "T", "S", rng, n_repeats, max_rows)
    if ctx.H is None:
        nan = float("nan")
        return {"train_synthetic": ts, "holdout_synthetic": nan, "privacy_loss": nan, "train_holdout": nan}
    hs = _aa(ctx, "H", "S", rng, n_repeats, max_rows)
    th = _aa(ctx, "T", "H", rng, n_repeats, max_rows)
    return {"train_synthetic": ts, "holdout_synthetic": hs, "privacy_loss": hs - ts, "train_holdout": th}


# ---------------------------------------------------------------------------------
# epsilon-identifiability
# ---------------------------------------------------------------------------------
def entropy_weights(train: pd.DataFrame, metadata: Metadata | None = None) -> dict[str, float]:
    """``{column or one-hot group: 1 / entropy}`` of the training values (natural log).

    Missing is one more value; a one-hot group is one variable. As in Yoon et al.
    (2020), columns with few, unevenly used values (low entropy, e.g. a rare flag)
    get large weights and columns where nearly every patient differs (high entropy,
    e.g. a continuous measurement) small ones. A constant column (entropy 0) gets the
    largest weight of the other columns rather than an infinite one.
    """
    check_frame(train, "training table")
    meta = infer_metadata(train) if metadata is None else metadata
    ent: dict[str, float] = {}
    grouped: set[str] = set()
    for group, members in meta.one_hot_groups.items():
        keys = train[members].astype(str).agg("|".join, axis=1)
        ent[group] = float(_entropy(keys.value_counts(dropna=False).to_numpy()))
        grouped.update(members)
    for name in meta.names:
        if name in grouped:
            continue
        counts = train[name].astype(object).where(train[name].notna(), "<missing>").value_counts()
        ent[name] = float(_entropy(counts.to_numpy()))
    positive = [h for h in ent.values() if h > 0]
    w = {c: (1.0 / h if h > 0 else np.nan) for c, h in ent.items()}
    top = max((1.0 / h for h in positive), default=1.0)
    return {c: (top if np.isnan(v) else v) for c, v in w.items()}


def epsilon_identifiability(
    train: pd.DataFrame,
    synthetic: pd.DataFrame,
    holdout: pd.DataFrame | None = None,
    metadata: Metadata | None = None,
) -> dict[str, float]:
    """Epsilon-identifiability risk (Yoon et al. 2020, ADS-GAN).

    Metric card:
        Definition: with each column weighted by ``1 / entropy`` of its training values
            (:func:`entropy_weights`; coordinates multiplied by the weight), let ``r_i``
            be the distance from training row i to its closest *other* training row and
            ``r̂_i`` its distance to the closest synthetic row. The risk is the share of
            training rows with ``r̂_i < r_i`` (strict, as in the paper): a synthetic row
            is closer to the patient than any other real patient, so it may identify
            them. The reference is the same share with the holdout as the "synthetic"
            table, rescaled (odds) to the synthetic table's size.
        Range: 0 to 1, lower is more private. It depends on the table sizes: a
            generator of fresh patients scores about ``n_S / (n_S + n_T - 1)``
            (returned as ``expected``; 0.5 when the synthetic table has as many rows as
            the training table). Yoon et al. call the data epsilon-identifiable when the
            risk is below epsilon; compare with ``expected`` and the holdout reference.
        What fools it: a larger synthetic table raises it without any leak (hence
            ``expected``); duplicated training patients (``r_i = 0``) can never count.
        Source: Yoon, Drumright, van der Schaar (2020), Anonymization through data
            synthesis using generative adversarial networks (ADS-GAN), IEEE JBHI 24(8);
            the ``IdentifiabilityScore`` of synthcity.

    Returns ``{"synthetic": risk, "expected": no-leak level, "holdout": raw holdout
    risk or nan, "holdout_rescaled": holdout risk at the synthetic size or nan}``.
    """
    ctx = _Context(train, synthetic, holdout, metadata)
    return _eps(ctx, train, metadata)


def _eps(ctx: _Context, train: pd.DataFrame, metadata: Metadata | None) -> dict[str, float]:
    weights = entropy_weights(train, ctx.encoder.metadata_)
    # each column's coordinates are linear in its weight, so reweighting the encoded
    # tables equals encoding with MixedEncoder(weights=...)
    factor = np.ones(ctx.encoder.n_features_)
    for code in ctx.encoder.codes_:
        factor[code.start:code.end] = weights[code.name]
    T = ctx.T * factor
    S = ctx.S * factor
    n_t = len(T)
    _need_rows(T, 2, "training")
    r = ctx.search(T, T, exclude_self=True)[0][:, 0]
    r_hat = ctx.search(T, S)[0][:, 0]
    risk = float(np.mean((r_hat < r) & ~np.isclose(r_hat, r, rtol=_RTOL, atol=_ATOL)))
    expected = len(S) / (len(S) + n_t - 1)
    out = {"synthetic": risk, "expected": expected, "holdout": float("nan"), "holdout_rescaled": float("nan")}
    if ctx.H is not None:
        H = ctx.H * factor
        r_h = ctx.search(T, H)[0][:, 0]
        h_risk = float(np.mean((r_h < r) & ~np.isclose(r_h, r, rtol=_RTOL, atol=_ATOL)))
        out["holdout"] = h_risk
        out["holdout_rescaled"] = _rescale(h_risk, len(H) / (len(H) + n_t - 1), expected)
    return out


# ---------------------------------------------------------------------------------
# membership inference
# ---------------------------------------------------------------------------------
def _kde_bandwidth(X: np.ndarray, n_jobs: int = 1) -> float:
    # Half the median distance between a synthetic row and its nearest other synthetic
    # row: narrow enough that a training patient copied into the synthetic data stands
    # out against its neighbours, wide enough to smooth between fresh patients.
    # (Scott's rule in 20 encoded dimensions is several times wider and hides copies.)
    d = nearest_distances(X, X, exclude_self=True, algorithm="blas", n_jobs=n_jobs)[0][:, 0]
    med = float(np.median(d))
    if not med > 0:
        positive = d[d > 0]
        med = float(np.median(positive)) if len(positive) else 1.0
    return 0.5 * med


class _GaussianKDE:
    """Gaussian kernel density, evaluated exactly (every pair, in blocks of matrix products).

    ``log p(x) = logsumexp_j(-||x - x_j||^2 / (2 h^2)) - log n - d/2 log(2 pi) - d log h``,
    the same density as scikit-learn's ``KernelDensity(kernel="gaussian")``, whose tree
    approximates it; on a few thousand rows in tens of dimensions the exact sum over
    all pairs is several times faster than the tree.
    """

    def __init__(self, X: np.ndarray, bandwidth: float, n_jobs: int = 1):
        self.X = np.asarray(X, dtype=float)
        self.h = float(bandwidth)
        self.n_jobs = n_jobs
        self._x2 = np.einsum("ij,ij->i", self.X, self.X)
        n, d = self.X.shape
        self._const = -np.log(n) - 0.5 * d * np.log(2 * np.pi) - d * np.log(self.h)

    def score_samples(self, Y: np.ndarray) -> np.ndarray:
        Y = np.asarray(Y, dtype=float)
        out = np.empty(len(Y))
        y2 = np.einsum("ij,ij->i", Y, Y)
        scale = -0.5 / self.h**2

        def block(a: int, b: int) -> None:
            sq = y2[a:b, None] - 2.0 * (Y[a:b] @ self.X.T) + self._x2[None, :]
            np.maximum(sq, 0.0, out=sq)
            sq *= scale
            top = sq.max(axis=1)
            sq -= top[:, None]
            np.exp(sq, out=sq)
            out[a:b] = top + np.log(sq.sum(axis=1))

        _run_blocks(block, len(Y), max(1, (1 << 21) // max(len(self.X), 1)), self.n_jobs)
        return out + self._const


def _fit_kde(X: np.ndarray, bandwidth: float, n_jobs: int = 1) -> _GaussianKDE:
    return _GaussianKDE(X, bandwidth, n_jobs)


def membership_inference(
    train: pd.DataFrame,
    synthetic: pd.DataFrame,
    holdout: pd.DataFrame,
    metadata: Metadata | None = None,
    max_rows: int = MAX_ROWS_DENSITY,
    random_state: int | np.random.Generator | None = 0,
    n_jobs: int | None = None,
) -> dict[str, float]:
    """Membership-inference attacks: can the synthetic data tell training patients from others?

    Metric card:
        Definition: the attacker holds the synthetic table and a patient's record and
            guesses whether the patient was in the training table. Members are the
            training rows, non-members the holdout rows; the result is the ROC AUC of
            the attack score.
            *Distance attack*: score = minus the distance to the closest synthetic row.
            *Density attack*: score = ``log p_syn(x)``, a Gaussian kernel density fitted
            on the encoded synthetic rows (high where synthetic rows pile up).
            *Density-ratio attack* (DOMIAS-like, van Breugel et al. 2023): score =
            ``log p_syn(x) - log p_ref(x)``, two Gaussian kernel densities on the
            encoded rows, one fitted on the synthetic table and one on reference real
            patients (half of the holdout; the other half are the non-members scored,
            then the halves swap and the two AUCs are averaged). It asks "is this record
            more typical of the synthetic data than of the population?", so a patient
            in a dense region is not flagged just for being typical. Bandwidth (both
            densities): half the median distance from a synthetic row to its nearest
            other synthetic row.
            The distance attack scores every member and non-member. The density
            attacks score at most ``max_rows`` (default 5,000) members and non-members
            and fit each density on at most ``max_rows`` rows (random subsamples of
            ``random_state``): an AUC from 5,000 + 5,000 rows has a standard error
            below 0.01, and the densities are summed exactly over every pair of rows.
        Range: 0 to 1. Ideal 0.5 (a coin flip). Near 1: the synthetic data reveal who
            was in the training set. Below 0.5 is noise (or a holdout from another
            population).
        What fools it: a small holdout gives a noisy AUC (a few hundred rows: +-0.05);
            an attack stronger than these two (e.g. shadow models) may still succeed.
            This is membership inference, not attribute inference: see
            :func:`attribute_inference` for guessing a field.
        Source: Shokri et al. (2017) for membership inference; distance-based attacks as
            in Hilprecht et al. (2019); van Breugel, Sun, Qian, van der Schaar (2023),
            Membership inference attacks against synthetic data through overfitting
            detection (DOMIAS), AISTATS.

    Returns ``{"distance_auc": ..., "density_auc": ..., "density_ratio_auc": ...}``.
    The ratio attack needs a reference sample; with a small holdout (each half a few
    dozen patients) its reference density is rough and the attack is weaker than the
    plain density attack even against copied rows.
    """
    _check_max_rows(max_rows, allow_none=False)
    ctx = _Context(train, synthetic, holdout, metadata, n_jobs=n_jobs)
    return _mia(ctx, max_rows, random_state)


def _sub(X: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    return X if len(X) <= n else X[np.sort(rng.choice(len(X), n, replace=False))]


def _mia(ctx: _Context, max_rows: int, random_state) -> dict[str, float]:
    rng = make_rng(random_state)
    H = ctx.mat("H")
    d_t = ctx.nn("T", "S")[0][:, 0]
    d_h = ctx.nn("H", "S")[0][:, 0]
    y = np.r_[np.ones(len(d_t)), np.zeros(len(d_h))]
    distance_auc = float(roc_auc_score(y, -np.r_[d_t, d_h]))

    if len(H) < 4:
        nan = float("nan")
        return {"distance_auc": distance_auc, "density_auc": nan, "density_ratio_auc": nan}
    S = _sub(ctx.S, max_rows, rng)
    members = _sub(ctx.T, max_rows, rng)
    bw = _kde_bandwidth(S, ctx.n_jobs)
    kde_s = _fit_kde(S, bw, ctx.n_jobs)
    perm = rng.permutation(len(H))
    halves = (perm[: len(H) // 2], perm[len(H) // 2:])
    log_s_members = kde_s.score_samples(members)
    non_all = _sub(H, max_rows, rng)
    yy = np.r_[np.ones(len(members)), np.zeros(len(non_all))]
    density_auc = float(roc_auc_score(yy, np.r_[log_s_members, kde_s.score_samples(non_all)]))
    aucs = []
    for ref_idx, out_idx in (halves, halves[::-1]):
        ref = _sub(H[ref_idx], max_rows, rng)
        kde_r = _fit_kde(ref, bw, ctx.n_jobs)
        non = _sub(H[out_idx], max_rows, rng)
        score_m = log_s_members - kde_r.score_samples(members)
        score_n = kde_s.score_samples(non) - kde_r.score_samples(non)
        yy = np.r_[np.ones(len(score_m)), np.zeros(len(score_n))]
        aucs.append(roc_auc_score(yy, np.r_[score_m, score_n]))
    return {"distance_auc": distance_auc, "density_auc": density_auc, "density_ratio_auc": float(np.mean(aucs))}


# ---------------------------------------------------------------------------------
# attribute inference
# ---------------------------------------------------------------------------------
def _pick_columns(names: list[str], keys, sensitive, n_keys: int, rng: np.random.Generator):
    if sensitive is None:
        pool = [c for c in names if keys is None or c not in keys]
        sensitive = pool[int(rng.integers(len(pool)))]
    if keys is None:
        pool = [c for c in names if c != sensitive]
        m = min(n_keys, len(pool))
        keys = [pool[i] for i in np.sort(rng.choice(len(pool), m, replace=False))]
    return list(keys), sensitive


def _as_numbers(s: pd.Series, kind: str) -> np.ndarray:
    """Float values of a numeric or datetime column (NaN where missing or unreadable)."""
    if kind == "datetime":
        return datetime_to_number(s)
    return pd.to_numeric(s, errors="coerce").to_numpy(dtype=float)


def _predict_attribute(
    train: pd.DataFrame, attacker: pd.DataFrame, keys: list[str], sensitive: str, meta: Metadata,
    k: int, tolerance: float, rows: np.ndarray | None = None,
) -> float:
    enc = fit_encoder(train[keys], meta.select(keys))
    attacked = train if rows is None else train.iloc[rows]
    # scikit-learn's search on purpose: with a few coarse keys most neighbours are tied,
    # and the neighbour it picks among them decides the guess
    _, idx = nearest_distances(attacked[keys], attacker[keys], k=min(k, len(attacker)), encoder=enc)
    truth = attacked[sensitive].reset_index(drop=True)
    values = attacker[sensitive].reset_index(drop=True)
    kind = meta[sensitive].kind
    if kind in ("continuous", "integer", "datetime"):
        t, v = _as_numbers(truth, kind), _as_numbers(values, kind)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            pred = np.nanmean(v[idx], axis=1)
        t_all = t if rows is None else _as_numbers(train[sensitive], kind)
        finite = t_all[~np.isnan(t_all)]
        span = float(finite.max() - finite.min()) if len(finite) else 0.0
        tol = tolerance * span if span > 0 else 0.0
        both_missing = np.isnan(t) & np.isnan(pred)
        close = np.abs(t - pred) <= tol + 1e-12
        return float(np.mean(both_missing | close))
    v = values.astype(object).where(values.notna(), "<missing>").to_numpy()
    t = truth.astype(object).where(truth.notna(), "<missing>").to_numpy()
    if idx.shape[1] == 1:
        pred = v[idx[:, 0]]
    else:
        pred = np.empty(len(idx), dtype=object)
        for r, row in enumerate(idx):
            vals, counts = np.unique(v[row].astype(str), return_counts=True)
            best = set(vals[counts == counts.max()])
            # among tied votes, the nearest neighbour's value wins
            pred[r] = next(x for x in v[row] if str(x) in best)
    return float(np.mean(pred == t))


def attribute_inference(
    train: pd.DataFrame,
    synthetic: pd.DataFrame,
    holdout: pd.DataFrame,
    keys: list[str] | None = None,
    sensitive: str | None = None,
    n_repeats: int = 10,
    n_keys: int = 3,
    k: int = 1,
    numeric_tolerance: float = 0.05,
    metadata: Metadata | None = None,
    random_state: int | np.random.Generator | None = 0,
    max_rows: int | None = None,
) -> pd.DataFrame:
    """Attribute-inference attack: guess a sensitive field of training patients from key fields.

    Metric card:
        Definition: the attacker knows some fields of a training patient (the *keys*,
            quasi-identifiers such as age, sex, admission date) and looks up the
            ``k`` nearest synthetic rows on those keys (course distance on the key
            columns); the guess is their value of the *sensitive* field (majority for a
            categorical or binary field, mean for a numeric one). Accuracy over all
            training patients; a numeric guess counts as right when within
            ``numeric_tolerance`` x the training range of the true value. The same
            attack run with the holdout in place of the synthetic table measures what
            real population knowledge alone reveals: the *gain* ``synthetic - holdout``
            is the leakage. Unless given, keys and sensitive field are drawn at random
            (``n_keys`` keys) ``n_repeats`` times with ``random_state``.
            With ``max_rows`` (default None here; :func:`privacy_report` uses
            :data:`MAX_ROWS` = 10,000), a larger training table is attacked through a
            random subsample of that many patients (drawn once with ``random_state``;
            the numeric tolerance still uses the whole training range and the attacker
            still searches the whole synthetic or holdout table): the accuracy is a
            mean over patients, so the cap adds sampling noise of about +-0.01 and no
            bias. Tables below the cap give the same result as without it.
        Range: 0 to 1. Ideal: a gain of about 0 (the synthetic data reveal no more than
            any sample of the population). The accuracy itself can be high without any
            leak when the field is predictable (e.g. survival status from follow-up).
        What fools it: a holdout much smaller than the synthetic table makes the
            reference attack a little weaker (fewer neighbours to look up); with keys
            that identify nobody, both accuracies equal the base rate.
        Source: attribute disclosure as in Stadler, Oprisanu, Troncoso (2022), Synthetic
            data - anonymisation groundhog day, USENIX Security; SDMetrics'
            ``CategoricalCAP`` family uses the same key/sensitive set-up. This is not
            membership inference (see :func:`membership_inference`).

    Returns one row per (keys, sensitive) draw: ``keys``, ``sensitive``,
    ``synthetic_accuracy``, ``holdout_accuracy``, ``gain``.
    """
    _prepare(train, {"synthetic": synthetic, "holdout": holdout}, metadata)
    meta = infer_metadata(train) if metadata is None else metadata
    names = list(meta.names)
    if len(names) < 2:
        raise ValueError("attribute inference needs at least two columns (keys and a sensitive field)")
    for c in list(keys or []) + ([sensitive] if sensitive is not None else []):
        if c not in names:
            raise ValueError(f"column {c!r} is not in the training table")
    if keys is not None and (len(keys) == 0 or (sensitive is not None and sensitive in keys)):
        raise ValueError("keys must be a non-empty list of columns that does not include the sensitive field")
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    _check_max_rows(max_rows)
    rng = make_rng(random_state)
    rows_cap = None
    if max_rows is not None and len(train) > max_rows:
        rows_cap = np.sort(rng.choice(len(train), int(max_rows), replace=False))
    fixed = keys is not None and sensitive is not None
    rows = []
    for _ in range(1 if fixed else max(1, int(n_repeats))):
        kk, ss = _pick_columns(names, keys, sensitive, n_keys, rng)
        acc_s = _predict_attribute(train, synthetic, kk, ss, meta, k, numeric_tolerance, rows_cap)
        acc_h = _predict_attribute(train, holdout, kk, ss, meta, k, numeric_tolerance, rows_cap)
        rows.append({"keys": tuple(kk), "sensitive": ss, "synthetic_accuracy": acc_s,
                     "holdout_accuracy": acc_h, "gain": acc_s - acc_h})
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------
# uniqueness and k-anonymity of quasi-identifiers
# ---------------------------------------------------------------------------------
def _qi_codes(df: pd.DataFrame, train: pd.DataFrame, qis: list[str], meta: Metadata,
              n_bins: int, max_levels: int) -> pd.DataFrame:
    out = {}
    for c in qis:
        col = df[c]
        kind = meta[c].kind
        if kind in ("continuous", "integer", "datetime") and train[c].nunique() > max_levels:
            ref = _as_numbers(train[c].dropna(), kind)
            edges = np.unique(np.quantile(ref, np.linspace(0, 1, n_bins + 1))[1:-1])
            binned = np.digitize(_as_numbers(col, kind), edges).astype(object)
            binned[col.isna().to_numpy()] = "<missing>"
            out[c] = binned
        else:
            out[c] = col.astype(object).where(col.notna(), "<missing>").astype(str).to_numpy()
    return pd.DataFrame(out)


def _qi_stats(codes: pd.DataFrame, train_codes: pd.DataFrame) -> dict[str, float]:
    keys = codes.astype(str).agg("\x1f".join, axis=1)
    tkeys = train_codes.astype(str).agg("\x1f".join, axis=1)
    sizes = keys.map(keys.value_counts())
    unique = sizes == 1
    tcounts = tkeys.value_counts()
    train_unique = set(tcounts.index[tcounts == 1])
    matches = unique & keys.isin(train_unique)
    return {
        "unique_share": float(unique.mean()),
        "k_anonymity": int(sizes.min()),
        "n_unique": int(unique.sum()),
        "unique_matches": int(matches.sum()),
        "unique_match_share": float(matches.mean()),
    }


def quasi_identifier_uniqueness(
    train: pd.DataFrame,
    synthetic: pd.DataFrame,
    quasi_identifiers: list[str],
    holdout: pd.DataFrame | None = None,
    n_bins: int = 5,
    max_levels: int = 10,
    metadata: Metadata | None = None,
) -> pd.DataFrame:
    """Uniqueness and k-anonymity of quasi-identifier combinations in the synthetic table.

    Metric card:
        Definition: rows are grouped by their values on the quasi-identifiers (numeric
            ones with more than ``max_levels`` distinct training values are cut into
            ``n_bins`` training-quantile bins, as a data custodian would generalise
            age). ``unique_share``: share of synthetic rows alone in their group.
            ``k_anonymity``: the smallest group size (the table is k-anonymous for this
            k). ``unique_matches`` / ``unique_match_share``: synthetic rows that are
            unique in the synthetic table *and* whose combination belongs to exactly one
            training patient - the rows through which someone who knows that patient's
            quasi-identifiers would find "them". The holdout row gives the same numbers
            for real new patients (a smaller table has more uniques by chance).
        Range: shares 0 to 1, lower is safer; k >= 1, higher is safer (k = 5 or 10 are
            common release thresholds for de-identified data).
        What fools it: uniqueness of a synthetic row is not disclosure by itself (the row
            is not a person); coarser bins make every table look safe.
        Source: Sweeney (2002), k-anonymity: a model for protecting privacy; El Emam
            et al. on re-identification risk of health data.

    Returns one row per table (``synthetic``, and ``holdout`` when given) with the
    statistics as columns.
    """
    _prepare(train, {"synthetic": synthetic, "holdout": holdout}, metadata)
    meta = infer_metadata(train) if metadata is None else metadata
    qis = list(quasi_identifiers or [])
    if not qis:
        raise ValueError("quasi_identifiers must name at least one column")
    for c in qis:
        if c not in meta.names:
            raise ValueError(f"quasi-identifier {c!r} is not in the training table")
    tcodes = _qi_codes(train, train, qis, meta, n_bins, max_levels)
    rows = []
    for name, df in (("synthetic", synthetic), ("holdout", holdout)):
        if df is None:
            continue
        stats = _qi_stats(_qi_codes(df.reset_index(drop=True), train, qis, meta, n_bins, max_levels), tcodes)
        rows.append({"table": name, **stats})
    return pd.DataFrame(rows).set_index("table")


# ---------------------------------------------------------------------------------
# the report
# ---------------------------------------------------------------------------------
def privacy_report(
    train: pd.DataFrame,
    synthetic: pd.DataFrame,
    holdout: pd.DataFrame,
    metadata: Metadata | None = None,
    random_state: int | np.random.Generator | None = 0,
    quasi_identifiers: list[str] | None = None,
    sensitive: str | None = None,
    n_repeats: int = 5,
    max_rows: int | None = MAX_ROWS,
    n_jobs: int | None = None,
) -> pd.DataFrame:
    """Every privacy metric of this module as one tidy table.

    Columns: ``metric``, ``family`` ("privacy"), ``column`` (None, or the columns a
    metric is about), ``value``, ``ideal``, ``reference`` (the same metric with the
    real holdout in the synthetic role where that is meaningful, else nan) and
    ``interpretation`` (one sentence). ``quasi_identifiers`` (default: three columns
    drawn with ``random_state``) are the keys of the uniqueness and attribute-inference
    rows; without ``sensitive``, attribute inference averages ``2 * n_repeats`` random
    key/sensitive draws. See each function's metric card for definitions.

    Cost: every nearest-neighbour search between two whole tables is done once and
    shared by the metrics that need it (exact blocked brute force, see
    :func:`course_utils.evaluation.distances.nearest_distances`), on ``n_jobs``
    threads (``None``: as many as numpy's BLAS may use). Exact matches, DCR, NNDR,
    epsilon-identifiability and the distance membership attack use every row; NNAA and
    attribute inference use at most ``max_rows`` rows per table (default
    :data:`MAX_ROWS` = 10,000; None: every row) and the density membership attacks at
    most ``min(max_rows, 5000)``, random subsamples of ``random_state`` (the
    interpretation of a capped row says so). Tables below the caps are not subsampled.
    """
    if holdout is None:
        raise ValueError("privacy is judged against a holdout: pass real patients the generator never saw")
    rng = make_rng(random_state)
    seeds = rng.integers(0, 2**31 - 1, size=4)
    _check_max_rows(max_rows)
    ctx = _Context(train, synthetic, holdout, metadata, n_jobs=n_jobs)
    meta = ctx.encoder.metadata_
    nan = float("nan")
    cap_mia = MAX_ROWS_DENSITY if max_rows is None else min(MAX_ROWS_DENSITY, int(max_rows))

    def capped(cap: int | None, *sizes: int) -> str:
        if cap is None or max(sizes) <= cap:
            return ""
        return f" (estimated on {cap:,} random rows per table)"

    rows: list[dict[str, Any]] = []

    def add(metric, value, reference, text, column=None, ideal=None):
        # the best value comes from the metric's card unless it depends on the table sizes
        best = get_card(metric).ideal if ideal is None else ideal
        rows.append({"metric": metric, "family": "privacy", "column": column, "value": float(value),
                     "ideal": float(best), "reference": float(reference), "interpretation": text})

    ex = _exact(ctx)
    add("exact_match_rate", ex["synthetic"], ex["holdout"],
        f"{ex['synthetic']:.1%} of synthetic rows copy a training row exactly "
        f"(new real patients: {ex['holdout']:.1%}).")

    # the two nearest training rows serve DCR and NNDR: one search each, not two
    ctx.nn("S", "T", 2)
    ctx.nn("H", "T", 2)
    d = _dcr(ctx)
    med_s, med_h = float(np.median(d.synthetic_to_train)), float(np.median(d.holdout_to_train))
    add("dcr_median", med_s, med_h,
        "Median distance of a synthetic row to its closest training row; smaller than the holdout's "
        "means synthetic rows hug training patients." if med_s < med_h else
        "Median distance of a synthetic row to its closest training row is no smaller than for new real patients.")
    add("dcr_share_closer_to_train", d.share_closer_to_train, nan,
        f"Size-adjusted share of synthetic rows closer to training than to holdout patients "
        f"({d.share_closer_to_train:.2f}; 0.5 = no more than chance, 1 = copies).")
    add("dcr_p5_ratio", d.p5_ratio, nan,
        "5th-percentile DCR of synthetic rows over that of holdout rows; well below 1 flags near copies.")

    nd = _nndr(ctx)
    add("nndr_mean", nd["synthetic_mean"], nd["holdout_mean"],
        "Mean ratio of closest to second-closest training distance; lower than the holdout's means "
        "synthetic rows single out individual patients.")

    # the membership attack needs these anyway; NNAA reuses them
    ctx.nn("T", "S")
    ctx.nn("H", "S")
    aa = _nnaa(ctx, n_repeats, int(seeds[0]), max_rows)
    note = capped(max_rows, len(ctx.T), len(ctx.S), len(ctx.H))
    add("nnaa", aa["train_synthetic"], aa["train_holdout"],
        "Nearest-neighbour adversarial accuracy: 0.5 = indistinguishable, near 0 = copies, near 1 = "
        f"easy to tell apart{note}.")
    add("nnaa_privacy_loss", aa["privacy_loss"], nan,
        "Adversarial accuracy against the holdout minus against training; above 0 means the synthetic "
        f"data fit training patients better than new ones{note}.")

    eps = _eps(ctx, train, metadata)
    add("epsilon_identifiability", eps["synthetic"], eps["holdout_rescaled"],
        f"{eps['synthetic']:.1%} of training patients have a synthetic row closer than any other patient "
        f"(a generator of fresh patients: about {eps['expected']:.1%}).", ideal=eps["expected"])

    mia = _mia(ctx, cap_mia, int(seeds[1]))
    note = capped(cap_mia, len(ctx.T), len(ctx.S), len(ctx.H))
    add("membership_distance_auc", mia["distance_auc"], nan,
        "ROC AUC of guessing training membership from the distance to the synthetic data; 0.5 = coin flip.")
    add("membership_density_auc", mia["density_auc"], nan,
        "ROC AUC of guessing training membership from the synthetic data's density at the record; "
        f"0.5 = coin flip{note}.")
    add("membership_density_ratio_auc", mia["density_ratio_auc"], nan,
        "ROC AUC of a density-ratio (DOMIAS-like) membership attack: synthetic versus real-population "
        f"density; 0.5 = coin flip{note}.")

    names = list(meta.names)
    qis = list(quasi_identifiers) if quasi_identifiers is not None else \
        [names[i] for i in np.sort(make_rng(int(seeds[2])).choice(len(names), min(3, len(names)),
                                                                            replace=False))]
    if len(names) >= 2:
        keys = qis if sensitive is not None or quasi_identifiers is not None else None
        if keys is not None and sensitive is not None and sensitive in keys:
            keys = [c for c in keys if c != sensitive]
        ai = attribute_inference(train, synthetic, holdout, keys=keys or None, sensitive=sensitive,
                                 n_repeats=2 * n_repeats, metadata=meta, random_state=int(seeds[3]),
                                 max_rows=max_rows)
        note = capped(max_rows, len(ctx.T)).replace("rows per table", "training patients")
        add("attribute_inference_accuracy", ai["synthetic_accuracy"].mean(), ai["holdout_accuracy"].mean(),
            "Accuracy of guessing a sensitive field from key fields with the synthetic data; the reference "
            f"uses real holdout patients, so the difference is the leakage{note}.",
            column=None if keys is None or sensitive is None else f"{', '.join(map(str, keys))} -> {sensitive}")
    qu = quasi_identifier_uniqueness(train, synthetic, qis, holdout, metadata=meta)
    qcol = ", ".join(map(str, qis))
    add("qi_unique_share", qu.loc["synthetic", "unique_share"], qu.loc["holdout", "unique_share"],
        "Share of synthetic rows alone in their quasi-identifier group.", column=qcol)
    add("qi_k_anonymity", qu.loc["synthetic", "k_anonymity"], qu.loc["holdout", "k_anonymity"],
        "Smallest quasi-identifier group in the synthetic table (k of k-anonymity).", column=qcol)
    add("qi_unique_match_share", qu.loc["synthetic", "unique_match_share"], qu.loc["holdout", "unique_match_share"],
        "Share of synthetic rows unique on the quasi-identifiers whose combination belongs to exactly "
        "one training patient.", column=qcol)
    return pd.DataFrame(rows, columns=["metric", "family", "column", "value", "ideal", "reference",
                                       "interpretation"])
