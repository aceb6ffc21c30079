"""The torch helpers shared by the deep generators (course_utils.generators.neural)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from course_utils.generators.neural import (
    EarlyStopping,
    activate,
    batch_indices,
    build_mlp,
    make_generator,
    numeric_missing_mask,
    reconstruction_loss,
    resolve_device,
    seeded,
    torch_seed,
    train_epochs,
)
from course_utils.transform import TabularTransformer

from .conftest import with_missing


@pytest.fixture(scope="module")
def encoded(whas500):
    df = with_missing(whas500, {"bmi": 0.2})
    t = TabularTransformer().fit(df)
    return t, t.transform_tensor(df)


def _perfect_logits(X: torch.Tensor, layout) -> torch.Tensor:
    """Logits whose activation reproduces X (large margins for the categorical parts)."""
    out = X.clone()
    for s in layout:
        if s.kind != "numeric":
            out[:, s.start : s.end] = (X[:, s.start : s.end] * 2 - 1) * 30
    return out


def test_build_mlp_shapes_and_layers():
    m = build_mlp(5, [8, 4], 3, activation="leaky_relu", dropout=0.1, batch_norm=True)
    assert m(torch.zeros(7, 5)).shape == (7, 3)
    kinds = [type(layer).__name__ for layer in m]
    assert kinds == ["Linear", "BatchNorm1d", "LeakyReLU", "Dropout"] * 2 + ["Linear"]
    assert isinstance(build_mlp(2, [], 1)[0], torch.nn.Linear)


@pytest.mark.parametrize("kwargs, match", [
    (dict(in_dim=0, hidden=[4], out_dim=2), "in_dim"),
    (dict(in_dim=3, hidden=[4, 0], out_dim=2), "hidden"),
    (dict(in_dim=3, hidden=[4], out_dim=2, activation="softsign"), "activation"),
    (dict(in_dim=3, hidden=[4], out_dim=2, dropout=1.0), "dropout"),
])
def test_build_mlp_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        build_mlp(**kwargs)


def test_activate_per_kind(encoded):
    t, X = encoded
    logits = torch.randn(X.shape, generator=make_generator(0)) * 3
    out = activate(logits, t.layout_)
    for s in t.layout_:
        block = out[:, s.start : s.end]
        if s.kind == "onehot":
            assert torch.allclose(block.sum(dim=1), torch.ones(len(out)), atol=1e-5)
            assert (block >= 0).all()
        elif s.kind in ("binary", "missing"):
            assert ((block > 0) & (block < 1)).all()
        else:
            assert torch.equal(block, logits[:, s.start : s.end])
    # same as the transformer's own activation
    assert torch.allclose(out, t.activate(logits))


def test_gumbel_activation_is_one_hot_reproducible_and_follows_the_logits(encoded):
    t, X = encoded
    logits = torch.zeros(4000, X.shape[1], requires_grad=True)
    gender = next(s for s in t.layout_ if s.column == "gender")
    with torch.no_grad():
        logits[:, gender.start] = np.log(3.0)  # level 0 three times as likely as level 1
    a = activate(logits, t.layout_, tau=0.5, hard=True, generator=make_generator(1))
    b = activate(logits, t.layout_, tau=0.5, hard=True, generator=make_generator(1))
    assert torch.equal(a, b)
    block = a[:, gender.start : gender.end]
    assert set(block.unique().tolist()) == {0.0, 1.0}
    assert torch.equal(block.sum(dim=1), torch.ones(len(a)))
    assert 0.72 < block[:, 0].mean().item() < 0.78  # Gumbel-max draws with p = 0.75
    a.sum().backward()  # straight-through: a gradient still flows
    assert logits.grad is not None


def test_reconstruction_loss_is_small_for_a_perfect_output_and_large_otherwise(encoded):
    t, X = encoded
    total, parts = reconstruction_loss(_perfect_logits(X, t.layout_), X, t.layout_)
    assert total.item() < 1e-3
    assert set(parts) == {"onehot", "binary", "missing", "numeric"}
    bad, bad_parts = reconstruction_loss(torch.zeros_like(X), X, t.layout_)
    assert bad.item() > 1.0
    assert all(bad_parts[k] > parts[k] for k in parts)
    assert bad.item() == pytest.approx(sum(bad_parts.values()), rel=1e-5)


def test_reconstruction_loss_values_per_kind():
    from course_utils.transform import Span

    layout = [Span("c", 0, 2, "onehot", ("c",), ("a", "b")), Span("b", 2, 3, "binary", ("b",)),
              Span("x", 3, 4, "numeric", ("x",))]
    target = torch.tensor([[1.0, 0.0, 1.0, 2.0]])
    output = torch.tensor([[0.0, 0.0, 0.0, 0.0]])
    _, parts = reconstruction_loss(output, target, layout)
    assert parts["onehot"] == pytest.approx(np.log(2))
    assert parts["binary"] == pytest.approx(np.log(2))
    assert parts["numeric"] == pytest.approx(4.0)
    _, parts = reconstruction_loss(output, target, layout, numeric_log_var=torch.tensor([np.log(4.0)]))
    assert parts["numeric"] == pytest.approx(0.5 * (np.log(4.0) + 4.0 / 4.0))
    total, _ = reconstruction_loss(output, target, layout, weights={"numeric": 0.0})
    assert total.item() == pytest.approx(2 * np.log(2))


def test_missing_numeric_values_do_not_count(encoded):
    t, X = encoded
    bmi = next(s for s in t.layout_ if s.column == "bmi" and s.kind == "numeric")
    ind = next(s for s in t.layout_ if s.column == "bmi" and s.kind == "missing")
    mask = numeric_missing_mask(X, t.layout_)
    numeric = [s for s in t.layout_ if s.kind == "numeric"]
    j = numeric.index(bmi)
    assert torch.equal(mask[:, j], 1 - X[:, ind.start])
    assert mask.sum() < mask.numel()
    out = _perfect_logits(X, t.layout_)
    missing = X[:, ind.start] == 1
    out[missing, bmi.start] += 100.0  # wild values where bmi is missing: no penalty
    assert reconstruction_loss(out, X, t.layout_)[0].item() < 1e-3
    out[~missing, bmi.start] += 1.0
    assert reconstruction_loss(out, X, t.layout_)[0].item() > 0.5


def test_reconstruction_loss_rejects_bad_shapes(encoded):
    t, X = encoded
    with pytest.raises(ValueError, match="shape"):
        reconstruction_loss(X[:, :-1], X, t.layout_)
    with pytest.raises(ValueError, match="numeric_log_var"):
        reconstruction_loss(X, X, t.layout_, numeric_log_var=torch.zeros(99))
    with pytest.raises(ValueError, match="weight"):
        reconstruction_loss(X, X, t.layout_, weights={"categorical": 2.0})


def test_batch_indices_cover_every_row_once_and_follow_the_seed():
    batches = batch_indices(103, 10, make_generator(0))
    flat = torch.cat(batches)
    assert sorted(flat.tolist()) == list(range(103))
    assert [len(b) for b in batches] == [10] * 10 + [3]
    assert torch.equal(flat, torch.cat(batch_indices(103, 10, make_generator(0))))
    assert not torch.equal(flat, torch.cat(batch_indices(103, 10, make_generator(1))))
    assert [len(b) for b in batch_indices(103, 10, make_generator(0), drop_last=True)] == [10] * 10
    assert [len(b) for b in batch_indices(5, 10, drop_last=True)] == [5]
    assert torch.equal(torch.cat(batch_indices(5, 2, shuffle=False)), torch.arange(5))
    with pytest.raises(ValueError, match="batch_size"):
        batch_indices(5, 0)


def test_seeded_is_reproducible_and_leaves_the_global_state_alone():
    torch.manual_seed(123)
    before = torch.get_rng_state()
    with seeded(7):
        a = build_mlp(3, [4], 2)[0].weight.detach().clone()
    assert torch.equal(torch.get_rng_state(), before)
    with seeded(7):
        b = build_mlp(3, [4], 2)[0].weight.detach().clone()
    with seeded(8):
        c = build_mlp(3, [4], 2)[0].weight.detach().clone()
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_torch_seed_follows_the_numpy_generator():
    assert torch_seed(np.random.default_rng(0)) == torch_seed(np.random.default_rng(0))
    assert torch_seed(np.random.default_rng(0)) != torch_seed(np.random.default_rng(1))
    with pytest.raises(TypeError):
        torch_seed(0)


def test_resolve_device(monkeypatch):
    assert resolve_device("cpu").type == "cpu"
    assert resolve_device(torch.device("cpu")).type == "cpu"
    monkeypatch.setenv("COURSE_DEVICE", "cpu")
    assert resolve_device(None).type == "cpu"
    assert resolve_device("auto").type == "cpu"
    monkeypatch.delenv("COURSE_DEVICE")
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device(None).type == expected
    with pytest.raises(TypeError):
        resolve_device(3)


def _regression():
    g = make_generator(0)
    X = torch.randn(200, 3, generator=g)
    y = X @ torch.tensor([[1.0], [-2.0], [0.5]])
    return torch.cat([X, y], dim=1)


def test_train_epochs_history_decreases_and_is_silent(capsys):
    data = _regression()
    with seeded(0):
        model = build_mlp(3, [], 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.05)

    def step(batch):
        opt.zero_grad()
        loss = ((model(batch[:, :3]) - batch[:, 3:]) ** 2).mean()
        loss.backward()
        opt.step()
        return {"loss": loss.item()}

    history = train_epochs(step, data, epochs=15, batch_size=32, generator=make_generator(0), verbose=False)
    assert [h["epoch"] for h in history] == list(range(1, 16))
    assert history[-1]["loss"] < 0.1 * history[0]["loss"]
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""
    with pytest.raises(ValueError, match="epochs"):
        train_epochs(step, data, epochs=0, batch_size=32)


def test_train_epochs_shows_a_progress_bar_with_the_losses(capsys):
    data = _regression()
    train_epochs(lambda b: {"loss": 1.5}, data, epochs=2, batch_size=64, verbose=True, desc="demo")
    err = capsys.readouterr().err
    assert "demo" in err and "loss=1.5" in err


def test_early_stopping_stops_and_restores_the_best_weights():
    data = _regression()
    model = build_mlp(3, [], 1)
    values = iter([5.0, 4.0, 3.0, 3.5, 3.4, 3.6, 3.2, 1.0, 0.5])
    best_weight = {}

    def step(batch):
        with torch.no_grad():
            model[0].weight += 1.0  # weights change every epoch
        return {"loss": 0.0}

    def validate():
        v = next(values)
        if v == 3.0:
            best_weight["w"] = model[0].weight.detach().clone()
        return {"val_loss": v}

    stopper = EarlyStopping(patience=3)
    history = train_epochs(step, data, epochs=50, batch_size=200, verbose=False, validate=validate,
                           early_stopping=stopper, modules=[model])
    assert len(history) == 6 and stopper.stopped_epoch_ == 6
    assert stopper.best_epoch_ == 3 and stopper.best_ == 3.0
    assert torch.equal(model[0].weight, best_weight["w"])
    with pytest.raises(KeyError, match="val_loss"):
        EarlyStopping().update(1, {"loss": 1.0})
    with pytest.raises(ValueError, match="patience"):
        EarlyStopping(patience=0)
