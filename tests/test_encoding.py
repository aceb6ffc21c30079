"""The one encoding layer: each setting does what it says, and every use is a configuration of it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from course_utils.encoding import TableEncoding
from course_utils.evaluation.distances import MixedEncoder
from course_utils.evaluation.utility import TableEncoder
from course_utils.schema import infer_metadata


def _table() -> pd.DataFrame:
    return pd.DataFrame({
        "age": [40.0, 50.0, np.nan, 70.0, 80.0],
        "sex": pd.Categorical(["f", "m", "m", None, "f"], categories=["f", "m"]),
        "flag": [0, 1, 1, 0, 1],
        "day": pd.to_datetime(["2020-01-01", "2020-01-02", "2020-01-03", "2020-01-04", "2020-01-05"]),
    })


def test_onehot_range_and_inline_indicators():
    df = _table()
    enc = TableEncoding(numbers="range", missing="indicator").fit(df)
    X = enc.transform(df)
    assert enc.feature_names_ == ["age", "age=<missing>", "sex=f", "sex=m", "sex=<missing>", "flag", "day"]
    assert X[:, 0].tolist() == pytest.approx([0, 0.25, 0.5, 0.75, 1])  # the missing age gets the median
    assert X[:, 1].tolist() == [0, 0, 1, 0, 0]
    assert X[3, 2:5].tolist() == [0, 0, 1]
    assert X[:, 6].tolist() == pytest.approx([0, 0.25, 0.5, 0.75, 1])  # dates in range units


def test_ordinal_codes_and_nan_keep_missing_apart():
    df = _table()
    enc = TableEncoding(categories="ordinal", missing="nan", binary_as_category=True, date_unit="s").fit(df)
    X = enc.transform(df)
    assert enc.feature_names_ == ["age", "age=<missing>", "sex", "flag", "day"]
    assert np.isnan(X[2, 0]) and X[2, 1] == 1
    assert X[:, 2].tolist() == [0, 1, 1, 2, 0]  # missing is the code after the levels
    assert X[1, 4] - X[0, 4] == 86_400


def test_standard_scaling_and_indicators_last_with_dropped_first_level():
    df = _table()
    enc = TableEncoding(numbers="standard", scale_binary=True, missing="last", drop_first=True).fit(df)
    X = enc.transform(df)
    assert enc.feature_names_ == ["age", "sex=m", "flag", "day", "age__missing", "sex__missing"]
    assert X[:, 0].mean() == pytest.approx(0) and X[:, 0].std() == pytest.approx(1)
    assert X[:, 4].tolist() == [0, 0, 1, 0, 0]


def test_missing_where_fit_had_none_is_refused_unless_filled_last():
    df = _table()
    holes = df.assign(flag=[0, np.nan, 1, 0, 1])
    with pytest.raises(ValueError, match="'flag'.*missing"):
        TableEncoding(missing="indicator").fit(df).transform(holes)
    filled = TableEncoding(missing="last", scale_binary=True).fit(df).transform(holes)
    assert np.isfinite(filled).all()


def test_the_distance_and_the_models_use_configurations_of_the_layer():
    df = _table()
    meta = infer_metadata(df)
    mixed = MixedEncoder().fit(df, meta)
    assert isinstance(mixed, TableEncoding)
    same = TableEncoding(numbers="range", missing="indicator", indicate="nullable",
                         category_weight=1 / np.sqrt(2)).fit(df, meta)
    assert np.array_equal(mixed.encode(df), same.transform(df))
    model = TableEncoder(meta).fit(df)
    assert isinstance(model.encoding_, TableEncoding)
    assert model.transform(df).shape == (5, len(model.get_feature_names_out()))


def test_bad_settings_and_values_are_named():
    with pytest.raises(ValueError, match="numbers"):
        TableEncoding(numbers="log").fit(_table())
    with pytest.raises(ValueError, match="'age'.*infinite"):
        TableEncoding().fit(_table().assign(age=[1.0, np.inf, 2.0, 3.0, 4.0]))
