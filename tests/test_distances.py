"""Tests of the course's mixed-type distance and the chunked nearest-neighbour search."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.spatial.distance import cdist
from sklearn.exceptions import NotFittedError

from course_utils.data import load_whas500
from course_utils.evaluation.distances import (
    ALGORITHMS,
    MixedEncoder,
    blas_threads,
    fit_encoder,
    nearest_distances,
)
from course_utils.schema import infer_metadata


@pytest.fixture(scope="module")
def mixed():
    return pd.DataFrame(
        {
            "age": [20.0, 40.0, 60.0, 80.0],
            "flag": [0, 1, 0, 1],
            "kind": pd.Categorical(["a", "b", "c", "a"]),
            "bmi": [20.0, np.nan, 30.0, 25.0],
        }
    )


def sqdist(enc, df, i, j):
    X = enc.encode(df)
    return float(np.sum((X[i] - X[j]) ** 2))


def test_numeric_range_scaling(mixed):
    enc = fit_encoder(mixed)
    X = enc.encode(mixed)
    a = enc.feature_names_.index("age")
    assert X[:, a].tolist() == pytest.approx([0, 1 / 3, 2 / 3, 1])
    # rows 0 and 2 differ in age by 2/3 of the range, in bmi by the full range,
    # in kind (one category mismatch) and not in flag
    assert sqdist(enc, mixed, 0, 2) == pytest.approx((2 / 3) ** 2 + 1.0 + 1.0)


def test_category_and_flag_mismatch_count_like_full_range(mixed):
    enc = fit_encoder(mixed)
    df = pd.DataFrame(
        {"age": [20.0, 20.0, 20.0], "flag": [0, 1, 0],
         "kind": pd.Categorical(["a", "a", "b"], categories=["a", "b", "c"]), "bmi": [20.0, 20.0, 20.0]}
    )
    assert sqdist(enc, df, 0, 1) == pytest.approx(1.0)  # flag flipped
    assert sqdist(enc, df, 0, 2) == pytest.approx(1.0)  # category changed


def test_missing_is_its_own_indicator(mixed):
    enc = fit_encoder(mixed)
    assert "bmi=<missing>" in enc.feature_names_
    df = pd.DataFrame(
        {"age": [20.0, 20.0, 20.0], "flag": [0, 0, 0], "kind": pd.Categorical(["a"] * 3),
         "bmi": [25.0, np.nan, np.nan]}
    )
    # missing vs the median value: exactly one indicator mismatch; missing vs missing: 0
    assert sqdist(enc, df, 0, 1) == pytest.approx(1.0)
    assert sqdist(enc, df, 1, 2) == 0.0


def test_missing_in_a_column_without_missing_in_training_is_an_error(mixed):
    enc = fit_encoder(mixed)
    bad = mixed.copy()
    bad.loc[0, "age"] = np.nan
    with pytest.raises(ValueError, match="'age'"):
        enc.encode(bad)


def test_one_hot_group_counts_as_one_mismatch():
    df = pd.DataFrame({"h_a": [1, 0, 0], "h_b": [0, 1, 0], "h_c": [0, 0, 1], "x": [0.0, 0.0, 1.0]})
    meta = infer_metadata(df, one_hot_groups={"h": ["h_a", "h_b", "h_c"]})
    enc = fit_encoder(df, meta)
    assert sqdist(enc, df, 0, 1) == pytest.approx(1.0)


def test_unseen_category_is_half_a_mismatch(mixed):
    enc = fit_encoder(mixed)
    df = mixed.iloc[[0, 0]].copy()
    df["kind"] = df["kind"].cat.add_categories("zzz")
    df.iloc[1, df.columns.get_loc("kind")] = "zzz"
    assert sqdist(enc, df.reset_index(drop=True), 0, 1) == pytest.approx(0.5)


def test_weights_multiply_coordinates(mixed):
    plain = fit_encoder(mixed)
    heavy = fit_encoder(mixed, weights={"age": 3.0})
    a = plain.feature_names_.index("age")
    np.testing.assert_allclose(heavy.encode(mixed)[:, a], 3 * plain.encode(mixed)[:, a])
    with pytest.raises(ValueError, match="not in the table"):
        fit_encoder(mixed, weights={"nope": 1.0})


def test_robust_scale_uses_iqr():
    df = pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0, 100.0]})
    X = fit_encoder(df, scale="robust").encode(df)
    # median 2, IQR 3 - 1 = 2
    assert X[:, 0].tolist() == pytest.approx([-1, -0.5, 0, 0.5, 49])


def test_whas500_encodes_to_unit_box():
    df = load_whas500()
    enc = fit_encoder(df)
    X = enc.encode(df)
    assert X.shape == (500, enc.n_features_)
    assert X.min() >= 0 and X.max() <= 1


@pytest.mark.parametrize("chunk_size", [1, 7, 64, 10_000])
@pytest.mark.parametrize("algorithm", ["auto", "kd_tree", "ball_tree", "brute", "blas"])
def test_chunked_search_equals_brute_force(chunk_size, algorithm):
    rng = np.random.default_rng(chunk_size)
    Q = rng.normal(size=(150, 5))
    R = rng.normal(size=(120, 5))
    d, i = nearest_distances(Q, R, k=3, chunk_size=chunk_size, algorithm=algorithm)
    full = cdist(Q, R)
    order = np.argsort(full, axis=1)[:, :3]
    np.testing.assert_array_equal(i, order)
    np.testing.assert_allclose(d, np.take_along_axis(full, order, axis=1), rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("chunk_size", [1, 5, 1000])
@pytest.mark.parametrize("algorithm", ["auto", "blas"])
def test_exclude_self_is_leave_one_out(chunk_size, algorithm):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    X[10] = X[11]  # an exact duplicate pair: each is the other's neighbour at 0
    d, i = nearest_distances(X, X, k=2, exclude_self=True, chunk_size=chunk_size, algorithm=algorithm)
    full = cdist(X, X)
    np.fill_diagonal(full, np.inf)
    np.testing.assert_allclose(d, np.sort(full, axis=1)[:, :2], atol=1e-9)
    assert (i != np.arange(60)[:, None]).all()
    assert d[10, 0] == pytest.approx(0.0, abs=1e-9) and i[10, 0] == 11


@pytest.mark.parametrize("algorithm", ["auto", "blas"])
def test_exclude_self_with_many_identical_rows(algorithm):
    X = np.zeros((6, 2))
    d, i = nearest_distances(X, X, k=3, exclude_self=True, chunk_size=4, algorithm=algorithm)
    assert (d == 0).all()
    assert (i != np.arange(6)[:, None]).all()


def lowest_index_neighbours(full, k):
    """Reference answer: k smallest distances per row, ties broken by the lower column."""
    cols = np.broadcast_to(np.arange(full.shape[1]), full.shape)
    order = np.lexsort((cols, full), axis=1)[:, :k]
    return np.take_along_axis(full, order, axis=1), order


@pytest.mark.parametrize("k", [1, 2, 3, 9, 12])
@pytest.mark.parametrize("exclude_self", [False, True])
def test_blas_search_is_exact_with_ties(k, exclude_self):
    # values on a coarse grid: many rows at exactly equal distances, many duplicates
    rng = np.random.default_rng(k)
    R = rng.integers(0, 3, size=(300, 6)) / 2.0
    Q = R if exclude_self else rng.integers(0, 3, size=(250, 6)) / 2.0
    full = cdist(Q, R)
    if exclude_self:
        np.fill_diagonal(full, np.inf)
    want_d, want_i = lowest_index_neighbours(full, k)
    d, i = nearest_distances(Q, R, k=k, exclude_self=exclude_self, chunk_size=37, algorithm="blas")
    np.testing.assert_array_equal(i, want_i)
    np.testing.assert_allclose(d, want_d, rtol=1e-12, atol=1e-12)
    # the same distances as scikit-learn (whose order among ties is its own)
    d_sk, _ = nearest_distances(Q, R, k=k, exclude_self=exclude_self, algorithm="brute")
    np.testing.assert_allclose(d, d_sk, atol=1e-7)


def test_blas_search_is_exact_on_mixed_scale_data():
    # a large offset and columns of different scales stress the float32 shortlist
    rng = np.random.default_rng(7)
    R = rng.normal(size=(700, 30)) * np.linspace(0.01, 50, 30) + 1e3
    Q = np.r_[rng.normal(size=(400, 30)) * np.linspace(0.01, 50, 30) + 1e3, R[:50] + 1e-9, R[50:80]]
    d, i = nearest_distances(Q, R, k=2, algorithm="blas", chunk_size=64)
    want_d, want_i = lowest_index_neighbours(cdist(Q, R), 2)
    np.testing.assert_array_equal(i, want_i)
    np.testing.assert_allclose(d, want_d, rtol=1e-12, atol=1e-12)
    assert (d[450:, 0] == 0).all()  # exact copies: exactly 0, not a rounding residue
    # scikit-learn's brute force expands ||a - b||^2 in float64: same neighbours, but
    # near-copies far from the origin get a rounding residue instead of 1e-9
    d_sk, i_sk = nearest_distances(Q, R, k=2, algorithm="brute")
    np.testing.assert_array_equal(i[:, 0], i_sk[:, 0])
    np.testing.assert_allclose(d, d_sk, rtol=1e-9, atol=1e-3)


@pytest.mark.parametrize("n_jobs", [1, 2, -1, None])
def test_blas_search_threads_give_the_same_result(n_jobs):
    rng = np.random.default_rng(3)
    Q = rng.integers(0, 4, size=(500, 5)) / 3.0
    R = rng.integers(0, 4, size=(450, 5)) / 3.0
    one = nearest_distances(Q, R, k=2, algorithm="blas", n_jobs=1, chunk_size=16)
    many = nearest_distances(Q, R, k=2, algorithm="blas", n_jobs=n_jobs, chunk_size=16)
    np.testing.assert_array_equal(one[0], many[0])
    np.testing.assert_array_equal(one[1], many[1])
    assert blas_threads() >= 1


def test_blas_search_bad_arguments():
    X = np.zeros((4, 2))
    assert "blas" in ALGORITHMS
    with pytest.raises(ValueError, match="algorithm"):
        nearest_distances(X, X, algorithm="fast")
    with pytest.raises(ValueError, match="n_jobs"):
        nearest_distances(X, X, algorithm="blas", n_jobs=0)
    d, i = nearest_distances(X[:0], X, algorithm="blas")
    assert d.shape == (0, 1) and i.shape == (0, 1)


def test_dataframes_are_encoded_on_the_reference(mixed):
    d, _ = nearest_distances(mixed, mixed)
    assert np.allclose(d, 0)
    enc = fit_encoder(mixed)
    d2, _ = nearest_distances(mixed.iloc[:2], mixed, k=2, encoder=enc, exclude_self=False)
    assert d2.shape == (2, 2)


def test_bad_input(mixed):
    enc = fit_encoder(mixed)
    with pytest.raises(ValueError, match="missing columns \\['bmi'\\]"):
        enc.encode(mixed.drop(columns="bmi"))
    with pytest.raises(ValueError, match="unexpected columns \\['extra'\\]"):
        enc.encode(mixed.assign(extra=1))
    with pytest.raises(ValueError, match="empty"):
        fit_encoder(mixed.iloc[:0])
    with pytest.raises(ValueError, match="'bmi'.*every value is missing"):
        fit_encoder(mixed.assign(bmi=np.nan))
    with pytest.raises(ValueError, match="k=10"):
        nearest_distances(mixed, mixed, k=10, encoder=enc)
    with pytest.raises(ValueError, match="exclude_self"):
        nearest_distances(mixed.iloc[:2], mixed, encoder=enc, exclude_self=True)
    with pytest.raises(ValueError, match="k must be"):
        nearest_distances(mixed, mixed, k=0, encoder=enc)
    with pytest.raises(ValueError, match="chunk_size"):
        nearest_distances(mixed, mixed, encoder=enc, chunk_size=0)
    with pytest.raises(ValueError, match="encoder="):
        nearest_distances(mixed, np.zeros((2, 3)))
    with pytest.raises(ValueError, match="encoded columns"):
        nearest_distances(np.zeros((2, 3)), np.zeros((2, 4)))
    with pytest.raises(NotFittedError):
        MixedEncoder().encode(mixed)
    with pytest.raises(TypeError):
        fit_encoder(mixed.to_numpy())
    with pytest.raises(ValueError, match="scale"):
        fit_encoder(mixed, scale="minmax")
