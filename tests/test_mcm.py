"""MCMSynthesizer: the leak fix, fully hidden rows, partial and full synthesis, conditions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from course_utils.checks import whas500_split
from course_utils.generators.mcm import (
    MaskedFilterNet,
    MCMSynthesizer,
    feature_of_cells,
    masked_loss,
    random_hidden,
)


@pytest.fixture(scope="module")
def split():
    return whas500_split()


@pytest.fixture(scope="module")
def fitted(split):
    train, _, meta = split
    return MCMSynthesizer(epochs=40, hidden=(64,), random_state=0, verbose=False).fit(train, meta)


@pytest.fixture(scope="module")
def leaky(split):
    train, _, meta = split
    return MCMSynthesizer(epochs=5, hidden=(32,), hide_input=False, random_state=0, verbose=False).fit(train, meta)


def _hidden(n: int, n_features: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.random((n, n_features)) < 0.4


def _change_hidden_cells(df: pd.DataFrame, hidden: np.ndarray, features: list[str]) -> pd.DataFrame:
    """Every hidden cell gets another patient's value (rows rolled by one)."""
    other = df.iloc[np.roll(np.arange(len(df)), 1)].reset_index(drop=True)
    out = df.reset_index(drop=True).copy()
    for j, col in enumerate(features):
        out.loc[hidden[:, j], col] = other.loc[hidden[:, j], col]
    return out


def test_changing_a_hidden_cell_cannot_change_its_prediction(fitted, split):
    train, _, _ = split
    rows = train.iloc[:80].reset_index(drop=True)
    hidden = _hidden(len(rows), len(fitted.features_))
    changed = _change_hidden_cells(rows, hidden, fitted.features_)
    assert not changed.equals(rows)  # the test really changes something
    np.testing.assert_array_equal(fitted.masked_outputs(rows, hidden), fitted.masked_outputs(changed, hidden))


def test_the_leaky_model_fails_the_same_test(leaky, split):
    train, _, _ = split
    rows = train.iloc[:80].reset_index(drop=True)
    hidden = _hidden(len(rows), len(leaky.features_))
    changed = _change_hidden_cells(rows, hidden, leaky.features_)
    gap = np.abs(leaky.masked_outputs(rows, hidden) - leaky.masked_outputs(changed, hidden)).max()
    assert gap > 1e-4


def test_regenerated_values_do_not_depend_on_the_hidden_truth(fitted, split):
    train, _, _ = split
    rows = train.iloc[:60]
    out, mask = fitted.regenerate(rows, mask_ratio=0.5, random_state=3, return_mask=True)
    changed = _change_hidden_cells(rows, mask.to_numpy(), fitted.features_)
    changed.index = rows.index
    again = fitted.regenerate(changed, mask_ratio=0.5, random_state=3)
    pd.testing.assert_frame_equal(out, again)


def test_a_fully_hidden_row_gives_finite_outputs_and_no_weight(fitted, split):
    train, _, _ = split
    rows = train.iloc[:5]
    hidden = np.ones((5, len(fitted.features_)), dtype=bool)
    out = fitted.masked_outputs(rows, hidden)
    assert np.isfinite(out).all()
    assert (fitted.attention_weights(rows, hidden).to_numpy() == 0).all()
    full = fitted.regenerate(rows, mask_ratio=1.0, random_state=0)
    assert full.notna().all().all()


def test_attention_gives_hidden_features_zero_weight_and_visible_ones_sum_to_one(fitted, split):
    train, _, _ = split
    rows = train.iloc[:30]
    hidden = _hidden(30, len(fitted.features_), seed=1)
    hidden[:, 0] = False  # at least one visible feature per row
    w = fitted.attention_weights(rows, hidden).to_numpy()
    assert (w[hidden] == 0).all()
    np.testing.assert_allclose(w.sum(axis=1), 1.0, rtol=1e-5)


def test_masked_loss_counts_hidden_features_only(fitted, split):
    train, _, _ = split
    X = fitted.transformer_.transform_tensor(train.iloc[:20])
    layout = fitted.transformer_.layout_
    cell_feature = fitted.model_.cell_feature
    hidden = torch.as_tensor(_hidden(20, len(fitted.features_), seed=2))
    out = torch.randn(20, X.shape[1] + sum(s.kind == "numeric" for s in layout))
    base, _ = masked_loss(out, X, hidden, layout, cell_feature)
    moved = out.clone()
    visible_cells = ~hidden[:, cell_feature]
    moved[:, : X.shape[1]][visible_cells] += 5.0
    again, _ = masked_loss(moved, X, hidden, layout, cell_feature)
    assert float(base) == pytest.approx(float(again))
    # one hidden binary cell by hand: binary cross-entropy divided by one hidden feature
    j = fitted.features_.index("afb")
    only = torch.zeros_like(hidden)
    only[0, j] = True
    loss, _ = masked_loss(out, X, only, layout, cell_feature)
    p = torch.sigmoid(out[0, j])
    y = X[0, j]
    assert float(loss) == pytest.approx(float(-(y * torch.log(p) + (1 - y) * torch.log(1 - p))), rel=1e-5)


def test_random_hidden_hides_at_least_one_feature_per_row():
    g = torch.Generator().manual_seed(0)
    h = random_hidden(2000, 16, g)
    assert h.any(dim=1).all()
    share = h.float().mean(dim=1)
    assert share.min() < 0.2 and share.max() == 1.0  # from one feature to the whole row


def test_regenerate_keeps_visible_cells_and_the_kept_columns(fitted, split):
    train, _, _ = split
    rows = train.iloc[:50]
    out, mask = fitted.regenerate(rows, mask_ratio=0.25, keep=["fstat", "lenfol"], random_state=0,
                                  return_mask=True)
    assert (mask.sum(axis=1) == round(0.25 * 14)).all()
    assert not mask[["fstat", "lenfol"]].any().any()
    for col in rows.columns:
        kept = ~mask[col].to_numpy()
        assert (out.loc[kept, col].to_numpy() == rows.loc[kept, col].to_numpy()).all(), col
    assert list(out.index) == list(rows.index)
    assert (out.dtypes == rows.dtypes).all()


def test_full_synthesis_varies_and_is_reproducible(fitted):
    a = fitted.sample(200, random_state=1)
    b = fitted.sample(200, random_state=1)
    pd.testing.assert_frame_equal(a, b)
    assert a.drop_duplicates().shape[0] > 190
    assert not a.equals(fitted.sample(200, random_state=2))


def test_conditions_steer_the_other_columns(fitted):
    died = fitted.sample(300, conditions={"fstat": 1}, random_state=0)
    alive = fitted.sample(300, conditions={"fstat": 0}, random_state=0)
    assert (died["fstat"] == 1).all() and (alive["fstat"] == 0).all()
    # patients who died were followed for less time and were older (as in the real data)
    assert died["lenfol"].median() < alive["lenfol"].median()
    assert died["age"].mean() > alive["age"].mean() + 3


def test_skewed_columns_get_box_cox(fitted):
    methods = {c: s.method for c, s in fitted.transformer_.scalers_.items()}
    assert methods["los"] == "boxcox"
    assert set(methods.values()) <= {"boxcox", "minmax"}


def test_feature_of_cells_groups_a_missing_indicator_with_its_column():
    from course_utils.transform import Span

    layout = [Span("a", 0, 1, "numeric", ("a",)), Span("a", 1, 2, "missing", ("a",)),
              Span("g", 2, 5, "onehot", ("g",), ("x", "y", "z"))]
    names, owner = feature_of_cells(layout)
    assert names == ["a", "g"] and owner.tolist() == [0, 0, 1, 1, 1]
    net = MaskedFilterNet(owner, n_numeric=1, hidden=[4])
    out, w = net(torch.rand(3, 5), torch.zeros(3, 2))
    assert torch.isfinite(out).all() and (w == 0).all()


@pytest.mark.parametrize(
    ("params", "message"),
    [({"epochs": 0}, "epochs"), ({"features_per_step": 0}, "features_per_step"),
     ({"learning_rate": -1.0}, "learning_rate"), ({"hidden": "64"}, "hidden")],
)
def test_bad_parameters_are_named(split, params, message):
    train, _, meta = split
    with pytest.raises((ValueError, TypeError), match=message):
        MCMSynthesizer(verbose=False, **params).fit(train, meta)


def test_bad_regenerate_arguments_are_named(fitted, split):
    train, _, _ = split
    with pytest.raises(ValueError, match="mask_ratio"):
        fitted.regenerate(train, mask_ratio=1.5)
    with pytest.raises(ValueError, match="unknown feature"):
        fitted.regenerate(train, keep=["sex"])
    with pytest.raises(ValueError, match="lenfol"):
        fitted.regenerate(train.drop(columns="lenfol"))
    with pytest.raises(ValueError, match="shape"):
        fitted.masked_outputs(train.iloc[:3], np.zeros((3, 2), dtype=bool))


# -- MICE as a regenerator ------------------------------------------------------------------
def test_mice_with_posterior_sampling_is_not_deterministic(split):
    from course_utils.generators.mice import MICESynthesizer

    train, _, meta = split
    gen = MICESynthesizer(max_iter=3, random_state=0).fit(train, meta)
    a = gen.regenerate(train.iloc[:40], mask_ratio=0.5, random_state=1)
    b = gen.regenerate(train.iloc[:40], mask_ratio=0.5, random_state=2)
    assert not a.equals(b)
    pd.testing.assert_frame_equal(a, gen.regenerate(train.iloc[:40], mask_ratio=0.5, random_state=1))
    changed = (a != train.iloc[:40]).sum(axis=1)
    assert changed.max() <= 8  # at most the 8 hidden columns (half of 16) of each row change


def test_mice_honours_conditions_and_keeps_columns(split):
    from course_utils.generators.mice import MICESynthesizer

    train, _, meta = split
    gen = MICESynthesizer(max_iter=3, random_state=0).fit(train, meta)
    out = gen.sample(60, conditions={"gender": "male", "afb": 1})
    assert (out["gender"] == "male").all() and (out["afb"] == 1).all()
    kept = gen.regenerate(train.iloc[:30], mask_ratio=1.0, keep=["fstat"], random_state=0)
    assert (kept["fstat"].to_numpy() == train["fstat"].iloc[:30].to_numpy()).all()
    with pytest.raises(ValueError, match="unknown column"):
        gen.regenerate(train, keep=["sex"])


# -- the lesson's own code computes what the package computes ------------------------------
NOTEBOOK = "notebooks/08_masked_clinical_modelling.ipynb"


def _notebook_core(fitted) -> dict:
    """Run the lesson's cells tagged ``mcm-core`` (masks, attention filter, loss, step)."""
    from pathlib import Path

    import nbformat
    from torch import nn
    from torch.nn import functional as F

    path = Path(__file__).resolve().parents[1] / NOTEBOOK
    nb = nbformat.read(path, as_version=4)
    ns = {"torch": torch, "nn": nn, "F": F, "np": np, "pd": pd, "SEED": 42,
          "features": fitted.features_, "layout": fitted.transformer_.layout_}
    core = [c for c in nb.cells if "mcm-core" in c.metadata.get("tags", [])]
    assert len(core) == 3, "the lesson should tag its masking, model and loss cells 'mcm-core'"
    for cell in core:
        exec(compile(cell.source, NOTEBOOK, "exec"), ns)
    return ns


def test_the_lessons_code_and_the_package_agree(fitted, split):
    train, _, _ = split
    ns = _notebook_core(fitted)
    n_f = len(fitted.features_)
    a, b = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    assert torch.equal(ns["hide_random"](50, n_f, a), random_hidden(50, n_f, b))

    layout = fitted.transformer_.layout_
    cell_feature = fitted.model_.cell_feature
    n_numeric = sum(s.kind == "numeric" for s in layout)
    torch.manual_seed(0)
    package = MaskedFilterNet(cell_feature, n_numeric, [32], dropout=0.0).eval()
    own = ns["AttentionFilter"](cell_feature, n_numeric, hidden=(32,))
    own.load_state_dict(package.state_dict())  # same parameter names and shapes
    X = fitted.transformer_.transform_tensor(train.iloc[:40])
    hidden = random_hidden(40, n_f, torch.Generator().manual_seed(1))
    hidden[:3] = True  # fully hidden rows too
    out_p, w_p = package(X, ~hidden)
    out_o, w_o = own(X, ~hidden)
    torch.testing.assert_close(out_o, out_p)
    torch.testing.assert_close(w_o, w_p)
    loss_p, _ = masked_loss(out_p, X, hidden, layout, cell_feature)
    loss_o = ns["masked_nll"](out_o, X, hidden, layout, cell_feature)
    torch.testing.assert_close(loss_o, loss_p)


def test_conditions_on_a_one_hot_group():
    from course_utils.data import STROKE_GROUPS, load_stroke
    from course_utils.schema import infer_metadata

    hospitals = STROKE_GROUPS["Hospital"]
    table = load_stroke()[hospitals + ["Clotbuster given", "Age"]].iloc[:300].reset_index(drop=True)
    meta = infer_metadata(table, one_hot_groups={"Hospital": hospitals})
    gen = MCMSynthesizer(epochs=3, hidden=(16,), random_state=0, verbose=False).fit(table, meta)
    out = gen.sample(40, conditions={hospitals[2]: 1})
    assert (out[hospitals[2]] == 1).all() and (out[hospitals].sum(axis=1) == 1).all()
    with pytest.raises(ValueError, match="one-hot group"):
        gen.sample(5, conditions={hospitals[2]: 0})
