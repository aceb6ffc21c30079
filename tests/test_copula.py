"""Gaussian copula (course_utils.generators.copula): marginals and correlations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from course_utils.data import load_whas500
from course_utils.generators import GaussianCopula
from course_utils.generators.baselines import GaussianCopula as FromBaselines


def _bivariate(n: int = 3000, rho: float = 0.6, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    xy = rng.multivariate_normal(
        [10.0, -2.0], [[4.0, rho * 2 * 0.5], [rho * 2 * 0.5, 0.25]], size=n
    )
    return pd.DataFrame({"x": xy[:, 0], "y": xy[:, 1]})


def test_reexported_from_baselines():
    assert FromBaselines is GaussianCopula


def test_bivariate_gaussian_marginals_and_correlation():
    df = _bivariate()
    out = GaussianCopula(random_state=0).fit(df).sample(4000)
    for col in df.columns:
        assert out[col].mean() == pytest.approx(df[col].mean(), abs=0.05 * df[col].std())
        assert out[col].std() == pytest.approx(df[col].std(), rel=0.05)
        assert stats.ks_2samp(out[col], df[col]).statistic < 0.04
        assert out[col].between(df[col].min(), df[col].max()).all()
    assert out["x"].corr(out["y"]) == pytest.approx(0.6, abs=0.04)


@pytest.mark.parametrize("rho", [-0.8, 0.0])
def test_other_correlations(rho):
    df = _bivariate(rho=rho, seed=1)
    gen = GaussianCopula(random_state=1).fit(df)
    assert gen.correlation_.loc["x", "y"] == pytest.approx(rho, abs=0.04)
    assert gen.sample(4000)["x"].pipe(
        lambda s: s.corr(gen.sample(4000, random_state=2)["x"])
    ) == pytest.approx(0, abs=0.06)  # independent calls, independent rows
    out = gen.sample(4000)
    assert out["x"].corr(out["y"]) == pytest.approx(rho, abs=0.05)


def test_categories_and_integers_keep_their_frequencies_and_values():
    df = load_whas500()
    out = GaussianCopula(random_state=0).fit(df).sample(5000)
    for col in ["gender", "mitype", "fstat", "afb"]:
        real = df[col].value_counts(normalize=True).sort_index()
        synth = out[col].value_counts(normalize=True).reindex(real.index, fill_value=0)
        assert np.abs(real - synth).max() < 0.03, col
    for col in ["age", "los", "hr"]:
        assert set(out[col]) <= set(df[col]), col  # integers: observed values only
    # a monotone association survives: age and follow-up length, age and death
    assert np.sign(out["age"].corr(out["fstat"].astype(float))) == np.sign(
        df["age"].corr(df["fstat"].astype(float))
    )
    assert out["age"].corr(out["fstat"].astype(float)) == pytest.approx(
        df["age"].corr(df["fstat"].astype(float)), abs=0.08
    )


def test_missing_values_at_their_rate():
    df = _bivariate(2000)
    df.loc[df.sample(frac=0.25, random_state=0).index, "y"] = np.nan
    out = GaussianCopula(random_state=0).fit(df).sample(4000)
    assert out["y"].isna().mean() == pytest.approx(0.25, abs=0.03)
    assert out["x"].isna().sum() == 0


def test_collinear_and_constant_columns_still_give_a_valid_correlation():
    df = _bivariate(500)
    df["x_copy"] = df["x"]
    df["one"] = 1
    gen = GaussianCopula(random_state=0).fit(df)
    R = gen.correlation_.to_numpy()
    assert np.allclose(np.diag(R), 1) and np.allclose(R, R.T)
    assert np.linalg.eigvalsh(R).min() > 0
    out = gen.sample(300)
    assert out["x"].corr(out["x_copy"]) > 0.98
    assert (out["one"] == 1).all()


def test_same_seed_same_output():
    df = load_whas500()
    a = GaussianCopula(random_state=3).fit(df).sample(100)
    b = GaussianCopula(random_state=3).fit(df).sample(100)
    pd.testing.assert_frame_equal(a, b)


def _two_populations(n: int = 1200, seed: int = 0) -> pd.DataFrame:
    """Two groups of patients whose x and y move together in one and oppositely in the other."""
    rng = np.random.default_rng(seed)
    a = rng.multivariate_normal([0.0, 0.0], [[1.0, 0.9], [0.9, 1.0]], size=n // 2)
    b = rng.multivariate_normal([8.0, 8.0], [[1.0, -0.9], [-0.9, 1.0]], size=n - n // 2)
    return pd.DataFrame(np.vstack([a, b]), columns=["x", "y"])


def _within_group_correlations(df: pd.DataFrame) -> tuple[float, float]:
    left = df[df["x"] < 4]
    right = df[df["x"] >= 4]
    return left["x"].corr(left["y"]), right["x"].corr(right["y"])


def test_a_mixture_draws_each_groups_own_dependence():
    df = _two_populations()
    assert _within_group_correlations(df)[0] > 0.85 and _within_group_correlations(df)[1] < -0.85
    mixture = GaussianCopula(clusters=2, random_state=0).fit(df)
    assert mixture.n_clusters_ == 2
    assert sorted(mixture.cluster_weights_) == pytest.approx([0.5, 0.5], abs=0.02)
    left, right = _within_group_correlations(mixture.sample(4000))
    assert left > 0.75 and right < -0.75
    # one correlation matrix for both groups cannot: it draws the second group's x and y
    # rising together, as they do across the whole table
    left, right = _within_group_correlations(GaussianCopula(random_state=0).fit(df).sample(4000))
    assert right > 0


def test_a_mixture_keeps_frequencies_and_observed_values():
    df = load_whas500()
    gen = GaussianCopula(clusters=3, random_state=0).fit(df)
    assert gen.n_clusters_ == 3 and len(gen.cluster_marginals_) == len(gen.cluster_correlations_) == 3
    out = gen.sample(5000)
    for col in ["gender", "mitype", "fstat", "afb"]:
        real = df[col].value_counts(normalize=True).sort_index()
        synth = out[col].value_counts(normalize=True).reindex(real.index, fill_value=0)
        assert np.abs(real - synth).max() < 0.04, col
    for col in ["age", "los", "hr"]:
        assert set(out[col]) <= set(df[col]), col
    for R in gen.cluster_correlations_:
        assert np.allclose(np.diag(R), 1) and np.linalg.eigvalsh(R).min() > 0


def test_every_group_of_a_mixture_has_enough_patients():
    from course_utils.generators.copula import MIN_CLUSTER_ROWS, _cluster_rows

    rng = np.random.default_rng(0)
    # 200 ordinary rows and 6 far-away ones: k-means would give the six a group of their own
    scores = np.vstack([rng.normal(size=(200, 3)), rng.normal(loc=30.0, size=(6, 3))])
    labels = _cluster_rows(scores, 4, np.random.default_rng(1))
    assert np.bincount(labels).min() >= MIN_CLUSTER_ROWS
    assert labels.max() + 1 <= 4
    # a small table cannot be split into more groups than MIN_CLUSTER_ROWS allows
    small = _two_populations(100)
    assert GaussianCopula(clusters=8, random_state=0).fit(small).n_clusters_ <= 100 // MIN_CLUSTER_ROWS


def test_auto_clusters_follow_the_table_size_and_one_cluster_is_the_plain_copula():
    from course_utils.generators.copula import MAX_CLUSTERS, ROWS_PER_CLUSTER, _check_clusters

    assert _check_clusters("auto", ROWS_PER_CLUSTER - 1) == 1
    assert _check_clusters("auto", 3 * ROWS_PER_CLUSTER) == 3
    assert _check_clusters("auto", 100_000) == MAX_CLUSTERS
    df = _bivariate(120)
    plain = GaussianCopula(random_state=4).fit(df)
    auto = GaussianCopula(clusters="auto", random_state=4).fit(df)
    assert auto.n_clusters_ == 1 and not hasattr(auto, "cluster_weights_")
    pd.testing.assert_frame_equal(plain.sample(50), auto.sample(50))


@pytest.mark.parametrize("bad", [0, -2, 2.5, True, "many", None])
def test_bad_clusters_are_refused_by_name(bad):
    with pytest.raises(ValueError, match="clusters must be"):
        GaussianCopula(clusters=bad).fit(_bivariate(200))


def test_a_mixture_is_reproducible_and_survives_a_save(tmp_path):
    from course_utils.generators.base import Synthesizer

    df = load_whas500()
    a = GaussianCopula(clusters=3, random_state=5).fit(df)
    b = GaussianCopula(clusters=3, random_state=5).fit(df)
    pd.testing.assert_frame_equal(a.sample(200), b.sample(200))
    loaded = Synthesizer.load(a.save(tmp_path / "mixture.gen"))
    assert loaded.n_clusters_ == 3
    pd.testing.assert_frame_equal(loaded.sample(200), a.sample(200))
    assert not a.sample(200).equals(GaussianCopula(random_state=5).fit(df).sample(200))


def test_normal_scores_of_the_training_rows_are_standard_normal():
    df = load_whas500()
    gen = GaussianCopula(random_state=0).fit(df)
    scores = gen.normal_scores(df, random_state=0)
    assert list(scores.columns) == gen.variables_ and scores.index.equals(df.index)
    for col in ["age", "gender", "los"]:
        assert stats.kstest(scores[col], "norm").statistic < 0.05, col
    assert scores["age"].corr(df["age"], method="spearman") > 0.99
    pd.testing.assert_frame_equal(scores, gen.normal_scores(df, random_state=0))
    # a value above every training value still gets a score, at the top step
    older = df.head(3).assign(age=200)
    assert (gen.normal_scores(older, random_state=0)["age"] > 2).all()


def test_a_column_one_group_never_holds_stays_missing_there():
    df = _two_populations(600, seed=2)
    first = df["x"] < 4
    rng = np.random.default_rng(0)
    for j in range(3):  # the groups differ in more columns, as kinds of patients do
        df[f"z{j}"] = np.where(first, 0.0, 5.0) + rng.normal(size=len(df))
    # a lab value measured in the first group only
    df["lab"] = np.where(first, df["y"] * 2 + 10, np.nan)
    gen = GaussianCopula(clusters=2, random_state=0).fit(df)
    assert sorted(m["lab"].missing_rate for m in gen.cluster_marginals_) == [0.0, 1.0]
    out = gen.sample(3000)
    left, right = out[out["x"] < 4], out[out["x"] >= 4]
    assert right["lab"].isna().all()
    assert left["lab"].notna().mean() > 0.95
    assert left["lab"].corr(left["y"]) > 0.8
    assert out["lab"].isna().mean() == pytest.approx(0.5, abs=0.05)
