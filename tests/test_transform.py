"""TabularTransformer: layout, exact round trips (property-based), decoding, errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.exceptions import NotFittedError

from course_utils.schema import infer_metadata
from course_utils.transform import CONTINUOUS_METHODS, TabularTransformer


@st.composite
def frames(draw):
    """Random small mixed tables with missing values, single-level and extreme columns."""
    n = draw(st.integers(2, 40))
    n_cols = draw(st.integers(1, 5))
    data = {}
    for j in range(n_cols):
        kind = draw(st.sampled_from(["continuous", "integer", "binary", "categorical"]))
        if kind == "continuous":
            values = draw(st.lists(st.floats(-1e6, 1e6, allow_nan=False, width=32), min_size=n, max_size=n))
            col = pd.Series(values, dtype=float)
        elif kind == "integer":
            values = draw(st.lists(st.integers(-10**6, 10**6), min_size=n, max_size=n))
            col = pd.Series(values, dtype="int64")
        elif kind == "binary":
            col = pd.Series(draw(st.lists(st.integers(0, 1), min_size=n, max_size=n)), dtype="int64")
        else:
            levels = draw(st.lists(st.sampled_from(["a", "b", "c", "dd"]), min_size=1, max_size=4, unique=True))
            col = pd.Series(draw(st.lists(st.sampled_from(levels), min_size=n, max_size=n)))
            col = col.astype(pd.CategoricalDtype(sorted(set(col))))
        if draw(st.booleans()):  # blank some values, keeping at least one
            mask = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)))
            mask[0] = False
            if pd.api.types.is_integer_dtype(col.dtype):
                col = col.astype(float)
            col = col.mask(mask)
        data[f"c{j}_{kind}"] = col
    return pd.DataFrame(data)


def assert_round_trip(df, back, meta):
    assert list(back.columns) == list(df.columns)
    for name, spec in meta.columns.items():
        a, b = df[name], back[name]
        assert (a.isna() == b.isna()).all(), f"{name}: missing values moved"
        assert a.dtype == b.dtype, name
        if spec.kind == "continuous":
            np.testing.assert_allclose(b.dropna(), a.dropna(), rtol=2e-6, atol=1e-6 * (1 + a.abs().max()), err_msg=name)
        else:
            assert (a.dropna().to_numpy() == b.dropna().to_numpy()).all(), name


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(df=frames(), method=st.sampled_from(CONTINUOUS_METHODS))
def test_round_trip_is_exact_on_random_frames(df, method):
    meta = infer_metadata(df)
    t = TabularTransformer(continuous=method).fit(df, meta)
    X = t.transform(df)
    assert X.dtype == np.float32 and X.shape == (len(df), t.output_dim_)
    assert np.isfinite(X).all()
    assert_round_trip(df, t.inverse_transform(X), meta)


@pytest.mark.parametrize("method", CONTINUOUS_METHODS)
def test_round_trip_on_course_tables(method, whas500, stroke):
    for df, meta in [(whas500, infer_metadata(whas500)), stroke]:
        t = TabularTransformer(continuous=method).fit(df, meta)
        assert_round_trip(df, t.inverse_transform(t.transform(df)), meta)


def test_layout_describes_every_output_column(stroke, whas500):
    df, meta = stroke
    t = TabularTransformer().fit(df, meta)
    # 51 columns, six one-hot groups kept as blocks: the width stays 51
    assert t.output_dim_ == 51
    spans = t.onehot_spans()
    assert {s.column for s in spans} == set(meta.one_hot_groups)
    covered = np.zeros(t.output_dim_, dtype=int)
    for s in t.layout_:
        covered[s.slice] += 1
    assert (covered == 1).all()
    w = TabularTransformer().fit(whas500)
    gender = next(s for s in w.layout_ if s.column == "gender")
    assert gender.kind == "onehot" and gender.levels == ("male", "female")
    assert list(w.describe_layout()["column"])[:2] == ["afb", "age"]


def test_missing_values_get_indicators(whas500):
    df = whas500.copy()
    df.loc[::4, "bmi"] = np.nan
    df.loc[::5, "gender"] = np.nan
    t = TabularTransformer().fit(df)
    kinds = [(s.column, s.kind) for s in t.layout_]
    assert ("bmi", "missing") in kinds
    gender = next(s for s in t.layout_ if s.column == "gender")
    assert gender.levels == ("male", "female", None)
    X = t.transform(df)
    ind = next(s for s in t.layout_ if s.kind == "missing" and s.column == "bmi")
    assert X[:, ind.start].sum() == df["bmi"].isna().sum()
    assert_round_trip(df, t.inverse_transform(X), infer_metadata(df))


def test_quantile_encoding_makes_skewed_columns_normal(whas500):
    t = TabularTransformer(continuous="quantile").fit(whas500)
    los = next(s for s in t.layout_ if s.column == "los")
    z = t.transform(whas500)[:, los.start]
    assert abs(z.mean()) < 0.1 and 0.8 < z.std() < 1.2
    raw_skew = pd.Series(whas500["los"]).skew()
    assert raw_skew > 2 and abs(pd.Series(z).skew()) < 0.5


def test_quantile_decoding_lands_on_point_masses_and_interpolates_between_unique_values():
    rng = np.random.default_rng(0)
    n = 300
    df = pd.DataFrame({"karnofsky": rng.choice(np.arange(20, 100, 10), n),  # a score recorded in steps of 10
                       "lab": rng.normal(5.0, 1.0, n)})  # every value its own
    plain = TabularTransformer(continuous="quantile").fit(df)
    assert not plain.scalers_["karnofsky"].discrete_  # off unless asked: an unseen value comes back as itself
    assert plain.inverse_transform(plain.transform(pd.DataFrame({"karnofsky": [45], "lab": [5.0]})))["karnofsky"][0] == 45
    t = TabularTransformer(continuous="quantile", point_masses=True).fit(df)
    assert t.scalers_["karnofsky"].discrete_ and not t.scalers_["lab"].discrete_
    z = rng.normal(0, 1.3, (5000, t.output_dim_))
    back = t.inverse_transform(z)
    assert set(back["karnofsky"]) <= set(df["karnofsky"])  # never 47 or 61
    assert len(set(back["karnofsky"])) == 8
    # each level comes back in its training share when the scores are standard normal
    expected = df["karnofsky"].value_counts(normalize=True)
    drawn = t.inverse_transform(rng.normal(0, 1, (20000, t.output_dim_)))["karnofsky"].value_counts(normalize=True)
    assert np.abs(drawn.reindex(expected.index) - expected).max() < 0.02
    lab = back["lab"].to_numpy()
    assert np.mean(np.isin(lab.round(6), df["lab"].round(6))) < 0.05  # new values between the observed ones
    assert_round_trip(df, t.inverse_transform(t.transform(df)), infer_metadata(df))


def test_integer_columns_with_few_levels_can_be_coded_as_one_hot_blocks():
    rng = np.random.default_rng(1)
    n = 200
    df = pd.DataFrame({"item": rng.choice([0, 1, 2, 4], n),  # an ordinal item; 3 never scored here
                       "rankin": rng.integers(0, 7, n).astype("int64"),
                       "age": rng.integers(30, 95, n),
                       "sex": rng.choice(["f", "m"], n)})
    df.loc[:9, "item"] = np.nan  # missing values get their own level
    t = TabularTransformer(ordinal_levels=7).fit(df)
    spans = {s.column: s for s in t.layout_ if s.kind == "onehot"}
    assert spans["item"].levels == (0, 1, 2, 4, None) and spans["rankin"].levels == tuple(range(7))
    assert "age" not in spans  # 65 levels: one scaled number
    back = t.inverse_transform(t.transform(df))
    pd.testing.assert_frame_equal(back, df)
    assert str(back["rankin"].dtype) == "int64"
    assert t.metadata_["rankin"].kind == "integer"  # the table's metadata is untouched
    assert not {"item", "rankin"} & {s.column for s in TabularTransformer().fit(df).layout_ if s.kind == "onehot"}
    with pytest.raises(ValueError, match="ordinal_levels"):
        TabularTransformer(ordinal_levels=-1).fit(df)


def test_decoding_model_output(whas500):
    t = TabularTransformer(random_state=0).fit(whas500)
    rng = np.random.default_rng(0)
    noisy = t.transform(whas500) + rng.normal(0, 0.3, (len(whas500), t.output_dim_))
    back = t.inverse_transform(noisy)
    meta = infer_metadata(whas500)
    for name, spec in meta.columns.items():
        if spec.kind in ("integer", "binary"):
            assert (back[name] % 1 == 0).all()
        if spec.bounds is not None:
            assert back[name].between(*spec.bounds).all(), name
    # argmax picks the largest level; sampling follows the block's probabilities
    gender = next(s for s in t.layout_ if s.column == "gender")
    probs = np.zeros((4000, t.output_dim_))
    probs[:, gender.start : gender.end] = [0.2, 0.8]
    assert (t.inverse_transform(probs)["gender"] == "female").all()
    drawn = t.inverse_transform(probs, sample=True, random_state=1)["gender"]
    assert 0.77 < (drawn == "female").mean() < 0.83
    again = t.inverse_transform(probs, sample=True, random_state=1)["gender"]
    assert drawn.equals(again)


def test_tensor_and_activation(whas500):
    import torch

    t = TabularTransformer().fit(whas500)
    tensor = t.transform_tensor(whas500)
    assert tensor.dtype == torch.float32 and tuple(tensor.shape) == (500, t.output_dim_)
    out = t.activate(torch.randn(8, t.output_dim_))
    for s in t.layout_:
        block = out[:, s.start : s.end]
        if s.kind == "onehot":
            assert torch.allclose(block.sum(dim=1), torch.ones(8))
        elif s.kind in ("binary", "missing"):
            assert ((block > 0) & (block < 1)).all()
    assert_round_trip(whas500, t.inverse_transform(tensor), infer_metadata(whas500))


def test_errors(whas500):
    with pytest.raises(NotFittedError):
        TabularTransformer().transform(whas500)
    with pytest.raises(ValueError, match="unknown continuous method"):
        TabularTransformer(continuous="log").fit(whas500)
    with pytest.raises(ValueError, match="empty"):
        TabularTransformer().fit(whas500.iloc[:0])
    t = TabularTransformer().fit(whas500)
    with pytest.raises(ValueError, match="missing from the table.*bmi"):
        t.transform(whas500.drop(columns="bmi"))
    bad = whas500.copy()
    bad["gender"] = bad["gender"].astype(str).replace("male", "x")
    with pytest.raises(ValueError, match="'gender'.*unknown categories"):
        t.transform(bad)
    with pytest.raises(ValueError, match="2-D"):
        t.inverse_transform(np.zeros(5))


def test_per_column_methods(whas500):
    t = TabularTransformer(continuous={"los": "boxcox", "bmi": "minmax"}).fit(whas500)
    bmi = next(s for s in t.layout_ if s.column == "bmi")
    X = t.transform(whas500)
    assert X[:, bmi.start].min() == 0 and X[:, bmi.start].max() == pytest.approx(1)
    assert_round_trip(whas500, t.inverse_transform(X), infer_metadata(whas500))


def test_datetime_columns_round_trip():
    df = pd.DataFrame(
        {
            "admitted": pd.to_datetime(["2020-01-01", "2020-03-15", "2021-07-04", "2019-12-31"]),
            "age": [50, 61, 72, 83],
        }
    )
    t = TabularTransformer(continuous="standard").fit(df)
    back = t.inverse_transform(t.transform(df))
    pd.testing.assert_frame_equal(back, df)
