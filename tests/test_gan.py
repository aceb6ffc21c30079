"""GANSynthesizer: reproducibility, losses, conditions, rare categories, the WGAN-GP pieces."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.exceptions import NotFittedError

from course_utils.generators import Synthesizer
from course_utils.generators.gan import (
    GANSynthesizer,
    critic_loss,
    gradient_penalty,
    log_frequency_probabilities,
)

TINY = dict(epochs=4, batch_size=40, latent_dim=8, generator_dim=(16,), discriminator_dim=(16,),
            pac=4, verbose=False, device="cpu")


@pytest.fixture(scope="module")
def small_whas(whas500) -> pd.DataFrame:
    return whas500.iloc[:200].reset_index(drop=True)


@pytest.fixture(scope="module")
def fitted_sho(small_whas) -> GANSynthesizer:
    return GANSynthesizer(condition_column="sho", random_state=0, **TINY).fit(small_whas)


def _rare_table(n: int = 400, seed: int = 0) -> pd.DataFrame:
    """A table whose 5% category 'C' has its own, very different value of x."""
    rng = np.random.default_rng(seed)
    group = rng.choice(["A", "B", "C"], size=n, p=[0.6, 0.35, 0.05])
    x = np.where(group == "C", rng.normal(4.0, 0.3, n), rng.normal(0.0, 1.0, n))
    flag = (rng.random(n) < np.where(group == "C", 0.9, 0.2)).astype(int)
    return pd.DataFrame({"group": pd.Categorical(group, categories=["A", "B", "C"]), "x": x, "flag": flag})


def test_same_seed_same_output(small_whas):
    a = GANSynthesizer(random_state=1, **TINY).fit(small_whas)
    b = GANSynthesizer(random_state=1, **TINY).fit(small_whas)
    pd.testing.assert_frame_equal(a.sample(50), b.sample(50))
    assert a.loss_history_ == b.loss_history_
    c = GANSynthesizer(random_state=2, **TINY).fit(small_whas)
    assert not a.sample(50, random_state=0).equals(c.sample(50, random_state=0))


def test_fit_does_not_touch_global_torch_state(small_whas):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    GANSynthesizer(random_state=0, **TINY).fit(small_whas)
    assert torch.equal(torch.rand(3), expected)


def test_losses_recorded_per_epoch(fitted_sho):
    hist = pd.DataFrame(fitted_sho.loss_history_)
    assert list(hist["epoch"]) == [1, 2, 3, 4]
    for key in ("critic", "generator", "wasserstein", "gradient_penalty", "condition"):
        assert np.isfinite(hist[key]).all(), key
    assert (hist["gradient_penalty"] >= 0).all()


def test_output_valid(fitted_sho, small_whas):
    out = fitted_sho.sample(120)
    assert list(out.columns) == list(small_whas.columns)
    for col in small_whas.columns:
        assert out[col].dtype == small_whas[col].dtype, col
    assert set(out["gender"].unique()) <= {"male", "female"}
    assert out["age"].between(small_whas["age"].min(), small_whas["age"].max()).all()


def test_condition_column_is_honoured(fitted_sho):
    assert fitted_sho.condition_column_ == "sho"
    for value in (0, 1):
        out = fitted_sho.sample(80, conditions={"sho": value})
        assert (out["sho"] == value).all()


def test_auto_picks_the_column_with_the_rarest_level(small_whas):
    gen = GANSynthesizer(random_state=0, **{**TINY, "epochs": 1}).fit(small_whas)  # "auto" is the default
    shares = {c: small_whas[c].value_counts(normalize=True).min()
              for c in ["afb", "av3", "chf", "cvd", "gender", "miord", "mitype", "sho", "fstat"]}
    assert gen.condition_column_ == min(shares, key=shares.get)


def test_other_columns_by_rejection_sampling(fitted_sho):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = fitted_sho.sample(30, conditions={"gender": "female", "sho": 1})
    assert (out["gender"] == "female").all() and (out["sho"] == 1).all()


def test_rejection_sampling_cap_gives_a_clear_error(small_whas):
    gen = GANSynthesizer(condition_column="sho", max_rejection_draws=1000, random_state=0, **TINY)
    gen.fit(small_whas)
    with pytest.raises(ValueError, match="age"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            gen.sample(5000, conditions={"age": 30})


def test_condition_on_continuous_column_is_refused(fitted_sho, small_whas):
    with pytest.raises(ValueError, match="bmi"):
        fitted_sho.sample(5, conditions={"bmi": float(small_whas["bmi"].iloc[0])})


@pytest.mark.parametrize("bad", ["bmi", "no_such_column"])
def test_bad_condition_column(small_whas, bad):
    with pytest.raises(ValueError, match=bad):
        GANSynthesizer(condition_column=bad, random_state=0, **TINY).fit(small_whas)


def test_bad_hyper_parameters(small_whas):
    with pytest.raises(ValueError, match="pac"):
        GANSynthesizer(**{**TINY, "pac": 0}).fit(small_whas)
    with pytest.raises(ValueError, match="fewer than pac"):
        GANSynthesizer(**{**TINY, "pac": 10}).fit(small_whas.iloc[:6])


def test_not_fitted():
    with pytest.raises(NotFittedError):
        GANSynthesizer().sample(3)


def test_save_load_round_trip(fitted_sho, tmp_path):
    path = fitted_sho.save(tmp_path / "gan.gen")
    loaded = Synthesizer.load(path)
    pd.testing.assert_frame_equal(fitted_sho.sample(40, random_state=3), loaded.sample(40, random_state=3))


def test_unconditional_gan_and_missing_values(small_whas):
    df = small_whas.copy()
    df["bmi"] = df["bmi"].mask(np.random.default_rng(0).random(len(df)) < 0.2)
    gen = GANSynthesizer(condition_column=None, random_state=0, **TINY).fit(df)
    assert gen.condition_column_ is None
    out = gen.sample(300)
    assert 0.0 < out["bmi"].isna().mean() < 0.6
    assert out.drop(columns="bmi").notna().all().all()


@pytest.mark.parametrize("kind", ["GAN", "VAE"])
def test_a_score_recorded_in_steps_of_ten_stays_on_its_steps(kind):
    from course_utils.generators import VAESynthesizer

    rng = np.random.default_rng(0)
    df = pd.DataFrame({"karnofsky": rng.choice(np.arange(20, 100, 10), 200), "age": rng.integers(35, 85, 200)})
    gen = (GANSynthesizer(random_state=0, condition_column=None, **TINY) if kind == "GAN"
           else VAESynthesizer(epochs=3, hidden=(16,), latent_dim=3, random_state=0, verbose=False)).fit(df)
    out = gen.sample(1000, random_state=0)
    assert set(out["karnofsky"]) <= set(df["karnofsky"])  # no 47s that give the table away
    assert out["karnofsky"].nunique() >= 4
    assert out["age"].nunique() > 20  # values seen about four times each still spread between them


def test_an_ordinal_item_can_be_the_condition_column():
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"item": rng.choice([0, 1, 2], 300, p=[0.6, 0.3, 0.1]),
                       "sex": rng.choice(["f", "m"], 300), "x": rng.normal(size=300)})
    gen = GANSynthesizer(condition_column="item", random_state=0, **TINY).fit(df)
    assert gen.condition_levels_ == [0, 1, 2]
    out = gen.sample(40, conditions={"item": 2})
    assert (out["item"] == 2).all() and out["item"].dtype == np.int64


def test_rare_category_is_learned():
    df = _rare_table()
    gen = GANSynthesizer(epochs=60, batch_size=100, latent_dim=8, generator_dim=(32, 32),
                         discriminator_dim=(32, 32), pac=5, discriminator_steps=2,
                         generator_lr=1e-3, discriminator_lr=1e-3, condition_column="group",
                         random_state=0, verbose=False, device="cpu").fit(df)
    rare = gen.sample(200, conditions={"group": "C"})
    common = gen.sample(200, conditions={"group": "A"})
    assert (rare["group"] == "C").all()
    # the rows of the rare group carry its own values, not the majority's
    assert rare["x"].mean() > common["x"].mean() + 1.5
    assert rare["flag"].mean() > common["flag"].mean() + 0.2
    free = gen.sample(4000, random_state=0)
    train_rate = (df["group"] == "C").mean()
    assert abs((free["group"] == "C").mean() - train_rate) < 0.02
    assert free.loc[free["group"] == "C", "x"].mean() > 1.5


# -- the pieces of the objective ---------------------------------------------------------------
def test_gradient_penalty_of_a_linear_critic():
    torch.manual_seed(0)
    w = torch.tensor([[3.0, 4.0]])  # gradient norm 5 everywhere
    critic = torch.nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        critic.weight.copy_(w)
    real, fake = torch.randn(16, 2), torch.randn(16, 2)
    assert gradient_penalty(critic, real, fake).item() == pytest.approx(16.0)
    assert critic_loss(critic(real), critic(fake)).item() == pytest.approx(
        (critic(fake).mean() - critic(real).mean()).item())


def test_gradient_penalty_uses_the_interpolates():
    critic = lambda x: (x**2).sum(dim=1, keepdim=True)  # noqa: E731  gradient 2x
    real, fake = torch.ones(4, 1), torch.zeros(4, 1)
    eps = torch.full((4, 1), 0.25)
    # x_hat = 0.25, gradient 0.5, penalty (0.5 - 1)^2
    assert gradient_penalty(critic, real, fake, eps=eps).item() == pytest.approx(0.25)


def test_log_frequency_probabilities():
    p = log_frequency_probabilities([478, 22, 0])
    assert p.sum() == pytest.approx(1.0)
    assert p[2] == 0
    assert p[1] == pytest.approx(np.log(23) / (np.log(479) + np.log(23)))
    with pytest.raises(ValueError):
        log_frequency_probabilities([0, 0])
