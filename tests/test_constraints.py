"""Rules between columns and each column's precision, kept by every generator."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from course_utils.benchmarks.realism import CLINIC_GRADES, CLINIC_STUDY_DAYS, clinic_rules
from course_utils.benchmarks.realism import clinic_table as realism_clinic_table
from course_utils.constraints import (
    Bins,
    BoundedSum,
    FixedCombinations,
    Inequality,
    SumOf,
    SurvivalPair,
    Threshold,
    constraint_from_dict,
    constraint_violations,
    discover_constraints,
)
from course_utils.data import load_stroke
from course_utils.generators import registry
from course_utils.schema import Metadata, infer_metadata, learn_decimals, validate

STUDY_DAYS = CLINIC_STUDY_DAYS
GRADES = CLINIC_GRADES
RULES = clinic_rules()


def clinic_table(n: int = 240, seed: int = 0) -> pd.DataFrame:
    """The realism benchmark's constructed table, smaller: every rule of RULES holds in it."""
    return realism_clinic_table(n, seed)


@pytest.fixture(scope="module")
def clinic() -> tuple[pd.DataFrame, Metadata]:
    df = clinic_table()
    return df, infer_metadata(df).with_constraints(RULES)


def test_the_constructed_table_keeps_its_own_rules(clinic):
    df, meta = clinic
    assert set(constraint_violations(df, meta.constraints).values()) == {0}
    assert (df["event"] == 0).any() and (df["time"] == df["possible_fu"]).any()


def test_decimals_are_learnt_per_column(clinic):
    df, meta = clinic
    assert meta["hb"].decimals == 1
    assert meta["tsh"].decimals == 3
    assert learn_decimals(np.array([0.1234567, 2.0])) is None
    assert learn_decimals(np.array([1.5, 2.25])) == 2
    back = Metadata.from_dict(meta.to_dict())
    assert back["tsh"].decimals == 3 and len(back.constraints) == len(RULES)
    assert [str(c) for c in back.constraints] == [str(c) for c in meta.constraints]


def test_bad_decimals_are_rejected():
    meta = infer_metadata(pd.DataFrame({"x": [0.5, 1.25]}))
    with pytest.raises(ValueError, match="'x'.*decimals"):
        meta.update_column("x", decimals=9)


def test_a_training_table_that_breaks_an_accepted_rule_is_refused(clinic):
    df, meta = clinic
    bad = df.copy()
    bad.loc[3, "diasbp"] = bad.loc[3, "sysbp"] + 1
    with pytest.raises(ValueError, match="diasbp < sysbp"):
        validate(bad, meta, check_bounds=False)


def test_a_rule_on_an_unknown_column_names_it(clinic):
    _, meta = clinic
    with pytest.raises(ValueError, match="'pulse'"):
        meta.with_constraints([Inequality("pulse", "sysbp")])


def test_discovery_finds_the_rules_that_hold(clinic):
    df, meta = clinic
    found = [str(c) for c in discover_constraints(df, infer_metadata(df))]
    for rule in ("old = age >= 75", "diasbp < sysbp"):
        assert rule in found
    assert any(r.startswith("grade = bins of score with lower edges 5, 15") for r in found)


def test_a_rule_broken_in_one_training_row_is_not_proposed(clinic):
    df, _ = clinic
    bad = df.copy()
    bad.loc[0, "old"] = 1 - bad.loc[0, "old"]
    bad.loc[1, "diasbp"] = bad.loc[1, "sysbp"]
    bad.loc[2, "grade"] = "severe" if bad.loc[2, "grade"] != "severe" else "mild"
    found = [str(c) for c in discover_constraints(bad, infer_metadata(bad))]
    assert not any(r.startswith("old =") or r == "diasbp < sysbp" or r.startswith("grade =") for r in found)


def test_the_stroke_tables_rules_hold_and_are_found():
    df, meta = load_stroke(return_metadata=True)
    named = [
        Threshold("80+", "Age", 80),
        Threshold("2+ comorbidotes", "# Comorbidities", 2),
        SumOf("# Comorbidities", ["Congestive HF", "Hypertension", "Atrial Fib", "Diabetes", "TIA"]),
        Bins("S2NihssArrival", [1, 5, 16, 21], meta.one_hot_groups["Stroke severity group"]),
    ]
    assert set(constraint_violations(df, named).values()) == {0}
    found = {str(c) for c in discover_constraints(df, meta)}
    assert {str(c) for c in named} <= found


@pytest.mark.parametrize("entry", registry(), ids=lambda e: e.name)
def test_every_generator_keeps_every_accepted_rule(entry, clinic):
    df, meta = clinic
    gen = entry.make(0, fast=True, target="event" if entry.target else None)
    synth = gen.fit(df, meta).sample(150)
    assert len(synth) == 150
    assert constraint_violations(synth, meta.constraints) == dict.fromkeys(map(str, RULES), 0)
    assert 0.0 <= gen.rejection_rate_ < 1.0
    for col, places in (("hb", 1), ("tsh", 3)):
        values = synth[col].to_numpy(dtype=float)
        assert np.allclose(values, np.round(values, places), rtol=0, atol=1e-9), col


def test_without_rules_a_generator_breaks_them(clinic):
    df, meta = clinic
    plain = infer_metadata(df)
    gen = registry()[0].make(0, fast=True)  # independent marginals: no rule survives
    synth = gen.fit(df, plain).sample(400)
    broken = constraint_violations(synth, meta.constraints)
    assert broken["old = age >= 75"] > 0 and broken["diasbp < sysbp"] > 0


def test_derived_columns_honour_conditions(clinic):
    df, meta = clinic
    gen = registry()[0].make(0, fast=True).fit(df, meta)
    synth = gen.sample(100, conditions={"old": 1})
    assert (synth["old"] == 1).all() and (synth["age"] >= 75).all()


def test_rejection_gives_up_with_a_clear_error(clinic, monkeypatch):
    df, meta = clinic
    gen = registry()[0].make(0, fast=True).fit(df, meta)
    monkeypatch.setattr(type(gen), "MAX_DRAWN_PER_ROW", 1)
    with pytest.raises(RuntimeError, match="only .* kept every rule"):
        gen.sample(2000)


def test_same_seed_same_rows_with_rules(clinic):
    df, meta = clinic
    a = registry()[0].make(0, fast=True).fit(df, meta).sample(120)
    b = registry()[0].make(0, fast=True).fit(df, meta).sample(120)
    pd.testing.assert_frame_equal(a, b)


# -- fixed combinations: only the combinations that can exist ---------------------------------
def maternity_table(n: int = 400, seed: int = 0) -> pd.DataFrame:
    """Sex, a pregnancy flag that only women under 50 can have, and an unrelated ward."""
    rng = np.random.default_rng(seed)
    sex = rng.choice(["female", "male"], n)
    age = rng.integers(18, 90, n)
    pregnant = ((sex == "female") & (age < 50) & (rng.random(n) < 0.6)).astype(int)
    return pd.DataFrame({"sex": pd.Categorical(sex), "age": age, "pregnant": pregnant,
                         "ward": pd.Categorical(rng.choice(["A", "B", "C"], n))})


NO_PREGNANT_MEN = FixedCombinations(["sex", "pregnant"], [["female", 0], ["female", 1], ["male", 0]])


def test_fixed_combinations_reject_the_missing_combinations():
    df = pd.DataFrame({"sex": ["female", "male", "male", None], "pregnant": [1, 0, 1, 1]})
    assert NO_PREGNANT_MEN.holds(df).tolist() == [True, True, False, True]
    assert str(NO_PREGNANT_MEN) == "(sex, pregnant) in {(female, 0), (female, 1), (male, 0)}"
    back = constraint_from_dict(NO_PREGNANT_MEN.to_dict())
    assert back.holds(df).tolist() == [True, True, False, True]
    with pytest.raises(ValueError, match="has 1 values, expected 2"):
        FixedCombinations(["sex", "pregnant"], [["male"]])
    with pytest.raises(ValueError, match="two or more columns"):
        FixedCombinations(["sex"], [["male"]])


def test_discovery_proposes_the_impossible_combination_and_not_chance_gaps():
    df = maternity_table()
    found = [c for c in discover_constraints(df) if isinstance(c, FixedCombinations)]
    assert [c.columns() for c in found] == [["sex", "pregnant"]]
    assert sorted(map(tuple, found[0].combinations)) == [("female", 0), ("female", 1), ("male", 0)]
    small = df.head(12)  # a gap in 12 rows is chance, not a rule
    assert not [c for c in discover_constraints(small) if isinstance(c, FixedCombinations)]


@pytest.mark.parametrize("name", ["IndependentMarginals", "CARTSynthesizer", "GaussianCopula"])
def test_generators_keep_a_fixed_combination(name):
    df = maternity_table()
    meta = infer_metadata(df)
    entry = next(e for e in registry() if e.name == name)
    plain = entry.make(0, fast=True).fit(df, meta).sample(600)
    ruled = entry.make(0, fast=True).fit(df, meta.with_constraints([NO_PREGNANT_MEN])).sample(600)
    if name == "IndependentMarginals":  # without the rule, pregnant men appear
        assert constraint_violations(plain, [NO_PREGNANT_MEN])[str(NO_PREGNANT_MEN)] > 0
    assert constraint_violations(ruled, [NO_PREGNANT_MEN])[str(NO_PREGNANT_MEN)] == 0


def score_table(n: int = 300, seed: int = 0) -> pd.DataFrame:
    """Three items scored 0-2 and a total that adds a hidden item (0-3) the table does not hold."""
    rng = np.random.default_rng(seed)
    items = pd.DataFrame({f"item{j}": rng.choice([0, 1, 2], n, p=[0.5, 0.3, 0.2]) for j in range(3)})
    hidden = rng.choice([0, 1, 2, 3], n, p=[0.7, 0.2, 0.07, 0.03])
    return items.assign(total=items.sum(axis=1) + hidden, age=rng.integers(40, 90, n))


TOTAL_RULE = BoundedSum("total", ["item0", "item1", "item2"], 0, 3)


def test_a_bounded_sum_checks_the_part_the_table_does_not_hold():
    # parts a + b = 3 in every row; the total adds 0, -1, 3, 4, and two rows miss a value
    df = pd.DataFrame({"total": [3, 2, 6, 7, np.nan, 4], "a": [1, 1, 1, 1, 1, 1], "b": [2, 2, 2, 2, 2, np.nan]})
    rule = BoundedSum("total", ["a", "b"], 0, 3)
    assert rule.holds(df).tolist() == [True, False, True, False, True, True]
    assert BoundedSum("total", ["a", "b"], 0, 2).holds(df).tolist() == [True, False, False, False, True, True]
    assert str(rule) == "total = a + b + a part from 0 to 3"
    assert constraint_from_dict(rule.to_dict()).holds(df).tolist() == rule.holds(df).tolist()
    assert not rule.derived  # the hidden part cannot be rebuilt: kept by rejection
    with pytest.raises(ValueError, match="'total'.*must not exceed"):
        BoundedSum("total", ["a"], 3, 0)


@pytest.mark.parametrize("name", ["IndependentMarginals", "CARTSynthesizer", "GaussianCopula", "VAESynthesizer"])
def test_generators_keep_a_bounded_sum(name):
    df = score_table()
    meta = infer_metadata(df)
    assert TOTAL_RULE.holds(df).all()
    entry = next(e for e in registry() if e.name == name)
    plain = entry.make(0, fast=True).fit(df, meta).sample(600, random_state=0)
    gen = entry.make(0, fast=True).fit(df, meta.with_constraints([TOTAL_RULE]))
    ruled = gen.sample(600, random_state=0)
    if name in ("IndependentMarginals", "GaussianCopula"):  # a total drawn on its own misses its items
        assert constraint_violations(plain, [TOTAL_RULE])[str(TOTAL_RULE)] > 30
    assert constraint_violations(ruled, [TOTAL_RULE])[str(TOTAL_RULE)] == 0
    assert 0 <= gen.rejection_rate_ < 1


def test_a_generator_with_every_kind_of_rule_is_saved_and_loaded(tmp_path):
    from course_utils.constraints import RULES as ALL_RULES
    from course_utils.generators.baselines import IndependentMarginals

    df = maternity_table().assign(n_flags=lambda d: d["pregnant"] + (d["age"] >= 65).astype(int),
                                  senior=lambda d: (d["age"] >= 65).astype(int),
                                  band=lambda d: pd.Categorical(np.where(d["age"] < 50, "young", "old")),
                                  stay=lambda d: d["age"] % 7, fu=7)
    rules = [NO_PREGNANT_MEN, SumOf("n_flags", ["pregnant", "senior"]), Threshold("senior", "age", 65),
             Bins("age", [50], ["young", "old"], column="band"), Inequality("stay", "age"),
             SurvivalPair("stay", "pregnant", max_followup=7), BoundedSum("n_flags", ["pregnant"], 0, 1)]
    assert {type(r) for r in rules} == set(ALL_RULES.values())  # a new kind of rule joins this test
    gen = IndependentMarginals(random_state=0).fit(df, infer_metadata(df).with_constraints(rules))
    path = gen.save(tmp_path / "ruled.cugen")
    back = IndependentMarginals.load(path)
    assert [str(r) for r in back.metadata_.constraints] == [str(r) for r in rules]
    pd.testing.assert_frame_equal(back.sample(50, random_state=1), gen.sample(50, random_state=1))


def test_discovery_reads_one_hot_members_against_other_columns_but_not_their_own_group():
    df, meta = load_stroke(return_metadata=True)
    found = [c for c in discover_constraints(df, meta) if isinstance(c, FixedCombinations)]
    # thrombolysis is never given for a haemorrhagic stroke: the rule of medicine is found
    assert "(Clotbuster given, Stroke Type_PIH) in {(0, 0), (0, 1), (1, 0)}" in map(str, found)
    groups = meta.one_hot_groups
    group_of = {m: g for g, ms in groups.items() for m in ms}
    for rule in found:
        a, b = rule.columns()
        assert a not in group_of or group_of[a] != group_of.get(b)
        assert not {a, b} & {ms[0] for ms in groups.values() if len(ms) == 2}  # a complement repeats a rule
    assert set(constraint_violations(df, found).values()) == {0}


def test_a_survival_time_past_its_limit_is_censored_there():
    rule = SurvivalPair("time", "event", max_followup=100, followup="possible")
    df = pd.DataFrame({"time": [50, 120, 90, 130, -5, 40], "event": [1, 1, 0, 0, 1, 3],
                       "possible": [80, 80, 80, 200, 80, 80]})
    assert rule.holds(df).tolist() == [True, False, False, False, False, False]
    out = rule.apply(df.copy())
    # past the patient's own follow-up (80) or the study's (100): seen event-free at the limit
    assert out["time"].tolist() == [50, 80, 80, 100, -5, 40]
    assert out["event"].tolist() == [1, 0, 0, 0, 1, 3]
    assert out["time"].dtype == df["time"].dtype and out["event"].dtype == df["event"].dtype
    # a negative time and an event flag of 3 cannot be repaired: still broken, so rejected
    assert rule.holds(out).tolist() == [True, True, True, True, False, False]
    kept = SurvivalPair("time", "event", max_followup=100, followup="possible", censor_at_limit=False)
    pd.testing.assert_frame_equal(kept.apply(df.copy()), df)
    assert constraint_from_dict(kept.to_dict()).censor_at_limit is False
    assert constraint_from_dict({"rule": "survival", "time": "time", "event": "event"}).censor_at_limit


def test_censoring_at_the_limit_draws_the_real_tables_censored_patients():
    df = realism_clinic_table(400, 0)
    meta = infer_metadata(df)
    at_limit = lambda d: float(((d["time"] == d["possible_fu"]) & (d["event"] == 0)).mean())  # noqa: E731
    assert at_limit(df) > 0.1  # patients still event-free when the study ended
    censored = registry()[0].make(0).fit(df, meta.with_constraints(RULES))
    no_censoring = [SurvivalPair("time", "event", max_followup=STUDY_DAYS, followup="possible_fu",
                                 censor_at_limit=False) if isinstance(r, SurvivalPair) else r for r in RULES]
    rejected = registry()[0].make(0).fit(df, meta.with_constraints(no_censoring))
    a, b = censored.sample(2000, random_state=1), rejected.sample(2000, random_state=1)
    # independent marginals draw times past the follow-up often: censored there, they give the
    # real table's share of patients censored at the end of the study; rejected, none is left
    assert at_limit(a) > 0.5 * at_limit(df) and at_limit(b) < 0.02
    assert constraint_violations(a, RULES) == dict.fromkeys(map(str, RULES), 0)
    assert censored.rejection_rate_ < rejected.rejection_rate_
