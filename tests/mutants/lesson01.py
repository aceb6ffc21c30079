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


def _holdout_back(continuous="quantile", fit_on="train"):
    from course_utils.checks import whas500_split
    from course_utils.transform import TabularTransformer

    train, holdout, meta = whas500_split()
    fitted = TabularTransformer(continuous=continuous).fit(train if fit_on == "train" else holdout, meta)
    return holdout.reset_index(drop=True), fitted.inverse_transform(fitted.transform(holdout))


def _changed(kinds=None, **kwargs):
    """Per column, the holdout values that do not come back (the right answer at the defaults)."""
    import numpy as np

    holdout, back = _holdout_back(**kwargs)
    meta = _whas()[1]
    out = {}
    for col in holdout.columns:
        if kinds is not None and meta[col].kind not in kinds:
            continue
        if meta[col].kind == "continuous":
            same = np.isclose(back[col].to_numpy(float), holdout[col].to_numpy(float), rtol=0, atol=1e-4)
        else:
            same = holdout[col].astype(object).to_numpy() == back[col].astype(object).to_numpy()
        if (~same).sum():
            out[col] = int((~same).sum())
    return out


def _unseen_values():
    """Counts holdout values that no training patient has: not what the transformer loses."""
    from course_utils.checks import whas500_split

    train, holdout, meta = whas500_split()
    out = {c: int((~holdout[c].isin(train[c])).sum()) for c in holdout.columns
           if meta[c].kind in ("integer", "continuous")}
    return {c: n for c, n in out.items() if n}


def _outside(reference="train", above_only=False):
    from course_utils.checks import whas500_split

    train, holdout, meta = whas500_split()
    ref = train if reference == "train" else _whas()[0]
    out = {}
    for c in holdout.columns:
        if meta[c].kind in ("integer", "continuous"):
            high = holdout[c] > ref[c].max()
            n = int((high if above_only else high | (holdout[c] < ref[c].min())).sum())
            if n:
                out[c] = n
    return out


def _share(columns, table="whas"):
    df = _whas()[0] if table == "whas" else _stroke()
    counts = df.value_counts(columns)
    return float((counts == 1).sum() / len(df))


def _stroke_keys():
    from course_utils.data import STROKE_GROUPS

    return ["Age", "Male"] + STROKE_GROUPS["Hospital"]


RIGHT: dict[str, Callable[[], object]] = {
    "01.stroke_metadata": lambda: _stroke_meta(),
    "01.holdout_roundtrip": _changed,
    "01.holdout_roundtrip_why": _outside,
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
    "01.holdout_roundtrip": [
        lambda: {},  # the training table's round trip: everything comes back
        lambda: {c: n / 150 for c, n in _changed().items()},  # shares, not patients
        lambda: _changed(kinds=("continuous",)),  # only BMI looked at
        _unseen_values,  # "a value no training patient has is lost"
        lambda: sorted(_changed()),  # names only
        lambda: _changed(continuous="standard"),  # another scaler: z-scores do not clip
    ],
    "01.holdout_roundtrip_why": [
        lambda: _outside("whole table"),  # the whole table's range holds the holdout
        lambda: _outside(above_only=True),
        _unseen_values,
        lambda: sum(_outside().values()),  # one total
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
