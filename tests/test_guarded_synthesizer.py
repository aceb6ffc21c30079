"""The closeness guard around any generator: GuardedSynthesizer."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from course_utils.constraints import Inequality, constraint_violations
from course_utils.evaluation.privacy import dcr, exact_match_rate
from course_utils.generators import (
    CARTSynthesizer,
    GaussianCopula,
    GuardedSynthesizer,
    IndependentMarginals,
    NoisyCopies,
    Synthesizer,
)


@pytest.fixture(scope="module")
def guarded_copies(whas500_split):
    train, _, meta = whas500_split
    return GuardedSynthesizer(NoisyCopies(noise=0.05, flip=0.2, random_state=0), closeness_guard=1.0,
                              random_state=0).fit(train, meta)


def test_the_guard_keeps_a_leaky_generator_away_from_its_patients(whas500_split, guarded_copies):
    train, holdout, meta = whas500_split
    leaky = NoisyCopies(noise=0.05, flip=0.2, random_state=0).fit(train, meta).sample(len(train), random_state=1)
    guarded = guarded_copies.sample(len(train), random_state=1)
    assert len(guarded) == len(train)
    assert guarded_copies.closeness_guard_.keep(guarded).all()
    assert exact_match_rate(train, guarded, holdout, meta)["synthetic"] == 0
    leaky_share = dcr(train, leaky, holdout, meta).share_closer_to_train
    guarded_share = dcr(train, guarded, holdout, meta).share_closer_to_train
    assert leaky_share > 0.7
    assert guarded_share < leaky_share - 0.15
    assert 0.5 < guarded_copies.closeness_rejection_rate_ < 1


def test_the_rows_and_their_types_are_the_wrapped_generators(whas500_split):
    train, _, meta = whas500_split
    inner = GaussianCopula(random_state=3)
    gen = GuardedSynthesizer(inner, closeness_guard=0, random_state=0).fit(train, meta)
    assert not hasattr(inner, "metadata_")  # the generator passed in stays unfitted
    assert isinstance(gen.generator_, GaussianCopula) and gen.generator_ is not inner
    out = gen.sample(200)
    assert list(out.columns) == list(train.columns)
    assert (out.dtypes == train.dtypes).all()
    # with factor 0 only exact copies are refused, and a copula draws none: the rows are the copula's
    direct = gen.generator_.sample(200, random_state=np.random.default_rng(9))
    again = GuardedSynthesizer(GaussianCopula(random_state=3), closeness_guard=0, random_state=9).fit(train, meta)
    pd.testing.assert_frame_equal(again.sample(200), direct)


def test_same_seed_same_rows_and_a_new_seed_new_rows(whas500_split):
    train, _, meta = whas500_split

    def draw(seed):
        return GuardedSynthesizer(NoisyCopies(random_state=0), random_state=seed).fit(train, meta).sample(80)

    pd.testing.assert_frame_equal(draw(1), draw(1))
    assert not draw(1).equals(draw(2))


def test_conditions_follow_the_wrapped_generator(whas500_split):
    train, _, meta = whas500_split
    cart = GuardedSynthesizer(CARTSynthesizer(random_state=0), random_state=0).fit(train, meta)
    women = cart.sample(60, conditions={"gender": "female"})
    assert (women["gender"] == "female").all()
    copies = GuardedSynthesizer(NoisyCopies(random_state=0), random_state=0).fit(train, meta)
    with pytest.raises(NotImplementedError, match="GuardedSynthesizer cannot sample with conditions"):
        copies.sample(5, conditions={"gender": "female"})


def test_rules_between_columns_hold_in_every_row(whas500_split):
    train, _, meta = whas500_split
    rule = Inequality("diasbp", "sysbp")
    gen = GuardedSynthesizer(IndependentMarginals(random_state=0), random_state=0)
    out = gen.fit(train, meta.with_constraints([rule])).sample(300)
    assert constraint_violations(out, [rule]) == {str(rule): 0}
    assert gen.closeness_guard_.keep(out).all()


def test_saved_and_loaded_it_draws_the_same_rows(whas500_split, guarded_copies, tmp_path):
    path = guarded_copies.save(tmp_path / "guarded.cugen")
    back = Synthesizer.load(path)
    assert isinstance(back, GuardedSynthesizer) and isinstance(back.generator_, NoisyCopies)
    pd.testing.assert_frame_equal(back.sample(50, random_state=4), guarded_copies.sample(50, random_state=4))


def test_a_scikit_learn_meta_estimator(guarded_copies):
    params = guarded_copies.get_params()
    assert params["closeness_guard"] == 1.0 and params["generator__noise"] == 0.05
    fresh = clone(guarded_copies)
    assert not hasattr(fresh, "generator_") and fresh.get_params()["generator__noise"] == 0.05
    assert "generator=NoisyCopies(flip=0.2" in repr(guarded_copies)


def test_bad_settings_and_a_generator_that_only_copies_get_clear_errors(whas500_split):
    train, _, meta = whas500_split
    with pytest.raises(TypeError, match="generator must be a course generator"):
        GuardedSynthesizer("vae").fit(train, meta)
    with pytest.raises(ValueError, match="closeness_guard must be a finite number >= 0"):
        GuardedSynthesizer(NoisyCopies(), closeness_guard=-1).fit(train, meta)
    with pytest.raises(ValueError, match="max_rejection_draws must be an int >= 1"):
        GuardedSynthesizer(NoisyCopies(), max_rejection_draws=0).fit(train, meta)
    copier = GuardedSynthesizer(NoisyCopies(noise=0, flip=0), closeness_guard=0, max_rejection_draws=3,
                                random_state=0).fit(train, meta)
    with pytest.raises(RuntimeError, match="only 0 of .* rows drawn were far enough.*train NoisyCopies"):
        copier.sample(20)
