"""The one generator registry: lookups, settings, and a toy generator added by registration alone."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from course_utils import generators
from course_utils.generators import GeneratorEntry, Synthesizer, registry
from course_utils.generators.registry import (
    get_generator,
    register_generator,
    registry_table,
    unregister_generator,
)

from .contract_registry import entries


class ToyShuffle(Synthesizer):
    """Each column resampled on its own (a registered stand-in for a new method)."""

    def _fit(self, df: pd.DataFrame) -> None:
        self.train_ = df.copy()

    def _sample(self, n, conditions, rng):
        return pd.DataFrame({c: rng.choice(self.train_[c].to_numpy(), size=n) for c in self.columns_})


def test_every_registered_class_is_importable_from_the_package():
    names = [e.name for e in registry()]
    assert {"CARTSynthesizer", "VAESynthesizer", "GANSynthesizer", "SMOTESynthesizer"} <= set(names)
    for name in names:
        cls = getattr(generators, name)
        assert issubclass(cls, Synthesizer), name
        assert cls is get_generator(name).load()


def test_make_uses_fast_and_default_settings_and_overrides():
    vae = get_generator("VAESynthesizer")
    assert vae.make(1, fast=True).epochs == 3
    assert vae.make(1).epochs != 3
    assert vae.make(1, fast=True, epochs=5).epochs == 5
    smote = get_generator("SMOTESynthesizer")
    with pytest.raises(ValueError, match="outcome column"):
        smote.make(0)
    assert smote.make(0, target="status").target == "status"


def test_unknown_names_and_families_are_clear_errors():
    with pytest.raises(KeyError, match="registered"):
        get_generator("NoSuchSynthesizer")
    with pytest.raises(AttributeError):
        generators.NoSuchSynthesizer  # noqa: B018
    with pytest.raises(ValueError, match="family"):
        register_generator(GeneratorEntry("X", ".x", "astrology", "99", "no"))
    with pytest.raises(ValueError, match="already"):
        register_generator(get_generator("CARTSynthesizer"))


def test_registry_table_has_one_row_per_generator():
    table = pd.DataFrame(registry_table())
    assert list(table["generator"]) == [e.name for e in registry()]


def test_a_toy_generator_joins_the_contract_suite_by_registration_alone():
    entry = GeneratorEntry("ToyShuffle", __name__, "baseline", "99", "toy")
    register_generator(entry)
    try:
        names = [e.name for e in entries()]
        assert "ToyShuffle" in names
        toy = next(e for e in entries() if e.name == "ToyShuffle")
        df = pd.DataFrame({"a": np.arange(20.0), "b": list("xy") * 10})
        out = toy.factory(0).fit(df).sample(7)
        assert list(out.columns) == ["a", "b"] and len(out) == 7
    finally:
        unregister_generator("ToyShuffle")
    assert "ToyShuffle" not in [e.name for e in entries()]


def test_a_toy_generator_joins_the_benchmarks_by_registration_alone():
    from course_utils.benchmarks import cart, deep

    before = [e.name for e in cart.benchmark_generators()]
    assert before == ["IndependentMarginals", "GaussianCopula", "CARTSynthesizer"]
    assert [e.name for e in deep.benchmark_generators()] == [
        "IndependentMarginals", "GaussianCopula", "VAESynthesizer", "GANSynthesizer"]
    register_generator(GeneratorEntry("ToyShuffle", __name__, "baseline", "99", "toy"))
    try:
        assert [e.name for e in cart.benchmark_generators()] == before + ["ToyShuffle"]
        assert "ToyShuffle" in [e.name for e in deep.benchmark_generators()]
        assert "ToyShuffle" in deep._factories(quick=True)
        df = pd.DataFrame({"a": np.arange(20.0), "b": list("xy") * 10})
        toy = next(e for e in cart.benchmark_generators() if e.name == "ToyShuffle")
        assert len(toy.make(0).fit(df).sample(5)) == 5
    finally:
        unregister_generator("ToyShuffle")
    assert [e.name for e in cart.benchmark_generators()] == before
