"""Right answers and plausible wrong answers for the lesson 05 (sequential CART) checks."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from course_utils.checks.lesson05 import exercise_split
from course_utils.config import SEED
from course_utils.data import load_whas500
from course_utils.generators import CARTSynthesizer


# -- 05.visit_order --------------------------------------------------------------------------
def _order_right():
    train, _, meta = exercise_split()
    return CARTSynthesizer(visit_sequence=["fstat", "lenfol"], random_state=SEED).fit(train, meta)


def _order_default():
    train, _, meta = exercise_split()
    return CARTSynthesizer(random_state=SEED).fit(train, meta)


def _order_swapped():
    train, _, meta = exercise_split()
    return CARTSynthesizer(visit_sequence=["lenfol", "fstat"], random_state=SEED).fit(train, meta)


def _order_all_data():
    df, meta = load_whas500(return_metadata=True)
    return CARTSynthesizer(visit_sequence=["fstat", "lenfol"], random_state=SEED).fit(df, meta)


def _order_unfitted():
    return CARTSynthesizer(visit_sequence=["fstat", "lenfol"], random_state=SEED)


# -- 05.leaf_size ----------------------------------------------------------------------------
def _leaf_right():
    return 10


def _leaf_one():
    return 1


def _leaf_two():
    return 2


def _leaf_huge():
    return 200


def _leaf_fraction():
    return 0.1


# -- 05.subgroup -----------------------------------------------------------------------------
def _subgroup_right():
    train, _, meta = exercise_split()
    gen = CARTSynthesizer(visit_sequence=["gender"], min_samples_leaf=10, random_state=SEED).fit(train, meta)
    return gen.sample(500, conditions={"gender": "female"})


def _subgroup_overwritten():
    train, _, meta = exercise_split()
    out = CARTSynthesizer(min_samples_leaf=10, random_state=SEED).fit(train, meta).sample(500)
    out["gender"] = "female"
    out["gender"] = out["gender"].astype(train["gender"].dtype)
    return out


def _subgroup_real_rows():
    train, _, _ = exercise_split()
    women = train[train["gender"] == "female"]
    return women.sample(250, replace=True, random_state=SEED).reset_index(drop=True)


def _subgroup_unconditional():
    train, _, meta = exercise_split()
    return CARTSynthesizer(min_samples_leaf=10, random_state=SEED).fit(train, meta).sample(500)


def _subgroup_too_few():
    return _subgroup_right().head(50)


# -- 05.leaf_draw --------------------------------------------------------------------------
def _draw_right():
    def leaf_draw(tree, X_train, y_train, X_new, rng):
        leaf_train, leaf_new = tree.apply(X_train), tree.apply(X_new)
        return np.array([rng.choice(y_train[leaf_train == leaf]) for leaf in leaf_new])
    return leaf_draw


def _draw_mean():
    return lambda tree, X_train, y_train, X_new, rng: tree.predict(X_new)


def _draw_first_donor():
    def leaf_draw(tree, X_train, y_train, X_new, rng):
        leaf_train, leaf_new = tree.apply(X_train), tree.apply(X_new)
        return np.array([y_train[leaf_train == leaf][0] for leaf in leaf_new])
    return leaf_draw


def _draw_any_patient():
    return lambda tree, X_train, y_train, X_new, rng: rng.choice(y_train, size=len(X_new))


def _draw_fixed_seed():
    def leaf_draw(tree, X_train, y_train, X_new, rng):
        fixed = np.random.default_rng(0)
        leaf_train, leaf_new = tree.apply(X_train), tree.apply(X_new)
        return np.array([fixed.choice(y_train[leaf_train == leaf]) for leaf in leaf_new])
    return leaf_draw


RIGHT: dict[str, Callable[[], object]] = {
    "05.visit_order": _order_right,
    "05.leaf_size": _leaf_right,
    "05.subgroup": _subgroup_right,
    "05.leaf_draw": _draw_right,
}

MUTANTS: dict[str, list[Callable[[], object]]] = {
    "05.visit_order": [_order_default, _order_swapped, _order_all_data, _order_unfitted],
    "05.leaf_size": [_leaf_one, _leaf_two, _leaf_huge, _leaf_fraction],
    "05.subgroup": [_subgroup_overwritten, _subgroup_real_rows, _subgroup_unconditional, _subgroup_too_few],
    "05.leaf_draw": [_draw_mean, _draw_first_donor, _draw_any_patient, _draw_fixed_seed],
}
