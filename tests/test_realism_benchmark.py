"""The realism benchmark: the rules it accepts and the before/after table it prints."""

from __future__ import annotations

import pandas as pd
import pytest

from course_utils.benchmarks.generators import combine_runs
from course_utils.benchmarks.realism import RUN_KEYS, accepted_rules, before_after, load_table
from course_utils.constraints import constraint_violations


@pytest.mark.parametrize("name", ["stroke", "whas500", "veterans", "clinic"])
def test_accepted_rules_hold_on_the_training_part(name):
    train, _, meta, _ = load_table(name)
    rules = accepted_rules(name, train, meta)
    assert rules and set(constraint_violations(train, rules).values()) == {0}
    if name == "stroke":  # derived columns only: a chance inequality is not accepted
        assert "80+ = Age >= 80" in map(str, rules)
        assert all(r.derived for r in rules)


def test_the_nihss_total_rule_holds_and_is_only_added_when_asked():
    from course_utils.constraints import BoundedSum

    train, holdout, meta, _ = load_table("stroke")
    rules = accepted_rules("stroke", train, meta, nihss_total=True)
    extra = [r for r in rules if isinstance(r, BoundedSum)]
    assert len(extra) == 1 and len(extra[0].sources) == 14 and (extra[0].low, extra[0].high) == (0, 3)
    assert extra[0].holds(train).all() and extra[0].holds(holdout).all()
    assert not any(isinstance(r, BoundedSum) for r in accepted_rules("stroke", train, meta))
    broken = train.assign(S2NihssArrival=train["S2NihssArrival"] + 4)
    assert not extra[0].holds(broken).any()


def runs_of(rows):
    return pd.DataFrame([
        {"dataset": "t", "generator": "G", "seed": s, "variant": v, "detection_auc": auc,
         "detection_auc_holdout": 0.5, "quality": 0.9, "dcr_share": 0.6 if v == "plain" else 0.5,
         "rows_breaking_a_rule": 0.2 if v == "plain" else 0.0, "rejection_rate": 0.0 if v == "plain" else 0.1}
        for s, v, auc in rows
    ])


def test_before_after_averages_seeds_and_splits_the_three_variants():
    runs = runs_of([(0, "plain", 0.8), (1, "plain", 0.9), (0, "rules", 0.6), (1, "rules", 0.7),
                    (0, "rules+guard", 0.55), (1, "rules+guard", 0.5)])
    table = before_after(runs).set_index("generator")
    assert table.loc["G", "detection_auc_without"] == pytest.approx(0.85)
    assert table.loc["G", "detection_auc_with"] == pytest.approx(0.65)
    assert table.loc["G", "detection_auc_guarded"] == pytest.approx(0.525)
    assert table.loc["G", "rows_breaking_a_rule_without"] == pytest.approx(0.2)
    assert table.loc["G", "dcr_share_with"] == pytest.approx(0.5)


def test_appended_runs_replace_the_same_run_and_keep_the_others():
    old = runs_of([(0, "plain", 0.8), (0, "rules", 0.6)])
    new = runs_of([(0, "rules", 0.55), (1, "rules", 0.65)])
    both = combine_runs(old, new, RUN_KEYS).set_index(["seed", "variant"])["detection_auc"]
    assert both.to_dict() == {(0, "plain"): 0.8, (0, "rules"): 0.55, (1, "rules"): 0.65}


def test_the_constructed_table_and_a_course_table_are_split_for_the_benchmark():
    train, holdout, meta, target = load_table("clinic")
    assert target == "event" and len(train) + len(holdout) == 400
    assert set(constraint_violations(pd.concat([train, holdout]), accepted_rules("clinic", train, meta)).values()) == {0}
    assert load_table("veterans")[3] == "status"


def test_a_survival_table_reports_the_kaplan_meier_distance_and_its_holdout_reference():
    from course_utils.benchmarks.realism import run_benchmark

    runs = run_benchmark(("whas500", "stroke"), (0,), fast=True, only=("IndependentMarginals", "CARTSynthesizer"),
                         variants=("rules",))
    by = runs.set_index(["dataset", "generator"])
    whas = by.loc["whas500"]
    assert whas["km_distance_holdout"].nunique() == 1 and 0 < whas["km_distance_holdout"].iloc[0] < 0.2
    # each column drawn on its own loses the link between time and event: its curve is further off
    assert whas.loc["CARTSynthesizer", "km_distance"] < whas.loc["IndependentMarginals", "km_distance"] - 0.05
    assert by.loc["stroke", "km_distance"].isna().all()  # no survival pair in the stroke table
    table = before_after(runs).set_index(["dataset", "generator"])
    assert table.loc[("whas500", "CARTSynthesizer"), "km_distance_with"] == pytest.approx(
        whas.loc["CARTSynthesizer", "km_distance"])
