"""Utility: the encoder, TRTR vs TSTR with bootstrap intervals, importances, CI overlap."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.metrics import (
    accuracy_score,
    brier_score_loss,
    f1_score,
    mean_absolute_error,
    r2_score,
    roc_auc_score,
)

from course_utils.data import load_whas500, train_holdout_split
from course_utils.evaluation import utility as U
from course_utils.generators.baselines import IndependentMarginals


@pytest.fixture(scope="module")
def whas():
    df, meta = load_whas500(return_metadata=True)
    train, holdout = train_holdout_split(df, test_size=0.4, random_state=0)
    indep = IndependentMarginals(random_state=0, verbose=False).fit(train, meta).sample(len(train))
    return train, holdout, indep, meta


# ---------------------------------------------------------------- encoder
def test_encoder_one_hot_missing_indicator_and_unseen_level():
    df = pd.DataFrame({
        "x": [1.0, np.nan, 3.0, 5.0],
        "c": pd.Categorical(["a", "b", None, "a"], categories=["a", "b"]),
        "f": [0, 1, 1, 0],
    })
    enc = U.TableEncoder(scale=False).fit(df)
    assert enc.feature_names_ == ["x", "c=a", "c=b", "f", "x__missing", "c__missing"]
    Z = enc.transform(df)
    assert Z.shape == (4, 6)
    assert Z[1, 0] == 3.0 and Z[1, 4] == 1.0  # median fill + indicator
    assert list(Z[2, 1:3]) == [0.0, 0.0] and Z[2, 5] == 1.0
    new = pd.DataFrame({"f": [1], "c": ["z"], "x": [2.0]})  # other order, unseen level
    assert list(enc.transform(new)[0]) == [2.0, 0.0, 0.0, 1.0, 0.0, 0.0]
    assert U.TableEncoder(drop_first=True).fit(df).feature_names_ == ["x", "c=b", "f", "x__missing", "c__missing"]
    scaled = U.encode(df)
    assert scaled["x"].mean() == pytest.approx(0.0) and scaled["x"].std(ddof=0) == pytest.approx(1.0)


def test_encoder_errors():
    df = pd.DataFrame({"x": [1.0, 2.0]})
    with pytest.raises(NotFittedError):
        U.TableEncoder().transform(df)
    with pytest.raises(ValueError, match="'y'"):
        U.TableEncoder().fit(df.assign(y=2.0)).transform(df)
    with pytest.raises(ValueError, match="every value is missing"):
        U.TableEncoder().fit(pd.DataFrame({"x": [np.nan, np.nan]}, dtype=float))


def test_scores_match_scikit_learn():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 300)
    p = np.clip(0.3 * y + rng.random(300) * 0.7, 0, 1)
    s = U._scores("classification", y, p)
    hard = (p >= 0.5).astype(int)
    assert s["auc"] == pytest.approx(roc_auc_score(y, p))
    assert s["accuracy"] == pytest.approx(accuracy_score(y, hard))
    assert s["f1"] == pytest.approx(f1_score(y, hard))
    assert s["brier"] == pytest.approx(brier_score_loss(y, p))
    assert s["sensitivity"] == pytest.approx(np.mean(hard[y == 1] == 1))
    assert s["specificity"] == pytest.approx(np.mean(hard[y == 0] == 0))
    t = rng.normal(size=200)
    q = t + rng.normal(size=200)
    r = U._scores("regression", t, q)
    assert r["r2"] == pytest.approx(r2_score(t, q)) and r["mae"] == pytest.approx(mean_absolute_error(t, q))


# ---------------------------------------------------------------- TRTR vs TSTR
def test_tstr_train_as_synthetic_matches_trtr(whas):
    train, holdout, _, _ = whas
    res = U.tstr(train, train, holdout, "fstat", n_bootstrap=50)
    diff = res[res["trained_on"] == "difference"]
    assert np.allclose(diff["value"], 0) and np.allclose(diff[["ci_low", "ci_high"]], 0)
    real_auc = res.query("metric == 'auc' and trained_on == 'real'").iloc[0]
    assert 0.75 < real_auc["value"] < 0.95
    assert real_auc["ci_low"] < real_auc["value"] < real_auc["ci_high"]


def test_tstr_independent_marginals_clearly_worse(whas):
    train, holdout, indep, _ = whas
    res = U.tstr(train, indep, holdout, "fstat", n_bootstrap=100).set_index(["metric", "trained_on"])
    assert res.loc[("auc", "synthetic"), "value"] < res.loc[("auc", "real"), "value"] - 0.15
    assert res.loc[("auc", "difference"), "ci_high"] < 0  # the paired interval excludes 0


def test_tstr_independent_real_sample_close(whas):
    train, holdout, _, _ = whas
    other, test = train_holdout_split(holdout, test_size=0.5, random_state=1)
    res = U.tstr(train, other, test, "fstat", n_bootstrap=100).set_index(["metric", "trained_on"])
    lo, hi = res.loc[("auc", "difference"), ["ci_low", "ci_high"]]
    assert lo < 0.02 and res.loc[("auc", "difference"), "value"] > -0.15


def test_tstr_regression_and_seed(whas):
    train, holdout, indep, _ = whas
    a = U.tstr(train, indep, holdout, "lenfol", n_bootstrap=30, random_state=3)
    b = U.tstr(train, indep, holdout, "lenfol", n_bootstrap=30, random_state=3)
    pd.testing.assert_frame_equal(a, b)
    assert set(a["metric"]) == {"r2", "mae"}
    assert (a.query("metric == 'r2' and trained_on == 'real'")["value"] > 0.1).all()


def test_tstr_bad_input(whas, mixed_table):
    train, holdout, _, _ = whas
    single = train.assign(fstat=0)
    with pytest.raises(ValueError, match="'fstat' has a single class.*synthetic"):
        U.tstr(train, single, holdout, "fstat")
    with pytest.raises(ValueError, match="target column 'nope'"):
        U.tstr(train, train, holdout, "nope")
    multi = mixed_table(300, 0)
    with pytest.raises(ValueError, match="3 classes"):
        U.tstr(multi, multi, mixed_table(300, 1), "mitype")


# ---------------------------------------------------------------- importances
def test_importance_agreement_brackets(whas):
    train, holdout, indep, _ = whas
    same = U.feature_importance(train, train, holdout, "fstat", n_repeats=3)
    assert U.importance_agreement(same) == pytest.approx(1.0)
    assert same.sort_values("rank_real").iloc[0]["feature"] in {"lenfol", "age"}
    broken = U.feature_importance(train, indep, holdout, "fstat", n_repeats=3)
    assert U.importance_agreement(broken) < 0.6


# ---------------------------------------------------------------- CI overlap
def test_ci_overlap_identical_is_one(whas):
    train, _, _, _ = whas
    res = U.ci_overlap(train, train, "fstat")
    assert np.allclose(res["overlap"], 1.0) and np.allclose(res["std_diff"], 0.0)
    assert res["term"].iloc[0] == "(intercept)" and "gender=female" in set(res["term"])


def test_wald_se_matches_closed_form_for_one_binary_predictor():
    # logistic regression on one 0/1 predictor: beta = log odds ratio,
    # se = sqrt(1/a + 1/b + 1/c + 1/d) from the 2x2 table
    a, b, c, d = 40, 60, 70, 30  # x=0: y=1 a, y=0 b; x=1: y=1 c, y=0 d
    x = np.r_[np.zeros(a + b), np.ones(c + d)]
    y = np.r_[np.ones(a), np.zeros(b), np.ones(c), np.zeros(d)]
    df = pd.DataFrame({"x": x.astype(int), "y": y.astype(int)})
    res = U.ci_overlap(df, df, "y").set_index("term")
    sd = df["x"].std(ddof=0)  # the encoder standardises numbers
    assert res.loc["x", "coef_real"] / sd == pytest.approx(np.log((c / d) / (a / b)), rel=1e-4)
    assert res.loc["x", "se_real"] / sd == pytest.approx(np.sqrt(1 / a + 1 / b + 1 / c + 1 / d), rel=1e-3)


def test_ci_overlap_brackets(whas):
    train, holdout, indep, _ = whas
    ref = U.ci_overlap(train, holdout, "fstat")["overlap"].mean()
    bad = U.ci_overlap(train, indep, "fstat")["overlap"].mean()
    assert ref > 0.5
    assert bad < ref - 0.1
    # shuffling the strongest predictor moves its interval away from the real one
    shuffled = train.assign(lenfol=train["lenfol"].sample(frac=1, random_state=0).to_numpy())
    far = U.ci_overlap(train, shuffled, "fstat").set_index("term")
    assert far.loc["lenfol", "overlap"] < 0 and far.loc["lenfol", "std_diff"] > 3
