"""The realism benchmark: the rules it accepts and the before/after table it prints."""

from __future__ import annotations

import pandas as pd
import pytest

from course_utils.benchmarks.generators import load_split
from course_utils.benchmarks.realism import accepted_rules, before_after
from course_utils.constraints import constraint_violations


@pytest.mark.parametrize("name", ["stroke", "whas500"])
def test_accepted_rules_hold_on_the_training_part(name):
    train, _, meta, _ = load_split(name)
    rules = accepted_rules(name, train, meta)
    assert rules and set(constraint_violations(train, rules).values()) == {0}
    if name == "stroke":  # derived columns only: a chance inequality is not accepted
        assert "80+ = Age >= 80" in map(str, rules)
        assert all(r.derived for r in rules)


def test_before_after_averages_seeds_and_splits_rules_off_and_on():
    runs = pd.DataFrame([
        {"dataset": "t", "generator": "G", "seed": s, "rules": r, "detection_auc": auc,
         "quality": 0.9, "dcr_share": 0.5, "rows_breaking_a_rule": 0.0 if r else 0.2,
         "rejection_rate": 0.1 if r else 0.0}
        for s, r, auc in [(0, False, 0.8), (1, False, 0.9), (0, True, 0.6), (1, True, 0.7)]
    ])
    table = before_after(runs).set_index("generator")
    assert table.loc["G", "detection_auc_without"] == pytest.approx(0.85)
    assert table.loc["G", "detection_auc_with"] == pytest.approx(0.65)
    assert table.loc["G", "rows_breaking_a_rule_without"] == pytest.approx(0.2)
