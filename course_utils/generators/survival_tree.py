"""A survival tree for sequential CART: the (time, event) pair drawn from one real patient.

A regression tree on follow-up times treats a censored time (the patient was still
alive when follow-up ended) as if it were a time of death, and splits where mean times
differ, which long censored follow-ups dominate. A survival tree splits where the
*hazard* differs: at each node it tries every cut of every predictor and keeps the one
with the largest log-rank statistic between the two sides, the test a clinician would
run to compare two survival curves. Sampling then drops a synthetic row down the tree
and copies the time *and* the event flag of one real patient in its leaf, so that the
pair stays one patient's (a death at 400 days is never glued to a censored flag).

This is synthpop's ``survctree`` (Nowok, Raab and Dibben 2016), which grows the tree
with ``party::ctree``; here the split criterion is the log-rank statistic itself
(Segal 1988; LeBlanc and Crowley 1993), and a node is split only when the best cut is
significant at the 5% level (:data:`SPLIT_CHI2`) and leaves both sides at least
``min_samples_leaf`` patients.

The tree is stored as flat arrays (as scikit-learn stores its trees), so the course's
data-only generator files can hold it.
"""

from __future__ import annotations

import numpy as np

SPLIT_CHI2 = 3.841  # chi-squared with 1 degree of freedom at p = 0.05
MAX_CUTS = 64  # cut points tried per predictor and node (quantiles when there are more)


def logrank_statistics(time: np.ndarray, event: np.ndarray, left: np.ndarray) -> np.ndarray:
    """The two-sample log-rank chi-squared statistic of each split in ``left``.

    ``time`` and ``event`` (1 = the event happened, 0 = censored) are one node's rows;
    ``left`` is a boolean matrix, one row per candidate split, ``True`` for the rows it
    sends left. Returns one statistic per candidate (0 where it cannot be computed:
    no event, or one side empty).

    Metric card:
        definition: sum over event times of observed minus expected events on the left,
            squared, over the hypergeometric variance (Mantel 1966).
        range: [0, inf); under "same hazard on both sides" it is chi-squared with 1 degree of
            freedom, so 3.84 is the 5% critical value. Ideal: large for a useful split.
    """
    time = np.asarray(time, dtype=float)
    event = np.asarray(event, dtype=float)
    left = np.atleast_2d(np.asarray(left, dtype=float))
    times = np.unique(time[event == 1])
    if times.size == 0:
        return np.zeros(left.shape[0])
    at_risk = (time[:, None] >= times[None, :]).astype(float)  # rows x event times
    died = ((time[:, None] == times[None, :]) & (event[:, None] == 1)).astype(float)
    n, d = at_risk.sum(axis=0), died.sum(axis=0)
    n1, d1 = left @ at_risk, left @ died  # candidates x event times
    share = n1 / n
    observed_minus_expected = (d1 - d * share).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        variance = np.where(n > 1, d * share * (1 - share) * (n - d) / (n - 1), 0.0).sum(axis=1)
        stat = np.where(variance > 0, observed_minus_expected**2 / variance, 0.0)
    return stat


class SurvivalTreeSampler:
    """A log-rank survival tree whose leaves hold real (time, event) pairs to draw from.

    Args:
        X: predictors of the training rows (numbers; NaN goes right at every cut).
        time, event: the training rows' follow-up times and event flags (0/1).
        min_samples_leaf: fewest training rows per leaf.
        max_depth: optional depth limit.

    Attributes (flat arrays over nodes): ``feature_`` (-1 for a leaf), ``threshold_``,
    ``left_``, ``right_``; ``start`` and ``count`` of each leaf's rows in ``time`` and
    ``event`` (stored sorted by leaf).
    """

    def __init__(self, X: np.ndarray, time: np.ndarray, event: np.ndarray, min_samples_leaf: int = 5,
                 max_depth: int | None = None):
        X = np.asarray(X, dtype=float).reshape(len(time), -1)
        time, event = np.asarray(time, dtype=float), np.asarray(event, dtype=float)
        feature: list[int] = [-1]  # node 0, the root; a split appends its two children
        threshold: list[float] = [np.nan]
        children: list[tuple[int, int]] = [(-1, -1)]
        leaf_rows: dict[int, np.ndarray] = {}
        stack = [(np.arange(len(time)), 0, 0)]
        while stack:
            rows, depth, node = stack.pop()
            split = None
            if (max_depth is None or depth < max_depth) and len(rows) >= 2 * min_samples_leaf:
                split = _best_split(X[rows], time[rows], event[rows], min_samples_leaf)
            if split is None:
                leaf_rows[node] = rows
                continue
            j, cut = split
            goes_left = X[rows, j] <= cut  # NaN compares False: missing goes right
            left, right = len(feature), len(feature) + 1
            feature[node], threshold[node], children[node] = j, cut, (left, right)
            feature += [-1, -1]
            threshold += [np.nan, np.nan]
            children += [(-1, -1), (-1, -1)]
            stack.append((rows[~goes_left], depth + 1, right))
            stack.append((rows[goes_left], depth + 1, left))
        self.feature_ = np.asarray(feature, dtype=np.intp)
        self.threshold_ = np.asarray(threshold, dtype=float)
        self.left_, self.right_ = (np.asarray(side, dtype=np.intp) for side in zip(*children, strict=True))
        self.start = np.zeros(len(feature), dtype=np.intp)
        self.count = np.zeros(len(feature), dtype=np.intp)
        offset = 0
        for node in sorted(leaf_rows):
            self.start[node], self.count[node] = offset, len(leaf_rows[node])
            offset += len(leaf_rows[node])
        idx = np.concatenate([leaf_rows[node] for node in sorted(leaf_rows)])
        self.time, self.event = time[idx], event[idx]

    @property
    def n_leaves(self) -> int:
        """How many leaves the tree has."""
        return int((self.feature_ < 0).sum())

    def apply(self, X: np.ndarray) -> np.ndarray:
        """The leaf each row of ``X`` lands in."""
        X = np.asarray(X, dtype=float).reshape(len(X), -1)
        node = np.zeros(len(X), dtype=np.intp)
        inner = self.feature_[node] >= 0
        while inner.any():
            rows = np.flatnonzero(inner)
            j = self.feature_[node[rows]]
            goes_left = X[rows, j] <= self.threshold_[node[rows]]
            node[rows] = np.where(goes_left, self.left_[node[rows]], self.right_[node[rows]])
            inner = self.feature_[node] >= 0
        return node

    def draw(self, X: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """One (time, event) pair per row of ``X``: both from one real patient of its leaf."""
        leaf = self.apply(X)
        idx = self.start[leaf] + (rng.random(len(leaf)) * self.count[leaf]).astype(np.intp)
        return self.time[idx], self.event[idx]


def _best_split(X: np.ndarray, time: np.ndarray, event: np.ndarray,
                min_samples_leaf: int) -> tuple[int, float] | None:
    """The (predictor, cut) with the largest log-rank statistic, if it reaches :data:`SPLIT_CHI2`."""
    if event.sum() < 2:
        return None
    best, best_stat = None, SPLIT_CHI2
    for j in range(X.shape[1]):
        values = np.unique(X[:, j][~np.isnan(X[:, j])])
        if values.size < 2:
            continue
        cuts = (values[:-1] + values[1:]) / 2
        if cuts.size > MAX_CUTS:
            cuts = np.unique(np.quantile(cuts, np.linspace(0, 1, MAX_CUTS)))
        left = X[:, j][None, :] <= cuts[:, None]
        sizes = left.sum(axis=1)
        ok = (sizes >= min_samples_leaf) & (len(time) - sizes >= min_samples_leaf)
        if not ok.any():
            continue
        stats = logrank_statistics(time, event, left[ok])
        k = int(np.argmax(stats))
        if stats[k] > best_stat:
            best, best_stat = (j, float(cuts[ok][k])), float(stats[k])
    return best
