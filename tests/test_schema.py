"""Metadata inference and validation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from course_utils.data import STROKE_GROUPS
from course_utils.schema import (
    ColumnSpec,
    Metadata,
    detect_one_hot_groups,
    infer_column,
    infer_metadata,
    validate,
)


def test_inference_rules_cover_every_kind():
    df = pd.DataFrame(
        {
            "flag": [0, 1, 1, 0],
            "truth": [True, False, True, True],
            "count": [1, 5, 3, 2],
            "whole_floats": [1.0, 2.0, np.nan, 4.0],
            "bp": [120.5, 130.1, 99.9, 110.0],
            "sex": ["f", "m", "f", "m"],
            "grade": pd.Categorical(["b", "a", "b", "c"], categories=["c", "b", "a"]),
            "when": pd.to_datetime(["2020-01-01", "2020-02-01", "2021-01-01", "2020-03-01"]),
        }
    )
    meta = infer_metadata(df)
    assert meta.kinds == {
        "flag": "binary", "truth": "binary", "count": "integer", "whole_floats": "integer",
        "bp": "continuous", "sex": "categorical", "grade": "categorical", "when": "datetime",
    }
    assert meta["whole_floats"].nullable and not meta["count"].nullable
    assert meta["count"].bounds == (1, 5)
    assert meta["grade"].categories == ["c", "b", "a"]  # categorical order kept
    assert meta["sex"].categories == ["f", "m"]


def test_overrides_change_kind_and_rederive():
    df = pd.DataFrame({"stage": [1, 2, 3, 2], "age": [50, 60, 70, 80]})
    meta = infer_metadata(df, overrides={"stage": "categorical", "age": {"bounds": (18, 110)}})
    assert meta["stage"].kind == "categorical" and meta["stage"].categories == [1, 2, 3]
    assert meta["age"].bounds == (18, 110)
    with pytest.raises(ValueError, match="nope"):
        infer_metadata(df, overrides={"nope": "integer"})


def test_all_missing_column_cannot_be_inferred():
    with pytest.raises(ValueError, match="'empty'.*missing"):
        infer_column(pd.Series([np.nan, np.nan], name="empty"))


def test_infinite_values_are_named():
    with pytest.raises(ValueError, match="'x'.*infinite"):
        infer_metadata(pd.DataFrame({"x": [1.0, np.inf]}))


def test_one_hot_groups_declared_and_detected(stroke):
    df, meta = stroke
    assert set(meta.one_hot_groups) == set(STROKE_GROUPS)
    assert meta["Hosp_3"].group == "Hospital"
    detected = detect_one_hot_groups(df)
    assert detected["Hosp"] == STROKE_GROUPS["Hospital"]
    assert detected["Stroke Type"] == STROKE_GROUPS["Stroke Type"]
    # 'Onset Time Known Type' members share the prefix too
    assert "Onset Time Known Type" in detected


def test_group_rules():
    df = pd.DataFrame({"a_x": [1, 0], "a_y": [0, 1], "age": [3.5, 4.5]})
    with pytest.raises(ValueError, match="'age'.*binary"):
        infer_metadata(df, one_hot_groups={"a": ["a_x", "age"]})
    with pytest.raises(ValueError, match="at least two"):
        infer_metadata(df, one_hot_groups={"a": ["a_x"]})
    bad = df.copy()
    bad.loc[0, "a_y"] = 1
    with pytest.raises(ValueError, match="one-hot group 'a'.*exactly one"):
        infer_metadata(bad, one_hot_groups={"a": ["a_x", "a_y"]})


def test_validate_names_column_and_problem(whas500):
    meta = infer_metadata(whas500)
    validate(whas500, meta)
    cases = [
        (lambda d: d.drop(columns="bmi"), "missing from the table.*bmi"),
        (lambda d: d.assign(extra=1), "not in the metadata.*extra"),
        (lambda d: d.assign(age=d["age"].astype(float).where(d.index != 0)), "'age'.*missing value"),
        (lambda d: d.assign(age=d["age"] + 0.5), "'age'.*non-whole"),
        (lambda d: d.assign(afb=d["afb"] * 2), "'afb'.*other than 0/1"),
        (lambda d: d.assign(hr=d["hr"] + 1000), "'hr'.*outside bounds"),
        (lambda d: d.assign(gender=d["gender"].astype(str).replace("male", "unknown")), "'gender'.*unknown categories"),
        (lambda d: d.assign(bmi=d["bmi"].astype(str)), "'bmi'.*expected numbers"),
    ]
    for change, pattern in cases:
        with pytest.raises(ValueError, match=pattern):
            validate(change(whas500.copy()), meta)
    validate(whas500.assign(hr=whas500["hr"] + 1000), meta, check_bounds=False)


def test_column_spec_rejects_nonsense():
    with pytest.raises(ValueError, match="unknown kind"):
        ColumnSpec("x", "float")
    with pytest.raises(ValueError, match="needs its categories"):
        ColumnSpec("x", "categorical")
    with pytest.raises(ValueError, match="above high"):
        ColumnSpec("x", "integer", bounds=(5, 1))


def test_metadata_round_trips_through_dict_and_json(stroke, tmp_path):
    _, meta = stroke
    again = Metadata.from_dict(meta.to_dict())
    assert again.kinds == meta.kinds and again.one_hot_groups == meta.one_hot_groups
    assert again["S2NihssArrival"].bounds == (0, 42)
    text = meta.to_json(tmp_path / "meta.json")
    assert "Hospital" in text and (tmp_path / "meta.json").read_text() == text
    summary = meta.summary()
    assert summary.loc["Hosp_1", "group"] == "Hospital" and len(summary) == 51


def test_select_and_update_do_not_mutate(stroke):
    _, meta = stroke
    sub = meta.select(["Age", "Hosp_1", "Hosp_2"])  # hospital group incomplete -> dropped
    assert sub.one_hot_groups == {} and sub["Hosp_1"].group is None
    assert meta["Hosp_1"].group == "Hospital"
    changed = meta.update_column("Age", bounds=(0, 120))
    assert changed["Age"].bounds == (0, 120) and meta["Age"].bounds != (0, 120)
    assert meta.of_kind("continuous") == []
    assert "Age" in meta and len(meta) == 51
    with pytest.raises(KeyError, match="nope"):
        meta["nope"]


def test_require_frame_names_the_table_and_problem():
    from course_utils.schema import require_frame

    df = pd.DataFrame({"a": [1]})
    assert require_frame(df, "holdout") is df
    with pytest.raises(TypeError, match="the holdout must be a pandas DataFrame"):
        require_frame([1, 2], "holdout")
    with pytest.raises(ValueError, match="the holdout is empty"):
        require_frame(df.iloc[:0], "holdout")
    with pytest.raises(ValueError, match="no columns"):
        require_frame(pd.DataFrame(index=[0, 1]), "holdout")
    with pytest.raises(ValueError, match="duplicate column names"):
        require_frame(pd.DataFrame([[1, 2]], columns=["a", "a"]), "holdout")


def test_datetime_to_number_is_one_conversion_with_an_exact_inverse():
    import numpy as np
    import pandas as pd

    from course_utils.schema import datetime_to_number, number_to_datetime

    s = pd.Series(pd.to_datetime(["1970-01-02 00:00", None, "2000-03-01 12:00"]))
    assert datetime_to_number(s, "day")[0] == 1.0
    assert datetime_to_number(s, "s")[0] == 86_400.0
    assert np.isnan(datetime_to_number(s)[1])
    back = number_to_datetime(datetime_to_number(s, "day"), "day")
    assert pd.isna(back[1]) and back[2] == np.datetime64("2000-03-01T12:00")
    with pytest.raises(ValueError, match="unit"):
        datetime_to_number(s, "week")
