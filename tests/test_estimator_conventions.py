"""Every generator is a scikit-learn estimator: get_params, set_params, clone, repr."""

from __future__ import annotations

import pandas as pd
import pytest
from sklearn.base import BaseEstimator, clone

from course_utils.generators import CARTSynthesizer, GaussianCopula, NoisyCopies, registry


@pytest.mark.parametrize("entry", registry(), ids=lambda e: e.name)
def test_clone_rebuilds_every_registered_generator_with_the_same_settings(entry):
    gen = entry.make(3, fast=True, target="y")
    assert isinstance(gen, BaseEstimator)
    twin = clone(gen)
    assert type(twin) is type(gen) and twin is not gen
    assert twin.get_params() == gen.get_params()


def test_clone_is_unfitted_and_reproduces_the_original():
    df = pd.DataFrame({"a": [1.0, 2.5, 3.0, 4.5, 5.0, 6.5] * 5, "b": list("xyzxyz") * 5})
    gen = CARTSynthesizer(min_samples_leaf=3, random_state=7, verbose=False).fit(df)
    twin = clone(gen)
    assert not hasattr(twin, "metadata_")
    pd.testing.assert_frame_equal(twin.fit(df).sample(20), gen.fit(df).sample(20))


def test_set_params_changes_settings_and_refuses_unknown_ones():
    gen = NoisyCopies()
    assert gen.set_params(noise=0.2, random_state=1) is gen
    assert gen.noise == 0.2 and gen.random_state == 1
    with pytest.raises(ValueError, match="flop"):
        gen.set_params(flop=0.1)


def test_get_params_deep_lists_every_init_keyword():
    params = CARTSynthesizer().get_params(deep=True)
    assert {"visit_sequence", "min_samples_leaf", "smoothing", "random_state", "verbose"} <= set(params)
    assert params["min_samples_leaf"] == 5
    assert GaussianCopula().get_params(deep=False) == {"clusters": 1, "random_state": None, "verbose": True}


def test_repr_shows_only_the_parameters_that_differ_from_the_defaults():
    assert repr(GaussianCopula()) == "GaussianCopula()"
    assert repr(CARTSynthesizer(min_samples_leaf=10, random_state=0)) == \
        "CARTSynthesizer(min_samples_leaf=10, random_state=0)"
