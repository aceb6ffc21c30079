"""evaluate(): the tidy table, holdout references, leakage refusal, brackets end to end."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from course_utils.data import load_whas500, train_holdout_split
from course_utils.evaluation import report as R
from course_utils.generators.baselines import IndependentMarginals


@pytest.fixture(scope="module")
def whas():
    df, meta = load_whas500(return_metadata=True)
    train, holdout = train_holdout_split(df, test_size=0.4, random_state=0)
    indep = IndependentMarginals(random_state=0, verbose=False).fit(train, meta).sample(len(train))
    return train, holdout, indep, meta


@pytest.fixture(scope="module")
def indep_report(whas):
    train, holdout, indep, meta = whas
    return R.evaluate(train, indep, holdout, meta, target="fstat", n_bootstrap=50, detection_models=("gbm",))


def test_tidy_columns_and_families(indep_report):
    rep = indep_report
    assert list(rep.columns[:9]) == R.COLUMNS
    assert set(rep["family"]) <= set(R.FAMILIES)
    assert {"fidelity", "detection", "utility"} <= set(rep["family"])
    assert rep["interpretation"].map(lambda s: isinstance(s, str) and len(s) > 0).all()
    assert rep["metric"].notna().all() and rep["value"].notna().sum() > 0.95 * len(rep)
    fid = rep[rep["family"] == "fidelity"]
    assert fid["reference"].notna().all()  # every fidelity row has its holdout reference
    assert {"quality_score", "column_shapes", "column_pair_trends"} <= set(fid[fid["column"].isna()]["metric"])
    assert fid["column"].dropna().str.contains(" | ", regex=False).any()


def test_independent_marginals_flagged(indep_report):
    s = R.summary(indep_report)
    assert s.loc[("detection", "detection_auc_gbm"), "value"] > 0.65
    assert s.loc[("detection", "detection_auc_gbm"), "reference"] < 0.6
    assert s.loc[("utility", "tstr_auc"), "value"] < s.loc[("utility", "tstr_auc"), "reference"] - 0.15
    assert "worse" in s.loc[("utility", "tstr_auc"), "interpretation"]
    trends = s.loc[("fidelity", "column_pair_trends")]
    assert trends["value"] < trends["reference"]


def test_copied_training_rows_beat_the_holdout(whas):
    train, holdout, _, meta = whas
    rep = R.evaluate(train, train, holdout, meta, privacy=False, detection_models=("logistic",))
    s = R.summary(rep)
    q = s.loc[("fidelity", "quality_score")]
    assert q["value"] == pytest.approx(1.0) and q["reference"] < 0.97
    assert "closer to train" in q["interpretation"]
    assert s.loc[("detection", "detection_auc_logistic"), "value"] == pytest.approx(0.5)
    # a standardised pMSE near 0 is the signature of a copy, never "close to the holdout"
    sp = s.loc[("detection", "s_pmse")]
    assert sp["value"] < 0.1 and "copy" in sp["interpretation"]


def test_an_independent_sample_is_not_called_a_copy(whas, indep_report):
    s = R.summary(indep_report)
    assert "copy" not in s.loc[("detection", "s_pmse"), "interpretation"]


def test_privacy_rows_included_when_available(whas, indep_report):
    pytest.importorskip("course_utils.evaluation.privacy")
    assert (indep_report["family"] == "privacy").any()


def test_holdout_overlap_refused(whas):
    train, holdout, indep, meta = whas
    with pytest.raises(ValueError, match="holdout overlaps the training table"):
        R.evaluate(train, indep, train, meta, privacy=False)
    mostly = train.sample(frac=0.8, random_state=0)
    with pytest.raises(ValueError, match="exact copies"):
        R.check_holdout(train, mostly)
    some = holdout.copy()
    some.iloc[:30] = train.iloc[:30].to_numpy()
    with pytest.warns(UserWarning, match="exact copies of training rows"):
        info = R.check_holdout(train, some)
    assert info["n_copied"] >= 30
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert R.check_holdout(train, holdout)["share"] == 0.0


def test_duplicate_rows_within_train_are_tolerated():
    import pandas as pd

    rng = np.random.default_rng(0)
    coarse = pd.DataFrame({"a": rng.integers(0, 2, 400), "b": rng.integers(0, 2, 400)})
    train, holdout = coarse.iloc[:200], coarse.iloc[200:]
    info = R.check_holdout(train, holdout)  # every row repeats: no error, no overlap claim
    assert info["share"] == 1.0 and info["train_duplicate_share"] == 1.0


def test_bad_input(whas):
    train, holdout, indep, _ = whas
    with pytest.raises(ValueError, match="missing from the synthetic table: \\['age'\\]"):
        R.evaluate(train, indep.drop(columns="age"), holdout)
    with pytest.raises(ValueError, match="target column 'nope'"):
        R.evaluate(train, indep, holdout, target="nope", privacy=False)
    with pytest.raises(ValueError, match="holdout table is empty"):
        R.evaluate(train, indep, holdout.iloc[:0])
    bad = indep.astype({"bmi": float})
    bad["bmi"] = np.nan
    with pytest.raises(ValueError, match="bmi"):
        R.evaluate(train, bad, holdout)
    with pytest.raises(ValueError, match="evaluate"):
        R.summary(train)


def test_same_seed_same_report(whas):
    train, holdout, indep, meta = whas
    kw = dict(privacy=False, detection_models=("logistic",), target="fstat", n_bootstrap=20, random_state=4)
    a = R.evaluate(train, indep, holdout, meta, **kw)
    b = R.evaluate(train, indep, holdout, meta, **kw)
    assert a.equals(b)


def test_near_copies_push_detection_below_half(whas):
    train, holdout, _, meta = whas
    near = train.copy()
    rng = np.random.default_rng(0)
    for c in ("age", "hr", "sysbp"):
        near[c] = rng.permutation(near[c].to_numpy())
    rep = R.evaluate(train, near, holdout, meta, privacy=False, detection_models=("logistic",))
    row = R.summary(rep).loc[("detection", "detection_auc_logistic")]
    assert row["value"] < 0.4
    assert "near copies" in row["interpretation"]


def test_fidelity_verdict_compares_tables_of_the_holdout_size():
    from course_utils.generators import GaussianCopula

    df, meta = load_whas500(return_metadata=True)
    train, holdout = train_holdout_split(df, stratify="fstat", random_state=42)
    big = GaussianCopula(random_state=0).fit(train, meta).sample(2000)
    report = R.evaluate(train, big, holdout, meta, privacy=False, detection_models=("logistic",))
    fid = report[report["family"] == "fidelity"]
    assert fid["value_matched"].notna().all()
    quality = fid[fid["metric"] == "quality_score"].iloc[0]
    # a big table scores higher by size alone; the size-matched value is what is judged
    assert quality["value_matched"] < quality["value"]
    assert "closer to train" not in quality["interpretation"]
    same_size = R.evaluate(train, big.iloc[: len(holdout)], holdout, meta, privacy=False, detection_models=("logistic",))
    assert "value_matched" not in same_size.columns or same_size["value_matched"].isna().all()
