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
