"""The references that exercise checks compare against agree with the package they teach.

``05.plan_conditions`` grades a learner's prediction of how sequential CART meets a
condition (fixed, by rejection, refused) against a rule written in the check; the rule
must be what ``CARTSynthesizer`` does.
"""

from __future__ import annotations

import pytest

from course_utils.checks.lesson05 import _plan_inputs, exercise_split, reference_plan
from course_utils.generators import CARTSynthesizer


def _value(train, column):
    """A value the column holds, as a condition would give it."""
    value = train[column].mode().iloc[0]
    return value.item() if hasattr(value, "item") else value


@pytest.mark.parametrize("seed", [None, 1])
def test_plan_reference_is_what_cart_does(seed):
    train, _, meta = exercise_split()
    for case in _plan_inputs(seed):
        want = reference_plan(case["visit_sequence"], case["kinds"], case["conditions"])
        gen = CARTSynthesizer(visit_sequence=case["visit_sequence"], min_samples_leaf=20,
                              random_state=0).fit(train, meta)
        conditions = {c: _value(train, c) for c in case["conditions"]}
        if want["refused"]:
            with pytest.raises(ValueError, match="can only be fixed"):
                gen._plan_conditions(conditions)
            continue
        fixed, pending = gen._plan_conditions(conditions)
        assert set(fixed) == want["fixed"], case
        assert set(pending) == want["rejected"], case
