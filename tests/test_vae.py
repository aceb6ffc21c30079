"""VAESynthesizer on WHAS500 (the contract tests cover the shared promises)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.exceptions import NotFittedError

from course_utils.generators import Synthesizer, VAESynthesizer
from course_utils.generators.neural import MarginalCalibrator, activate, frequency_offsets
from course_utils.generators.vae import kl_divergence, reparameterize

from .conftest import with_missing

NUMERIC = ["age", "bmi", "hr", "sysbp", "diasbp", "los", "lenfol"]
SMALL = dict(hidden=(32, 32), latent_dim=4, batch_size=64, learning_rate=3e-3, verbose=False)


@pytest.fixture(scope="module")
def fitted(whas500):
    return VAESynthesizer(epochs=40, random_state=0, **SMALL).fit(whas500)


def test_reparameterize_and_kl():
    mu = torch.tensor([[1.0, -2.0]])
    log_var = torch.tensor([[0.0, float(np.log(4.0))]])
    eps = torch.tensor([[0.5, 0.5]])
    assert torch.allclose(reparameterize(mu, log_var, eps), torch.tensor([[1.5, -1.0]]))
    assert kl_divergence(torch.zeros(5, 3), torch.zeros(5, 3)).item() == 0.0
    # KL(N(1, 4) || N(0, 1)) = 0.5 * (1 + 4 - 1 - log 4) for one dimension
    expected = 0.5 * (1 + 4 - 1 - np.log(4.0))
    assert kl_divergence(torch.tensor([[1.0]] * 3), torch.tensor([[float(np.log(4.0))]] * 3)).item() == pytest.approx(expected)
    assert kl_divergence(torch.ones(4, 2), torch.zeros(4, 2)).item() == pytest.approx(1.0)  # summed over dims


def test_loss_decreases_and_history_has_every_term(fitted):
    h = fitted.loss_history_
    assert len(h) == 40 == fitted.n_epochs_
    assert {"epoch", "loss", "reconstruction", "kl", "onehot", "binary", "numeric"} <= set(h[0])
    first, last = np.mean([r["loss"] for r in h[:3]]), np.mean([r["loss"] for r in h[-3:]])
    assert last < first - 0.5
    assert h[-1]["reconstruction"] < h[0]["reconstruction"]
    assert h[-1]["kl"] > 0
    assert fitted.fit_time_ > 0 and fitted.device_ in ("cpu", "cuda", "cuda:0")


def test_output_is_valid_whas500(fitted, whas500):
    out = fitted.sample(300)
    assert list(out.columns) == list(whas500.columns)
    assert (out.dtypes == whas500.dtypes).all()
    for col in ("gender", "miord", "mitype"):
        assert set(out[col].dropna()) <= set(whas500[col].cat.categories)
        assert out[col].nunique() == whas500[col].nunique()  # no level lost
    for col in ("afb", "chf", "fstat"):
        assert set(out[col].unique()) <= {0, 1}
    assert out.notna().all().all()


def test_continuous_columns_keep_their_spread(fitted, whas500):
    out = fitted.sample(1000, random_state=1)
    ratio = out[NUMERIC].std() / whas500[NUMERIC].std()
    assert (ratio > 0.6).all(), ratio.to_dict()
    assert (ratio < 1.6).all(), ratio.to_dict()
    # rates of the binary columns within a few points of the training rates
    assert (out[["afb", "chf", "fstat"]].mean() - whas500[["afb", "chf", "fstat"]].mean()).abs().max() < 0.12


def test_decoding_only_the_mean_shrinks_the_spread(fitted, whas500):
    fitted.sample_noise = False
    try:
        mean_only = fitted.sample(1000, random_state=1)
    finally:
        fitted.sample_noise = True
    noisy = fitted.sample(1000, random_state=1)
    assert (mean_only[NUMERIC].std() < noisy[NUMERIC].std()).sum() >= 5


def test_same_seed_same_model_and_samples(whas500):
    small = whas500.iloc[:150]
    a = VAESynthesizer(epochs=3, random_state=11, **SMALL).fit(small)
    b = VAESynthesizer(epochs=3, random_state=11, **SMALL).fit(small)
    c = VAESynthesizer(epochs=3, random_state=12, **SMALL).fit(small)
    assert [r["loss"] for r in a.loss_history_] == [r["loss"] for r in b.loss_history_]
    pd.testing.assert_frame_equal(a.sample(50), b.sample(50))
    assert not a.sample(50, random_state=0).equals(c.sample(50, random_state=0))
    # a fitted generator moves on: two calls differ, a fixed random_state repeats
    assert not a.sample(50).equals(a.sample(50))
    pd.testing.assert_frame_equal(a.sample(20, random_state=5), a.sample(20, random_state=5))


def test_fit_does_not_touch_torch_global_random_state(whas500):
    torch.manual_seed(0)
    before = torch.get_rng_state()
    VAESynthesizer(epochs=1, random_state=0, **SMALL).fit(whas500.iloc[:80]).sample(5)
    assert torch.equal(torch.get_rng_state(), before)


def test_missing_values_survive(whas500):
    df = with_missing(whas500, {"bmi": 0.2, "hr": 0.1})
    gen = VAESynthesizer(epochs=5, random_state=0, **SMALL).fit(df)
    out = gen.sample(800)
    assert 0.1 < out["bmi"].isna().mean() < 0.3
    assert 0.03 < out["hr"].isna().mean() < 0.2
    assert out["age"].notna().all()
    assert out["bmi"].dropna().between(df["bmi"].min(), df["bmi"].max()).all()


def test_conditions_by_rejection(fitted):
    out = fitted.sample(40, conditions={"gender": "female"})
    assert (out["gender"] == "female").all() and len(out) == 40
    out = fitted.sample(30, conditions={"fstat": 1, "chf": 1})
    assert (out["fstat"] == 1).all() and (out["chf"] == 1).all()


def test_rare_conditions_warn_and_are_still_honoured(fitted):
    fitted.max_rejection_draws = 300
    try:
        with pytest.warns(UserWarning, match="max_rejection_draws"):
            out = fitted.sample(50, conditions={"lenfol": 1234})
    finally:
        fitted.max_rejection_draws = 100_000
    assert (out["lenfol"] == 1234).all() and len(out) == 50


def test_conditions_on_a_one_hot_group(stroke):
    df, meta = stroke
    group = next(iter(meta.one_hot_groups))
    members = meta.one_hot_groups[group]
    cols = members + ["Age", "Male"]
    small = df[cols].iloc[:300].reset_index(drop=True)
    small_meta = meta.select(cols)
    gen = VAESynthesizer(epochs=2, random_state=0, max_rejection_draws=500, **SMALL).fit(small, small_meta)
    with pytest.warns(UserWarning):
        out = gen.sample(20, conditions={members[-1]: 0, members[0]: 1, "Age": 44})
    assert (out[members[0]] == 1).all() and (out[members[-1]] == 0).all()
    assert (out[members].sum(axis=1) == 1).all()


def test_encode_decode_reconstruct(fitted, whas500):
    z = fitted.encode(whas500.iloc[:25])
    assert z.shape == (25, 4) and np.isfinite(z).all()
    rows = fitted.decode(np.zeros((3, 4)))
    assert rows.shape == (3, whas500.shape[1])
    rec = fitted.reconstruct(whas500.iloc[:200], random_state=0)
    # the autoencoder part has learned something: reconstructions track the input
    assert np.corrcoef(rec["age"], whas500["age"].iloc[:200])[0, 1] > 0.3
    with pytest.raises(ValueError, match="shape"):
        fitted.decode(np.zeros((3, 5)))


def test_plain_autoencoder_has_no_kl(whas500):
    gen = VAESynthesizer(epochs=2, variational=False, random_state=0, **SMALL).fit(whas500)
    assert all(r["kl"] == 0 for r in gen.loss_history_)
    assert all(r["loss"] == pytest.approx(r["reconstruction"]) for r in gen.loss_history_)
    assert len(gen.sample(10)) == 10


def test_beta_changes_the_balance(whas500):
    small = whas500.iloc[:200]
    lo = VAESynthesizer(epochs=15, beta=0.05, random_state=0, **SMALL).fit(small)
    hi = VAESynthesizer(epochs=15, beta=5.0, random_state=0, **SMALL).fit(small)
    # a heavy KL weight squeezes the codes towards the prior: less information, worse reconstruction
    assert hi.loss_history_[-1]["kl"] < lo.loss_history_[-1]["kl"]
    assert hi.loss_history_[-1]["reconstruction"] > lo.loss_history_[-1]["reconstruction"]


def test_kl_warmup_and_lr_decay(whas500):
    small = whas500.iloc[:120]
    plain = VAESynthesizer(epochs=4, random_state=0, **SMALL).fit(small)
    warm = VAESynthesizer(epochs=4, kl_warmup=4, random_state=0, **SMALL).fit(small)
    # the first step is the same; a KL weight near 0 then lets the codes drift from the prior
    assert warm.loss_history_[0]["kl"] > plain.loss_history_[0]["kl"]
    assert warm.loss_history_[0]["loss"] < plain.loss_history_[0]["loss"]
    a = VAESynthesizer(epochs=3, lr_decay=True, random_state=0, **SMALL).fit(small)
    b = VAESynthesizer(epochs=3, lr_decay=True, random_state=0, **SMALL).fit(small)
    assert [r["loss"] for r in a.loss_history_] == [r["loss"] for r in b.loss_history_]
    assert [r["loss"] for r in a.loss_history_] != [r["loss"] for r in plain.loss_history_[:3]]


def test_early_stopping(whas500):
    gen = VAESynthesizer(epochs=300, early_stopping=True, patience=2, learning_rate=0.05,
                         random_state=0, **{k: v for k, v in SMALL.items() if k != "learning_rate"})
    gen.fit(whas500.iloc[:200])
    assert gen.n_epochs_ < 300
    assert "val_loss" in gen.loss_history_[0]


def test_not_fitted():
    gen = VAESynthesizer()
    with pytest.raises(NotFittedError):
        gen.sample(3)
    with pytest.raises(NotFittedError):
        gen.encode(pd.DataFrame({"a": [1.0]}))
    with pytest.raises(NotFittedError):
        gen.decode(np.zeros((1, 8)))


@pytest.mark.parametrize("kwargs, match", [
    (dict(epochs=0), "epochs"),
    (dict(batch_size=2.5), "batch_size"),
    (dict(latent_dim=-1), "latent_dim"),
    (dict(beta=-1.0), "beta"),
    (dict(learning_rate=0), "learning_rate"),
    (dict(validation_fraction=0.9), "validation_fraction"),
    (dict(kl_warmup=-1), "kl_warmup"),
    (dict(calibration_draws=0), "calibration_draws"),
])
def test_bad_parameters(whas500, kwargs, match):
    with pytest.raises(ValueError, match=match):
        VAESynthesizer(verbose=False, **kwargs).fit(whas500.iloc[:50])


def test_hidden_must_be_a_sequence(whas500):
    with pytest.raises(TypeError, match="hidden"):
        VAESynthesizer(hidden=64, verbose=False).fit(whas500.iloc[:50])


def test_verbose_false_is_silent_and_verbose_shows_losses(whas500, capsys):
    VAESynthesizer(epochs=1, random_state=0, **SMALL).fit(whas500.iloc[:60])
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out == ""
    VAESynthesizer(epochs=1, random_state=0, **{**SMALL, "verbose": True}).fit(whas500.iloc[:60])
    err = capsys.readouterr().err
    assert "VAE" in err and "kl=" in err


def test_save_load_round_trip(fitted, tmp_path):
    path = fitted.save(tmp_path / "vae.gen")
    loaded = Synthesizer.load(path)
    assert isinstance(loaded, VAESynthesizer)
    pd.testing.assert_frame_equal(fitted.sample(30, random_state=3), loaded.sample(30, random_state=3))
    np.testing.assert_array_equal(fitted.encode(fitted.sample(5, random_state=0)),
                                  loaded.encode(fitted.sample(5, random_state=0)))


def test_marginal_calibrator_maps_onto_the_real_quantiles():
    rng = np.random.default_rng(0)
    real = np.column_stack([rng.normal(0, 1, 2000), rng.exponential(1.0, 2000)])
    generated = np.column_stack([rng.normal(0.5, 0.6, 5000), rng.normal(0, 1, 5000)])
    cal = MarginalCalibrator(n_quantiles=200).fit(generated, real)
    fresh = np.column_stack([rng.normal(0.5, 0.6, 3000), rng.normal(0, 1, 3000)])
    out = cal.transform(fresh)
    for j in range(2):
        assert abs(np.median(out[:, j]) - np.median(real[:, j])) < 0.1
        assert abs(out[:, j].std() - real[:, j].std()) < 0.1
        # monotone: every value keeps its rank
        assert (np.diff(out[np.argsort(fresh[:, j]), j]) >= -1e-12).all()
    assert out[:, 1].min() >= real[:, 1].min() - 1e-9  # the exponential stays non-negative
    # NaN (a missing value's placeholder) is ignored when fitting
    with_nan = real.copy()
    with_nan[:100, 0] = np.nan
    assert np.isfinite(MarginalCalibrator().fit(generated, with_nan).transform(fresh)).all()
    with pytest.raises(NotFittedError):
        MarginalCalibrator().transform(fresh)
    with pytest.raises(ValueError, match="shape"):
        cal.transform(fresh[:, :1])
    with pytest.raises(ValueError, match="n_quantiles"):
        MarginalCalibrator(n_quantiles=1)


def test_frequency_offsets_restore_the_level_shares():
    from course_utils.transform import Span

    layout = [Span("c", 0, 3, "onehot", ("c",), ("a", "b", "z")), Span("f", 3, 4, "binary", ("f",)),
              Span("x", 4, 5, "numeric", ("x",))]
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(4000, 5, generator=gen) + torch.tensor([2.0, 0.0, -1.0, 1.5, 0.0])
    target = torch.tensor([0.2, 0.3, 0.5, 0.1, 0.0])
    off = frequency_offsets(logits, target, layout)
    mean = activate(logits + off, layout).mean(dim=0)
    assert torch.allclose(mean[:4], target[:4], atol=0.01)
    assert off[4] == 0  # numeric columns are left alone


def test_calibration_brings_the_marginals_closer(whas500):
    from scipy.stats import ks_2samp

    small = whas500.iloc[:250].reset_index(drop=True)
    raw = VAESynthesizer(epochs=10, calibrate=False, random_state=0, **SMALL).fit(small)
    cal = VAESynthesizer(epochs=10, calibrate=True, random_state=0, **SMALL).fit(small)
    assert raw.calibrator_ is None and cal.calibrator_ is not None
    a, b = raw.sample(2000, random_state=0), cal.sample(2000, random_state=0)

    def ks(rows):
        return np.mean([ks_2samp(rows[c], small[c]).statistic for c in NUMERIC])

    assert ks(b) < ks(raw.sample(2000, random_state=0))
    assert ks(b) < 0.08
    shares = (b[["afb", "chf", "fstat"]].mean() - small[["afb", "chf", "fstat"]].mean()).abs()
    assert shares.max() < 0.04, shares.to_dict()
    # decoding only the means is not calibrated: the lesson's shrinkage stays visible
    means_only = VAESynthesizer(epochs=10, sample_noise=False, random_state=0, **SMALL).fit(small)
    assert means_only.calibrator_ is None
    assert len(a) == 2000


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no GPU")
def test_trains_on_the_gpu_and_samples_on_the_cpu(whas500):
    gen = VAESynthesizer(epochs=2, device="cuda", random_state=0, **SMALL).fit(whas500)
    assert gen.device_.startswith("cuda")
    assert next(gen.model_.parameters()).device.type == "cpu"
    assert len(gen.sample(10)) == 10
