"""Tests of the re-identification counts used in lesson 00."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from course_utils.data import STROKE_GROUPS, load_stroke, load_whas500
from course_utils.privacy_basics import equivalence_class_sizes, k_anonymity, uniqueness_table


@pytest.fixture
def small() -> pd.DataFrame:
    # ages 70,70,70,80,80,90 ; sex F,F,M,M,M,F
    return pd.DataFrame(
        {
            "age": [70, 70, 70, 80, 80, 90],
            "sex": ["F", "F", "M", "M", "M", "F"],
            "site": [1, 2, 1, 1, 1, 1],
        }
    )


def test_class_sizes_by_hand(small):
    assert equivalence_class_sizes(small, ["age"]).tolist() == [3, 3, 3, 2, 2, 1]
    assert equivalence_class_sizes(small, ["age", "sex"]).tolist() == [2, 2, 1, 2, 2, 1]
    assert equivalence_class_sizes(small, ["age", "sex", "site"]).tolist() == [1, 1, 1, 2, 2, 1]


def test_sizes_keep_the_index(small):
    shuffled = small.set_index(pd.Index([10, 11, 12, 13, 14, 15])).iloc[::-1]
    sizes = equivalence_class_sizes(shuffled, ["age", "sex"])
    assert list(sizes.index) == list(shuffled.index)
    assert sizes.loc[12] == 1 and sizes.loc[10] == 2


def test_table_by_hand(small):
    t = uniqueness_table(small, ["age", "sex", "site"])
    assert t["quasi_identifiers"].tolist() == ["age", "age + sex", "age + sex + site"]
    assert t["n_identifiers"].tolist() == [1, 2, 3]
    assert t["n_classes"].tolist() == [3, 4, 5]
    assert t["n_unique"].tolist() == [1, 2, 4]
    np.testing.assert_allclose(t["share_unique"], [1 / 6, 2 / 6, 4 / 6])
    assert t["k_anonymity"].tolist() == [1, 1, 1]


def test_k_anonymity_of_a_generalised_table(small):
    bands = small.assign(age=(small["age"] >= 80).map({True: "80+", False: "<80"}))
    assert k_anonymity(bands, ["age"]) == 3
    assert k_anonymity(small, ["age"]) == 1
    assert k_anonymity(small.iloc[:3], ["age"]) == 3


def test_missing_values_form_their_own_class():
    df = pd.DataFrame({"bmi": [np.nan, np.nan, 25.0, 25.0, 30.0]})
    assert equivalence_class_sizes(df, ["bmi"]).tolist() == [2, 2, 2, 2, 1]


def test_categorical_columns_with_unused_levels():
    df = pd.DataFrame({"g": pd.Categorical(["a", "a", "b"], categories=["a", "b", "c"])})
    assert equivalence_class_sizes(df, ["g"]).tolist() == [2, 2, 1]
    assert uniqueness_table(df, ["g"])["n_classes"].tolist() == [2]


def test_n_classes_matches_distinct_rows_and_uniqueness_grows():
    rng = np.random.default_rng(0)
    df = pd.DataFrame(rng.integers(0, 4, size=(300, 5)), columns=list("abcde"))
    t = uniqueness_table(df, list("abcde"))
    for i, row in t.iterrows():
        assert row["n_classes"] == len(df[list("abcde")[: i + 1]].drop_duplicates())
    assert t["n_unique"].is_monotonic_increasing
    assert (t["k_anonymity"].diff().dropna() <= 0).all()


def test_course_data_counts():
    stroke = load_stroke()
    stroke["hospital"] = stroke[STROKE_GROUPS["Hospital"]].to_numpy().argmax(axis=1) + 1
    t = uniqueness_table(stroke, ["Age", "Male", "hospital"])
    assert t["n_unique"].tolist() == [1, 6, 196]
    whas = load_whas500()
    whas["bmi_rounded"] = whas["bmi"].round()
    t = uniqueness_table(whas, ["age", "gender", "bmi_rounded"])
    assert t["n_unique"].tolist() == [8, 26, 376]


@pytest.mark.parametrize(
    "qi, error",
    [([], ValueError), (["age", "nope"], ValueError), (["age", "age"], ValueError), ("age", TypeError)],
)
def test_bad_input(small, qi, error):
    with pytest.raises(error):
        uniqueness_table(small, qi)


def test_not_a_frame_and_empty():
    with pytest.raises(TypeError):
        k_anonymity([[1, 2]], ["a"])
    with pytest.raises(ValueError, match="no rows"):
        k_anonymity(pd.DataFrame({"a": []}), ["a"])
