"""NoisyCopies, the deliberately leaky generator of lesson 04: it must leak, measurably."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from course_utils.config import SEED
from course_utils.data import STROKE_GROUPS, load_stroke, load_whas500, train_holdout_split
from course_utils.evaluation.privacy import dcr, exact_match_rate, membership_inference
from course_utils.generators import IndependentMarginals, NoisyCopies
from course_utils.schema import infer_metadata


@pytest.fixture(scope="module")
def whas():
    df, meta = load_whas500(return_metadata=True)
    train, holdout = train_holdout_split(df, stratify="fstat", random_state=SEED)
    return train, holdout, meta


def test_zero_noise_returns_training_rows(whas):
    train, _, meta = whas
    out = NoisyCopies(noise=0, random_state=0).fit(train, meta).sample(200)
    assert exact_match_rate(train, out, metadata=meta)["synthetic"] == 1.0
    for col in train.columns:
        assert out[col].dtype == train[col].dtype, col


def test_noise_has_the_requested_size(whas):
    train, _, meta = whas
    gen = NoisyCopies(noise=0.05, random_state=0).fit(train, meta)
    span = train["bmi"].max() - train["bmi"].min()
    assert gen.scales_["bmi"] == pytest.approx(0.05 * span)
    # bmi is continuous, so every row is moved and none is an exact copy
    out = gen.sample(2000)
    assert exact_match_rate(train, out, metadata=meta)["synthetic"] == 0.0
    # within the metadata's bounds (repair clips), and the spread of the column stays about the same
    low, high = meta["bmi"].bounds
    assert out["bmi"].between(low, high).all()
    assert out["bmi"].std() == pytest.approx(train["bmi"].std(), rel=0.15)


def test_categoricals_unchanged_without_flip_and_changed_with_it(whas):
    train, _, meta = whas
    gen = NoisyCopies(noise=0.0, flip=0.0, random_state=1).fit(train, meta)
    out = gen.sample(300)
    # with no noise and no flips the rows are training rows: each one is found in train
    key = train.astype(str).agg("|".join, axis=1)
    assert out.astype(str).agg("|".join, axis=1).isin(set(key)).all()
    flipped = NoisyCopies(noise=0.0, flip=0.5, random_state=1).fit(train, meta).sample(2000)
    found = flipped.astype(str).agg("|".join, axis=1).isin(set(key)).mean()
    assert found < 0.5
    # a flip draws from the column's training values, so categories stay valid
    assert set(flipped["mitype"].dropna()) <= set(train["mitype"].cat.categories)


def test_it_leaks_and_the_privacy_metrics_see_it(whas):
    train, holdout, meta = whas
    leaky = NoisyCopies(noise=0.05, random_state=SEED).fit(train, meta).sample(len(train))
    sound = IndependentMarginals(random_state=SEED).fit(train, meta).sample(len(train))
    assert exact_match_rate(train, leaky, holdout, meta)["synthetic"] == 0.0
    d_leaky = dcr(train, leaky, holdout, meta)
    d_sound = dcr(train, sound, holdout, meta)
    assert d_leaky.share_closer_to_train > 0.9
    assert 0.35 < d_sound.share_closer_to_train < 0.65
    assert np.median(d_leaky.synthetic_to_train) < 0.5 * np.median(d_leaky.holdout_to_train)
    assert membership_inference(train, leaky, holdout, meta)["distance_auc"] > 0.7


def test_more_noise_leaks_less(whas):
    train, holdout, meta = whas
    aucs = [membership_inference(train, NoisyCopies(noise=s, random_state=SEED).fit(train, meta)
                                 .sample(len(train)), holdout, meta)["distance_auc"] for s in (0.0, 0.05, 0.3)]
    assert aucs[0] > aucs[1] > aucs[2]


def test_one_hot_groups_stay_valid_with_flips():
    stroke = load_stroke()
    cols = STROKE_GROUPS["Hospital"] + ["Clotbuster given", "Male", "Age"]
    small = stroke[cols].iloc[:300].reset_index(drop=True)
    meta = infer_metadata(small, one_hot_groups={"Hospital": STROKE_GROUPS["Hospital"]})
    out = NoisyCopies(noise=0.05, flip=0.5, random_state=0).fit(small, meta).sample(400)
    assert (out[STROKE_GROUPS["Hospital"]].sum(axis=1) == 1).all()


def test_same_seed_same_output(whas):
    train, _, meta = whas
    a = NoisyCopies(noise=0.1, flip=0.1, random_state=3).fit(train, meta).sample(50)
    b = NoisyCopies(noise=0.1, flip=0.1, random_state=3).fit(train, meta).sample(50)
    pd.testing.assert_frame_equal(a, b)
    c = NoisyCopies(noise=0.1, flip=0.1, random_state=4).fit(train, meta).sample(50)
    assert not a.equals(c)


@pytest.mark.parametrize(("kwargs", "name"), [({"noise": -0.1}, "noise"), ({"noise": float("nan")}, "noise"),
                                              ({"flip": 1.5}, "flip"), ({"flip": "a"}, "flip"),
                                              ({"noise": True}, "noise")])
def test_bad_hyper_parameters(whas, kwargs, name):
    train, _, meta = whas
    with pytest.raises(ValueError, match=name):
        NoisyCopies(**kwargs).fit(train, meta)


def test_conditions_are_refused(whas):
    train, _, meta = whas
    gen = NoisyCopies(random_state=0).fit(train, meta)
    with pytest.raises(NotImplementedError, match="conditions"):
        gen.sample(10, conditions={"gender": "female"})
