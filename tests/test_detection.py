"""Classifier two-sample test and pMSE: brackets, a direct pMSE computation, bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from course_utils.evaluation import detection as D
from course_utils.evaluation.utility import TableEncoder
from course_utils.generators.baselines import IndependentMarginals


@pytest.fixture(scope="module")
def tables(mixed_table):
    real = mixed_table(1200, 0)
    holdout = mixed_table(1200, 1)
    indep = IndependentMarginals(random_state=0, verbose=False).fit(real).sample(1200)
    return real, holdout, indep


def test_copied_rows_give_exactly_half(tables):
    real, _, _ = tables
    copy = real.sample(frac=1.0, random_state=1)
    for model in ("logistic", "gbm"):
        assert D.detection_auc(real, copy, model, cv=3) == pytest.approx(0.5)
    assert D.pmse(real, copy) == pytest.approx(0.0, abs=1e-10)


def test_independent_sample_near_half(tables):
    real, holdout, _ = tables
    for model in ("logistic", "gbm"):
        auc = D.detection_auc(real, holdout, model, cv=3)
        assert 0.42 < auc < 0.58, (model, auc)


def test_independent_marginals_detected_by_boosting(tables):
    real, holdout, indep = tables
    auc_gbm = D.detection_auc(real, indep, "gbm", cv=3)
    assert auc_gbm > 0.75
    assert auc_gbm > D.detection_auc(real, holdout, "gbm", cv=3) + 0.2


def test_shifted_column_detected_by_logistic(tables):
    real, holdout, _ = tables
    shifted = holdout.assign(sysbp=holdout["sysbp"] + 15)
    assert D.detection_auc(real, shifted, "logistic", cv=3) > 0.7


def test_pmse_matches_direct_computation(tables):
    real, _, indep = tables
    syn = indep.iloc[:800]
    X = pd.concat([real, syn], ignore_index=True)
    y = np.r_[np.zeros(len(real)), np.ones(len(syn))]
    Z = TableEncoder(drop_first=True).fit_transform(X)
    p = LogisticRegression(C=np.inf, max_iter=5000).fit(Z, y).predict_proba(Z)[:, 1]
    c = len(syn) / len(X)
    direct = np.mean((p - c) ** 2)
    rep = D.pmse_report(real, syn)
    assert rep["pmse"] == pytest.approx(direct, rel=1e-4)
    assert rep["c"] == pytest.approx(c)
    assert rep["k"] == Z.shape[1] + 1
    expected = (rep["k"] - 1) * (1 - c) ** 2 * c / len(X)
    assert rep["expected"] == pytest.approx(expected)
    assert rep["s_pmse"] == pytest.approx(direct / expected, rel=1e-4)


def test_s_pmse_is_about_one_under_the_null(mixed_table):
    values = [D.s_pmse(mixed_table(600, s), mixed_table(600, 100 + s)) for s in range(4)]
    assert 0.5 < np.mean(values) < 2.0, values


def test_s_pmse_large_for_a_shift(tables):
    real, holdout, _ = tables
    assert D.s_pmse(real, holdout.assign(age=holdout["age"] + 5)) > 10


def test_same_seed_same_value_and_cap(tables):
    real, holdout, _ = tables
    a = D.detection_auc(real, holdout, "gbm", cv=3, max_rows=300, random_state=5)
    b = D.detection_auc(real, holdout, "gbm", cv=3, max_rows=300, random_state=5)
    assert a == b
    assert D.pmse_report(real, holdout, max_rows=300)["n"] == 600


def test_bad_input(tables):
    real, holdout, _ = tables
    with pytest.raises(ValueError, match="missing from the synthetic table"):
        D.detection_auc(real, holdout.drop(columns="sex"))
    with pytest.raises(ValueError, match="model must be"):
        D.detection_auc(real, holdout, model="forest")
    with pytest.raises(ValueError, match="is empty"):
        D.pmse(real, holdout.iloc[:0])
    with pytest.raises(ValueError, match="at least cv=5"):
        D.detection_auc(real, holdout.iloc[:3])
