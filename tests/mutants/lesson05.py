"""Right answers and plausible wrong answers for the lesson 05 (sequential CART) checks."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

# -- 05.plan_conditions ---------------------------------------------------------------------
_LATE_KINDS = ("continuous", "datetime")


def _plan_right():
    def plan_conditions(visit_sequence, kinds, conditions):
        fixed = set()
        for col in visit_sequence:
            if col not in conditions:
                break
            fixed.add(col)
        late = set(conditions) - fixed
        refused = {c for c in late if kinds[c] in _LATE_KINDS}
        return {"fixed": fixed, "rejected": late - refused, "refused": refused}
    return plan_conditions


def _plan_first_only():
    def plan_conditions(visit_sequence, kinds, conditions):
        fixed = {visit_sequence[0]} & set(conditions)
        late = set(conditions) - fixed
        refused = {c for c in late if kinds[c] in _LATE_KINDS}
        return {"fixed": fixed, "rejected": late - refused, "refused": refused}
    return plan_conditions


def _plan_all_fixed():
    return lambda visit_sequence, kinds, conditions: {"fixed": set(conditions), "rejected": set(), "refused": set()}


def _plan_in_written_order():
    def plan_conditions(visit_sequence, kinds, conditions):
        fixed = set()
        for written, visited in zip(conditions, visit_sequence, strict=False):
            if written != visited:  # asks the conditions to be written in the visit order
                break
            fixed.add(written)
        late = set(conditions) - fixed
        refused = {c for c in late if kinds[c] in _LATE_KINDS}
        return {"fixed": fixed, "rejected": late - refused, "refused": refused}
    return plan_conditions


def _plan_never_refused():
    def plan_conditions(visit_sequence, kinds, conditions):
        plan = _plan_right()(visit_sequence, kinds, conditions)
        return {"fixed": plan["fixed"], "rejected": plan["rejected"] | plan["refused"], "refused": set()}
    return plan_conditions


def _plan_skips_gaps():
    def plan_conditions(visit_sequence, kinds, conditions):
        # every conditioned column among the first len(conditions) visited, gaps or not
        fixed = set(visit_sequence[: len(conditions)]) & set(conditions)
        late = set(conditions) - fixed
        refused = {c for c in late if kinds[c] in _LATE_KINDS}
        return {"fixed": fixed, "rejected": late - refused, "refused": refused}
    return plan_conditions


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


# -- 05.condition_step ----------------------------------------------------------------------
def _given(first="fixed", later="leaf"):
    """A sampler of the chain: the right one at the defaults, a plausible wrong turn otherwise."""
    def sample_given(trees, X_train, order, value, n, rng):
        if first == "copy":  # whole real patients with the value
            pool = X_train[X_train[order[0]] == value]
            return pool.iloc[rng.integers(0, len(pool), n)].reset_index(drop=True)[order]
        start = np.full(n, float(value)) if first == "fixed" else rng.choice(X_train[order[0]].to_numpy(), n)
        rows = pd.DataFrame({order[0]: start})
        for j, col in enumerate(order[1:], start=1):
            tree, before = trees[col], order[:j]
            if later == "mean":
                rows[col] = tree.predict(rows[before])
            elif later == "marginal":
                rows[col] = rng.choice(X_train[col].to_numpy(), n)
            else:
                leaf_train, leaf_new = tree.apply(X_train[before]), tree.apply(rows[before])
                y = X_train[col].to_numpy()
                draw = np.random.default_rng(0) if later == "fixed seed" else rng
                rows[col] = [draw.choice(y[leaf_train == leaf]) for leaf in leaf_new]
        if first == "overwrite":
            rows[order[0]] = float(value)
        return rows
    return sample_given


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
    "05.plan_conditions": _plan_right,
    "05.leaf_size": _leaf_right,
    "05.condition_step": _given,
    "05.leaf_draw": _draw_right,
}

MUTANTS: dict[str, list[Callable[[], object]]] = {
    "05.plan_conditions": [_plan_first_only, _plan_all_fixed, _plan_in_written_order, _plan_never_refused,
                           _plan_skips_gaps, lambda: "fstat first"],
    "05.leaf_size": [_leaf_one, _leaf_two, _leaf_huge, _leaf_fraction],
    "05.condition_step": [lambda: _given(first="overwrite"), lambda: _given(first="copy"),
                          lambda: _given(later="mean"), lambda: _given(later="marginal"),
                          lambda: _given(later="fixed seed")],
    "05.leaf_draw": [_draw_mean, _draw_first_donor, _draw_any_patient, _draw_fixed_seed],
}
