"""The small models of sequential CART: each draws one variable given the ones before it.

- :class:`LeafSampler`: drop a row down a fitted tree and draw one of the real
  training values of its leaf (optionally smoothed with a Gaussian kernel), or draw
  from the whole column when there is no tree (``method="sample"``);
- :class:`NormModel`: normal linear regression, prediction plus a Gaussian residual
  (synthpop's ``norm``);
- :class:`LogRegModel`: logistic regression, multinomial for more than two levels
  (synthpop's ``logreg`` / ``polyreg``), on the :class:`LinearDesign` of the
  predictors (numbers as they are, categories one-hot).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.linear_model import LinearRegression, LogisticRegression

# synthpop leaves a value out of the smoothing when it covers more than 70% of a column.
_DOMINANT_SHARE = 0.7


class LeafSampler:
    """Draw from the real values of the leaf a row lands in (a tree), or of the column (no tree).

    Values are stored sorted by leaf with the start and count of each leaf, so a draw for
    many rows is one ``tree.apply`` plus index arithmetic.
    """

    def __init__(
        self,
        tree: Any,
        X: np.ndarray | None,
        y: np.ndarray,
        smooth: bool,
        bounds: tuple[float, float] | None,
    ):
        self.tree = tree
        leaves = tree.apply(X) if tree is not None else np.zeros(len(y), dtype=np.intp)
        n_nodes = tree.tree_.node_count if tree is not None else 1
        order = np.argsort(leaves, kind="stable")
        self.values = y[order]
        ids, start, count = np.unique(leaves[order], return_index=True, return_counts=True)
        self.start = np.zeros(n_nodes, dtype=np.intp)
        self.count = np.zeros(n_nodes, dtype=np.intp)
        self.start[ids] = start
        self.count[ids] = count
        self.bandwidth: np.ndarray | None = None
        self.bounds = bounds
        self.dominant: float | None = None
        if smooth:
            self.bandwidth = np.zeros(n_nodes)
            self.centre = np.zeros(n_nodes)
            self.shrink = np.ones(n_nodes)
            for leaf, s, c in zip(ids, start, count, strict=True):
                v = self.values[s : s + c].astype(float)
                h = _silverman(v)
                self.bandwidth[leaf] = h
                self.centre[leaf] = v.mean()
                if h > 0:
                    self.shrink[leaf] = 1 / np.sqrt(1 + h**2 / v.var())
            vals, freq = np.unique(y, return_counts=True)
            if freq.max() > _DOMINANT_SHARE * len(y):
                self.dominant = float(vals[freq.argmax()])

    def leaves(self, X: np.ndarray, n: int) -> np.ndarray:
        """The leaf each row of ``X`` lands in (all rows in leaf 0 without a tree)."""
        return self.tree.apply(X) if self.tree is not None else np.zeros(n, dtype=np.intp)

    def draw(self, X: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
        """One value per row, drawn from the training values of its leaf (smoothed when asked)."""
        leaf = self.leaves(X, n)
        idx = self.start[leaf] + (rng.random(n) * self.count[leaf]).astype(np.intp)
        out = self.values[idx]
        if self.bandwidth is not None:
            out = out.astype(float)
            bw = self.bandwidth[leaf]
            if self.dominant is not None:
                bw = np.where(out == self.dominant, 0.0, bw)
            # Shrunk smoothed bootstrap (Silverman 1986, 6.4.1): the noise would widen each
            # leaf by bw**2; pulling towards the leaf mean keeps the leaf's variance.
            centre = self.centre[leaf]
            shrink = np.where(bw > 0, self.shrink[leaf], 1.0)
            out = centre + (out - centre + rng.standard_normal(n) * bw) * shrink
            if self.bounds is not None:
                out = _reflect(out, *self.bounds)
        return out


class LinearDesign:
    """Predictor matrix for the linear models: one-hot categories, imputed and scaled numbers."""

    def __init__(self, kinds: list[tuple[str, int]]):
        self.kinds = kinds  # per predictor column: ("num", 0) or ("cat", n_codes)

    def fit(self, X: np.ndarray) -> LinearDesign:
        """Learn the mean and standard deviation of every predictor's observed values."""
        seen = ~np.isnan(X)
        n_seen = np.maximum(seen.sum(axis=0), 1)
        filled = np.where(seen, X, 0.0)
        self.mean_ = filled.sum(axis=0) / n_seen
        sd = np.sqrt((np.where(seen, X - self.mean_, 0.0) ** 2).sum(axis=0) / n_seen)
        self.sd_ = np.where(sd > 0, sd, 1.0)
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        """The design matrix: numbers standardised (missing as 0), categories one-hot without the first code."""
        parts = [np.ones((len(X), 0))]
        for j, (kind, n_codes) in enumerate(self.kinds):
            col = X[:, j]
            if kind == "cat":
                codes = np.nan_to_num(col, nan=0).astype(int)
                parts.append((codes[:, None] == np.arange(1, n_codes)[None, :]).astype(float))
            else:
                parts.append(
                    ((np.where(np.isnan(col), self.mean_[j], col) - self.mean_[j]) / self.sd_[j])[
                        :, None
                    ]
                )
        return np.hstack(parts)


class NormModel:
    """Normal linear regression: prediction plus a Gaussian residual (synthpop's ``norm``)."""

    def __init__(self, design: LinearDesign, X: np.ndarray, y: np.ndarray):
        self.design = design.fit(X)
        D = self.design.transform(X)
        if D.shape[1]:
            self.lm = LinearRegression().fit(D, y)
            resid = y - self.lm.predict(D)
        else:
            self.lm = None
            resid = y - y.mean()
        self.mean = float(y.mean())
        dof = max(len(y) - D.shape[1] - 1, 1)
        self.sigma = float(np.sqrt(np.sum(resid**2) / dof))

    def draw(self, X: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
        """Prediction plus a Gaussian residual with the fitted standard deviation."""
        mu = (
            self.lm.predict(self.design.transform(X))
            if self.lm is not None
            else np.full(n, self.mean)
        )
        return mu + rng.standard_normal(n) * self.sigma


class LogRegModel:
    """Logistic regression (multinomial for more than two codes); draws from its probabilities."""

    def __init__(self, design: LinearDesign, X: np.ndarray, y: np.ndarray):
        self.design = design.fit(X)
        D = self.design.transform(X)
        self.classes, counts = np.unique(y, return_counts=True)
        self.prior = counts / counts.sum()
        self.clf = None
        if len(self.classes) > 1 and D.shape[1]:
            self.clf = LogisticRegression(max_iter=1000).fit(D, y)

    def draw(self, X: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
        """A level drawn from the predicted class probabilities (the prior without predictors)."""
        if self.clf is None:
            p = np.broadcast_to(self.prior, (n, len(self.classes)))
        else:
            p = self.clf.predict_proba(self.design.transform(X))
        pick = (rng.random(n)[:, None] > np.cumsum(p, axis=1)[:, :-1]).sum(axis=1)
        return self.classes[pick]


def _silverman(v: np.ndarray) -> float:
    """Silverman's rule-of-thumb bandwidth of a leaf's values (0 for a single value)."""
    if len(v) < 2:
        return 0.0
    sd = float(np.std(v, ddof=1))
    q75, q25 = np.percentile(v, [75, 25])
    spread = min(sd, (q75 - q25) / 1.34) if q75 > q25 else sd
    return 0.9 * spread * len(v) ** (-0.2)


def _reflect(v: np.ndarray, low: float, high: float) -> np.ndarray:
    """Fold values that the noise pushed past a bound back inside (then clip what is left)."""
    v = np.where(v < low, 2 * low - v, v)
    v = np.where(v > high, 2 * high - v, v)
    return np.clip(v, low, high)
