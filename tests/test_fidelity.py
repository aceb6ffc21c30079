"""Fidelity metrics: SDMetrics cross-checks, brackets, bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from course_utils.evaluation import fidelity as F
from course_utils.generators.baselines import IndependentMarginals


@pytest.fixture(scope="module")
def tables(mixed_table):
    real = mixed_table(1500, 0)
    holdout = mixed_table(1500, 1)
    indep = IndependentMarginals(random_state=0, verbose=False).fit(real).sample(1500)
    return real, holdout, indep


@pytest.fixture(scope="module")
def fixed():
    """Fixed frames with ties, missing values and unseen levels for the cross-checks."""
    rng = np.random.default_rng(7)
    n, m = 400, 300

    def frame(k, shift):
        x = rng.normal(shift, 1, k)
        y = 0.6 * x + rng.normal(0, 1, k)
        a = rng.choice(["a", "b", "c"], k, p=[0.5, 0.3, 0.2])
        b = rng.choice(["u", "v"], k)
        z = rng.integers(0, 7, k).astype(float)
        x[rng.random(k) < 0.1] = np.nan
        return pd.DataFrame({"x": x, "y": y, "a": a, "b": b, "z": z})

    real, syn = frame(n, 0.0), frame(m, 0.3)
    syn.loc[:4, "a"] = "d"  # a level the real data lacks
    return real, syn


# ---------------------------------------------------------------- SDMetrics cross-checks
def test_ks_complement_matches_sdmetrics(fixed):
    from sdmetrics.single_column import KSComplement

    real, syn = fixed
    for c in ("x", "y", "z"):
        assert F.ks_complement(real[c], syn[c]) == pytest.approx(KSComplement.compute(real[c], syn[c]), abs=1e-9)


def test_tv_complement_matches_sdmetrics(fixed):
    from sdmetrics.single_column import TVComplement

    real, syn = fixed
    for c in ("a", "b", "z"):
        assert F.tv_complement(real[c], syn[c]) == pytest.approx(TVComplement.compute(real[c], syn[c]), abs=1e-6)


@pytest.mark.parametrize("method", ["Pearson", "Spearman"])
def test_correlation_similarity_matches_sdmetrics(fixed, method):
    from sdmetrics.column_pairs import CorrelationSimilarity

    real, syn = fixed
    ours = F.correlation_similarity(real[["x", "y"]], syn[["x", "y"]], method=method.lower())
    theirs = CorrelationSimilarity.compute(real[["x", "y"]], syn[["x", "y"]], coefficient=method)
    assert ours == pytest.approx(theirs, abs=1e-9)


def test_contingency_similarity_matches_sdmetrics(fixed):
    from sdmetrics.column_pairs import ContingencySimilarity

    real, syn = fixed
    ours = F.contingency_similarity(real[["a", "b"]], syn[["a", "b"]])
    theirs = ContingencySimilarity.compute(real[["a", "b"]], syn[["a", "b"]], num_rows_subsample=None)
    assert ours == pytest.approx(theirs, abs=1e-9)
    # mixed pair: the numeric column is binned on the real range, missing in its own bin
    ours = F.contingency_similarity(real[["x", "a"]], syn[["x", "a"]], numeric=["x"])
    theirs = ContingencySimilarity.compute(
        real[["x", "a"]], syn[["x", "a"]], continuous_column_names=["x"], num_rows_subsample=None
    )
    assert ours == pytest.approx(theirs, abs=1e-9)


def test_pair_table_agrees_with_pair_functions(fixed):
    real, syn = fixed
    rows = F.pair_metrics(real, syn).set_index(["metric", "column"])["value"]
    assert rows["pearson_similarity", "x | y"] == pytest.approx(
        F.correlation_similarity(real[["x", "y"]], syn[["x", "y"]]), abs=1e-12
    )
    assert rows["contingency_similarity", "a | b"] == pytest.approx(
        F.contingency_similarity(real[["a", "b"]], syn[["a", "b"]]), abs=1e-12
    )


# ---------------------------------------------------------------- single-column cards
def test_column_metric_values():
    r = pd.Series(np.linspace(0, 10, 101))
    assert F.wasserstein(r, r + 1.0) == pytest.approx(0.1)
    assert F.range_coverage(r, pd.Series([2.0, 8.0])) == pytest.approx(0.6)
    assert F.range_coverage(r, pd.Series([-5.0, 20.0])) == 1.0
    assert F.category_coverage(pd.Series(list("abcd")), pd.Series(list("aab"))) == 0.5
    assert F.missing_rate_diff(pd.Series([1, np.nan, 3, 4]), pd.Series([1.0, 2, 3, 4])) == 0.25
    assert F.ks_complement(r, r + 100) == 0.0
    assert F.tv_complement(pd.Series(list("aab")), pd.Series(list("ccd"))) == pytest.approx(0.0)


def test_column_types_few_level_integers_are_discrete(tables):
    real, _, _ = tables
    types = F.column_types(real)
    assert types["severity"] == "discrete" and types["diabetes"] == "discrete" and types["sex"] == "discrete"
    assert types["age"] == "numeric" and types["bmi"] == "numeric"
    assert F.column_types(real, max_levels=0)["severity"] == "numeric"


# ---------------------------------------------------------------- brackets
def test_identical_table_scores_ideal(tables):
    real, _, _ = tables
    rep = F.fidelity_report(real, real.sample(frac=1.0, random_state=3))  # row order must not matter
    assert np.allclose(rep["value"], rep["ideal"], atol=1e-12, equal_nan=False)


def test_holdout_near_ceiling_and_independent_marginals_break_pairs(tables):
    real, holdout, indep = tables
    q_hold = F.quality_score(real, holdout)
    q_ind = F.quality_score(real, indep)
    assert q_hold["column_shapes"] > 0.93 and q_hold["column_pair_trends"] > 0.9
    # marginals are resampled training values: column shapes at least as good as the holdout's
    assert q_ind["column_shapes"] > 0.95
    # the dependencies are gone: the pairs that matter fall far below the holdout
    pairs_h = F.pair_metrics(real, holdout).set_index(["metric", "column"])["value"]
    pairs_i = F.pair_metrics(real, indep).set_index(["metric", "column"])["value"]
    for key in [("pearson_similarity", "sysbp | diasbp"), ("pearson_similarity", "creatinine | egfr"),
                ("correlation_ratio_similarity", "age | severity"), ("cramers_v_similarity", "chf | death"),
                ("contingency_similarity", "creatinine | egfr")]:
        assert pairs_h[key] > 0.9
        assert pairs_i[key] < pairs_h[key] - 0.2, key
    assert q_ind["column_pair_trends"] < q_hold["column_pair_trends"]


def test_shuffled_column_keeps_shape_loses_pairs(tables):
    real, _, _ = tables
    shuffled = real.copy()
    shuffled["age"] = np.random.default_rng(0).permutation(shuffled["age"].to_numpy())
    cols = F.column_metrics(real, shuffled).set_index(["metric", "column"])["value"]
    assert cols["ks_complement", "age"] == 1.0
    pairs = F.pair_metrics(real, shuffled)
    with_age = pairs[pairs["column"].str.contains("age") & (pairs["metric"] == "pearson_similarity")]
    without = pairs[~pairs["column"].str.contains("age")]
    assert np.allclose(without["value"], 1.0)
    assert with_age.set_index("column").loc["age | sysbp", "value"] < 0.85


def test_noise_lowers_column_shape_with_its_size(tables):
    real, _, _ = tables
    rng = np.random.default_rng(1)
    scores = []
    for sd in (1.0, 5.0, 20.0):
        noisy = real.copy()
        noisy["sysbp"] = noisy["sysbp"] + rng.normal(0, sd, len(real))
        scores.append(F.ks_complement(real["sysbp"], noisy["sysbp"]))
    assert scores[0] > scores[1] > scores[2]
    assert scores[2] < 0.9


def test_association_matrix_is_symmetric_with_unit_diagonal(tables):
    real, _, _ = tables
    a = F.association_matrix(real)
    assert a.shape == (20, 20)
    assert np.allclose(a.to_numpy(), a.to_numpy().T, equal_nan=True)
    assert np.allclose(np.diag(a), 1.0)
    assert a.loc["sysbp", "diasbp"] > 0.4


def test_quality_aggregation_is_documented_mean(tables):
    real, holdout, _ = tables
    rep = F.fidelity_report(real, holdout)
    types = F.column_types(real)
    shapes = rep[rep["metric"].isin(["ks_complement", "tv_complement"])]["value"].mean()
    num_pairs = rep[rep["metric"] == "pearson_similarity"]
    cont = rep[(rep["metric"] == "contingency_similarity") & ~rep["column"].isin(num_pairs["column"])]
    trends = pd.concat([num_pairs["value"], cont["value"]]).mean()
    q = F.quality_score(real, holdout)
    assert q["column_shapes"] == pytest.approx(shapes)
    assert q["column_pair_trends"] == pytest.approx(trends)
    assert q["overall"] == pytest.approx((shapes + trends) / 2)
    n = len(types)
    assert len(num_pairs) + len(cont) == n * (n - 1) // 2


# ---------------------------------------------------------------- bad input
def test_mismatched_columns_named(tables):
    real, holdout, _ = tables
    with pytest.raises(ValueError, match="missing from the synthetic table: \\['age'\\]"):
        F.fidelity_report(real, holdout.drop(columns="age"))
    with pytest.raises(ValueError, match="not in the real table: \\['extra'\\]"):
        F.quality_score(real, holdout.assign(extra=1))


def test_empty_and_all_missing_tables(tables):
    real, holdout, _ = tables
    with pytest.raises(ValueError, match="synthetic table is empty"):
        F.column_metrics(real, holdout.iloc[:0])
    bad = holdout.copy()
    bad["bmi"] = np.nan
    with pytest.raises(ValueError, match="every value is missing.*bmi"):
        F.fidelity_report(real, bad)
    with pytest.raises(TypeError, match="column 'age'"):
        F.fidelity_report(real, holdout.assign(age=holdout["age"].astype(str)))
    with pytest.raises(TypeError, match="DataFrame"):
        F.quality_score(real.to_numpy(), holdout)
