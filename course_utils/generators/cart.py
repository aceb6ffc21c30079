"""Sequential CART synthesis, in the style of the R package synthpop.

The chain rule writes any joint distribution of a table's columns as a product of
conditionals::

    p(x1, x2, ..., xk) = p(x1) * p(x2 | x1) * p(x3 | x1, x2) * ... * p(xk | x1..xk-1)

:class:`CARTSynthesizer` learns each factor with a decision tree: it visits the
columns in an order (the *visit sequence*), samples the first from its marginal and
fits, for every later column, a tree on the columns visited before it. To synthesise
it walks the same order: each synthetic row is dropped down the column's tree and the
new value is **drawn from the real training values in the leaf it lands in** (not the
leaf mean), so skewed, multi-modal and lumpy marginals survive.

What synthpop users will recognise (synthpop's own argument names in brackets):

- ``visit_sequence`` (``visit.sequence``): the order. Columns you list come first, the
  rest follow in table order. A one-hot group is one categorical variable here; name it
  by its group name (or any member).
- ``min_samples_leaf`` (``minbucket``, default 5 as in synthpop): the fewest training
  rows a leaf may hold. Small leaves hold few patients, so a synthetic row that lands
  there copies one of them; ``min_samples_leaf=1`` reproduces whole training rows.
- ``smoothing="density"`` (``smoothing = "density"``): Gaussian kernel noise added to
  numeric values drawn from a leaf. Difference from synthpop: the bandwidth comes
  from the leaf's own values (Silverman's rule) rather than one Sheather-Jones
  bandwidth for the whole column, so tight leaves stay tight. As in synthpop, a value
  that covers more than 70% of the column (e.g. a length of stay of 0) is not
  smoothed, and results stay within the column's training range (reflected at the
  bounds).
- ``method`` (``method``): per column ``"sample"`` (bootstrap from the marginal,
  ignoring the other columns), ``"cart"``, ``"norm"`` (normal linear regression:
  prediction plus Gaussian residual), ``"logreg"`` (logistic, multinomial for more
  than two levels; synthpop's ``logreg``/``polyreg``) or ``"parametric"`` (``norm``
  for numbers, ``logreg`` for categories).
- Missing values are a state of their own: for a numeric column a missing indicator
  is modelled first (on the columns before it), then the value for the rows drawn as
  observed; for a categorical or binary column "missing" is one more level. Later
  columns see both the value and the indicator as predictors.

Conditional sampling (``sample(n, conditions={"gender": "female"})``): a condition on
a column at the start of the visit order is exact and cheap: the value is fixed and
every later column is drawn given it. A condition on a binary, categorical or integer
column later in the order is met by **rejection**: rows are drawn from the fitted model
and only matching ones kept (correct, but slow for rare values; an error says so when
too few rows match). A condition on a continuous or datetime column later in the order
is refused with a :class:`ValueError`: refit with that column first in
``visit_sequence`` (the order cannot change at sample time, because each tree was
fitted on the columns before it).

Source: Nowok, Raab and Dibben (2016), "synthpop: Bespoke creation of synthetic data
in R", Journal of Statistical Software 74(11); Reiter (2005), "Using CART to generate
partially synthetic public use microdata", Journal of Official Statistics 21(3).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from ..schema import datetime_to_number, number_to_datetime
from .base import Synthesizer, repair_frame

METHODS: tuple[str, ...] = ("sample", "cart", "norm", "logreg", "parametric")

# synthpop leaves a value out of the smoothing when it covers more than 70% of a column.
_DOMINANT_SHARE = 0.7


@dataclass
class _Variable:
    """One step of the visit sequence: a column, or a one-hot group seen as one category."""

    name: str
    columns: list[str]
    numeric: bool  # continuous, integer, datetime -> regression; else classification
    kind: str  # the metadata kind, or "group"
    levels: list[Any] = field(default_factory=list)  # labels of a categorical variable
    has_missing: bool = False
    method: str = "cart"
    smooth: bool = False
    # filled by fit
    pred_start: int = 0  # first column of this variable's encoding in the predictor matrix
    width: int = 1  # number of predictor columns (value [+ missing indicator])


# -- the small models that draw one variable given the ones before it --------------------
class _LeafSampler:
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
        return self.tree.apply(X) if self.tree is not None else np.zeros(n, dtype=np.intp)

    def draw(self, X: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
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


class _Design:
    """Predictor matrix for the linear models: one-hot categories, imputed and scaled numbers."""

    def __init__(self, kinds: list[tuple[str, int]]):
        self.kinds = kinds  # per predictor column: ("num", 0) or ("cat", n_codes)

    def fit(self, X: np.ndarray) -> _Design:
        seen = ~np.isnan(X)
        n_seen = np.maximum(seen.sum(axis=0), 1)
        filled = np.where(seen, X, 0.0)
        self.mean_ = filled.sum(axis=0) / n_seen
        sd = np.sqrt((np.where(seen, X - self.mean_, 0.0) ** 2).sum(axis=0) / n_seen)
        self.sd_ = np.where(sd > 0, sd, 1.0)
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
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


class _NormModel:
    """Normal linear regression: prediction plus a Gaussian residual (synthpop's ``norm``)."""

    def __init__(self, design: _Design, X: np.ndarray, y: np.ndarray):
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
        mu = (
            self.lm.predict(self.design.transform(X))
            if self.lm is not None
            else np.full(n, self.mean)
        )
        return mu + rng.standard_normal(n) * self.sigma


class _LogRegModel:
    """Logistic regression (multinomial for more than two codes); draws from its probabilities."""

    def __init__(self, design: _Design, X: np.ndarray, y: np.ndarray):
        self.design = design.fit(X)
        D = self.design.transform(X)
        self.classes, counts = np.unique(y, return_counts=True)
        self.prior = counts / counts.sum()
        self.clf = None
        if len(self.classes) > 1 and D.shape[1]:
            self.clf = LogisticRegression(max_iter=1000).fit(D, y)

    def draw(self, X: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
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


class CARTSynthesizer(Synthesizer):
    """Sequential CART synthesis (synthpop-style); see the module docstring for the method.

    Args:
        visit_sequence: the order in which columns (or one-hot groups) are modelled. Listed
            names come first; unlisted ones follow in table order. ``None``: table order.
        min_samples_leaf: fewest training rows per leaf (int >= 1, or a fraction of the
            rows in (0, 1)). Smaller leaves copy more of the training rows.
        max_depth: optional depth limit of every tree.
        smoothing: ``None`` or ``"density"`` (kernel smoothing of continuous and integer
            columns), or a dict ``{column: "density" | None}`` for some columns only.
        method: ``"cart"`` (default), ``"parametric"``, ``"sample"``, ``"norm"`` or
            ``"logreg"`` for every column, or a dict ``{column: method}`` that overrides
            the default for some. The first column of the visit sequence is drawn from
            its marginal (``"sample"``) unless the dict names a method for it.
        max_rejection_draws: for conditions met by rejection, give up (``ValueError``)
            after drawing this many rows per requested row.
        n_jobs: trees fitted in parallel threads (``None``: one; ``-1``: all cores).
        random_state: seed (int), ``numpy.random.Generator`` or ``None``.
        verbose: kept for the shared contract (fitting is quick; nothing is printed).

    Fitted attributes: ``visit_sequence_`` (variable names in order), ``methods_``
    (variable -> method used), ``trees_`` (variable -> fitted scikit-learn tree, for the
    CART variables), ``missing_trees_`` (numeric column -> tree of its missing
    indicator), and :meth:`leaf_values` (leaf id -> the training values in that leaf).
    """

    supports_conditions = True

    def __init__(
        self,
        visit_sequence: Sequence[str] | None = None,
        min_samples_leaf: int | float = 5,
        max_depth: int | None = None,
        smoothing: str | dict[str, str | None] | None = None,
        method: str | dict[str, str] = "cart",
        max_rejection_draws: int = 100,
        n_jobs: int | None = None,
        random_state: int | None = None,
        verbose: bool = True,
    ):
        super().__init__(random_state=random_state, verbose=verbose)
        self.visit_sequence = visit_sequence
        self.min_samples_leaf = min_samples_leaf
        self.max_depth = max_depth
        self.smoothing = smoothing
        self.method = method
        self.max_rejection_draws = max_rejection_draws
        self.n_jobs = n_jobs

    # -- fitting -----------------------------------------------------------------------
    def _check_params(self) -> None:
        leaf = self.min_samples_leaf
        if isinstance(leaf, bool) or not isinstance(leaf, int | float | np.integer | np.floating):
            raise TypeError(f"min_samples_leaf must be a number, got {type(leaf).__name__}")
        if isinstance(leaf, int | np.integer) and leaf < 1:
            raise ValueError(f"min_samples_leaf must be >= 1 (or a fraction in (0, 1)), got {leaf}")
        if isinstance(leaf, float | np.floating) and not 0 < leaf < 1:
            raise ValueError(f"min_samples_leaf as a fraction must lie in (0, 1), got {leaf}")
        if self.max_depth is not None and (
            not isinstance(self.max_depth, int | np.integer) or self.max_depth < 1
        ):
            raise ValueError(f"max_depth must be None or an int >= 1, got {self.max_depth!r}")
        if (
            not isinstance(self.max_rejection_draws, int | np.integer)
            or self.max_rejection_draws < 1
        ):
            raise ValueError(
                f"max_rejection_draws must be an int >= 1, got {self.max_rejection_draws!r}"
            )

    def _variables(self, df: pd.DataFrame) -> list[_Variable]:
        meta = self.metadata_
        groups = meta.one_hot_groups
        member_of = {m: g for g, ms in groups.items() for m in ms}
        table_order: list[str] = []
        for col in self.columns_:
            name = member_of.get(col, col)
            if name not in table_order:
                table_order.append(name)
        known = set(table_order) | set(member_of)

        requested: list[str] = []
        if self.visit_sequence is not None:
            if isinstance(self.visit_sequence, str):
                raise TypeError("visit_sequence must be a list of column names, not one string")
            for name in self.visit_sequence:
                if name not in known:
                    raise ValueError(
                        f"visit_sequence names column {name!r}, which is not in the table"
                    )
                var = member_of.get(name, name)
                if var in requested:
                    raise ValueError(
                        f"visit_sequence names {name!r} twice (or two members of group {var!r})"
                    )
                requested.append(var)
        order = requested + [v for v in table_order if v not in requested]

        methods = self.method if isinstance(self.method, dict) else {}
        default = self.method if isinstance(self.method, str) else "cart"
        if default not in METHODS:
            raise ValueError(f"method {default!r} is not one of {METHODS}")
        by_var: dict[str, str] = {}
        for name, m in methods.items():
            if name not in known:
                raise ValueError(f"method given for column {name!r}, which is not in the table")
            if m not in METHODS:
                raise ValueError(f"method {m!r} for column {name!r} is not one of {METHODS}")
            by_var[member_of.get(name, name)] = m
        smooth_cols: dict[str, Any]
        if isinstance(self.smoothing, dict):
            smooth_cols = self.smoothing
            for name, s in smooth_cols.items():
                if name not in known:
                    raise ValueError(
                        f"smoothing given for column {name!r}, which is not in the table"
                    )
                if s not in (None, "none", "density"):
                    raise ValueError(f"smoothing {s!r} for column {name!r}: use None or 'density'")
        elif self.smoothing in (None, "none", "density"):
            smooth_cols = {v: self.smoothing for v in table_order}
        else:
            raise ValueError(f"smoothing must be None, 'density' or a dict, got {self.smoothing!r}")

        out = []
        for i, name in enumerate(order):
            if name in groups:
                var = _Variable(name, list(groups[name]), False, "group", levels=list(groups[name]))
            else:
                spec = meta[name]
                numeric = spec.kind in ("continuous", "integer", "datetime")
                levels: list[Any] = []
                if spec.kind == "categorical":
                    levels = list(spec.categories or [])
                elif spec.kind == "binary":
                    levels = [0, 1]
                var = _Variable(name, [name], numeric, spec.kind, levels=levels)
                var.has_missing = bool(df[name].isna().any())
                var.smooth = (
                    spec.kind in ("continuous", "integer") and smooth_cols.get(name) == "density"
                )
            m = by_var.get(name, "sample" if i == 0 else default)
            if m == "parametric":
                m = "norm" if var.numeric else "logreg"
            if m == "norm" and not var.numeric:
                raise ValueError(
                    f"method 'norm' for column {name!r}: it is {var.kind}; use 'logreg' or 'cart'"
                )
            if m == "logreg" and var.numeric:
                raise ValueError(
                    f"method 'logreg' for column {name!r}: it is {var.kind}; use 'norm' or 'cart'"
                )
            var.method = m
            out.append(var)
        return out

    def _encode(self, df: pd.DataFrame) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Predictor matrix (variables in visit order) and each variable's target values.

        Numbers stay numbers (missing as NaN, which scikit-learn trees route natively)
        plus a 0/1 missing indicator; categories become codes, missing being the last.
        """
        cols: list[np.ndarray] = []
        targets: dict[str, np.ndarray] = {}
        start = 0
        for var in self.vars_:
            if var.kind == "group":
                codes = df[var.columns].to_numpy(dtype=float).argmax(axis=1).astype(float)
                enc = [codes]
                targets[var.name] = codes
            elif var.numeric:
                values = _to_float(df[var.name], var.kind)
                enc = [values]
                if var.has_missing:
                    enc.append(np.isnan(values).astype(float))
                targets[var.name] = values
            else:
                s = df[var.name]
                if var.kind == "binary":
                    codes = pd.to_numeric(s.astype("float"), errors="coerce").to_numpy(dtype=float)
                else:
                    codes = pd.Categorical(s, categories=var.levels).codes.astype(float)
                    codes[codes < 0] = np.nan
                codes = np.where(np.isnan(codes), len(var.levels), codes)
                enc = [codes]
                targets[var.name] = codes
            var.pred_start, var.width = start, len(enc)
            start += len(enc)
            cols.extend(enc)
        return np.column_stack(cols), targets

    def _pred_kinds(self, upto: int) -> list[tuple[str, int]]:
        kinds: list[tuple[str, int]] = []
        for var in self.vars_[:upto]:
            if var.numeric:
                kinds.append(("num", 0))
                if var.has_missing:
                    kinds.append(("num", 0))
            else:
                kinds.append(("cat", len(var.levels) + 1))
        return kinds

    def _fit_one(self, i: int, X: np.ndarray, y: np.ndarray, seed: int, what: str) -> Any:
        """The model of variable ``i``'s values (``what="value"``) or its missing indicator."""
        var = self.vars_[i]
        numeric = var.numeric and what == "value"
        method = var.method
        bounds = (float(np.nanmin(y)), float(np.nanmax(y))) if numeric else None
        smooth = var.smooth and what == "value"
        if method == "sample" or X.shape[1] == 0 and method == "cart":
            return _LeafSampler(None, None, y, smooth, bounds)
        if method == "cart":
            params = dict(
                min_samples_leaf=self.min_samples_leaf, max_depth=self.max_depth, random_state=seed
            )
            tree = (DecisionTreeRegressor if numeric else DecisionTreeClassifier)(**params)
            tree.fit(X, y)
            return _LeafSampler(tree, X, y, smooth, bounds)
        design = _Design(self._pred_kinds(i))
        if numeric:
            return _NormModel(design, X, y)
        return _LogRegModel(design, X, y)

    def _fit(self, df: pd.DataFrame) -> None:
        self._check_params()
        self.vars_ = self._variables(df)
        Z, targets = self._encode(df)
        self.n_predictors_ = Z.shape[1]
        seeds = self._rng.integers(0, 2**31 - 1, size=(len(self.vars_), 2))
        jobs = []
        for i, var in enumerate(self.vars_):
            X = Z[:, : var.pred_start]
            y = targets[var.name]
            if var.numeric and var.has_missing:
                miss = np.isnan(y)
                jobs.append((i, "missing", X, miss.astype(float), seeds[i, 1]))
                jobs.append((i, "value", X[~miss], y[~miss], seeds[i, 0]))
            else:
                jobs.append((i, "value", X, y, seeds[i, 0]))
        fitted = Parallel(n_jobs=self.n_jobs, prefer="threads")(
            delayed(self._fit_one)(i, X, y, int(seed), what) for i, what, X, y, seed in jobs
        )
        self.models_: dict[str, dict[str, Any]] = {v.name: {} for v in self.vars_}
        for (i, what, *_), model in zip(jobs, fitted, strict=True):
            self.models_[self.vars_[i].name][what] = model
        self.visit_sequence_ = [v.name for v in self.vars_]
        self.methods_ = {v.name: v.method for v in self.vars_}
        self.trees_ = {
            name: m["value"].tree
            for name, m in self.models_.items()
            if isinstance(m["value"], _LeafSampler) and m["value"].tree is not None
        }
        self.missing_trees_ = {
            name: m["missing"].tree
            for name, m in self.models_.items()
            if isinstance(m.get("missing"), _LeafSampler) and m["missing"].tree is not None
        }

    def leaf_values(self, column: str) -> dict[int, np.ndarray]:
        """The training values in each leaf of ``column``'s tree: ``{leaf node id: values}``.

        Categorical values are returned as their labels (a one-hot group as its member
        names), numbers as numbers; these are exactly the values sampling draws from.
        """
        self._check_fitted()
        var = self._var(column)
        if var.name not in self.trees_:
            raise ValueError(f"column {column!r} has no tree (its method is {var.method!r})")
        sampler = self.models_[var.name]["value"]
        leaves = np.flatnonzero(sampler.count)
        return {
            int(leaf): self._decode(
                var, sampler.values[sampler.start[leaf] : sampler.start[leaf] + sampler.count[leaf]]
            )
            for leaf in leaves
        }

    def predictors(self, column: str) -> list[str]:
        """Feature names of ``column``'s model, in the order its tree sees them."""
        self._check_fitted()
        var = self._var(column)
        names: list[str] = []
        for v in self.vars_[: self.vars_.index(var)]:
            names.append(v.name)
            if v.numeric and v.has_missing:
                names.append(f"{v.name} is missing")
        return names

    def _var(self, column: str) -> _Variable:
        for v in self.vars_:
            if column == v.name or column in v.columns:
                return v
        raise ValueError(f"column {column!r} is not in the table")

    # -- sampling ----------------------------------------------------------------------
    def _plan_conditions(
        self, conditions: dict[str, Any] | None
    ) -> tuple[dict[str, float], dict[str, Any]]:
        """Split conditions into fixed values of a leading run of the visit order and the rest.

        Returns ``(fixed, rejected)``: ``fixed`` maps variable -> encoded value, ``rejected``
        maps column -> value, to be met by rejection.
        """
        encoded: dict[str, float] = {}
        pending: dict[str, Any] = {}
        for col, value in (conditions or {}).items():
            var = self._var(col)
            if var.kind == "group":
                if value in (1, True):
                    if var.name in encoded and encoded[var.name] != var.columns.index(col):
                        raise ValueError(
                            f"conditions set two members of one-hot group {var.name!r} to 1"
                        )
                    encoded[var.name] = float(var.columns.index(col))
                else:
                    pending[col] = value
            elif var.kind == "binary":
                encoded[var.name] = float(bool(value))
            elif var.kind == "categorical":
                encoded[var.name] = float(var.levels.index(value))
            elif var.kind == "datetime":
                encoded[var.name] = float(pd.Timestamp(value).value)
            else:
                encoded[var.name] = float(value)
        fixed: dict[str, float] = {}
        for var in self.vars_:
            if var.name not in encoded:
                break
            fixed[var.name] = encoded.pop(var.name)
        for name, code in encoded.items():
            var = self._var(name)
            if var.kind in ("continuous", "datetime"):
                raise ValueError(
                    f"condition on {name!r}: a {var.kind} column can only be fixed when it comes "
                    f"at the start of the visit order, and {name!r} comes after "
                    f"{self.visit_sequence_[: self.visit_sequence_.index(var.name)]}; refit with "
                    f"visit_sequence=[{name!r}, ...]"
                )
            if var.kind == "group":
                pending[var.columns[int(code)]] = 1
            else:
                pending[name] = conditions[name] if conditions else code
        return fixed, pending

    def _sample(
        self, n: int, conditions: dict[str, Any] | None, rng: np.random.Generator
    ) -> pd.DataFrame:
        fixed, pending = self._plan_conditions(conditions)
        if not pending:
            return self._decode_frame(self._draw(n, fixed, rng))
        # Rejection: draw from the fitted model and keep the rows that meet the conditions.
        kept: list[pd.DataFrame] = []
        have, drawn, budget = 0, 0, self.max_rejection_draws * n
        batch = max(n, 1000)
        while have < n and drawn < budget:
            frame = repair_frame(
                self._decode_frame(self._draw(batch, fixed, rng)), self.metadata_, self.dtypes_
            )
            drawn += batch
            mask = np.ones(batch, dtype=bool)
            for col, value in pending.items():
                mask &= (frame[col] == value).to_numpy(dtype=bool)
            kept.append(frame[mask])
            have += int(mask.sum())
            rate = max(have / drawn, 1.0 / drawn)
            batch = int(min(max((n - have) / rate * 1.2, 1000), budget - drawn + 1000))
        if have < n:
            raise ValueError(
                f"conditions {pending} are met by only {have} of {drawn} rows drawn from the model "
                f"(needed {n}); put the conditioned column(s) first in visit_sequence and refit, "
                "so their values can be fixed instead of waited for"
            )
        return pd.concat(kept, ignore_index=True).iloc[:n].reset_index(drop=True)

    def _draw(
        self, n: int, fixed: dict[str, float], rng: np.random.Generator
    ) -> dict[str, np.ndarray]:
        Z = np.full((n, self.n_predictors_), np.nan)
        out: dict[str, np.ndarray] = {}
        for var in self.vars_:
            X = Z[:, : var.pred_start]
            models = self.models_[var.name]
            if var.name in fixed:
                y = np.full(n, fixed[var.name])
            elif var.numeric and "missing" in models:
                miss = models["missing"].draw(X, n, rng) > 0.5
                y = np.full(n, np.nan)
                if (~miss).any():
                    y[~miss] = models["value"].draw(X[~miss], int((~miss).sum()), rng)
            else:
                y = np.asarray(models["value"].draw(X, n, rng), dtype=float)
            out[var.name] = y
            Z[:, var.pred_start] = y
            if var.width == 2:
                Z[:, var.pred_start + 1] = np.isnan(y)
        return out

    def _decode(self, var: _Variable, y: np.ndarray) -> np.ndarray:
        if var.numeric:
            if var.kind == "datetime":
                return number_to_datetime(y)
            return y
        if var.kind == "binary":
            return np.where(y >= 2, np.nan, y)
        codes = np.asarray(y, dtype=int)
        labels = np.array(list(var.levels) + [None], dtype=object)
        return labels[codes]

    def _decode_frame(self, draws: dict[str, np.ndarray]) -> pd.DataFrame:
        out: dict[str, Any] = {}
        for var in self.vars_:
            y = draws[var.name]
            if var.kind == "group":
                codes = y.astype(int)
                for j, m in enumerate(var.columns):
                    out[m] = (codes == j).astype(float)
            else:
                out[var.name] = self._decode(var, y)
        return pd.DataFrame(out)[self.columns_]


def _to_float(s: pd.Series, kind: str) -> np.ndarray:
    if kind == "datetime":
        return datetime_to_number(s)
    return pd.to_numeric(s, errors="coerce").to_numpy(dtype=float)
