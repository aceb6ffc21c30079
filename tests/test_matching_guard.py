"""The matching closeness guard: synthetic rows spaced from training patients as the patients are from each other."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from course_utils.evaluation.distances import fit_encoder, nearest_distances
from course_utils.evaluation.privacy import dcr, exact_match_rate
from course_utils.generators import CARTSynthesizer, GuardedSynthesizer, NoisyCopies, Synthesizer
from course_utils.generators.closeness_guard import MAX_BOOST, ClosenessGuard, closeness_ratio


def _spread_gap(guard: ClosenessGuard, rows: pd.DataFrame) -> float:
    """Total variation between the rows' and the patients' shares over the ratio bands."""
    r, _ = guard.ratio(rows)
    return 0.5 * float(np.abs(guard._band_share(r) - guard.patient_share_).sum())


@pytest.fixture(scope="module")
def fitted(whas500_split):
    """CART with leaves of two patients (it copies), plain, with the factor-1 guard and matching."""
    train, _, meta = whas500_split
    return {g: CARTSynthesizer(min_samples_leaf=2, closeness_guard=g, random_state=0).fit(train, meta)
            for g in (None, 1.0, "match")}


def test_each_patients_ratio_is_its_distance_over_its_neighbours(whas500_split, fitted):
    train, _, meta = whas500_split
    guard = fitted["match"].closeness_guard_
    T = fit_encoder(train, meta).encode(train)
    own, idx = nearest_distances(T, T, exclude_self=True, algorithm="blas")
    expected = closeness_ratio(own[:, 0], own[idx[:, 0], 0])
    np.testing.assert_allclose(guard.patient_ratio_, expected)
    # a patient is never closer to its neighbour than the neighbour is to its own nearest
    assert (guard.patient_ratio_ >= 1 - 1e-12).all()
    mutual = idx[idx[:, 0], 0] == np.arange(len(train))
    assert mutual.any() and np.allclose(guard.patient_ratio_[mutual], 1.0)
    # the first band (below every patient's ratio) is empty, so its rows are always rejected
    assert guard.patient_share_[0] == 0 and guard.acceptance_[0] == 0
    assert guard.patient_share_.sum() == pytest.approx(1.0)


def test_rows_are_spread_like_the_patients_and_never_closer(whas500_split, fitted):
    train, holdout, meta = whas500_split
    guard = fitted["match"].closeness_guard_
    rows = {g: gen.sample(1000, random_state=1) for g, gen in fitted.items()}
    gaps = {g: _spread_gap(guard, out) for g, out in rows.items()}
    assert gaps["match"] < gaps[1.0] - 0.1 < gaps[None] - 0.2
    r, d = guard.ratio(rows["match"])
    assert (r >= 1).all() and (d > 0).all()
    assert exact_match_rate(train, rows["match"], holdout, meta)["synthetic"] == 0
    plain = dcr(train, rows[None].iloc[: len(train)], holdout, meta).share_closer_to_train
    matched = dcr(train, rows["match"].iloc[: len(train)], holdout, meta).share_closer_to_train
    assert plain > 0.65 and matched < plain - 0.12
    assert fitted["match"].closeness_rejection_rate_ > fitted[1.0].closeness_rejection_rate_ > 0


def test_the_acceptance_follows_patient_share_over_pilot_share(fitted):
    guard = fitted["match"].closeness_guard_
    boost = np.minimum(guard.patient_share_ / np.where(guard.pilot_share_ > 0, guard.pilot_share_, np.nan),
                       MAX_BOOST)
    boost = np.where(guard.pilot_share_ > 0, boost, MAX_BOOST)
    np.testing.assert_allclose(guard.acceptance_, boost / boost.max())
    assert guard.acceptance_.max() == 1.0
    # a new patient's pilot would need almost no thinning; CART's leaves of two need a lot
    assert guard.acceptance_[1:].min() < 0.5


def test_same_seed_same_rows_saved_and_loaded_too(whas500_split, tmp_path):
    train, _, meta = whas500_split
    make = lambda: GuardedSynthesizer(NoisyCopies(noise=0.05, flip=0.2, random_state=0),  # noqa: E731
                                      closeness_guard="match", random_state=3).fit(train, meta)
    a, b = make(), make()
    pd.testing.assert_frame_equal(a.sample(200, random_state=5), b.sample(200, random_state=5))
    assert not a.sample(200).equals(a.sample(200))
    back = Synthesizer.load(a.save(tmp_path / "matched.cugen"))
    np.testing.assert_allclose(back.closeness_guard_.acceptance_, a.closeness_guard_.acceptance_)
    pd.testing.assert_frame_equal(back.sample(100, random_state=6), a.sample(100, random_state=6))


def test_a_leaky_generator_is_brought_towards_new_patients(whas500_split):
    train, holdout, meta = whas500_split
    leaky = NoisyCopies(noise=0.05, flip=0.2, random_state=0).fit(train, meta)
    plain = dcr(train, leaky.sample(len(train), random_state=1), holdout, meta).share_closer_to_train
    guarded = GuardedSynthesizer(NoisyCopies(noise=0.05, flip=0.2, random_state=0), closeness_guard="match",
                                 random_state=0).fit(train, meta)
    share = dcr(train, guarded.sample(len(train), random_state=1), holdout, meta).share_closer_to_train
    assert plain > 0.7 and share < plain - 0.12


def test_conditions_hold_with_the_matching_guard(whas500_split):
    train, holdout, meta = whas500_split
    gen = CARTSynthesizer(closeness_guard="match", random_state=0).fit(train, meta)
    out = gen.sample(100, conditions={"fstat": 1})
    assert (out["fstat"] == 1).all()
    assert exact_match_rate(train, out, holdout, meta)["synthetic"] == 0


def test_rows_closer_than_any_patient_are_refused_even_when_the_pilot_had_none(whas500_split):
    train, _, meta = whas500_split
    guard = ClosenessGuard("match").fit(train, meta)
    rows = CARTSynthesizer(random_state=0).fit(train, meta).sample(2000, random_state=1)
    guard.calibrate(rows[guard.ratio(rows)[0] >= 1])  # a pilot without a row closer than 1
    assert guard.pilot_share_[0] == 0
    assert guard.acceptance_[0] == 0 and guard.acceptance_.max() == 1
    near = train.assign(bmi=train["bmi"] + 1e-6)  # near copies: ratios far below 1
    assert not guard.keep(near, np.random.default_rng(0)).any()


def test_misuse_gets_clear_errors(whas500_split):
    train, _, meta = whas500_split
    with pytest.raises(ValueError, match="closeness_guard.*'match'.*'matched'"):
        CARTSynthesizer(closeness_guard="matched").fit(train, meta)
    plain = ClosenessGuard(1.0).fit(train, meta)
    with pytest.raises(ValueError, match="calibrate is for the matching guard"):
        plain.calibrate(train)
    unready = ClosenessGuard("match").fit(train, meta)
    with pytest.raises(RuntimeError, match="not calibrated"):
        unready.keep(train)
    unready.calibrate(train.sample(frac=1.0, random_state=0).assign(age=lambda d: d["age"] + 0.5))
    with pytest.raises(ValueError, match="pass rng"):
        unready.keep(train)
