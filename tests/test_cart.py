"""Sequential CART (course_utils.generators.cart): what synthpop users rely on."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from course_utils.data import STROKE_GROUPS, load_stroke, load_whas500
from course_utils.generators import CARTSynthesizer
from course_utils.schema import infer_metadata


def _gaussian(n: int = 300, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    return pd.DataFrame(
        {
            "x": x,
            "y": 0.8 * x + 0.6 * rng.normal(size=n),
            "z": np.abs(x) + rng.normal(scale=0.3, size=n),
            "w": rng.gamma(2.0, size=n),
        }
    )


def _mapped(n: int = 400, seed: int = 1) -> pd.DataFrame:
    """``y`` is determined by ``x`` (a category mapped to twice its number)."""
    rng = np.random.default_rng(seed)
    x = rng.choice(["1", "2", "3"], size=n, p=[0.5, 0.3, 0.2])
    return pd.DataFrame(
        {
            "x": pd.Categorical(x, categories=["1", "2", "3"]),
            "y": 2 * x.astype(int),
            "noise": rng.normal(size=n),
        }
    )


def _row_match_rate(synth: pd.DataFrame, real: pd.DataFrame) -> float:
    real_rows = set(map(tuple, real.round(8).to_numpy()))
    return float(np.mean([tuple(r) in real_rows for r in synth.round(8).to_numpy()]))


def test_a_column_determined_by_another_is_reproduced():
    df = _mapped()
    out = CARTSynthesizer(random_state=0).fit(df).sample(500)
    assert (out["y"] == 2 * out["x"].astype(int)).all()
    # the first column is drawn from its marginal
    freq = out["x"].value_counts(normalize=True)
    assert abs(freq["1"] - 0.5) < 0.07 and abs(freq["3"] - 0.2) < 0.07


def test_values_are_drawn_from_the_leaf_training_values():
    df = _gaussian()
    gen = CARTSynthesizer(min_samples_leaf=10, random_state=0).fit(df)
    out = gen.sample(400)
    for col in df.columns:
        assert set(out[col].round(10)) <= set(df[col].round(10)), col
    # leaf_values: a partition of the training values, keyed by the tree's leaves
    tree = gen.trees_["y"]
    assert isinstance(tree, DecisionTreeRegressor)
    leaves = gen.leaf_values("y")
    assert set(leaves) == set(np.flatnonzero(tree.tree_.children_left == -1))
    assert sum(len(v) for v in leaves.values()) == len(df)
    assert min(len(v) for v in leaves.values()) >= 10
    assert np.allclose(np.sort(np.concatenate(list(leaves.values()))), np.sort(df["y"]))
    # a synthetic row's y lies among the values of the leaf its predictors land in
    leaf = tree.apply(out[["x"]].to_numpy())
    for i in range(20):
        assert np.isclose(leaves[int(leaf[i])], out["y"][i]).any()


def test_leaf_sampling_keeps_a_skewed_marginal():
    df = _gaussian(600)
    out = CARTSynthesizer(random_state=0).fit(df).sample(3000)
    # gamma(2) has skewness sqrt(2); a leaf-mean predictor would shrink it
    assert out["w"].skew() == pytest.approx(df["w"].skew(), abs=0.35)
    assert out["w"].std() == pytest.approx(df["w"].std(), rel=0.1)


def test_relationships_survive_and_sample_method_breaks_them():
    df = _gaussian(600)
    cart = CARTSynthesizer(random_state=0).fit(df).sample(2000)
    assert cart["x"].corr(cart["y"]) == pytest.approx(df["x"].corr(df["y"]), abs=0.1)
    # z depends on |x|: non-linear, which a tree captures
    assert cart["z"].corr(cart["x"].abs()) > 0.6
    marginal = CARTSynthesizer(method={"y": "sample"}, random_state=0).fit(df).sample(2000)
    assert abs(marginal["x"].corr(marginal["y"])) < 0.1


def test_min_leaf_one_copies_rows_and_large_leaves_do_not():
    df = _gaussian(300)
    copy = CARTSynthesizer(min_samples_leaf=1, random_state=0).fit(df).sample(300)
    assert _row_match_rate(copy, df) > 0.9
    mixed = CARTSynthesizer(min_samples_leaf=40, random_state=0).fit(df).sample(300)
    assert _row_match_rate(mixed, df) < 0.1


def test_smoothing_stays_within_bounds_and_leaves_the_training_values():
    df = _gaussian(300)
    df["count"] = np.random.default_rng(3).poisson(3, size=len(df))
    gen = CARTSynthesizer(smoothing="density", min_samples_leaf=10, random_state=0).fit(df)
    out = gen.sample(2000)
    for col in df.columns:
        assert out[col].min() >= df[col].min() and out[col].max() <= df[col].max(), col
    new = ~out["y"].round(10).isin(df["y"].round(10))
    assert new.mean() > 0.95  # smoothed values are new numbers
    assert (out["count"] % 1 == 0).all()
    assert out["y"].std() == pytest.approx(df["y"].std(), rel=0.15)


def test_smoothing_spares_a_dominant_value():
    rng = np.random.default_rng(0)
    df = pd.DataFrame(
        {
            "a": rng.normal(size=400),
            "los": np.where(rng.random(400) < 0.8, 0.0, rng.gamma(3, size=400)),
        }
    )
    out = CARTSynthesizer(smoothing="density", random_state=0).fit(df).sample(2000)
    assert (out["los"] == 0).mean() == pytest.approx(0.8, abs=0.05)


def test_conditions_on_the_first_column_are_exact():
    df = _mapped()
    gen = CARTSynthesizer(random_state=0).fit(df)
    out = gen.sample(200, conditions={"x": "3"})
    assert (out["x"] == "3").all() and (out["y"] == 6).all()


def test_conditions_later_in_the_order_use_rejection():
    df = _mapped()
    gen = CARTSynthesizer(random_state=0).fit(df)
    out = gen.sample(150, conditions={"y": 4})
    assert (out["y"] == 4).all() and (out["x"] == "2").all()


def test_a_subgroup_condition_shifts_the_later_columns():
    df = load_whas500()
    gen = CARTSynthesizer(visit_sequence=["gender"], random_state=0).fit(df)
    women = gen.sample(2000, conditions={"gender": "female"})
    men = gen.sample(2000, conditions={"gender": "male"})
    real_gap = (
        df.loc[df.gender == "female", "age"].mean() - df.loc[df.gender == "male", "age"].mean()
    )
    assert real_gap > 5  # women in WHAS500 are older
    assert women["age"].mean() - men["age"].mean() == pytest.approx(real_gap, abs=3)


def test_continuous_condition_later_in_the_order_is_refused():
    df = _gaussian()
    gen = CARTSynthesizer(random_state=0).fit(df)
    with pytest.raises(ValueError, match="visit_sequence"):
        gen.sample(10, conditions={"y": 0.5})
    first = CARTSynthesizer(visit_sequence=["y"], random_state=0).fit(df)
    out = first.sample(50, conditions={"y": 0.5})
    assert (out["y"] == 0.5).all()


def test_impossible_rejection_condition_fails_clearly():
    df = _mapped()
    gen = CARTSynthesizer(random_state=0, max_rejection_draws=5).fit(df)
    with pytest.raises(ValueError, match="only 0 of"):
        gen.sample(20, conditions={"y": 3})  # within bounds, never produced


def test_visit_sequence_and_methods_are_recorded():
    df = load_whas500()
    gen = CARTSynthesizer(
        visit_sequence=["fstat", "lenfol"],
        method={"bmi": "parametric", "miord": "logreg"},
        random_state=0,
    )
    gen.fit(df)
    assert gen.visit_sequence_[:2] == ["fstat", "lenfol"]
    assert sorted(gen.visit_sequence_) == sorted(df.columns)
    assert (
        gen.methods_["fstat"] == "sample"
        and gen.methods_["bmi"] == "norm"
        and gen.methods_["miord"] == "logreg"
    )
    assert "bmi" not in gen.trees_ and isinstance(gen.trees_["sysbp"], DecisionTreeRegressor)
    assert isinstance(gen.trees_["gender"], DecisionTreeClassifier)
    assert gen.trees_["lenfol"].n_features_in_ == 1
    assert gen.predictors("lenfol") == ["fstat"]
    out = gen.sample(300)
    assert out["bmi"].between(df["bmi"].min(), df["bmi"].max()).all()


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"visit_sequence": ["nope"]}, "nope"),
        ({"visit_sequence": ["age", "age"]}, "twice"),
        ({"method": {"gender": "norm"}}, "gender"),
        ({"method": {"age": "logreg"}}, "age"),
        ({"method": "magic"}, "magic"),
        ({"method": {"nope": "cart"}}, "nope"),
        ({"min_samples_leaf": 0}, "min_samples_leaf"),
        ({"min_samples_leaf": 1.5}, "min_samples_leaf"),
        ({"smoothing": "spline"}, "smoothing"),
    ],
)
def test_bad_settings_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        CARTSynthesizer(**kwargs).fit(load_whas500())


def test_missing_values_are_their_own_state():
    rng = np.random.default_rng(0)
    n = 600
    group = rng.choice(["a", "b"], size=n)
    value = rng.normal(50, 10, size=n)
    value[(group == "b") & (rng.random(n) < 0.6)] = np.nan  # missing depends on group
    cat = pd.Series(rng.choice(["u", "v", None], size=n, p=[0.5, 0.3, 0.2]), dtype=object)
    df = pd.DataFrame({"group": group, "value": value, "cat": cat})
    gen = CARTSynthesizer(random_state=0).fit(df)
    out = gen.sample(3000)
    rate = out.groupby("group")["value"].apply(lambda s: s.isna().mean())
    assert rate["a"] == 0 and rate["b"] == pytest.approx(0.6, abs=0.07)
    assert out["cat"].isna().mean() == pytest.approx(0.2, abs=0.05)
    assert "value" in gen.missing_trees_
    assert "value is missing" in gen.predictors("cat")


def test_one_hot_groups_are_one_variable():
    stroke = load_stroke()
    cols = STROKE_GROUPS["Hospital"] + ["Clotbuster given", "Age", "S2NihssArrival"]
    df = stroke[cols].iloc[:600].reset_index(drop=True)
    meta = infer_metadata(df, one_hot_groups={"Hospital": STROKE_GROUPS["Hospital"]})
    gen = CARTSynthesizer(visit_sequence=["Hosp_3"], random_state=0).fit(df, meta)
    assert gen.visit_sequence_[0] == "Hospital"
    assert set(gen.leaf_values("Clotbuster given")) == set(
        np.flatnonzero(gen.trees_["Clotbuster given"].tree_.children_left == -1)
    )
    out = gen.sample(300, conditions={"Hosp_3": 1})
    assert (out["Hosp_3"] == 1).all() and (out[STROKE_GROUPS["Hospital"]].sum(axis=1) == 1).all()
    none3 = gen.sample(200, conditions={"Hosp_3": 0})
    assert (none3["Hosp_3"] == 0).all()


def test_datetime_columns_round_trip():
    rng = np.random.default_rng(0)
    n = 200
    days = rng.integers(0, 365, size=n)
    df = pd.DataFrame(
        {
            "admitted": pd.Timestamp("2020-01-01") + pd.to_timedelta(days, unit="D"),
            "age": 40 + days // 10,
        }
    )
    out = CARTSynthesizer(random_state=0).fit(df).sample(100)
    assert out["admitted"].dtype == df["admitted"].dtype
    assert out["admitted"].between(df["admitted"].min(), df["admitted"].max()).all()


def test_same_seed_same_output_with_every_option():
    df = load_whas500()
    kw = dict(
        smoothing="density",
        method={"bmi": "norm", "mitype": "logreg"},
        min_samples_leaf=8,
        n_jobs=2,
    )
    a = CARTSynthesizer(random_state=4, **kw).fit(df).sample(200, conditions={"afb": 1})
    b = CARTSynthesizer(random_state=4, **kw).fit(df).sample(200, conditions={"afb": 1})
    pd.testing.assert_frame_equal(a, b)
    c = CARTSynthesizer(random_state=5, **kw).fit(df).sample(200, conditions={"afb": 1})
    assert not a.equals(c)
