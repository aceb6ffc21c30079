"""CART's closeness guard: no copies of training patients, a reported rejection rate, training data only."""

from __future__ import annotations

import inspect

import numpy as np
import pandas as pd
import pytest

from course_utils.config import SEED
from course_utils.data import train_holdout_split
from course_utils.evaluation.closeness import nearest_real_distance
from course_utils.evaluation.distances import fit_encoder, nearest_distances
from course_utils.evaluation.privacy import dcr, exact_match_rate
from course_utils.generators import CARTSynthesizer
from course_utils.generators.closeness_guard import ClosenessGuard


@pytest.fixture(scope="module")
def split(whas500_split):
    return whas500_split


@pytest.fixture(scope="module")
def copier(split):
    """Leaves of two patients: plain CART hands out some whole training rows."""
    train, _, meta = split
    return CARTSynthesizer(min_samples_leaf=2, random_state=0).fit(train, meta)


def test_the_guard_never_returns_a_copy_where_plain_cart_copies(split, copier):
    train, holdout, meta = split
    plain = copier.sample(1000, random_state=1)
    assert exact_match_rate(train, plain, holdout, meta)["synthetic"] > 0.005
    guarded = CARTSynthesizer(min_samples_leaf=2, closeness_guard=0, random_state=0).fit(train, meta)
    out = guarded.sample(1000, random_state=1)
    assert len(out) == 1000
    assert 0 < guarded.closeness_rejection_rate_ < 0.1
    assert exact_match_rate(train, out, holdout, meta)["synthetic"] == 0
    assert (nearest_real_distance(train, out, metadata=meta) > 0).all()


def test_the_rejection_rate_is_the_share_of_draws_thrown_away(split, copier):
    train, _, meta = split
    assert copier.closeness_rejection_rate_ == 0.0
    guarded = CARTSynthesizer(min_samples_leaf=2, closeness_guard=1.0, random_state=0).fit(train, meta)
    guarded.sample(400, random_state=2)
    # the same trees without the guard: the share of their rows the guard would refuse
    refused = 1 - guarded.closeness_guard_.keep(copier.sample(2000, random_state=3)).mean()
    assert refused > 0.5
    assert guarded.closeness_rejection_rate_ == pytest.approx(refused, abs=0.05)


def test_the_guard_lowers_the_dcr_share_where_plain_cart_copies(split, copier):
    train, holdout, meta = split
    plain = dcr(train, copier.sample(len(train), random_state=4), holdout, meta).share_closer_to_train
    guarded = CARTSynthesizer(min_samples_leaf=2, closeness_guard=1.0, random_state=0).fit(train, meta)
    share = dcr(train, guarded.sample(len(train), random_state=4), holdout, meta).share_closer_to_train
    assert plain > 0.65
    assert share < plain - 0.12
    assert share < 0.58


def test_same_seed_same_output_and_rate(split):
    train, _, meta = split
    a = CARTSynthesizer(closeness_guard=1.0, random_state=7).fit(train, meta)
    b = CARTSynthesizer(closeness_guard=1.0, random_state=7).fit(train, meta)
    sa, sb = a.sample(200), b.sample(200)
    assert sa.equals(sb)
    assert a.closeness_rejection_rate_ == b.closeness_rejection_rate_ > 0
    assert not a.sample(200).equals(sa)  # the random stream moves on


def test_the_thresholds_come_from_the_training_rows_alone(split):
    train, holdout, meta = split
    assert list(inspect.signature(ClosenessGuard.fit).parameters) == ["self", "train", "metadata"]
    gen = CARTSynthesizer(closeness_guard=0.8, random_state=0).fit(train, meta)
    guard = gen.closeness_guard_
    # each patient's threshold: the distance to the nearest other training patient
    T = fit_encoder(train, meta).encode(train)
    own, _ = nearest_distances(T, T, exclude_self=True, algorithm="blas")
    np.testing.assert_allclose(guard.own_distance_, own[:, 0])
    # fitted on the training rows and the holdout, the thresholds would differ
    both = ClosenessGuard(0.8).fit(pd.concat([train, holdout]), meta)
    assert not np.allclose(both.own_distance_[: len(train)], guard.own_distance_)
    # every kept row is at least 0.8 x its nearest patient's threshold away
    out = gen.sample(300, random_state=5)
    d, idx = guard.nearest(out)
    assert (d >= 0.8 * guard.own_distance_[idx]).all()
    np.testing.assert_allclose(d, nearest_real_distance(train, out, metadata=meta).to_numpy())


def test_a_guard_no_row_can_pass_fails_clearly(split):
    train, _, meta = split
    gen = CARTSynthesizer(closeness_guard=1000, max_rejection_draws=3, random_state=0).fit(train, meta)
    with pytest.raises(RuntimeError, match="closeness_guard=1000"):
        gen.sample(50)
    assert gen.closeness_rejection_rate_ == 1.0


@pytest.mark.parametrize("bad, error", [(-0.5, ValueError), (float("nan"), ValueError),
                                        ("1", ValueError), (True, TypeError)])
def test_bad_guard_settings_are_named(split, bad, error):
    train, _, meta = split
    with pytest.raises(error, match="closeness_guard"):
        CARTSynthesizer(closeness_guard=bad).fit(train, meta)


@pytest.mark.parametrize("bad", [0, -3, 2.5, True, "100"])
def test_bad_max_rejection_draws_are_named(split, bad):
    train, _, meta = split
    with pytest.raises(ValueError, match="max_rejection_draws must be an int >= 1"):
        CARTSynthesizer(max_rejection_draws=bad).fit(train, meta)


def test_conditions_still_hold_with_the_guard(split):
    train, holdout, meta = split
    gen = CARTSynthesizer(closeness_guard=1.0, random_state=0).fit(train, meta)
    out = gen.sample(100, conditions={"fstat": 1})
    assert (out["fstat"] == 1).all()
    assert exact_match_rate(train, out, holdout, meta)["synthetic"] == 0


def test_the_guard_holds_with_accepted_rules_between_columns(stroke):
    from course_utils.constraints import discover_constraints

    df, meta = stroke
    train, holdout = train_holdout_split(df, stratify="Clotbuster given", random_state=SEED)
    ruled = meta.with_constraints([r for r in discover_constraints(train, meta) if r.derived])
    gen = CARTSynthesizer(closeness_guard=0, random_state=0).fit(train, ruled)
    out = gen.sample(len(train), random_state=0)
    assert all(rule.holds(out).all() for rule in ruled.constraints)
    assert exact_match_rate(train, out, holdout, meta)["synthetic"] == 0
