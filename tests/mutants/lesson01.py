"""Right answers and plausible wrong answers for the checks of lesson 01."""

from __future__ import annotations

from collections.abc import Callable


def _stroke():
    from course_utils.data import load_stroke

    return load_stroke()


def _whas():
    from course_utils.data import load_whas500

    return load_whas500(return_metadata=True)


def _stroke_meta(groups=None):
    from course_utils.data import STROKE_GROUPS
    from course_utils.schema import Metadata, infer_metadata

    meta = infer_metadata(_stroke())
    # Metadata() itself does not check row sums, so a wrong group can be built.
    return Metadata(meta.columns, dict(STROKE_GROUPS) if groups is None else groups)


def _without(name):
    from course_utils.data import STROKE_GROUPS

    return _stroke_meta({g: m for g, m in STROKE_GROUPS.items() if g != name})


def _short_hospital():
    from course_utils.data import STROKE_GROUPS

    groups = dict(STROKE_GROUPS)
    groups["Hospital"] = groups["Hospital"][:-1]
    return _stroke_meta(groups)


def _roundtrip():
    from course_utils.transform import TabularTransformer

    whas, meta = _whas()
    transformer = TabularTransformer().fit(whas, meta)
    X = transformer.transform(whas)
    return X, transformer.inverse_transform(X)


def _with_back(change):
    X, back = _roundtrip()
    return X, change(back.copy())


def _rounded_bmi(back):
    back["bmi"] = back["bmi"].round(0)
    return back


def _gender_as_text(back):
    back["gender"] = back["gender"].astype(str)
    return back


def _ints_as_floats(back):
    back["age"] = back["age"].astype(float)
    return back


def _share(columns, table="whas"):
    df = _whas()[0] if table == "whas" else _stroke()
    counts = df.value_counts(columns)
    return float((counts == 1).sum() / len(df))


def _stroke_keys():
    from course_utils.data import STROKE_GROUPS

    return ["Age", "Male"] + STROKE_GROUPS["Hospital"]


RIGHT: dict[str, Callable[[], object]] = {
    "01.stroke_metadata": lambda: _stroke_meta(),
    "01.roundtrip": _roundtrip,
    "01.roundtrip_dtypes": _roundtrip,
    "01.whas_unique": lambda: _share(["age", "gender"]),
    "01.stroke_unique": lambda: _share(_stroke_keys(), "stroke"),
}

MUTANTS: dict[str, list[Callable[[], object]]] = {
    "01.stroke_metadata": [
        lambda: _stroke_meta({}),  # groups not declared
        lambda: _without("Hospital"),
        lambda: _without("Stroke Type"),
        _short_hospital,  # Hosp_7 forgotten
        lambda: _whas()[1],  # the other table's metadata
        lambda: _stroke_meta().to_dict(),  # a dict, not Metadata
    ],
    "01.roundtrip": [
        lambda: _roundtrip()[0],  # only X
        lambda: (_roundtrip()[0].astype("float64"), _roundtrip()[1]),
        lambda: (_roundtrip()[0][:, :16], _roundtrip()[1]),
        lambda: _with_back(_rounded_bmi),
        lambda: _with_back(lambda b: b.iloc[:-1]),
        lambda: (_roundtrip()[1], _roundtrip()[0]),  # swapped
    ],
    "01.roundtrip_dtypes": [
        lambda: _with_back(_gender_as_text),
        lambda: _with_back(_ints_as_floats),
        lambda: _with_back(lambda b: b.drop(columns="bmi")),
    ],
    "01.whas_unique": [
        lambda: _share(["age"]),  # gender left out
        lambda: len(_whas()[0][["age", "gender"]].drop_duplicates()) / 500,  # distinct, not unique
        lambda: 1 - _share(["age", "gender"]),
        lambda: int(round(_share(["age", "gender"]) * 500)),  # a count
        lambda: 100 * _share(["age", "gender"]),  # a percentage
        lambda: _whas()[0].value_counts(["age", "gender"]),  # the counts themselves
        lambda: True,
    ],
    "01.stroke_unique": [
        lambda: _share(["Age", "Male"], "stroke"),  # hospital left out
        lambda: _share(["Age", "Male", "Hosp_1"], "stroke"),
        lambda: int(round(_share(_stroke_keys(), "stroke") * 1862)),
        lambda: _share(["age", "gender"]),  # the WHAS500 answer
    ],
}
