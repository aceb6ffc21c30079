"""MST: differentially private synthesis from noisy marginals on a tree (lesson 10).

McKenna, Miklau and Sheldon (2021), "Winning the NIST Contest: A scalable and general
approach to differentially private synthetic data", Journal of Privacy and
Confidentiality 11(3). The budget, ``rho``-zCDP from :func:`~course_utils.privacy_accounting.cdp_rho`,
is split in three equal parts:

1. **one-way marginals**: every column's histogram (over the public codes of
   :class:`~course_utils.generators.dp_domain.PublicDomain`) plus Gaussian noise.
   Levels whose noisy count is below ``3 sigma`` are merged into one "rare" level
   (the paper's domain compression): they are mostly noise.
2. **selection**: ``d - 1`` rounds of the exponential mechanism build a spanning
   tree. A pair of columns scores the L1 distance between its true two-way counts
   and what the noisy one-way marginals predict if the columns were independent: the
   more the columns depend on each other (the higher their mutual information), the
   higher the score. One patient moves the score by at most 1 (sensitivity 1).
3. **two-way marginals**: each tree edge's table of counts plus Gaussian noise.

A structure known in advance (``tree=``: the star around an outcome, a spanning tree,
or a weighted *measurement plan*, see :mod:`~course_utils.generators.mst_plan`) skips
step 2 and its budget. With a plan only the listed pairs are measured, each with its
weight's share of the two-way budget, and a paired column gets no one-way measurement
of its own (the pair's sums count it).

The paper then fits a graphical model with Private-PGM. Because the chosen marginals
form a tree, this module does it directly: :func:`consistent_marginals` turns the
noisy tables into probabilities that are non-negative, sum to 1 and agree on every
shared column; :func:`sample_tree` draws rows ancestrally, the root column from its
marginal and every other column given its parent. Neighbouring tables differ by
adding or removing one patient.

Everything that comes out is computed from the noisy measurements and public facts
only (the metadata's categories and the bounds), so the synthetic table is as private
as the measurements: that is the post-processing property of differential privacy.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from ..privacy_accounting import (
    cdp_eps,
    cdp_rho,
    exponential_mechanism,
    gaussian_sigma,
)
from ..schema import Metadata
from .base import Synthesizer
from .dp_domain import PublicDomain, check_private_fit, numeric_columns, public_bounds
from .mst_plan import joined_components, measurement_plan, public_tree

__all__ = ["MSTSynthesizer", "consistent_marginals", "marginal_counts", "measurement_plan", "private_bounds",
           "project_to_simplex", "public_tree", "sample_tree", "select_tree"]

PUBLIC_GRID = np.unique([0.0] + [s * m * 10.0 ** k for s in (-1, 1) for m in (1, 1.5, 2, 3, 5, 7)
                               for k in range(-2, 7)])
"""Candidate bounds for ``bounds="private"``: fixed before seeing any data."""


# -- the pieces of the algorithm ----------------------------------------------------------
def marginal_counts(codes: np.ndarray, columns: Sequence[int], sizes: Sequence[int]) -> np.ndarray:
    """Counts of each combination of codes in ``columns``: an array of shape ``sizes[columns]``."""
    shape = tuple(int(sizes[c]) for c in columns)
    flat = np.ravel_multi_index(tuple(codes[:, c] for c in columns), shape)
    return np.bincount(flat, minlength=int(np.prod(shape))).reshape(shape).astype(float)


def project_to_simplex(v: np.ndarray, total: float = 1.0) -> np.ndarray:
    """The non-negative vector summing to ``total`` closest to ``v`` (Euclidean projection)."""
    v = np.asarray(v, dtype=float)
    u = np.sort(v)[::-1]
    css = np.cumsum(u) - total
    k = np.arange(1, len(v) + 1)
    r = np.nonzero(u - css / k > 0)[0][-1]
    return np.maximum(v - css[r] / (r + 1), 0.0)


def select_tree(codes: np.ndarray, sizes: Sequence[int], one_way: Sequence[np.ndarray], rho: float,
                rng: np.random.Generator) -> list[tuple[int, int]]:
    """Edges of a spanning tree chosen by ``d - 1`` exponential mechanisms costing ``rho`` in total.

    ``one_way`` holds the noisy (already private) one-way probabilities; each candidate
    pair ``(a, b)`` not yet connected scores ``|| counts_ab - n p_a p_b^T ||_1``.
    """
    d = len(sizes)
    if d < 2:
        return []
    n = len(codes)
    scores = {}
    for a in range(d):
        for b in range(a + 1, d):
            expected = n * np.outer(one_way[a], one_way[b])
            scores[a, b] = float(np.abs(marginal_counts(codes, (a, b), sizes) - expected).sum())
    epsilon = math.inf if math.isinf(rho) else math.sqrt(8.0 * rho / (d - 1))
    component = list(range(d))  # union-find: the tree's connected parts
    edges: list[tuple[int, int]] = []
    for _ in range(d - 1):
        candidates = [e for e in scores if component[e[0]] != component[e[1]]]
        idx = exponential_mechanism([scores[e] for e in candidates], epsilon, 1.0, rng)
        a, b = candidates[idx]
        component = joined_components(component, a, b)
        edges.append((a, b))
    return edges


def _ipf(table: np.ndarray, rows: np.ndarray, cols: np.ndarray, iters: int = 500) -> np.ndarray:
    """Scale ``table`` so that its row and column sums become ``rows`` and ``cols``."""
    t = table.copy()
    for _ in range(iters):
        r = t.sum(axis=1)
        t *= np.divide(rows, r, out=np.zeros_like(rows), where=r > 0)[:, None]
        c = t.sum(axis=0)
        t *= np.divide(cols, c, out=np.zeros_like(cols), where=c > 0)[None, :]
        if np.abs(t.sum(axis=1) - rows).max() < 1e-12:
            break
    return t


def consistent_marginals(
    one_way: Sequence[np.ndarray], one_way_var: Sequence[np.ndarray],
    two_way: Mapping[tuple[int, int], np.ndarray], two_way_var: float | Mapping[tuple[int, int], float],
) -> tuple[list[np.ndarray], dict[tuple[int, int], np.ndarray]]:
    """Probabilities from noisy counts: non-negative, normalised, agreeing on shared columns.

    ``two_way_var`` is the noise variance per cell, one number for all tables or one per
    table (keyed like ``two_way``). A column that was not measured on its own has
    ``one_way_var`` infinite: its counts then come from the two-way tables alone.

    1. Each column's counts are estimated twice over: by its own noisy histogram and by
       the row or column sums of every noisy two-way table that contains it. These
       estimates are averaged with inverse-variance weights (the least-squares answer).
    2. The number of patients is estimated the same way from every table's total.
    3. Each column's counts are projected onto the non-negative vectors with that total
       (:func:`project_to_simplex`) and divided by it: one-way probabilities.
    4. Each two-way table has its negative cells set to zero (plus a tiny floor, so that
       no row is empty) and is rescaled by iterative proportional fitting until its row
       and column sums are the one-way probabilities: the tables now agree wherever they
       share a column.
    """
    d = len(one_way)
    est, weight = [], []
    totals, total_w = [], []
    for j in range(d):
        w = 1.0 / np.asarray(one_way_var[j], dtype=float)
        est.append(np.where(w > 0, w * one_way[j], 0.0))
        weight.append(w.copy())
        totals.append(float(one_way[j].sum()) if np.all(w > 0) else 0.0)
        total_w.append(1.0 / float(np.sum(one_way_var[j])))
    for (a, b), y in two_way.items():
        cell_var = float(two_way_var[a, b] if isinstance(two_way_var, Mapping) else two_way_var)
        for j, axis in ((a, 1), (b, 0)):
            var = cell_var * y.shape[axis]
            est[j] += y.sum(axis=axis) / var
            weight[j] += 1.0 / var
        totals.append(float(y.sum()))
        total_w.append(1.0 / (cell_var * y.size))
    n_hat = max(float(np.dot(totals, total_w) / np.sum(total_w)), 1.0)
    probs = [project_to_simplex(e / w, n_hat) / n_hat for e, w in zip(est, weight, strict=True)]
    pairs = {}
    for (a, b), y in two_way.items():
        table = np.maximum(y, 0.0) / n_hat + 1e-9
        pairs[a, b] = _ipf(table, probs[a], probs[b])
    return probs, pairs


def sample_tree(one_way: Sequence[np.ndarray], two_way: Mapping[tuple[int, int], np.ndarray],
                n: int, rng: np.random.Generator, root: int = 0) -> np.ndarray:
    """``n`` rows of codes drawn ancestrally: the root from its marginal, each child given its parent.

    ``P(child | parent) = P(parent, child) / P(parent)``, read from the consistent
    two-way table of the edge that joins them. The edges may form a forest: each further
    tree starts from its first column, drawn from its marginal, independently of the
    other trees (a column without any edge is a tree of one).
    """
    d = len(one_way)
    codes = np.zeros((n, d), dtype=np.int64)
    neighbours: dict[int, list[tuple[int, np.ndarray]]] = {j: [] for j in range(d)}
    for (a, b), table in two_way.items():
        neighbours[a].append((b, table))      # rows: a, columns: b
        neighbours[b].append((a, table.T))
    seen = [False] * d
    for start in ([root] if d else []) + list(range(d)):
        if seen[start]:
            continue
        seen[start] = True
        codes[:, start] = _draw(np.broadcast_to(one_way[start], (n, len(one_way[start]))), rng)
        order = [start]
        for parent in order:  # the list grows while we walk it: breadth-first
            for child, table in neighbours[parent]:
                if seen[child]:
                    continue
                seen[child] = True
                order.append(child)
                cond = table[codes[:, parent]]
                sums = cond.sum(axis=1, keepdims=True)
                fallback = np.broadcast_to(one_way[child], cond.shape)
                cond = np.where(sums > 0, cond / np.where(sums > 0, sums, 1.0), fallback)
                codes[:, child] = _draw(cond, rng)
    return codes


def _draw(probs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One index per row of ``probs`` (rows need not be exactly normalised)."""
    cdf = np.cumsum(probs, axis=1)
    u = rng.random(len(probs)) * cdf[:, -1]
    return np.minimum((cdf < u[:, None]).sum(axis=1), probs.shape[1] - 1)


def private_bounds(values: np.ndarray, rho: float, rng: np.random.Generator) -> tuple[float, float]:
    """A range for ``values`` from a noisy histogram over the intervals of :data:`PUBLIC_GRID`.

    Each interval's count gets Gaussian noise of standard deviation ``1 / sqrt(2 rho)``
    (``rho``-zCDP: one patient is in one interval); the range runs from the first to the
    last interval whose noisy count exceeds three standard deviations. The grid is
    coarse (1, 1.5, 2, 3, 5, 7 times powers of ten), so the range is a rounded guess
    that may cut off a few extreme patients: they are clipped, which is the point.
    """
    x = np.asarray(values, dtype=float)
    sd = 0.0 if math.isinf(rho) else gaussian_sigma(rho)
    idx = np.clip(np.searchsorted(PUBLIC_GRID, x, side="right") - 1, 0, len(PUBLIC_GRID) - 2)
    noisy = np.bincount(idx, minlength=len(PUBLIC_GRID) - 1) + rng_normal(rng, sd, len(PUBLIC_GRID) - 1)
    busy = np.flatnonzero(noisy > max(3.0 * sd, 0.5))
    if len(busy) == 0:
        return float(PUBLIC_GRID[0]), float(PUBLIC_GRID[-1])
    return float(PUBLIC_GRID[busy[0]]), float(PUBLIC_GRID[busy[-1] + 1])


# -- the generator --------------------------------------------------------------------------
class MSTSynthesizer(Synthesizer):
    """MST on the course's generator contract (see the module docstring for the algorithm).

    Args:
        epsilon: the privacy budget; required (``math.inf``: no noise, for comparison).
        delta: the (epsilon, delta) guarantee's failure probability; required, keep it
            well below ``1 / n_patients``.
        bounds: where the numeric columns' ranges come from. A dict
            ``{column: (low, high)}`` from public knowledge (clinical ranges, a data
            dictionary) covering every numeric column; ``"metadata"``: the metadata's
            bounds are such public knowledge (a warning says when they equal the
            training minimum and maximum, which is what ``infer_metadata`` gives);
            ``"private"``: spend ``bounds_share`` of the budget estimating each range
            with :func:`private_bounds` (a noisy histogram on a fixed grid). ``None`` refuses to fit: the generator does not
            read ranges from the data for free.
        bounds_share: fraction of rho spent on ``bounds="private"``.
        n_bins: bins per numeric column (integers with few values keep each value).
        compress: merge each column's levels whose noisy count is below
            ``3 sigma`` into one level before selecting the tree.
        tree: which two-way marginals to measure. ``None`` (the paper): choose a spanning
            tree privately, spending a third of the budget on the choice. A column name:
            the *star* around that column (every other column paired with it), for when
            the data are released for one analysis, such as predicting an outcome; a list
            of ``(column, column)`` pairs forming a spanning tree: a structure taken from
            public knowledge (a clinician's diagram of which variables drive which). A tree
            given in advance costs no budget, so the one- and two-way measurements get half
            each: the choice of what to measure is public, the measurements stay private.
            A *measurement plan* ``{(column, column): weight}`` (or ``(column, column,
            weight)`` triples): measure only these pairs, which must form a forest, with the
            two-way budget split in proportion to the public weights; a column in a pair is
            not measured on its own (the pair's sums give its counts), so the one-way budget
            goes to the other columns, which are sampled independently of the rest
            (:mod:`~course_utils.generators.mst_plan`).
        one_way_share: fraction of the budget (after bounds) for the one-way measurements;
            ``None``: a third with a privately chosen tree (the rest split equally between
            the choice and the two-way tables), a half with a public one. With a plan that
            pairs every column there is no one-way measurement and this is ignored.
        random_state: seed; the noise, the tree and the samples all follow it.
        verbose: progress bar over the four steps.

    The metadata passed to ``fit`` must be given: its categories and one-hot groups are
    taken as public knowledge (declare them from a data dictionary, not from the rows).

    Fitted attributes: ``domain_`` (the :class:`PublicDomain`), ``rho_`` (the zCDP
    budget), ``budget_`` (rho per step), ``sigma_one_way_`` and ``sigma_two_way_`` (the
    Gaussian noise per cell; with a weighted plan, the largest over the pairs),
    ``edge_rho_`` and ``edge_sigma_`` (each measured pair's rho and noise),
    ``selection_epsilon_`` (per round), ``tree_`` (column
    pairs), ``noisy_counts_`` (the released noisy one-way histograms over the public
    codes; ``None`` for a column not measured on its own), ``noisy_two_way_`` (the released noisy two-way tables, keyed by variable
    index pairs), ``one_way_`` and ``two_way_`` (consistent probabilities on the compressed
    codes), ``epsilon_spent_`` (the (epsilon, delta) guarantee of everything measured).
    """

    def __init__(self, epsilon: float | None = None, delta: float | None = None,
                 bounds: Mapping[str, tuple[float, float]] | str | None = None,
                 bounds_share: float = 0.1, n_bins: int = 8, compress: bool = True,
                 tree: str | Sequence[tuple] | Mapping[tuple[str, str], float] | None = None,
                 one_way_share: float | None = None,
                 random_state: int | None = None, verbose: bool = True):
        super().__init__(random_state=random_state, verbose=verbose)
        self.epsilon = epsilon
        self.delta = delta
        self.bounds = bounds
        self.bounds_share = bounds_share
        self.n_bins = n_bins
        self.compress = compress
        self.tree = tree
        self.one_way_share = one_way_share

    def fit(self, df: pd.DataFrame, metadata: Metadata | None = None) -> MSTSynthesizer:
        """Measure ``df`` privately; ``metadata`` (public categories and kinds) is required."""
        check_private_fit(self, df, metadata)
        if not 0.0 < float(self.bounds_share) < 1.0:
            raise ValueError(f"bounds_share must be in (0, 1), got {self.bounds_share!r}")
        share = self.one_way_share
        if share is not None and (isinstance(share, bool) or not isinstance(share, int | float)
                                  or not 0.0 < float(share) < 1.0):
            raise ValueError(f"one_way_share must be a number in (0, 1) or None, got {share!r}")
        return super().fit(df, metadata)

    def _resolve_bounds(self, df: pd.DataFrame, rho: float) -> tuple[dict[str, tuple[float, float]], float]:
        if isinstance(self.bounds, str) and self.bounds == "private":
            numeric = numeric_columns(self.metadata_)
            rho_b = float(self.bounds_share) * rho if numeric else 0.0
            rho_each = math.inf if math.isinf(rho) else rho_b / max(len(numeric), 1)
            out = {c: private_bounds(df[c].dropna().to_numpy(dtype=float), rho_each, self._rng)
                   for c in numeric}
            return out, rho_b
        return public_bounds(self.metadata_, df, self.bounds, type(self).__name__), 0.0

    def _fit(self, df: pd.DataFrame) -> None:
        eps, delta = float(self.epsilon), float(self.delta)
        if delta >= 1.0 / len(df):
            warnings.warn(f"delta={delta} is not below 1/n = {1 / len(df):.2g}: a mechanism that "
                          "publishes one random patient's row would satisfy it", UserWarning, stacklevel=3)
        rho = cdp_rho(eps, delta)
        self.rho_ = rho
        bounds, rho_bounds = self._resolve_bounds(df, rho)
        bar = tqdm(total=4, desc="MST", disable=not self.verbose, leave=True)
        for c, (low, high) in bounds.items():  # public (or private) bounds: what the output keeps to
            self.metadata_.columns[c].bounds = (low, high) if self.metadata_[c].kind == "continuous" \
                else (math.ceil(low), math.floor(high))
        self.domain_ = PublicDomain(int(self.n_bins)).fit(self.metadata_, bounds)
        codes = self.domain_.encode(df)
        sizes = self.domain_.sizes_
        d = len(sizes)
        rho_main = rho - rho_bounds
        names = self.domain_.names
        plan = measurement_plan(self.tree, names)
        # a column in a pair of a weighted plan is not measured on its own: the pair's
        # row or column sums estimate its counts, and its budget goes to the pairs
        covered = {j for e in plan.edges for j in e} if plan is not None and plan.weighted else set()
        alone = [j for j in range(d) if j not in covered]
        # the paper's weights: d one-way and d - 1 two-way measurements share rho/3 each;
        # a public tree frees the selection's third for the measurements
        share = self.one_way_share if self.one_way_share is not None else (0.5 if plan is not None else 1 / 3)
        rho_one = share * rho_main if alone else 0.0
        rest = rho_main - rho_one if math.isfinite(rho_main) else rho_main
        rho_sel = rest / 2.0 if plan is None and d > 1 else 0.0
        self.budget_ = {"bounds": rho_bounds, "one-way": rho_one, "selection": rho_sel,
                        "two-way": rest - rho_sel if d > 1 else 0.0}
        finite = math.isfinite(rho_main)
        self.sigma_one_way_ = gaussian_sigma(rho_one) * math.sqrt(len(alone)) if finite and alone else 0.0
        bar.update()

        # 1. one-way marginals, then merge the levels that are mostly noise
        s1 = self.sigma_one_way_
        noisy: list[np.ndarray | None] = [None] * d
        for j in alone:
            noisy[j] = marginal_counts(codes, (j,), sizes) + rng_normal(self._rng, s1, sizes[j])
        self.noisy_counts_ = noisy  # what was released: each measured column's histogram plus noise
        self.kept_, self.merged_ = [], []
        one_way, one_var, maps = [], [], []
        for j in range(d):
            if noisy[j] is None:  # not measured on its own: every level kept, no information here
                keep = np.ones(sizes[j], bool)
            else:
                keep = noisy[j] >= 3 * s1 if (self.compress and s1 > 0) else np.ones(sizes[j], bool)
            if (~keep).sum() <= 1:  # merging one level (or none) changes nothing
                keep = np.ones(sizes[j], bool)
            self.kept_.append(np.flatnonzero(keep))
            self.merged_.append(np.flatnonzero(~keep))
            mapping = np.where(keep, np.cumsum(keep) - 1, keep.sum())
            maps.append(mapping)
            if noisy[j] is None:
                one_way.append(np.zeros(sizes[j]))
                one_var.append(np.full(sizes[j], np.inf))
            else:
                one_way.append(np.bincount(mapping, weights=noisy[j]))
                one_var.append(np.bincount(mapping, weights=np.full(sizes[j], s1 ** 2 + 1e-12)))
        ccodes = np.column_stack([maps[j][codes[:, j]] for j in range(d)])
        csizes = np.array([len(y) for y in one_way])
        bar.update()

        # 2. a spanning tree by the exponential mechanism (or the public plan, for free)
        if plan is not None:
            self.selection_epsilon_ = 0.0
            edges, shares = plan.edges, plan.shares
        else:
            start = [project_to_simplex(y, max(float(y.sum()), 1.0)) for y in one_way]
            start = [p / p.sum() for p in start]
            rho_sel = rho_sel if math.isfinite(rho) else math.inf
            self.selection_epsilon_ = math.sqrt(8 * rho_sel / (d - 1)) if d > 1 else 0.0
            edges = select_tree(ccodes, csizes, start, rho_sel, self._rng)
            shares = [1.0 / len(edges)] * len(edges)
        self.tree_ = [(names[a], names[b]) for a, b in edges]
        # each pair's share of the two-way budget, and the Gaussian noise that share buys
        self.edge_rho_ = {(names[a], names[b]): self.budget_["two-way"] * w for (a, b), w in zip(edges, shares, strict=True)}
        self.edge_sigma_ = {pair: gaussian_sigma(r) if finite else 0.0 for pair, r in self.edge_rho_.items()}
        self.sigma_two_way_ = max(self.edge_sigma_.values(), default=0.0)
        bar.update()

        # 3. the pairs' two-way marginals, then consistency
        two_way, two_var = {}, {}
        for a, b in edges:
            s2 = self.edge_sigma_[names[a], names[b]]
            noise = rng_normal(self._rng, s2, csizes[a] * csizes[b]).reshape(csizes[a], csizes[b])
            two_way[a, b] = marginal_counts(ccodes, (a, b), csizes) + noise
            two_var[a, b] = s2 ** 2 + 1e-12
        self.noisy_two_way_ = two_way  # released: the pairs' two-way tables plus noise
        self.one_way_, self.two_way_ = consistent_marginals(one_way, one_var, two_way, two_var)
        self.epsilon_spent_ = cdp_eps(sum(self.budget_.values()), delta) if math.isfinite(rho) else math.inf
        bar.update()
        bar.close()

    def _sample(self, n: int, conditions: dict[str, Any] | None, rng: np.random.Generator) -> pd.DataFrame:
        ccodes = sample_tree(self.one_way_, self.two_way_, n, rng)
        codes = np.empty_like(ccodes)
        for j, (kept, merged) in enumerate(zip(self.kept_, self.merged_, strict=True)):
            col = ccodes[:, j]
            rare = col >= len(kept)
            codes[~rare, j] = kept[col[~rare]]
            if rare.any():  # a merged level becomes one of its original codes, uniformly
                codes[rare, j] = merged[rng.integers(0, len(merged), int(rare.sum()))]
        return self.domain_.decode(codes, rng)

    def privacy_report(self) -> pd.DataFrame:
        """One row per step: its share of rho and its noise; the last row is the total spent."""
        self._check_fitted()
        rows = [{"step": "bounds", "rho": self.budget_["bounds"], "noise": "Gaussian histogram on a fixed grid" if self.budget_["bounds"] else "public bounds: none"},
                {"step": "one-way", "rho": self.budget_["one-way"], "noise": self._one_way_noise()},
                {"step": "selection", "rho": self.budget_["selection"],
                 "noise": f"exponential mechanism, epsilon {self.selection_epsilon_:.3g} per edge"},
                {"step": "two-way", "rho": self.budget_["two-way"], "noise": self._two_way_noise()},
                {"step": f"total: (epsilon={self.epsilon_spent_:.3g}, delta={self.delta:g})",
                 "rho": sum(self.budget_.values()), "noise": ""}]
        return pd.DataFrame(rows).set_index("step")

    def _one_way_noise(self) -> str:
        alone = sum(counts is not None for counts in self.noisy_counts_)
        if alone == len(self.noisy_counts_):
            return f"Gaussian sd {self.sigma_one_way_:.3g}"
        return f"Gaussian sd {self.sigma_one_way_:.3g} on the {alone} columns in no pair" if alone else "none: every column is in a pair"

    def _two_way_noise(self) -> str:
        sds = sorted(self.edge_sigma_.values())
        if not sds or sds[0] == sds[-1]:
            return f"Gaussian sd {self.sigma_two_way_:.3g}"
        return "Gaussian sd " + ", ".join(f"{a}-{b} {sd:.3g}" for (a, b), sd in self.edge_sigma_.items())


def rng_normal(rng: np.random.Generator, sd: float, size: int) -> np.ndarray:
    """Gaussian noise of standard deviation ``sd`` (zeros when ``sd`` is 0: no privacy)."""
    return rng.normal(0.0, sd, int(size)) if sd > 0 else np.zeros(int(size))
