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
- ``closeness_guard`` (not in synthpop): reject synthetic rows that copy a training
  patient or sit closer to their nearest training patient than ``closeness_guard`` times
  that patient's distance to the nearest other training patient, and draw replacements
  (:mod:`course_utils.generators.closeness_guard`). The ruler is learnt from the training
  table alone, never from a holdout, so the holdout stays a fair judge of privacy.
- ``survival=("time", "event")`` (synthpop's ``event`` argument with its ``survctree``
  method): the follow-up time and its event flag are drawn together, from a *survival*
  tree (:mod:`course_utils.generators.survival_tree`: splits by the log-rank test, leaves
  of at least ``min_samples_leaf`` patients) that copies one real patient's (time, event)
  pair per row. A regression tree on the times alone treats a censored time as a death;
  the survival tree splits where the hazard differs, which is what a Cox model trained on
  the synthetic rows needs. The event column is moved to just after the time column in the
  visit sequence (they are one step), and neither may have missing values.
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
from typing import Any

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from ..schema import number_to_datetime
from .base import Synthesizer, repair_frame
from .cart_models import LeafSampler, LinearDesign, LogRegModel, NormModel
from .cart_plan import METHODS, Variable, encode_variables, plan_variables
from .closeness_guard import ClosenessGuard, GuardedDraws, check_factor, check_max_draws
from .survival_tree import SurvivalTreeSampler

SURVIVAL_METHOD = "survctree"  # synthpop's name for the (time, event) pair's survival tree

__all__ = ["CARTSynthesizer", "METHODS"]

class CARTSynthesizer(GuardedDraws, Synthesizer):
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
        closeness_guard: ``None`` (off), or a number >= 0: after repair, reject every
            synthetic row that is an exact copy of a training row or closer to its
            nearest training patient than ``closeness_guard`` times that patient's
            distance to the nearest other training patient (``0``: exact copies only;
            ``1``: closer than any other real patient is), and draw replacements until
            ``n`` rows are kept. Uses the training table only (the course's distance
            of :mod:`course_utils.evaluation.distances`), never a holdout. ``"match"``:
            reject what ``1`` rejects, then thin the rows so that their closeness to
            training patients is spread as the patients' own closeness to each other is
            (:mod:`~course_utils.generators.closeness_guard`; a pilot sample after fitting
            sets the thinning).
        survival: ``None``, or ``(time column, event column)`` of a survival outcome: the pair
            is drawn from a log-rank survival tree as one real patient's (time, event); see
            the module docstring.
        max_rejection_draws: for conditions and the closeness guard, give up
            (``ValueError`` for conditions, ``RuntimeError`` for the guard) after
            drawing this many rows per requested row.
        n_jobs: trees fitted in parallel threads (``None``: one; ``-1``: all cores).
        random_state: seed (int), ``numpy.random.Generator`` or ``None``.
        verbose: kept for the shared contract (fitting is quick; nothing is printed).

    Fitted attributes: ``visit_sequence_`` (variable names in order), ``methods_``
    (variable -> method used), ``trees_`` (variable -> fitted scikit-learn tree, for the
    CART variables), ``missing_trees_`` (numeric column -> tree of its missing
    indicator), :meth:`leaf_values` (leaf id -> the training values in that leaf),
    ``survival_tree_`` (the fitted
    :class:`~course_utils.generators.survival_tree.SurvivalTreeSampler`, or ``None``),
    ``closeness_guard_`` (the fitted :class:`~course_utils.generators.closeness_guard.ClosenessGuard`,
    or ``None``) and ``closeness_rejection_rate_`` (share of drawn rows the guard threw
    away in the last :meth:`sample`; 0 without a guard).
    """

    supports_conditions = True

    def __init__(
        self,
        visit_sequence: Sequence[str] | None = None,
        min_samples_leaf: int | float = 5,
        max_depth: int | None = None,
        smoothing: str | dict[str, str | None] | None = None,
        method: str | dict[str, str] = "cart",
        closeness_guard: float | str | None = None,
        survival: tuple[str, str] | None = None,
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
        self.closeness_guard = closeness_guard
        self.survival = survival
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
        check_max_draws(self.max_rejection_draws)
        if self.closeness_guard is not None:
            check_factor(self.closeness_guard)

    def _variables(self, df: pd.DataFrame) -> list[Variable]:
        variables = plan_variables(self.metadata_, self.columns_, df, self.visit_sequence, self.method,
                                   self.smoothing)
        if self.survival is None:
            return variables
        time, event = self._survival_columns()
        by_name = {v.name: v for v in variables}
        for col, kinds, what in ((time, ("integer", "continuous"), "a number of days, months or years"),
                                 (event, ("binary",), "a 0/1 event flag")):
            if col not in by_name:
                raise ValueError(f"survival names column {col!r}, which is not in the table")
            if by_name[col].kind not in kinds:
                raise ValueError(f"survival column {col!r} is {by_name[col].kind}; it must be {what}")
            if by_name[col].has_missing:
                raise ValueError(f"survival column {col!r} has missing values; a survival tree needs "
                                 "every time and event flag (drop those rows or impute them first)")
        # the pair is one step: the event follows its time, and both come from one patient
        variables.remove(by_name[event])
        variables.insert(variables.index(by_name[time]) + 1, by_name[event])
        by_name[time].method = by_name[event].method = SURVIVAL_METHOD
        by_name[time].smooth = False
        return variables

    def _survival_columns(self) -> tuple[str, str]:
        pair = self.survival
        if (not isinstance(pair, list | tuple) or len(pair) != 2
                or not all(isinstance(c, str) for c in pair) or pair[0] == pair[1]):
            raise ValueError(f"survival must be None or (time column, event column), got {pair!r}")
        return pair[0], pair[1]

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
        if method == SURVIVAL_METHOD:  # y holds the times and the event flags, side by side
            return SurvivalTreeSampler(X, y[:, 0], y[:, 1], self.min_samples_leaf, self.max_depth)
        bounds = (float(np.nanmin(y)), float(np.nanmax(y))) if numeric else None
        smooth = var.smooth and what == "value"
        if method == "sample" or X.shape[1] == 0 and method == "cart":
            return LeafSampler(None, None, y, smooth, bounds)
        if method == "cart":
            params = dict(
                min_samples_leaf=self.min_samples_leaf, max_depth=self.max_depth, random_state=seed
            )
            tree = (DecisionTreeRegressor if numeric else DecisionTreeClassifier)(**params)
            tree.fit(X, y)
            return LeafSampler(tree, X, y, smooth, bounds)
        design = LinearDesign(self._pred_kinds(i))
        if numeric:
            return NormModel(design, X, y)
        return LogRegModel(design, X, y)

    def _fit(self, df: pd.DataFrame) -> None:
        self._check_params()
        self.vars_ = self._variables(df)
        Z, targets = encode_variables(self.vars_, df, self.metadata_)
        self.n_predictors_ = Z.shape[1]
        seeds = self._rng.integers(0, 2**31 - 1, size=(len(self.vars_), 2))
        jobs = []
        for i, var in enumerate(self.vars_):
            X = Z[:, : var.pred_start]
            y = targets[var.name]
            if var.method == SURVIVAL_METHOD:
                if var.numeric:  # the time; its event flag comes right after it in the order
                    pair = np.column_stack([y, targets[self.vars_[i + 1].name]])
                    jobs.append((i, "value", X, pair, seeds[i, 0]))
                continue  # the event flag itself is drawn with its time
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
        self.survival_tree_ = next((m["value"] for m in self.models_.values()
                                    if isinstance(m.get("value"), SurvivalTreeSampler)), None)
        self.visit_sequence_ = [v.name for v in self.vars_]
        self.methods_ = {v.name: v.method for v in self.vars_}
        self.trees_ = {
            name: m["value"].tree
            for name, m in self.models_.items()
            if isinstance(m.get("value"), LeafSampler) and m["value"].tree is not None
        }
        self.missing_trees_ = {
            name: m["missing"].tree
            for name, m in self.models_.items()
            if isinstance(m.get("missing"), LeafSampler) and m["missing"].tree is not None
        }
        self.closeness_guard_ = (None if self.closeness_guard is None else
                                 ClosenessGuard(self.closeness_guard).fit(df, self.metadata_))
        self.closeness_rejection_rate_ = 0.0
        self._calibrate_guard()

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

    def _var(self, column: str) -> Variable:
        for v in self.vars_:
            if column == v.name or column in v.columns:
                return v
        raise ValueError(f"column {column!r} is not in the table")

    # -- sampling ----------------------------------------------------------------------
    def _guard_advice(self) -> str:
        return "lower closeness_guard, or raise min_samples_leaf so that fewer rows copy a patient"

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
            if var.name not in encoded or var.method == SURVIVAL_METHOD:  # the pair is drawn, never set
                break
            fixed[var.name] = encoded.pop(var.name)
        for name, code in encoded.items():
            var = self._var(name)
            if var.method == SURVIVAL_METHOD and var.kind == "continuous":
                raise ValueError(
                    f"condition on {name!r}: a continuous survival time is drawn with its event flag "
                    "from the survival tree and cannot be fixed; condition on the event flag instead"
                )
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
            if var.name in out:  # an event flag, drawn with its time
                continue
            if var.name in fixed:
                y = np.full(n, fixed[var.name])
            elif var.method == SURVIVAL_METHOD:
                y, flag = models["value"].draw(X, rng)
                event = self.vars_[self.vars_.index(var) + 1]
                out[event.name] = flag
                Z[:, event.pred_start] = flag
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

    def _decode(self, var: Variable, y: np.ndarray) -> np.ndarray:
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
