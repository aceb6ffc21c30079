"""Checks for lesson 05 (sequential CART), used by ``solutions/05_sequential_cart.ipynb``.

The exercise works on WHAS500 split as
``train_holdout_split(df, stratify="fstat", random_state=SEED)`` (70% train, 30%
holdout); checks that need the data rebuild that split themselves.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

from . import CheckFailed, register, whas500_split

DCR_WINDOW = (0.40, 0.60)
"""Accepted mean DCR share closer to train (over the seeds below) for ``05.leaf_size``."""
DCR_SEEDS = (0, 1, 2)
MAX_LEAF = 50
"""Beyond this a tree fitted on 350 rows has only a handful of leaves: relations blur."""


exercise_split = whas500_split
"""The exercise's train and holdout parts of WHAS500, and its metadata."""


@lru_cache(maxsize=64)  # a room's answers repeat: the grader judges them in one process
def dcr_share(leaf_size: int, seeds: tuple[int, ...] = DCR_SEEDS) -> float:
    """Mean DCR share closer to train of CART with this leaf size, one training-size sample per seed."""
    from ..evaluation.privacy import dcr
    from ..generators import CARTSynthesizer

    train, holdout, meta = exercise_split()
    shares = []
    for seed in seeds:
        synth = CARTSynthesizer(min_samples_leaf=leaf_size, random_state=seed).fit(train, meta).sample(len(train))
        shares.append(dcr(train, synth, holdout, meta).share_closer_to_train)
    return float(np.mean(shares))


# -- 1. which conditions the visit order makes exact ---------------------------------------------
PLAN_CASES = 15


def reference_plan(visit_sequence: list[str], kinds: dict[str, str], conditions: list[str]) -> dict[str, set[str]]:
    """How sequential CART meets ``conditions``: fixed, by rejection, or refused (as CARTSynthesizer).

    The conditioned columns that form a leading run of the visit order are fixed; a later
    column is met by rejection, unless it is continuous or a date (no value ever repeats): refused.
    """
    wanted, fixed = set(conditions), set()
    for col in visit_sequence:
        if col not in wanted:
            break
        fixed.add(col)
    late = wanted - fixed
    refused = {c for c in late if kinds[c] in ("continuous", "datetime")}
    return {"fixed": fixed, "rejected": late - refused, "refused": refused}


def _plan_inputs(seed: int | None) -> list[dict[str, Any]]:
    """Visit orders of the WHAS500 columns and conditions to plan (trusted), with each column's kind."""
    train, _, meta = exercise_split()
    kinds = {c: meta[c].kind for c in train.columns}
    rng = np.random.default_rng(11 if seed is None else seed)
    cases = []
    for i in range(PLAN_CASES):
        order = [str(c) for c in rng.permutation(train.columns)]
        head = int(rng.integers(1, 4))
        if i % 5 == 0:    # exactly a leading run, given in another order
            conditions = list(rng.permutation(order[:head]))
        elif i % 5 == 1:  # a leading run and a later column
            conditions = order[:head] + [order[int(rng.integers(head + 1, len(order)))]]
        elif i % 5 == 2:  # the first column not conditioned
            conditions = [order[int(k)] for k in rng.choice(np.arange(1, len(order)), size=head, replace=False)]
        elif i % 5 == 3:  # a gap: the first and the third column
            conditions = [order[2], order[0]]
        else:             # a continuous column late, or first
            conditions = ["bmi"] + ([order[0]] if order[0] != "bmi" else [])
        cases.append({"visit_sequence": order, "kinds": kinds, "conditions": [str(c) for c in conditions]})
    return cases


def _plan_export(func: Any, cases: list[dict[str, Any]]) -> list[Any]:
    """Runs in the learner's kernel: the learner's plan of each case, as sorted lists."""
    from . import require_callable

    require_callable(func, "plan_conditions")
    out = []
    for case in cases:
        plan = func(list(case["visit_sequence"]), dict(case["kinds"]), list(case["conditions"]))
        if not isinstance(plan, dict):
            raise CheckFailed(f"expected a dict with keys 'fixed', 'rejected', 'refused', found {type(plan).__name__}")
        out.append({str(k): sorted(str(c) for c in v) for k, v in plan.items()})
    return out


@register("05.plan_conditions", target="plan_conditions", points=2, inputs=_plan_inputs, export=_plan_export,
          hint="Walk the visit order from the start: while each column is conditioned it can be fixed; "
               "stop at the first column that is not. Later conditions need rejection, which cannot "
               "work for a continuous column.")
def plan_conditions(plans: list[dict[str, list[str]]], cases: list[dict[str, Any]]) -> None:
    """``plan_conditions(visit_sequence, kinds, conditions)``: fixed, rejected and refused columns."""
    for plan, case in zip(plans, cases, strict=True):
        if set(plan) != {"fixed", "rejected", "refused"}:
            raise CheckFailed(f"expected the keys 'fixed', 'rejected', 'refused', found {sorted(plan)}")
        want = reference_plan(case["visit_sequence"], case["kinds"], case["conditions"])
        got = {k: set(v) for k, v in plan.items()}
        if got == want:
            continue
        where = (f"visit order {case['visit_sequence'][:4]}... with conditions on {case['conditions']}: "
                 f"expected fixed {sorted(want['fixed'])}, rejected {sorted(want['rejected'])}, refused "
                 f"{sorted(want['refused'])}; found fixed {sorted(got['fixed'])}, rejected "
                 f"{sorted(got['rejected'])}, refused {sorted(got['refused'])}")
        if got["fixed"] - want["fixed"]:
            raise CheckFailed(f"{where}. A column can be fixed only when every column before it in the "
                              "visit order is fixed too: its tree was fitted on them")
        if want["fixed"] - got["fixed"]:
            raise CheckFailed(f"{where}. Every conditioned column of the leading run can be fixed, "
                              "whatever the order in which the conditions are written")
        raise CheckFailed(f"{where}. Rejection keeps the drawn rows that match: a continuous value "
                          "(almost) never repeats exactly, so that condition is refused")


# -- 2. a leaf size with DCR share near 0.5 -------------------------------------------------------
@register("05.leaf_size", target="leaf_size", points=1,
          hint="Try 1, 2, 5, 10, 20: the DCR share closer to train falls towards 0.5 as leaves grow.")
def leaf_size(obj: Any) -> None:
    """A whole leaf size of at most 50 whose mean DCR share closer to train is 0.40-0.60."""
    if isinstance(obj, bool) or not isinstance(obj, int | np.integer):
        raise CheckFailed(f"leaf_size should be a whole number of rows, found {obj!r}")
    obj = int(obj)
    if obj < 1:
        raise CheckFailed(f"a leaf holds at least 1 row, found {obj}")
    if obj > MAX_LEAF:
        raise CheckFailed(
            f"with {obj} rows per leaf a tree fitted on 350 rows has at most {max(350 // obj, 1)} "
            "leaf/leaves: the DCR share is safe but the relations between columns blur; choose "
            f"a size of at most {MAX_LEAF} that is safe"
        )
    share = dcr_share(obj)
    low, high = DCR_WINDOW
    if share > high:
        raise CheckFailed(
            f"with min_samples_leaf={obj} the DCR share closer to train is {share:.2f} (mean of 3 "
            f"seeds): synthetic rows sit closer to training patients than new patients do; aim for "
            f"{low:.2f}-{high:.2f}"
        )
    if share < low:
        raise CheckFailed(f"a DCR share of {share:.2f} is surprisingly low; expected {low:.2f}-{high:.2f}")


# -- 3. the condition step, written by the learner -----------------------------------------------
CONDITION_ORDER = ["gender", "age", "bmi", "sysbp"]
"""The small chain of exercise 3: gender (0 male, 1 female) first, then three numbers."""
CONDITION_ROWS, CONDITION_SEEDS = 150, 8


def _condition_inputs(seed: int | None) -> dict[str, Any]:
    """The training values of the chain's columns as numbers (trusted), and the learner's seeds."""
    train, _, _ = exercise_split()
    X = pd.DataFrame({c: train[c].cat.codes if c == "gender" else train[c] for c in CONDITION_ORDER}).astype(float)
    rng = np.random.default_rng(7 if seed is None else seed)
    return {"X": X.reset_index(drop=True), "value": 1.0,
            "seeds": rng.integers(0, 2**31 - 1, size=CONDITION_SEEDS).tolist()}


def condition_trees(X: pd.DataFrame) -> dict[str, Any]:
    """One regression tree per column after the first, on the columns before it (leaves of 10)."""
    from sklearn.tree import DecisionTreeRegressor

    return {col: DecisionTreeRegressor(min_samples_leaf=10, random_state=0).fit(X[CONDITION_ORDER[:j]], X[col])
            for j, col in enumerate(CONDITION_ORDER) if j > 0}


def _condition_export(func: Any, inputs: dict[str, Any]) -> list[Any]:
    """Runs in the learner's kernel: the same trees, then the learner's sampler, once per seed."""
    from . import require_callable

    require_callable(func, "sample_given")
    X = pd.DataFrame(inputs["X"])
    trees = condition_trees(X)
    out = []
    for s in inputs["seeds"]:
        rows = func(trees, X.copy(), list(CONDITION_ORDER), inputs["value"], CONDITION_ROWS, np.random.default_rng(s))
        if not isinstance(rows, pd.DataFrame):
            raise CheckFailed(f"expected a DataFrame of drawn rows, found {type(rows).__name__}")
        out.append(rows)
    return out


@register("05.condition_step", target="sample_given", points=2, inputs=_condition_inputs,
          export=_condition_export,
          hint="Start the rows with the condition's value in the first column (no draw for it); then, "
               "column by column, put the rows drawn so far through that column's tree and draw one "
               "training value from the leaf each row lands in.")
def condition_step(samples: list[Any], inputs: dict[str, Any]) -> None:
    """``sample_given(trees, X_train, order, value, n, rng)``: rows drawn given the first column."""
    X = pd.DataFrame(inputs["X"])
    trees = condition_trees(X)
    value = inputs["value"]
    for rows in samples:
        if not isinstance(rows, pd.DataFrame):
            raise CheckFailed(f"expected a DataFrame of drawn rows, found {type(rows).__name__}")
        if list(rows.columns) != CONDITION_ORDER or len(rows) != CONDITION_ROWS:
            raise CheckFailed(f"expected {CONDITION_ROWS} rows with the columns {CONDITION_ORDER}, found "
                              f"{len(rows)} rows and {list(rows.columns)}")
        if not np.allclose(rows["gender"].to_numpy(float), value):
            raise CheckFailed(f"every row should carry the condition's value {value} in the first column")
    for j, col in enumerate(CONDITION_ORDER[1:], start=1):
        tree, before = trees[col], CONDITION_ORDER[:j]
        donors = {leaf: set(X[col][tree.apply(X[before]) == leaf]) for leaf in np.unique(tree.apply(X[before]))}
        outside = sum(v not in donors[leaf]
                      for rows in samples
                      for leaf, v in zip(tree.apply(rows[before].astype(float)), rows[col].to_numpy(float), strict=True))
        if outside:
            raise CheckFailed(
                f"{outside} of the {col!r} values are not training values of the leaf that the row's "
                f"own {before} lead to: draw each column given the values drawn (and fixed) before it, "
                "and fix the first column before drawing, never overwrite it afterwards")
    drawn = pd.concat(samples, ignore_index=True)
    if all(s[CONDITION_ORDER[1:]].equals(samples[0][CONDITION_ORDER[1:]]) for s in samples[1:]):
        raise CheckFailed("every call drew the same rows: draw with the rng given")
    keys = set(map(tuple, X[X["gender"] == value].to_numpy()))
    copied = float(np.mean([tuple(r) in keys for r in drawn[CONDITION_ORDER].to_numpy(float)]))
    if copied > 0.5:
        raise CheckFailed(f"{copied:.0%} of the drawn rows are real training patients: draw each column "
                          "from its leaf, do not pick whole patients")


# -- 05.leaf_draw: the heart of sequential CART, written by the learner ----------------------
LEAF_DRAWS = 40
"""Repeated draws per new row: enough to see that the draw is random, and from the whole leaf."""


def _leaf_inputs(seed: int | None) -> dict[str, Any]:
    """A tree's training data (trusted) and new rows; the seeds of the learner's random draws."""
    train, _, _ = exercise_split()
    rng = np.random.default_rng(5 if seed is None else seed)
    X = train[["age", "sysbp", "hr"]].to_numpy(dtype=float)
    new = X[rng.choice(len(X), size=25, replace=False)] + rng.normal(0, 2, size=(25, 3))
    return {"X": X, "y": train["bmi"].to_numpy(dtype=float), "new": new,
            "seeds": rng.integers(0, 2**31 - 1, size=LEAF_DRAWS).tolist()}


def _leaf_tree(inputs: dict[str, Any]):
    from sklearn.tree import DecisionTreeRegressor

    return DecisionTreeRegressor(min_samples_leaf=10, random_state=0).fit(inputs["X"], inputs["y"])


def _leaf_export(func: Any, inputs: dict[str, Any]) -> np.ndarray:
    """Runs in the learner's kernel: the same tree, then the learner's draw, once per seed."""
    from . import require_callable

    require_callable(func, "leaf_draw")
    tree = _leaf_tree(inputs)
    X, y, new = (np.asarray(inputs[k]) for k in ("X", "y", "new"))
    return np.stack([np.asarray(func(tree, X.copy(), y.copy(), new.copy(), np.random.default_rng(s)),
                                dtype=float).reshape(-1) for s in inputs["seeds"]])


@register("05.leaf_draw", target="leaf_draw", points=2, inputs=_leaf_inputs, export=_leaf_export,
          hint="tree.apply gives the leaf of each row: find the leaf of each new row, then pick, "
               "with rng, one y value of the training rows in that same leaf (not the leaf mean).")
def leaf_draw(draws: np.ndarray, inputs: dict[str, Any]) -> None:
    """``leaf_draw(tree, X_train, y_train, X_new, rng)``: one training value from each new row's leaf."""
    draws = np.asarray(draws, dtype=float)
    tree = _leaf_tree(inputs)
    X, y, new = (np.asarray(inputs[k]) for k in ("X", "y", "new"))
    if draws.shape != (LEAF_DRAWS, len(new)):
        raise CheckFailed(f"expected one value per new row ({len(new)}), found {draws.shape[1:]} per call")
    leaf_of_train, leaf_of_new = tree.apply(X), tree.apply(new)
    donors = [set(y[leaf_of_train == leaf].tolist()) for leaf in leaf_of_new]
    outside = sum(v not in donors[j] for row in draws for j, v in enumerate(row))
    if outside:
        means = tree.predict(new)
        if np.allclose(draws[0], means):
            raise CheckFailed("the values are the leaves' means (tree.predict): draw one real training "
                              "value of the leaf instead, so the spread within the leaf survives")
        raise CheckFailed(f"{outside} of {draws.size} drawn values are not training values of the new "
                          "row's leaf: use tree.apply on the training rows and on the new rows")
    varied = [len(set(draws[:, j])) > 1 for j in range(len(new)) if len(donors[j]) > 3]
    if not any(varied):
        raise CheckFailed("every call gives the same value for a row: draw at random with the rng given")
    # over the repeated draws every donor of a leaf should be reachable, not only a few
    j = int(np.argmax([len(d) for d in donors]))
    seen = len(set(draws[:, j])) / min(len(donors[j]), LEAF_DRAWS)
    if seen < 0.4:
        raise CheckFailed("the draws keep to a few values of the leaf: pick uniformly among all its rows")
