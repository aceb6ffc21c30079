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


# -- 1. a visit order that starts with the outcome ------------------------------------------------
def _generator_facts(gen: Any) -> dict[str, Any]:
    """What ``05.visit_order`` needs to know about the learner's generator, as plain values."""
    from ..generators import CARTSynthesizer

    fitted = hasattr(gen, "visit_sequence_")
    return {"type": type(gen).__name__, "is_cart": isinstance(gen, CARTSynthesizer), "fitted": fitted,
            "n_train": int(gen.n_train_) if fitted else None,
            "visit_sequence": [str(c) for c in gen.visit_sequence_] if fitted else None}


@register("05.visit_order", target="cart_ordered", points=1, export=_generator_facts,
          hint="Pass visit_sequence (listed columns come first, the rest follow) and fit on train only.")
def visit_order(facts: dict[str, Any]) -> None:
    """A CARTSynthesizer fitted on the training split whose visit order starts fstat, lenfol."""
    if not facts["is_cart"]:
        raise CheckFailed(f"expected a CARTSynthesizer, found {facts['type']}")
    if not facts["fitted"]:
        raise CheckFailed("the generator is not fitted yet: call .fit(train, meta)")
    train, _, _ = exercise_split()
    n_train = facts["n_train"]
    if n_train != len(train):
        raise CheckFailed(
            f"fit on the training split ({len(train)} rows); this generator saw {n_train} rows"
            + (": the holdout must stay unseen" if n_train > len(train) else "")
        )
    order = list(facts["visit_sequence"])
    if order[:2] != ["fstat", "lenfol"]:
        raise CheckFailed(f"the visit order should start with ['fstat', 'lenfol'], it starts with {order[:2]}")
    if sorted(order) != sorted(train.columns):
        raise CheckFailed("every column of WHAS500 should be in the visit order")


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


# -- 3. a subgroup by conditional sampling --------------------------------------------------------
@register("05.subgroup", target="women", points=1,
          hint="Fit with visit_sequence=['gender'] and sample(n, conditions={'gender': 'female'}).")
def subgroup(obj: Any) -> None:
    """At least 200 synthetic (not copied) women whose ages were drawn given gender."""
    train, _, _ = exercise_split()
    if not isinstance(obj, pd.DataFrame):
        raise CheckFailed(f"expected a DataFrame of synthetic patients, found {type(obj).__name__}")
    if list(obj.columns) != list(train.columns):
        raise CheckFailed("expected the WHAS500 columns in their original order")
    if len(obj) < 200:
        raise CheckFailed(f"sample at least 200 women, found {len(obj)} rows")
    if not (obj["gender"] == "female").all():
        raise CheckFailed(f"every row should be a woman; found {int((obj['gender'] != 'female').sum())} others")
    keys = pd.util.hash_pandas_object(train.astype(str), index=False)
    copied = pd.util.hash_pandas_object(obj.astype(str), index=False).isin(set(keys)).mean()
    if copied > 0.5:
        raise CheckFailed(f"{copied:.0%} of the rows are training patients: these are real women, not synthetic ones")
    real = train.loc[train["gender"] == "female", "age"].mean()
    overall = train["age"].mean()
    got = obj["age"].mean()
    if abs(got - real) > 2.5:
        raise CheckFailed(
            f"mean age {got:.1f}; real women in the training split average {real:.1f} (everyone: "
            f"{overall:.1f}). Were the other columns drawn given gender, or was gender overwritten "
            "after sampling?"
        )


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
