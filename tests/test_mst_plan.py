"""MST with a public measurement plan: weighted pairs, a forest, the budget and the noise per pair."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from course_utils.benchmarks.dp import dp_split
from course_utils.generators.mst import MSTSynthesizer, marginal_counts, sample_tree
from course_utils.generators.mst_plan import measurement_plan
from course_utils.privacy_accounting import cdp_rho, gaussian_sigma

PLAN = {("fstat", "lenfol"): 4, ("fstat", "age"): 2, ("fstat", "chf"): 1, ("fstat", "bmi"): 1, ("fstat", "hr"): 1}


@pytest.fixture(scope="module")
def whas():
    train, _, meta, _, bounds = dp_split("whas500")
    return train, meta, bounds


def _fit(whas, eps=1.0, seed=0, tree=PLAN, **kw):
    train, meta, bounds = whas
    return MSTSynthesizer(epsilon=eps, delta=1e-6, bounds=bounds, tree=tree, random_state=seed,
                          verbose=False, **kw).fit(train, meta)


# -- reading the plan ----------------------------------------------------------------------------
def test_weights_become_shares_of_the_two_way_budget():
    names = ["a", "b", "c", "d", "e"]
    plan = measurement_plan({("a", "b"): 3, ("a", "c"): 1}, names)
    assert plan.weighted and plan.edges == [(0, 1), (0, 2)]
    assert plan.shares == pytest.approx([0.75, 0.25])
    same = measurement_plan([("a", "b", 3.0), ("a", "c", 1.0)], names)
    assert same.edges == plan.edges and same.shares == pytest.approx(plan.shares)
    star = measurement_plan("a", names)
    assert not star.weighted and star.shares == pytest.approx([0.25] * 4)
    assert measurement_plan(None, names) is None


@pytest.mark.parametrize(("tree", "message"), [
    ({("a", "b"): -1.0}, r"\('a', 'b'\) has weight -1.0"),
    ({("a", "b"): 0, ("a", "c"): 0}, "sum to zero"),
    ({("a", "b"): 1, ("a", "c"): 0}, r"\('a', 'c'\) has weight 0"),
    ({("a", "b"): float("nan")}, "finite number"),
    ({("a", "b"): "2"}, "weight '2'"),
    ({("a", "x"): 1.0}, "unknown column 'x'"),
    ({("a", "b"): 1, ("b", "c"): 1, ("c", "a"): 1}, "closes a cycle"),
    ({("a", "a"): 1}, "column 'a' to itself"),
    ({}, "no pair"),
])
def test_bad_plans_are_refused_with_the_pair_named(tree, message):
    with pytest.raises(ValueError, match=message):
        measurement_plan(tree, ["a", "b", "c", "d"])


# -- the budget and the noise --------------------------------------------------------------------
def test_each_pair_gets_its_share_of_rho_and_the_noise_that_share_buys(whas):
    gen = _fit(whas)
    rho = cdp_rho(1.0, 1e-6)
    total = sum(PLAN.values())
    assert set(gen.edge_rho_) == set(PLAN)
    assert sum(gen.edge_rho_.values()) == pytest.approx(gen.budget_["two-way"])
    for pair, weight in PLAN.items():
        assert gen.edge_rho_[pair] == pytest.approx(gen.budget_["two-way"] * weight / total)
        assert gen.edge_sigma_[pair] == pytest.approx(gaussian_sigma(gen.edge_rho_[pair]))
    # the paired columns are not measured alone; the other ten share the one-way half
    names = gen.domain_.names
    paired = {c for pair in PLAN for c in pair}
    alone = [j for j, n in enumerate(names) if n not in paired]
    assert [gen.noisy_counts_[j] is None for j in range(len(names))] == [n in paired for n in names]
    assert gen.budget_["one-way"] == pytest.approx(rho / 2) and gen.budget_["selection"] == 0.0
    assert gen.sigma_one_way_ == pytest.approx(gaussian_sigma(rho / 2 / len(alone)))
    # zCDP adds up: every measurement's 1 / (2 sd^2) makes the whole budget, and epsilon is 1
    spent = len(alone) / (2 * gen.sigma_one_way_**2) + sum(1 / (2 * s**2) for s in gen.edge_sigma_.values())
    assert spent == pytest.approx(rho)
    assert gen.epsilon_spent_ == pytest.approx(1.0, rel=1e-4)
    assert gen.sigma_two_way_ == pytest.approx(max(gen.edge_sigma_.values()))


def test_a_plan_pairing_every_column_spends_it_all_on_the_pairs():
    df = pd.DataFrame({"x": [0, 1] * 50, "y": [0, 0, 1, 1] * 25, "z": [1, 0, 0, 1] * 25})
    from course_utils.schema import infer_metadata
    meta = infer_metadata(df)
    gen = MSTSynthesizer(epsilon=1.0, delta=1e-6, bounds={}, tree={("x", "y"): 1, ("y", "z"): 3},
                         one_way_share=0.4, random_state=0, verbose=False).fit(df, meta)
    assert gen.budget_["one-way"] == 0.0 and gen.sigma_one_way_ == 0.0
    assert gen.budget_["two-way"] == pytest.approx(cdp_rho(1.0, 1e-6))
    assert gen.edge_rho_["y", "z"] == pytest.approx(3 * gen.edge_rho_["x", "y"])


def test_the_measured_noise_follows_each_pairs_sd_and_a_smaller_weight_is_noisier(whas):
    train, _, _ = whas
    residuals: dict[tuple[str, str], list[np.ndarray]] = {pair: [] for pair in PLAN}
    for seed in range(8):
        gen = _fit(whas, seed=seed)
        codes = gen.domain_.encode(train)  # paired columns are never compressed
        names = gen.domain_.names
        for (a, b), noisy in gen.noisy_two_way_.items():
            true = marginal_counts(codes, (a, b), gen.domain_.sizes_)
            residuals[names[a], names[b]].append((noisy - true).ravel())
    sd = {pair: float(np.std(np.concatenate(r))) for pair, r in residuals.items()}
    for pair in PLAN:
        assert sd[pair] == pytest.approx(gen.edge_sigma_[pair], rel=0.2), pair
    # weight 4 against weight 1: a quarter of the variance, half the sd
    assert sd["fstat", "chf"] / sd["fstat", "lenfol"] == pytest.approx(2.0, rel=0.25)


def test_the_privacy_report_lists_each_pairs_noise_and_the_total(whas):
    report = _fit(whas).privacy_report()
    assert "fstat-lenfol" in report.loc["two-way", "noise"] and "fstat-hr" in report.loc["two-way", "noise"]
    assert report["rho"].iloc[-1] == pytest.approx(cdp_rho(1.0, 1e-6))
    assert "epsilon=1" in report.index[-1]


def test_one_way_share_is_checked(whas):
    for bad in (0.0, 1.0, -0.1, "half", True):
        with pytest.raises(ValueError, match="one_way_share"):
            _fit(whas, one_way_share=bad)


# -- sampling a forest ---------------------------------------------------------------------------
def test_a_forest_keeps_each_trees_dependence_and_leaves_trees_independent():
    p01 = np.array([[0.4, 0.1], [0.1, 0.4]])         # columns 0 and 1 agree 80% of the time
    p23 = np.array([[0.05, 0.25], [0.45, 0.25]])      # columns 2 and 3 depend on each other
    one_way = [p01.sum(1), p01.sum(0), p23.sum(1), p23.sum(0), np.array([0.3, 0.7])]
    codes = sample_tree(one_way, {(0, 1): p01, (2, 3): p23}, 60_000, np.random.default_rng(0))
    sizes = [2, 2, 2, 2, 2]
    np.testing.assert_allclose(marginal_counts(codes, (0, 1), sizes) / 60_000, p01, atol=0.01)
    np.testing.assert_allclose(marginal_counts(codes, (2, 3), sizes) / 60_000, p23, atol=0.01)
    across = marginal_counts(codes, (1, 2), sizes) / 60_000
    np.testing.assert_allclose(across, np.outer(one_way[1], one_way[2]), atol=0.01)
    assert codes[:, 4].mean() == pytest.approx(0.7, abs=0.01)


def test_without_noise_the_plan_keeps_its_pairs_and_nothing_else(whas):
    train, _, _ = whas
    out = _fit(whas, eps=math.inf).sample(4000, random_state=0)
    # a listed pair: follow-up is shorter for the patients who died
    assert out.groupby("fstat")["lenfol"].median()[1] < 0.6 * out.groupby("fstat")["lenfol"].median()[0]
    # an unlisted column is drawn on its own: its link with the outcome is gone
    assert abs(np.corrcoef(out["sho"], out["fstat"])[0, 1]) < 0.05
    assert abs(np.corrcoef(train["sho"], train["fstat"])[0, 1]) > 0.1


def test_same_seed_same_rows_and_the_plan_survives_save_and_load(whas, tmp_path):
    a = _fit(whas, seed=3).sample(60, random_state=1)
    gen = _fit(whas, seed=3)
    pd.testing.assert_frame_equal(gen.sample(60, random_state=1), a)
    gen.save(tmp_path / "plan.json")
    again = MSTSynthesizer.load(tmp_path / "plan.json")
    pd.testing.assert_frame_equal(again.sample(60, random_state=1), a)
    assert not _fit(whas, seed=4).sample(60, random_state=1).equals(a)


# -- the benchmark's MST-plan variant ------------------------------------------------------------
def test_the_benchmark_appends_mst_plan_runs_and_judges_them(tmp_path):
    import json

    from course_utils.benchmarks import dp

    keep = {"dataset": "whas500", "generator": "MST", "epsilon": 1.0, "seed": 0, "tstr_gap": 0.3,
            "mia_auc": 0.52, "quality": 0.8, "tstr_auc": 0.62, "trtr_auc": 0.92, "fit_s": 1.0}
    stale = {**keep, "generator": "MST-plan", "tstr_gap": 0.9, "tstr_auc": 0.02}
    out = tmp_path / "dp.json"
    out.write_text(json.dumps({"epsilons": [1.0, None], "seeds": [0], "total_s": 5.0, "runs": [keep, stale]}))
    assert dp.main(["--quick", "--only", "MST-plan", "--datasets", "whas500", "--append", "--out", str(out)]) == 0
    res = json.loads(out.read_text())
    runs = pd.DataFrame(res["runs"])
    assert set(runs["generator"]) == {"MST", "MST-plan"}  # no CART re-run when appending
    plan = runs[runs["generator"] == "MST-plan"]
    assert len(plan) == 2 and plan["epsilon"].isna().sum() == 1      # epsilon 1 and no privacy
    assert plan["tstr_gap"].max() < 0.9                               # the stale run was replaced
    assert runs.loc[runs["generator"] == "MST", "tstr_gap"].tolist() == [0.3]
    verdict = res["verdict"]
    assert verdict["whas500_eps1_tstr_gap"]["value"] == 0.3
    assert verdict["whas500_eps1_tstr_gap_plan"]["per_seed"] == plan.loc[plan["epsilon"] == 1.0, "tstr_gap"].tolist()
    with pytest.raises(ValueError, match="MST-plan needs a public measurement plan"):
        dp.make_generator("MST-plan", 1.0, 0, {})


def test_the_report_says_which_columns_were_measured_alone(whas):
    report = _fit(whas).privacy_report()
    assert "on the 10 columns in no pair" in report.loc["one-way", "noise"]
    assert "in no pair" not in _fit(whas, tree="fstat").privacy_report().loc["one-way", "noise"]


def test_fit_refuses_a_plan_with_a_cycle_or_an_unknown_column(whas):
    with pytest.raises(ValueError, match="closes a cycle"):
        _fit(whas, tree={("fstat", "lenfol"): 1, ("lenfol", "age"): 1, ("age", "fstat"): 1})
    with pytest.raises(ValueError, match="unknown column 'blood_sugar'"):
        _fit(whas, tree=[("fstat", "blood_sugar", 2.0)])
