"""Survival utility: cross-checked against direct computations on small tables, and brackets on WHAS500."""

from __future__ import annotations

import itertools

import matplotlib
import numpy as np
import pandas as pd
import pytest

from course_utils.checks import whas500_split
from course_utils.evaluation.survival import (
    CoxModel,
    brier_scores,
    concordance_index,
    hazard_ratio_agreement,
    hazard_ratio_table,
    integrated_brier_score,
    kaplan_meier,
    km_max_gap,
    survival_report,
    survival_tstr,
)

matplotlib.use("Agg")

# a small table with censoring and one tied time
TIME = np.array([2.0, 3.0, 3.0, 5.0, 7.0, 8.0, 10.0, 12.0])
EVENT = np.array([1, 1, 0, 1, 0, 1, 1, 0])
RISK = np.array([2.0, 1.5, 0.3, 1.0, -0.5, 0.2, 0.2, -1.0])


@pytest.fixture(scope="module")
def split():
    return whas500_split()


def test_kaplan_meier_matches_a_hand_computation():
    km = kaplan_meier(TIME, EVENT)
    # at risk 8, 7, 5, 4, 3, 2, 1; deaths at 2, 3, 5, 8, 10
    expected = np.cumprod([1 - 1 / 8, 1 - 1 / 7, 1 - 1 / 5, 1, 1 - 1 / 3, 1 - 1 / 2, 1])
    assert km["time"].tolist() == [2, 3, 5, 7, 8, 10, 12]
    assert km["at_risk"].tolist() == [8, 7, 5, 4, 3, 2, 1]
    np.testing.assert_allclose(km["survival"], expected)


def test_kaplan_meier_agrees_with_lifelines(split):
    from lifelines import KaplanMeierFitter

    train, _, _ = split
    km = kaplan_meier(train["lenfol"], train["fstat"])
    ref = KaplanMeierFitter().fit(train["lenfol"], train["fstat"]).survival_function_
    np.testing.assert_allclose(km["survival"], ref.loc[km["time"], "KM_estimate"].to_numpy())


def _brute_force_c(time, event, risk):
    concordant, comparable = 0.0, 0
    for i, j in itertools.permutations(range(len(time)), 2):
        if event[i] and time[i] < time[j]:
            comparable += 1
            concordant += 1.0 if risk[i] > risk[j] else 0.5 if risk[i] == risk[j] else 0.0
    return concordant / comparable


def test_c_index_matches_pair_counting():
    # strictly distinct times: every convention about tied times agrees
    rng = np.random.default_rng(0)
    t = rng.permutation(np.arange(1.0, 41.0))
    e = rng.random(40) < 0.6
    r = np.round(-0.05 * t + rng.normal(0, 0.8, 40), 1)  # rounded: some tied risks
    assert concordance_index(t, e, r) == pytest.approx(_brute_force_c(t, e, r))
    assert concordance_index(t, e, -t) == pytest.approx(1.0)
    assert concordance_index(t, e, t) == pytest.approx(0.0)


def test_brier_score_without_censoring_is_the_mean_squared_error():
    t = np.array([1.0, 2.0, 3.0, 4.0])
    e = np.ones(4)
    S = np.array([[0.2, 0.1], [0.9, 0.3], [0.8, 0.7], [0.6, 0.5]])
    grid = np.array([1.5, 3.5])
    alive = (t[:, None] > grid[None, :]).astype(float)
    np.testing.assert_allclose(brier_scores(t, e, S, grid), ((alive - S) ** 2).mean(axis=0))


def test_brier_score_weights_censoring_like_graf():
    grid = np.array([4.0, 9.0])
    S = np.linspace(0.9, 0.2, len(TIME))[:, None] * np.array([[1.0, 0.8]])
    # censoring curve G by hand: censored at 3 (after the death at 3: 7 at risk), 7 (4), 12 (1)
    def G(s, left=False):
        g = 1.0
        for c, n in ((3, 7), (7, 4), (12, 1)):
            if c < s or (c == s and not left):
                g *= 1 - 1 / n
        return g

    expected = []
    for k, s in enumerate(grid):
        total = 0.0
        for i in range(len(TIME)):
            if EVENT[i] and TIME[i] <= s:
                total += S[i, k] ** 2 / G(TIME[i], left=True)
            elif TIME[i] > s:
                total += (1 - S[i, k]) ** 2 / G(s)
        expected.append(total / len(TIME))
    np.testing.assert_allclose(brier_scores(TIME, EVENT, S, grid), expected)
    ibs = integrated_brier_score(TIME, EVENT, S, grid)
    assert ibs == pytest.approx(np.mean(expected))  # two points: the trapezoid is their mean


def test_cox_model_reproduces_lifelines_and_reads_per_unit(split):
    from lifelines import CoxPHFitter

    train, _, meta = split
    hr = CoxModel(metadata=meta).fit(train).hazard_ratios()
    X = train.copy()
    for col in ("gender", "miord", "mitype"):
        X[col] = X[col].cat.codes
    ref = CoxPHFitter().fit(X, "lenfol", "fstat").summary
    np.testing.assert_allclose(hr.loc["age", "hr"], ref.loc["age", "exp(coef)"], rtol=1e-6)
    np.testing.assert_allclose(hr.loc["gender=female", "ci_low"], ref.loc["gender", "exp(coef) lower 95%"], rtol=1e-6)
    assert hr.loc["age", "hr"] > 1 and hr.loc["age", "p"] < 0.001  # older patients die sooner


def test_real_against_itself_agrees_fully(split):
    train, _, meta = split
    table = hazard_ratio_table(train, train, metadata=meta)
    np.testing.assert_allclose(table["overlap"], 1.0)
    assert hazard_ratio_agreement(table) == {"mean_overlap": 1.0, "share_within_real_ci": 1.0,
                                             "share_agree": 1.0, "n_covariates": 14}


def test_shuffled_outcome_loses_hazard_ratio_agreement(split):
    train, holdout, meta = split
    shuffled = train.copy()
    order = np.random.default_rng(0).permutation(len(train))
    shuffled[["lenfol", "fstat"]] = train[["lenfol", "fstat"]].to_numpy()[order]
    table = hazard_ratio_table(train, shuffled, metadata=meta)
    agree = hazard_ratio_agreement(table)
    assert agree["share_agree"] < 0.5
    assert agree["mean_overlap"] < 0.6
    # the strong predictors lose their effect
    assert not table.loc[["age", "chf", "sho"], "agrees"].all()
    scores = survival_tstr(train, shuffled, holdout, metadata=meta)
    assert scores.loc["TRTR", "c_index"] > 0.7
    assert scores.loc["TSTR", "c_index"] < 0.6
    assert scores.loc["TSTR", "integrated_brier"] > scores.loc["TRTR", "integrated_brier"]


def test_real_training_data_as_synthetic_matches_trtr(split):
    train, holdout, meta = split
    scores = survival_tstr(train, train, holdout, metadata=meta)
    assert scores.loc["TSTR"].tolist() == pytest.approx(scores.loc["TRTR"].tolist())


def test_km_gap_brackets(split):
    train, holdout, _ = split
    assert km_max_gap(train, train) == 0.0
    assert km_max_gap(train, holdout) < 0.15
    everyone_dies_early = train.assign(lenfol=1 + train["lenfol"] // 10, fstat=1)
    assert km_max_gap(train, everyone_dies_early) > 0.5


def test_report_has_references(split):
    train, holdout, meta = split
    report = survival_report(train, train, holdout, metadata=meta)
    assert (report["family"] == "survival").all()
    row = report.set_index("metric").loc["C-index TSTR"]
    assert row["value"] == pytest.approx(row["reference"])


def test_constant_covariate_is_dropped_not_fatal(split):
    train, _, meta = split
    synth = train.assign(av3=0)
    table = hazard_ratio_table(train, synth, metadata=meta)
    assert np.isnan(table.loc["av3", "hr_synthetic"]) and not table.loc["av3", "agrees"]


@pytest.mark.parametrize(
    ("change", "message"),
    [({"fstat": 2}, "'fstat'"), ({"lenfol": -1}, "'lenfol'"), ({"lenfol": np.nan}, "'lenfol'")],
)
def test_bad_outcome_columns_are_named(split, change, message):
    train, _, meta = split
    bad = train.assign(**change)
    with pytest.raises(ValueError, match=message):
        CoxModel(metadata=meta).fit(bad)


def test_missing_outcome_column_is_named(split):
    train, _, _ = split
    with pytest.raises(ValueError, match="'lenfol'"):
        CoxModel().fit(train.drop(columns="lenfol"))


def test_plot_kaplan_meier_draws_one_curve_per_table(split):
    from course_utils.plotting import plot_kaplan_meier

    train, holdout, _ = split
    ax = plot_kaplan_meier({"train": train, "holdout": holdout})
    assert len(ax.get_legend().get_texts()) == 2
    with pytest.raises(ValueError, match="'lenfol'"):
        plot_kaplan_meier({"x": pd.DataFrame({"fstat": [1]})})
