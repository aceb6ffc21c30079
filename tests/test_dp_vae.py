"""DP-SGD VAE: refusals, noise that follows epsilon, the epsilon spent, reproducibility."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from course_utils.data import load_veterans
from course_utils.generators.dp_vae import DPVAESynthesizer
from course_utils.generators.mst import marginal_counts

BOUNDS = {"Age_in_years": (18, 100), "Karnofsky_score": (0, 100),
          "Months_from_Diagnosis": (0, 120), "survival_days": (0, 1000)}


@pytest.fixture(scope="module")
def vet():
    return load_veterans(return_metadata=True)


def _vae(eps, seed=0, **kw):
    params = {"epochs": 4, "hidden": (16,), "latent_dim": 3, "batch_size": 32, "bounds": BOUNDS}
    params.update(kw)
    return DPVAESynthesizer(epsilon=eps, delta=1e-5, random_state=seed, verbose=False, **params)


@pytest.mark.parametrize("missing", ["epsilon", "delta"])
def test_refuses_without_epsilon_or_delta(vet, missing):
    df, meta = vet
    kw = {"epsilon": 1.0, "delta": 1e-5, "bounds": BOUNDS}
    kw[missing] = None
    with pytest.raises(ValueError, match=f"without an explicit {missing}"):
        DPVAESynthesizer(**kw).fit(df, meta)


def test_refuses_to_read_bounds_or_categories_from_the_data(vet):
    df, meta = vet
    with pytest.raises(ValueError, match="will not read the ranges"):
        DPVAESynthesizer(epsilon=1.0, delta=1e-5).fit(df, meta)
    with pytest.raises(ValueError, match="public knowledge"):
        DPVAESynthesizer(epsilon=1.0, delta=1e-5, bounds=BOUNDS).fit(df)


def test_noise_follows_epsilon_and_the_spent_epsilon_is_reported(vet):
    from opacus.accountants.utils import get_noise_multiplier

    df, meta = vet
    multipliers = []
    for eps in (0.5, 2.0, 8.0):
        gen = _vae(eps).fit(df, meta)
        expected = get_noise_multiplier(target_epsilon=eps, target_delta=1e-5,
                                        sample_rate=1 / math.ceil(len(df) / 32), epochs=4, accountant="rdp")
        assert gen.noise_multiplier_ == pytest.approx(expected)
        assert 0.9 * eps <= gen.epsilon_spent_ <= eps * 1.001
        assert gen.privacy_report()["epsilon spent"].iloc[0] == gen.epsilon_spent_
        multipliers.append(gen.noise_multiplier_)
    assert multipliers[0] > multipliers[1] > multipliers[2] > 0
    assert _vae(math.inf).fit(df, meta).noise_multiplier_ == 0.0


def _marginal_error(df, meta, eps):
    errors = []
    for seed in (0, 1):
        gen = _vae(eps, seed=seed, epochs=15).fit(df, meta)
        real, synth = gen.domain_.encode(df), gen.domain_.encode(gen.sample(2000, random_state=seed))
        for j in range(len(gen.domain_.sizes_)):
            p = marginal_counts(real, (j,), gen.domain_.sizes_) / len(real)
            q = marginal_counts(synth, (j,), gen.domain_.sizes_) / len(synth)
            errors.append(0.5 * np.abs(p - q).sum())
    return float(np.mean(errors))


def test_smaller_epsilon_gives_noisier_marginals(vet):
    df, meta = vet
    assert _marginal_error(df, meta, 0.2) > _marginal_error(df, meta, math.inf) + 0.03


def test_same_seed_same_output(vet):
    df, meta = vet
    a = _vae(1.0, seed=3).fit(df, meta).sample(40)
    b = _vae(1.0, seed=3).fit(df, meta).sample(40)
    pd.testing.assert_frame_equal(a, b)
    for col, (low, high) in BOUNDS.items():
        assert a[col].between(low, high).all()
