"""A fit that raises leaves the generator exactly as it was, for every registered generator."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError

from course_utils.data import load_veterans
from course_utils.generators import IndependentMarginals, SMOTESynthesizer, Synthesizer
from course_utils.schema import infer_metadata

from .contract_registry import ENTRIES, ContractEntry

IDS = [e.name for e in ENTRIES]


def _make(entry: ContractEntry, seed: int) -> Synthesizer:
    return entry.factory(seed) if entry.target is None else entry.factory(seed, entry.target)


def _older_patients() -> pd.DataFrame:
    """The veterans table with every age 40 years higher: a fit on it moves the age bounds."""
    df = load_veterans().copy()
    df["Age_in_years"] = df["Age_in_years"] + 40
    return df


@pytest.fixture(params=ENTRIES, ids=IDS)
def entry(request) -> ContractEntry:
    return request.param


def test_a_fit_that_fails_at_the_last_moment_changes_nothing(entry, monkeypatch):
    vet = load_veterans()
    meta = infer_metadata(vet)
    gen, twin = _make(entry, 4).fit(vet, meta), _make(entry, 4).fit(vet, meta)
    gen.sample(5), twin.sample(5)
    before = dict(gen.__dict__)
    learn = type(gen)._fit

    def learn_then_fail(self, df):
        learn(self, df)  # every fitted attribute is written, then the fit dies
        raise RuntimeError("interrupted")

    monkeypatch.setattr(type(gen), "_fit", learn_then_fail)
    with pytest.raises(RuntimeError, match="interrupted"):
        older = _older_patients()
        gen.fit(older, infer_metadata(older))
    monkeypatch.undo()
    assert gen.__dict__.keys() == before.keys()
    assert all(gen.__dict__[k] is v for k, v in before.items())
    out = gen.sample(200)
    pd.testing.assert_frame_equal(out, twin.sample(200))
    assert out["Age_in_years"].max() <= vet["Age_in_years"].max()


def test_a_refit_is_a_fresh_fit(entry):
    """Nothing of the first table survives a second, successful fit (not even feature scales)."""
    vet = load_veterans()
    other = vet.copy()
    other["Age_in_years"] = other["Age_in_years"] * 3
    # metadata given explicitly: the DP generators refuse to read it from the rows
    meta, other_meta = infer_metadata(vet), infer_metadata(other)
    refit = _make(entry, 4).fit(vet, meta).fit(other, other_meta)
    pd.testing.assert_frame_equal(refit.sample(30), _make(entry, 4).fit(other, other_meta).sample(30))


def test_smote_with_too_few_minority_rows_keeps_its_first_table():
    vet = load_veterans()
    gen = SMOTESynthesizer(target="status", variant="smotenc", random_state=0).fit(vet)
    twin = SMOTESynthesizer(target="status", variant="smotenc", random_state=0).fit(vet)
    older = _older_patients()
    bad = pd.concat([older[older["status"] == 1], older[older["status"] == 0].iloc[:3]], ignore_index=True)
    with pytest.raises(ValueError, match="too few rows"):
        gen.fit(bad)
    out = gen.sample(300)
    assert out["Age_in_years"].between(vet["Age_in_years"].min(), vet["Age_in_years"].max()).all()
    pd.testing.assert_frame_equal(out, twin.sample(300))


def test_a_failed_first_fit_leaves_the_generator_unfitted():
    gen = SMOTESynthesizer(target="status", variant="smotenc", random_state=0)
    vet = load_veterans()
    with pytest.raises(ValueError, match="too few rows"):
        gen.fit(pd.concat([vet[vet["status"] == 1], vet[vet["status"] == 0].iloc[:2]]))
    assert set(gen.__dict__) == set(gen.get_params())
    with pytest.raises(NotFittedError):
        gen.sample(3)


def test_a_failed_fit_puts_back_a_shared_random_generator(monkeypatch):
    rng = np.random.default_rng(0)
    gen = IndependentMarginals(random_state=rng).fit(load_veterans())
    state = rng.bit_generator.state

    def draw_then_fail(self, df):
        self._rng.random(1000)
        raise RuntimeError("interrupted")

    monkeypatch.setattr(IndependentMarginals, "_fit", draw_then_fail)
    with pytest.raises(RuntimeError):
        gen.fit(load_veterans())
    assert rng.bit_generator.state == state
