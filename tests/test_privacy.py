"""Tests of the privacy metrics: worked examples with known answers and brackets on WHAS500.

Brackets: the training table itself as "synthetic" (a generator that copies),
training rows with small noise (near copies), an independent sample of the same
population (a perfect generator: neutral), and IndependentMarginals output (new rows
that break every relationship: private but unfaithful).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from course_utils.data import load_whas500, train_holdout_split
from course_utils.evaluation.privacy import (
    attribute_inference,
    check_holdout,
    dcr,
    entropy_weights,
    epsilon_identifiability,
    exact_match_rate,
    membership_inference,
    nnaa,
    nndr,
    privacy_report,
    quasi_identifier_uniqueness,
)
from course_utils.generators.baselines import IndependentMarginals

NUMERIC = ["age", "bmi", "hr", "sysbp", "diasbp", "los", "lenfol"]


@pytest.fixture(scope="module")
def whas():
    return load_whas500()


@pytest.fixture(scope="module")
def split(whas):
    return train_holdout_split(whas, test_size=0.3, random_state=0)


@pytest.fixture(scope="module")
def fresh(whas):
    """(train, synthetic, holdout): three disjoint samples of the same population."""
    a, b = train_holdout_split(whas, test_size=0.5, random_state=1)
    s, h = train_holdout_split(b, test_size=0.5, random_state=2)
    return a, s, h


@pytest.fixture(scope="module")
def noisy(split):
    train, _ = split
    rng = np.random.default_rng(0)
    out = train.copy()
    for c in NUMERIC:
        span = train[c].max() - train[c].min()
        out[c] = train[c] + rng.normal(0, 0.01 * span, len(train))
        if c != "bmi":
            out[c] = out[c].round().astype(int)
    return out


@pytest.fixture(scope="module")
def marginals(split):
    train, _ = split
    return IndependentMarginals(random_state=0, verbose=False).fit(train).sample(len(train))


def report_values(train, synthetic, holdout, **kw):
    return privacy_report(train, synthetic, holdout, **kw).set_index("metric")["value"]


@pytest.fixture(scope="module")
def reports(split, fresh, noisy, marginals):
    train, holdout = split
    return {
        "copy": report_values(train, train, holdout),
        "noisy": report_values(train, noisy, holdout),
        "fresh": report_values(*fresh),
        "marginals": report_values(train, marginals, holdout),
    }


# ---------------------------------------------------------------------------------
# worked examples
# ---------------------------------------------------------------------------------
def one_column(values):
    return pd.DataFrame({"x": np.asarray(values, dtype=float)})


def test_dcr_share_worked_example():
    train = one_column([0, 10])
    holdout = one_column([4, 8])
    # nearest train / nearest holdout: 1 vs 3 (train), 2 vs 2 (tie: one half),
    # 4 vs 2 (holdout), 0.5 vs 1.5 (train)  ->  (1 + 0.5 + 0 + 1) / 4
    synthetic = one_column([1, 2, 6, 9.5])
    res = dcr(train, synthetic, holdout)
    assert res.share_closer_to_train_raw == pytest.approx(0.625)
    assert res.share_closer_to_train == pytest.approx(0.625)  # equal sizes: no adjustment
    np.testing.assert_allclose(res.synthetic_to_train, [0.1, 0.2, 0.4, 0.05])  # range 10
    np.testing.assert_allclose(res.holdout_to_train, [0.4, 0.2])
    np.testing.assert_allclose(res.synthetic_to_holdout, [0.3, 0.2, 0.2, 0.15])


def test_dcr_share_size_adjustment():
    train = one_column([0, 10, 20])
    holdout = one_column([4, 8])
    synthetic = one_column([1, 2, 6, 9.5])
    res = dcr(train, synthetic, holdout)
    # 9.5 is now nearer train (10) than holdout (8); the rest as before
    s, p0 = 0.625, 3 / 5
    assert res.share_closer_to_train_raw == pytest.approx(s)
    assert res.expected_share_raw == pytest.approx(p0)
    assert res.share_closer_to_train == pytest.approx(s * (1 - p0) / (s * (1 - p0) + (1 - s) * p0))


def test_nnaa_worked_example():
    train = one_column([0, 1, 10, 11])
    synthetic = one_column([0.4, 5, 12.5, 20])
    # training rows: d_TT = 1 each; d_TS = 0.4, 0.6, 2.5, 1.5 -> right (d_TS > d_TT) for 10, 11: 2/4
    # synthetic rows: d_SS = 4.6, 4.6, 7.5, 7.5; d_ST = 0.4, 4, 1.5, 9 -> right only for 20: 1/4
    res = nnaa(train, synthetic)
    assert res["train_synthetic"] == pytest.approx(0.5 * (0.5 + 0.25))
    assert np.isnan(res["privacy_loss"])


def test_epsilon_identifiability_worked_example():
    train = one_column([0, 1, 10, 11])
    synthetic = one_column([0.4, 5, 12.5, 20])
    # r_i = 1 for every training row; closest synthetic: 0.4, 0.6, 2.5, 1.5 -> 2 of 4 closer
    res = epsilon_identifiability(train, synthetic)
    assert res["synthetic"] == pytest.approx(0.5)
    assert res["expected"] == pytest.approx(4 / 7)


def test_epsilon_identifiability_uses_entropy_weights():
    train = pd.DataFrame(
        {"x": [0.0, 3.0, 1.0, 4.0, 5.0, 2.0], "f": [0, 0, 0, 0, 0, 1], "g": [0, 1, 0, 0, 1, 0]}
    )
    w = entropy_weights(train)
    assert w["x"] == pytest.approx(1 / np.log(6))
    assert w["f"] == pytest.approx(1 / -(5 / 6 * np.log(5 / 6) + 1 / 6 * np.log(1 / 6)))
    assert w["g"] == pytest.approx(1 / -(1 / 3 * np.log(1 / 3) + 2 / 3 * np.log(2 / 3)))
    synthetic = pd.DataFrame({"x": [0.5, 1.5], "f": [1, 0], "g": [1, 1]})
    # Unweighted, only patient 1 (x=3, g=1) has the synthetic row (1.5, 0, 1) closer
    # (0.3) than another patient (0.4): risk 1/6. The rare flag f gets the largest
    # weight, which pushes patient 5 (the only f=1) away from every other patient
    # (2.22) while the synthetic row sharing that flag stays at 1.58: risk 2/6.
    res = epsilon_identifiability(train, synthetic)
    assert res["synthetic"] == pytest.approx(2 / 6)
    assert res["expected"] == pytest.approx(2 / 7)


def test_nndr_worked_example():
    train = one_column([0, 10, 40])
    synthetic = one_column([1, 25])
    res = nndr(train, synthetic)
    np.testing.assert_allclose(res["synthetic"], [1 / 9, 15 / 15])


def test_uniqueness_worked_example():
    train = pd.DataFrame({"sex": ["f", "f", "m", "m", "m"], "smoker": [0, 1, 0, 0, 1]})
    synthetic = pd.DataFrame({"sex": ["f", "m", "m", "f"], "smoker": [1, 0, 0, 0]})
    res = quasi_identifier_uniqueness(train, synthetic, ["sex", "smoker"]).loc["synthetic"]
    # synthetic groups: (f,1) x1, (m,0) x2, (f,0) x1 -> 2 unique rows, k = 1
    assert res["unique_share"] == pytest.approx(0.5)
    assert res["k_anonymity"] == 1
    # training uniques: (f,0), (f,1), (m,1); both synthetic uniques match one
    assert res["unique_matches"] == 2


def test_exact_match_worked_example():
    train = pd.DataFrame({"x": [1.0, 2.0, np.nan], "c": ["a", "b", "a"]})
    synthetic = pd.DataFrame({"x": [1.0, np.nan, 2.0, 2.0], "c": ["a", "a", "a", "b"]})
    res = exact_match_rate(train, synthetic)
    assert res["synthetic"] == pytest.approx(3 / 4)  # (1,a), (nan,a), (2,b)


# ---------------------------------------------------------------------------------
# brackets on WHAS500
# ---------------------------------------------------------------------------------
def test_training_copy_bracket(reports):
    r = reports["copy"]
    assert r["exact_match_rate"] == 1.0
    assert r["dcr_share_closer_to_train"] > 0.95
    assert r["dcr_p5_ratio"] < 0.05
    assert r["nndr_mean"] < 0.05
    assert r["nnaa"] < 0.05
    assert r["nnaa_privacy_loss"] > 0.3
    assert r["epsilon_identifiability"] > 0.9
    assert r["membership_distance_auc"] > 0.95
    assert r["membership_density_auc"] > 0.75
    assert r["membership_density_ratio_auc"] > 0.55


def test_noisy_copies_bracket(reports):
    r = reports["noisy"]
    assert r["exact_match_rate"] < 0.05  # noise hides exact copies...
    assert r["dcr_share_closer_to_train"] > 0.9  # ...but not from the distance metrics
    assert r["dcr_p5_ratio"] < 0.3
    assert r["nndr_mean"] < 0.3
    assert r["nnaa"] < 0.1
    assert r["epsilon_identifiability"] > 0.9
    assert r["membership_distance_auc"] > 0.9


def test_independent_sample_is_neutral(reports):
    r = reports["fresh"]
    assert r["exact_match_rate"] == 0.0
    assert 0.35 < r["dcr_share_closer_to_train"] < 0.65
    assert 0.6 < r["dcr_p5_ratio"] < 1.6
    assert 0.4 < r["nnaa"] < 0.6
    assert abs(r["nnaa_privacy_loss"]) < 0.12
    assert 0.4 < r["membership_distance_auc"] < 0.6
    assert 0.4 < r["membership_density_auc"] < 0.6
    assert 0.35 < r["membership_density_ratio_auc"] < 0.65


def test_independent_sample_matches_expected_identifiability(fresh):
    res = epsilon_identifiability(*fresh)
    assert abs(res["synthetic"] - res["expected"]) < 0.1
    assert abs(res["holdout_rescaled"] - res["expected"]) < 0.1


def test_independent_marginals_bracket(reports, split):
    r = reports["marginals"]
    assert r["exact_match_rate"] < 0.02
    assert 0.35 < r["dcr_share_closer_to_train"] < 0.65
    assert r["dcr_p5_ratio"] > 0.8
    assert r["nnaa"] > 0.55  # easy to tell apart: relationships are gone
    assert 0.4 < r["membership_distance_auc"] < 0.6
    assert 0.4 < r["membership_density_auc"] < 0.6


def test_nndr_reference_close_to_synthetic_for_fresh_sample(fresh):
    res = nndr(*fresh)
    assert abs(res["synthetic_mean"] - res["holdout_mean"]) < 0.1


def test_membership_inference_direct(split):
    train, holdout = split
    res = membership_inference(train, train, holdout)
    assert res["distance_auc"] == pytest.approx(1.0)


def test_attribute_inference_leak_and_reference(split, fresh):
    train, holdout = split
    copy = attribute_inference(train, train, holdout, keys=["age", "gender", "sysbp"], sensitive="chf")
    assert len(copy) == 1
    assert copy["synthetic_accuracy"].iloc[0] > 0.95
    assert copy["gain"].iloc[0] > 0.2
    neutral = attribute_inference(*fresh, n_repeats=8, random_state=3)
    assert len(neutral) == 8
    assert abs(neutral["gain"].mean()) < 0.08
    numeric = attribute_inference(train, train, holdout, keys=["hr", "sysbp", "diasbp"], sensitive="bmi")
    assert numeric["synthetic_accuracy"].iloc[0] > 0.95


def test_report_is_tidy(split, marginals):
    train, holdout = split
    rep = privacy_report(train, marginals, holdout, quasi_identifiers=["age", "gender", "bmi"])
    assert list(rep.columns) == ["metric", "family", "column", "value", "ideal", "reference", "interpretation"]
    assert (rep["family"] == "privacy").all()
    assert rep["metric"].is_unique
    assert rep["interpretation"].str.len().gt(10).all()
    assert rep.set_index("metric").loc["qi_unique_share", "column"] == "age, gender, bmi"
    ref = rep.set_index("metric")["reference"]
    assert 0.35 < ref["nnaa"] < 0.65  # holdout in the synthetic role
    assert ref["exact_match_rate"] == 0.0


def test_same_seed_same_output(split, marginals):
    train, holdout = split
    a = privacy_report(train, marginals, holdout, random_state=5)
    b = privacy_report(train, marginals, holdout, random_state=5)
    pd.testing.assert_frame_equal(a, b)
    # nnaa subsamples (holdout smaller than synthetic): the seed decides which rows
    n1 = nnaa(train, marginals, holdout, random_state=1)
    n2 = nnaa(train, marginals, holdout, random_state=1)
    assert n1 == n2
    m1 = membership_inference(train, marginals, holdout, random_state=2)
    assert m1 == membership_inference(train, marginals, holdout, random_state=2)


# ---------------------------------------------------------------------------------
# bad input
# ---------------------------------------------------------------------------------
def test_mismatched_columns(split):
    train, holdout = split
    with pytest.raises(ValueError, match="synthetic table.*missing columns \\['bmi'\\]"):
        privacy_report(train, train.drop(columns="bmi"), holdout)
    with pytest.raises(ValueError, match="holdout table.*unexpected columns \\['id'\\]"):
        dcr(train, train, holdout.assign(id=1))


def test_empty_tables(split):
    train, holdout = split
    with pytest.raises(ValueError, match="synthetic table is empty"):
        dcr(train, train.iloc[:0], holdout)
    with pytest.raises(ValueError, match="training table is empty"):
        nnaa(train.iloc[:0], train)
    with pytest.raises(ValueError, match="holdout"):
        privacy_report(train, train, None)


def test_all_missing_column(split):
    train, holdout = split
    with pytest.raises(ValueError, match="'bmi'.*every value is missing"):
        exact_match_rate(train.assign(bmi=np.nan), train, holdout)
    # missing values where training had none cannot be placed
    with pytest.raises(ValueError, match="'bmi'.*missing"):
        dcr(train, train.assign(bmi=np.nan), holdout)


def test_holdout_overlapping_train(split):
    train, holdout = split
    with pytest.raises(ValueError, match="holdout overlaps the training table"):
        privacy_report(train, train, train.iloc[:100])
    leaky = pd.concat([holdout.iloc[:120], train.iloc[:30]], ignore_index=True)
    with pytest.warns(UserWarning, match="exact copies of training rows"):
        info = check_holdout(train, leaky)
    assert info["share"] == pytest.approx(30 / 150) and info["n_copied"] == 30
    with pytest.warns(UserWarning, match="exact copies of training rows"):
        dcr(train, holdout, leaky)  # every privacy metric runs the same check
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert check_holdout(train, holdout)["share"] == 0.0


def test_bad_arguments(split):
    train, holdout = split
    with pytest.raises(ValueError, match="'nope'"):
        attribute_inference(train, train, holdout, keys=["nope"], sensitive="chf")
    with pytest.raises(ValueError, match="sensitive"):
        attribute_inference(train, train, holdout, keys=["chf"], sensitive="chf")
    with pytest.raises(ValueError, match="quasi-identifier 'nope'"):
        quasi_identifier_uniqueness(train, train, ["nope"])
    with pytest.raises(ValueError, match="at least one column"):
        quasi_identifier_uniqueness(train, train, [])
    with pytest.raises(ValueError, match="at least 2 rows"):
        nnaa(train, train.iloc[:1])


# ---------------------------------------------------------------------------------
# speed-ups that must not change the figures
# ---------------------------------------------------------------------------------
def test_kernel_density_is_exact():
    from scipy.spatial.distance import cdist
    from scipy.special import logsumexp

    from course_utils.evaluation.privacy import _fit_kde

    rng = np.random.default_rng(0)
    X = rng.random((300, 8))
    Y = np.r_[rng.random((100, 8)), X[:20], X[:5] + 5.0]  # copies and far-away rows
    h = 0.07
    want = (logsumexp(-cdist(Y, X, "sqeuclidean") / (2 * h * h), axis=1)
            - np.log(len(X)) - 4 * np.log(2 * np.pi) - 8 * np.log(h))
    for n_jobs in (1, 2):
        np.testing.assert_allclose(_fit_kde(X, h, n_jobs).score_samples(Y), want, rtol=1e-9, atol=1e-9)


def test_caps_above_the_table_size_change_nothing(split, marginals):
    train, holdout = split
    a = nnaa(train, marginals, holdout, random_state=1)
    assert nnaa(train, marginals, holdout, random_state=1, max_rows=len(train)) == a
    b = attribute_inference(train, marginals, holdout, n_repeats=3, random_state=2)
    c = attribute_inference(train, marginals, holdout, n_repeats=3, random_state=2, max_rows=len(train))
    pd.testing.assert_frame_equal(b, c)
    r1 = privacy_report(train, marginals, holdout, random_state=4, max_rows=None)
    r2 = privacy_report(train, marginals, holdout, random_state=4, n_jobs=2)
    pd.testing.assert_frame_equal(r1, r2)
    assert not r2["interpretation"].str.contains("random rows").any()


def test_caps_below_the_table_size_estimate_the_same_thing(split, fresh):
    train, holdout = split
    full = nnaa(train, train, holdout, random_state=0)
    capped = nnaa(train, train, holdout, random_state=0, max_rows=100)
    assert capped == nnaa(train, train, holdout, random_state=0, max_rows=100)  # seeded
    assert capped != full  # the cap did subsample
    assert capped["train_synthetic"] < 0.1 < 0.35 < capped["train_holdout"] < 0.65  # copies still show
    keys = ["age", "gender", "sysbp"]
    ai_full = attribute_inference(train, train, holdout, keys=keys, sensitive="chf")
    ai_cap = attribute_inference(train, train, holdout, keys=keys, sensitive="chf", max_rows=150)
    assert ai_cap["synthetic_accuracy"].iloc[0] > 0.95
    assert abs(ai_cap["holdout_accuracy"].iloc[0] - ai_full["holdout_accuracy"].iloc[0]) < 0.12
    rep = privacy_report(train, train.sample(frac=1.0, random_state=0), holdout, max_rows=100).set_index("metric")
    assert "100 random rows per table" in rep.loc["nnaa", "interpretation"]
    assert "100 random training patients" in rep.loc["attribute_inference_accuracy", "interpretation"]
    assert "random rows" not in rep.loc["dcr_median", "interpretation"]  # DCR always uses every row
    assert rep.loc["nnaa", "value"] < 0.1 and rep.loc["membership_distance_auc", "value"] > 0.9


def test_bad_caps(split):
    train, holdout = split
    for bad in (0, 1, 2.5, True, "10"):
        with pytest.raises(ValueError, match="max_rows"):
            privacy_report(train, train, holdout, max_rows=bad)
    with pytest.raises(ValueError, match="max_rows"):
        membership_inference(train, train, holdout, max_rows=None)
    with pytest.raises(ValueError, match="max_rows"):
        attribute_inference(train, train, holdout, max_rows=-3)
