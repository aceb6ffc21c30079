"""A Gaussian copula: exact marginals, joined by one correlation matrix.

Sklar's theorem splits a joint distribution into its marginals and a *copula* that
holds the dependence. The Gaussian copula assumes that dependence is that of a
multivariate normal:

1. **To normal scores.** Each column ``x`` is mapped to ``z = Phi^-1(F(x))`` with ``F``
   its empirical CDF. Ties (integers, and every category) are spread out at random
   over their CDF step: a value whose step covers ``[F(x-), F(x)]`` gets
   ``u = F(x-) + V * (F(x) - F(x-))`` with ``V ~ Uniform(0, 1)``, so ``u`` is exactly
   uniform and ``z`` exactly standard normal. For a categorical column this maps each
   category to its own interval of the normal scale, of width equal to its frequency,
   which is what SDV's ``GaussianCopula`` does with its categorical transformer; here
   the categories keep the order of the metadata (SDV sorts them by frequency). A
   one-hot group is one categorical variable.
2. **Correlation.** The correlation matrix of the normal scores, corrected for the
   coarseness of discrete columns (a binary column's scores carry only part of the
   latent normal's information, so their raw correlations are too small; each is
   divided by the two columns' *reliabilities*, a first-order polychoric correction)
   and repaired to be positive definite. A missing value gets a score of 0 (the
   median) and the reliability accounts for it.
3. **Sampling.** Draw ``z ~ N(0, R)``, set ``u = Phi(z)`` and invert each marginal:
   continuous and datetime columns by linear interpolation between the sorted
   training values (so new values lie between observed ones, within the observed
   range), integers and categories by the step CDF (only observed values). Missing
   values are then set independently at each column's training rate.

What it keeps: every marginal, and monotone pairwise association (rank correlation).
What it loses: non-linear and non-monotone relations, interactions, and any
dependence between categories beyond "higher code goes with higher z". It cannot fix
column values at sample time (``supports_conditions = False``): sample and filter.

**A mixture of copulas** (``clusters=k``). One correlation matrix says how each pair of
columns moves together, never how many columns combine in one patient (a stroke
patient's fourteen NIHSS items rise together in a way a single Gaussian cannot
draw). With ``clusters=k`` the patients are first split into ``k`` groups by k-means
on their normal scores (step 1, for the whole table), and each group gets its own
copula: its own marginals and its own correlation matrix. Sampling draws a group with
its share of the training rows, then a row from that group's copula. Every group
keeps at least ``MIN_CLUSTER_ROWS`` patients (a smaller one is merged into its nearest
neighbour), so no marginal is learnt from a handful of people; ``clusters="auto"``
takes one group per ``ROWS_PER_CLUSTER`` training rows, at most ``MAX_CLUSTERS``.
More groups draw the table more faithfully and sit closer to the training patients:
read the DCR share next to the detection AUC.

Source: Sklar (1959); Patki, Wedge and Veeramachaneni (2016), "The Synthetic Data
Vault", IEEE DSAA (the SDV Gaussian copula).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy.special import ndtr, ndtri
from sklearn.cluster import KMeans

from ..config import check_random_state
from ..schema import datetime_to_number, number_to_datetime
from .base import Synthesizer

# Keep u away from 0 and 1, where the normal quantile is infinite.
_EPS = 1e-9
# clusters="auto": one copula per this many training rows, at most MAX_CLUSTERS.
ROWS_PER_CLUSTER = 150
MAX_CLUSTERS = 8
# No copula of a mixture learns its marginals from fewer patients than this.
MIN_CLUSTER_ROWS = 40


class _Marginal:
    """The empirical distribution of one variable's observed values, as a step CDF."""

    def __init__(self, name: str, kind: str, codes: np.ndarray, missing_rate: float):
        self.name = name
        self.kind = kind
        self.missing_rate = missing_rate
        observed = codes[~np.isnan(codes)]
        self.support, counts = np.unique(observed, return_counts=True)
        p = counts / counts.sum()
        self.cdf = np.cumsum(p)
        if len(self.cdf):  # a group of a mixture may hold no value of a column at all
            self.cdf[-1] = 1.0
        self.cdf_left = self.cdf - p
        # For continuous columns: the sorted values at their mid-rank probabilities.
        self.sorted = np.sort(observed)
        self.grid = (np.arange(len(self.sorted)) + 0.5) / len(self.sorted)

    def reliability(self) -> float:
        """Share of a normal score's variance that the observed value explains.

        A value only says in which interval ``[a, b]`` of the normal scale its score lies;
        the part of the score it determines is ``E[Z | a < Z < b]``. The variance of that
        conditional mean is 1 for continuous values and less for coarse ones (2/pi for an
        even binary). Scores of coarse columns correlate less than their latent normals
        do, by this factor per column, which :func:`_nearest_correlation` undoes.
        """
        a, b = ndtri(np.clip(self.cdf_left, 0, 1)), ndtri(np.clip(self.cdf, 0, 1))
        width = self.cdf - self.cdf_left
        mean = (_pdf(a) - _pdf(b)) / np.maximum(width, _EPS)
        return float(np.sum(width * mean**2))

    def to_uniform(self, codes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Randomised probability integral transform (NaN where the value is missing)."""
        u = np.full(len(codes), np.nan)
        seen = ~np.isnan(codes)
        # a value the training rows never held takes the step of the next one up
        k = np.minimum(np.searchsorted(self.support, codes[seen]), len(self.support) - 1)
        u[seen] = self.cdf_left[k] + rng.random(int(seen.sum())) * (self.cdf[k] - self.cdf_left[k])
        return u

    def from_uniform(self, u: np.ndarray) -> np.ndarray:
        """Inverse CDF: interpolated for continuous values, the step CDF otherwise."""
        if len(self.support) == 0:  # never observed: missing (missing_rate is 1)
            return np.full(len(u), np.nan)
        if self.kind in ("continuous", "datetime") and len(self.sorted) > 1:
            return np.interp(u, self.grid, self.sorted)
        k = np.minimum(np.searchsorted(self.cdf, u, side="left"), len(self.support) - 1)
        return self.support[k]


class GaussianCopula(Synthesizer):
    """Gaussian copula with empirical marginals (see the module docstring for the method).

    Args:
        clusters: number of copulas in the mixture (1: the plain Gaussian copula), or
            ``"auto"`` for one per ``ROWS_PER_CLUSTER`` training rows (at most
            ``MAX_CLUSTERS``). Groups below ``MIN_CLUSTER_ROWS`` rows are merged.
        random_state: seed (int), ``numpy.random.Generator`` or ``None``.
        verbose: kept for the shared contract (nothing to report: fitting is one pass).

    Fitted attributes: ``correlation_`` (DataFrame: correlation of the normal scores,
    one row and column per column or one-hot group) and ``marginals_`` (variable ->
    its empirical marginal, with ``support`` and ``cdf`` arrays), both of the whole
    table; ``n_clusters_``, and with more than one cluster ``cluster_weights_`` (each
    group's share of the training rows), ``cluster_marginals_`` and
    ``cluster_correlations_`` (one entry per group).
    """

    supports_conditions = False

    def __init__(self, clusters: int | str = 1, random_state: int | None = None, verbose: bool = True):
        super().__init__(random_state=random_state, verbose=verbose)
        self.clusters = clusters

    def _fit(self, df: pd.DataFrame) -> None:
        wanted = _check_clusters(self.clusters, len(df))
        meta = self.metadata_
        groups = meta.one_hot_groups
        member_of = {m: g for g, ms in groups.items() for m in ms}
        self.variables_: list[str] = []
        for col in self.columns_:
            name = member_of.get(col, col)
            if name not in self.variables_:
                self.variables_.append(name)
        codes = {name: self._encode(df, name, self._kind(name)) for name in self.variables_}
        self.marginals_, correlation, scores = self._fit_copula(codes)
        self.correlation_ = pd.DataFrame(correlation, index=self.variables_, columns=self.variables_)
        self._chol = np.linalg.cholesky(correlation)
        labels = _cluster_rows(scores, wanted, self._rng) if wanted > 1 else np.zeros(len(df), dtype=int)
        self.n_clusters_ = int(labels.max()) + 1
        if self.n_clusters_ == 1:
            return
        self.cluster_weights_ = np.bincount(labels) / len(labels)
        self.cluster_marginals_: list[dict[str, _Marginal]] = []
        self.cluster_correlations_: list[np.ndarray] = []
        for c in range(self.n_clusters_):
            rows = labels == c
            marginals, correlation, _ = self._fit_copula({k: v[rows] for k, v in codes.items()})
            self.cluster_marginals_.append(marginals)
            self.cluster_correlations_.append(correlation)

    def normal_scores(self, df: pd.DataFrame, random_state: int | None = None) -> pd.DataFrame:
        """Step 1 of the method for the rows of ``df``: each variable's normal score.

        Scores are taken under the marginals of the whole training table, one column per
        variable (a one-hot group is one variable); ties are spread at random over their
        CDF step (``random_state``) and a missing value scores 0, the median. On the
        training rows the scores are standard normal: k-means on them is how
        ``clusters`` groups the patients.
        """
        self._check_fitted()
        rng = check_random_state(random_state)
        scores = {}
        for name in self.variables_:
            scores[name] = _normal_score(self.marginals_[name].to_uniform(
                self._encode(df, name, self._kind(name)), rng))
        return pd.DataFrame(scores, index=df.index)

    def _kind(self, name: str) -> str:
        return "group" if name in self.metadata_.one_hot_groups else self.metadata_[name].kind

    def _fit_copula(
        self, codes: dict[str, np.ndarray]
    ) -> tuple[dict[str, _Marginal], np.ndarray, np.ndarray]:
        """Marginals, latent correlation and normal scores of one set of rows."""
        n = len(next(iter(codes.values())))
        marginals: dict[str, _Marginal] = {}
        scores = np.zeros((n, len(self.variables_)))
        reliability = np.ones(len(self.variables_))
        for j, name in enumerate(self.variables_):
            column = codes[name]
            marginal = _Marginal(name, self._kind(name), column, float(np.isnan(column).mean()))
            marginals[name] = marginal
            if np.isnan(column).all():  # a group may not hold the value at all
                reliability[j] = 0.0
                continue
            scores[:, j] = _normal_score(marginal.to_uniform(column, self._rng))
            reliability[j] = marginal.reliability() * (1 - marginal.missing_rate)
        return marginals, _nearest_correlation(scores, reliability), scores

    def _encode(self, df: pd.DataFrame, name: str, kind: str) -> np.ndarray:
        if kind == "group":
            return (
                df[self.metadata_.one_hot_groups[name]]
                .to_numpy(dtype=float)
                .argmax(axis=1)
                .astype(float)
            )
        s = df[name]
        if kind == "categorical":
            codes = pd.Categorical(s, categories=self.metadata_[name].categories).codes.astype(
                float
            )
            codes[codes < 0] = np.nan
            return codes
        if kind == "datetime":
            return datetime_to_number(s)
        return pd.to_numeric(
            s.astype("float") if kind == "binary" else s, errors="coerce"
        ).to_numpy(dtype=float)

    def _sample(
        self, n: int, conditions: dict[str, Any] | None, rng: np.random.Generator
    ) -> pd.DataFrame:
        if getattr(self, "n_clusters_", 1) == 1:
            z = rng.standard_normal((n, len(self.variables_))) @ self._chol.T
            return self._decode(np.clip(ndtr(z), _EPS, 1 - _EPS), self.marginals_, rng)
        counts = rng.multinomial(n, self.cluster_weights_)
        parts = []
        for c, m in enumerate(counts):
            chol = np.linalg.cholesky(self.cluster_correlations_[c])
            z = rng.standard_normal((int(m), len(self.variables_))) @ chol.T
            parts.append(self._decode(np.clip(ndtr(z), _EPS, 1 - _EPS), self.cluster_marginals_[c], rng))
        # the groups' rows are shuffled together, so the first rows are not all one group's
        out = pd.concat(parts, ignore_index=True)
        return out.iloc[rng.permutation(n)].reset_index(drop=True)

    def _decode(
        self, u: np.ndarray, marginals: dict[str, _Marginal], rng: np.random.Generator
    ) -> pd.DataFrame:
        n = len(u)
        out: dict[str, Any] = {}
        for j, name in enumerate(self.variables_):
            marginal = marginals[name]
            values = marginal.from_uniform(u[:, j]).astype(float)
            if marginal.missing_rate > 0:
                values[rng.random(n) < marginal.missing_rate] = np.nan
            if marginal.kind == "group":
                for k, m in enumerate(self.metadata_.one_hot_groups[name]):
                    out[m] = (values == k).astype(float)
            elif marginal.kind == "categorical":
                labels = np.array(
                    list(self.metadata_[name].categories or []) + [None], dtype=object
                )
                out[name] = labels[np.where(np.isnan(values), len(labels) - 1, values).astype(int)]
            elif marginal.kind == "datetime":
                out[name] = number_to_datetime(values)
            else:
                out[name] = values
        return pd.DataFrame(out, index=range(n))[self.columns_]


def _check_clusters(clusters: Any, n_rows: int) -> int:
    """The number of copulas to fit for ``n_rows`` training rows."""
    if isinstance(clusters, str):
        if clusters != "auto":
            raise ValueError(f"clusters must be a whole number >= 1 or 'auto', got {clusters!r}")
        return int(min(MAX_CLUSTERS, max(1, n_rows // ROWS_PER_CLUSTER)))
    if isinstance(clusters, bool) or not isinstance(clusters, (int, np.integer)) or clusters < 1:
        raise ValueError(f"clusters must be a whole number >= 1 or 'auto', got {clusters!r}")
    return int(min(clusters, max(1, n_rows // MIN_CLUSTER_ROWS)))


def _cluster_rows(scores: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """k-means groups of the rows' normal scores, each of at least ``MIN_CLUSTER_ROWS`` rows.

    The smallest group below the floor gives up its centre and its rows join their
    nearest remaining centre, until every group is large enough.
    """
    seed = int(rng.integers(2**31 - 1))
    centres = KMeans(k, n_init=4, random_state=seed).fit(scores).cluster_centers_
    while True:
        distance = ((scores[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2)
        labels = distance.argmin(axis=1)
        sizes = np.bincount(labels, minlength=len(centres))
        if len(centres) == 1 or sizes.min() >= MIN_CLUSTER_ROWS:
            break
        centres = np.delete(centres, sizes.argmin(), axis=0)
    # every remaining centre holds rows, so the labels are already 0..len(centres)-1
    return labels


def _normal_score(u: np.ndarray) -> np.ndarray:
    """``Phi^-1(u)``, kept finite; a missing value (NaN) scores 0, the median."""
    return np.nan_to_num(ndtri(np.clip(u, _EPS, 1 - _EPS)), nan=0.0)


def _pdf(z: np.ndarray) -> np.ndarray:
    return np.where(
        np.isfinite(z), np.exp(-0.5 * np.nan_to_num(z, posinf=0, neginf=0) ** 2), 0.0
    ) / np.sqrt(2 * np.pi)


def _nearest_correlation(
    scores: np.ndarray, reliability: np.ndarray, floor: float = 1e-6
) -> np.ndarray:
    """Latent correlation matrix of normal ``scores``, made positive definite.

    The second moments of the scores are divided by the product of the two columns'
    reliabilities (a first-order polyserial / polychoric correction, see
    :meth:`_Marginal.reliability`); without it a binary column's correlations would come
    out about 2/pi times too small. Constant columns get no correlation; negative or
    tiny eigenvalues (collinear columns) are raised to ``floor`` and the result rescaled
    to a unit diagonal, so the Cholesky factor exists.
    """
    p = scores.shape[1]
    R = np.eye(p)
    live = reliability > 1e-6
    if live.sum() > 1:
        s = scores[:, live] - scores[:, live].mean(axis=0)
        C = s.T @ s / len(s)
        rel = reliability[live]
        R[np.ix_(live, live)] = np.clip(C / np.outer(rel, rel), -0.999, 0.999)
    np.fill_diagonal(R, 1.0)
    w, V = np.linalg.eigh((R + R.T) / 2)
    R = (V * np.maximum(w, floor)) @ V.T
    d = np.sqrt(np.diag(R))
    R = R / d[:, None] / d[None, :]
    np.fill_diagonal(R, 1.0)
    return R
