"""MST and the zCDP arithmetic: noise follows epsilon, refusals, consistency, reproducibility."""

from __future__ import annotations

import ast
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from course_utils import privacy_accounting
from course_utils.benchmarks.dp import dp_split
from course_utils.data import load_whas500
from course_utils.generators.mst import (
    MSTSynthesizer,
    consistent_marginals,
    marginal_counts,
    private_bounds,
    project_to_simplex,
    public_tree,
    sample_tree,
    select_tree,
)
from course_utils.privacy_accounting import (
    cdp_delta,
    cdp_eps,
    cdp_rho,
    estimate_from_randomized_response,
    laplace_count,
    laplace_scale,
    randomized_response,
)
from course_utils.schema import infer_metadata

WHAS_BOUNDS = {"age": (20, 110), "bmi": (10, 60), "diasbp": (0, 250), "hr": (20, 250),
               "los": (0, 60), "sysbp": (40, 300), "lenfol": (0, 2400)}


@pytest.fixture(scope="module")
def whas():
    return load_whas500(return_metadata=True)


def _mst(eps, seed=0, **kw):
    kw.setdefault("bounds", WHAS_BOUNDS)
    return MSTSynthesizer(epsilon=eps, delta=1e-6, random_state=seed, verbose=False, **kw)


# -- the accounting ----------------------------------------------------------------------------
def test_rho_and_epsilon_convert_back_and_forth():
    for eps in (0.5, 1.0, 3.0, 10.0):
        rho = cdp_rho(eps, 1e-6)
        assert cdp_eps(rho, 1e-6) == pytest.approx(eps, rel=1e-6)
        assert cdp_delta(rho, eps) <= 1e-6 * (1 + 1e-6)
        # the tight conversion beats the simple bound eps <= rho + 2 sqrt(rho log(1/delta))
        assert eps <= rho + 2 * math.sqrt(rho * math.log(1e6))
        assert rho > (math.sqrt(eps + math.log(1e6)) - math.sqrt(math.log(1e6))) ** 2


def test_epsilon_grows_with_rho_and_falls_with_delta():
    assert cdp_eps(0.1, 1e-6) > cdp_eps(0.01, 1e-6)
    assert cdp_eps(0.1, 1e-3) < cdp_eps(0.1, 1e-9)


def test_randomized_response_hides_answers_but_keeps_the_rate():
    truth = (np.random.default_rng(0).random(40_000) < 0.3).astype(int)
    reported = randomized_response(truth, 1.0, random_state=1)
    p = math.e / (1 + math.e)
    assert (reported == truth).mean() == pytest.approx(p, abs=0.01)
    assert estimate_from_randomized_response(reported, 1.0) == pytest.approx(0.3, abs=0.015)
    assert reported.mean() != pytest.approx(0.3, abs=0.05)  # the raw rate is biased towards 0.5


def test_laplace_noise_has_scale_one_over_epsilon():
    assert laplace_scale(0.5) == 2.0
    draws = np.array([laplace_count(100, 0.5, random_state=s) for s in range(4000)]) - 100
    assert np.mean(np.abs(draws)) == pytest.approx(2.0, rel=0.08)  # E|Laplace(b)| = b


# -- the building blocks -----------------------------------------------------------------------
def test_project_to_simplex():
    p = project_to_simplex(np.array([5.0, -3.0, 1.0]), 4.0)
    assert np.all(p >= 0) and p.sum() == pytest.approx(4.0)
    np.testing.assert_allclose(project_to_simplex(np.array([0.2, 0.8])), [0.2, 0.8])


def test_tree_without_noise_joins_the_dependent_columns():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 3, 3000)
    b = np.where(rng.random(3000) < 0.9, a, rng.integers(0, 3, 3000))
    c = np.where(rng.random(3000) < 0.9, b, rng.integers(0, 3, 3000))
    noise = rng.integers(0, 3, 3000)
    codes = np.column_stack([a, noise, b, c])
    sizes = [3, 3, 3, 3]
    one_way = [marginal_counts(codes, (j,), sizes) / 3000 for j in range(4)]
    edges = select_tree(codes, sizes, one_way, math.inf, rng)
    assert len(edges) == 3
    assert {(0, 2), (2, 3)} <= set(edges)


def test_consistent_marginals_are_probabilities_that_agree():
    rng = np.random.default_rng(1)
    one = [rng.normal(30, 20, 4), rng.normal(30, 20, 3), rng.normal(30, 20, 2)]
    two = {(0, 1): rng.normal(10, 20, (4, 3)), (1, 2): rng.normal(15, 20, (3, 2))}
    p1, p2 = consistent_marginals(one, [np.full(4, 400.0), np.full(3, 400.0), np.full(2, 400.0)], two, 400.0)
    for p in p1:
        assert np.all(p >= 0) and p.sum() == pytest.approx(1.0)
    for (a, b), t in p2.items():
        assert np.all(t >= 0) and t.sum() == pytest.approx(1.0)
        np.testing.assert_allclose(t.sum(axis=1), p1[a], atol=1e-8)
        np.testing.assert_allclose(t.sum(axis=0), p1[b], atol=1e-8)


def test_ancestral_sampling_reproduces_the_tree_marginals():
    p0 = np.array([0.2, 0.8])
    t01 = np.array([[0.15, 0.05], [0.1, 0.7]])
    t12 = np.array([[0.2, 0.05], [0.05, 0.7]])
    codes = sample_tree([p0, t01.sum(0), t12.sum(0)], {(0, 1): t01, (1, 2): t12}, 60_000,
                        np.random.default_rng(0))
    np.testing.assert_allclose(marginal_counts(codes, (0, 1), [2, 2, 2]) / 60_000, t01, atol=0.01)
    np.testing.assert_allclose(marginal_counts(codes, (1, 2), [2, 2, 2]) / 60_000, t12, atol=0.01)


def test_private_bounds_land_near_the_range():
    x = np.random.default_rng(0).uniform(30, 95, 5000)
    low, high = private_bounds(x, 0.5, np.random.default_rng(1))
    assert (low, high) == (30.0, 100.0)
    assert private_bounds(x[:3], 0.5, np.random.default_rng(1)) != (30.0, 100.0)  # 3 rows: lost in noise


# -- the generator -----------------------------------------------------------------------------
def test_noise_scale_follows_the_zcdp_formula(whas):
    df, meta = whas
    for eps in (0.5, 3.0):
        gen = _mst(eps).fit(df, meta)
        rho = cdp_rho(eps, 1e-6)
        d = len(gen.domain_.sizes_)
        assert gen.rho_ == pytest.approx(rho)
        assert gen.sigma_one_way_ == pytest.approx(math.sqrt(3 / (2 * rho)) * math.sqrt(d))
        assert gen.sigma_two_way_ == pytest.approx(math.sqrt(3 / (2 * rho)) * math.sqrt(d - 1))
        # the zCDP costs of the steps add up to the budget: d one-way, d-1 selections, d-1 two-way
        spent = d / (2 * gen.sigma_one_way_**2) + (d - 1) * gen.selection_epsilon_**2 / 8 \
            + (d - 1) / (2 * gen.sigma_two_way_**2)
        assert spent == pytest.approx(rho)
    # and the released histograms really carry noise of that size
    errors = []
    for seed in range(20):
        gen = _mst(1.0, seed=seed, compress=False).fit(df, meta)
        true = [marginal_counts(gen.domain_.encode(df), (j,), gen.domain_.sizes_) for j in range(d)]
        errors += [np.concatenate([n - t for n, t in zip(gen.noisy_counts_, true, strict=True)])]
    assert np.std(np.concatenate(errors)) == pytest.approx(gen.sigma_one_way_, rel=0.1)


def _marginal_error(df, meta, eps, seeds=range(4)):
    out = []
    for seed in seeds:
        gen = _mst(eps, seed=seed, compress=False).fit(df, meta)
        codes = gen.domain_.encode(df)
        for j, p in enumerate(gen.one_way_):
            true = marginal_counts(codes, (j,), gen.domain_.sizes_) / len(df)
            out.append(np.abs(p - true).sum())
    return float(np.mean(out))


def test_smaller_epsilon_gives_noisier_marginals(whas):
    df, meta = whas
    errors = [_marginal_error(df, meta, eps) for eps in (0.3, 3.0, 30.0)]
    assert errors[0] > 2 * errors[1] > 4 * errors[2]


@pytest.mark.parametrize("missing", ["epsilon", "delta"])
def test_refuses_without_epsilon_or_delta(whas, missing):
    df, meta = whas
    kw = {"epsilon": 1.0, "delta": 1e-6, "bounds": WHAS_BOUNDS}
    kw[missing] = None
    with pytest.raises(ValueError, match=f"without an explicit {missing}"):
        MSTSynthesizer(**kw).fit(df, meta)


def test_refuses_to_read_bounds_or_categories_from_the_data(whas):
    df, meta = whas
    with pytest.raises(ValueError, match="will not read the ranges"):
        MSTSynthesizer(epsilon=1.0, delta=1e-6).fit(df, meta)
    with pytest.raises(ValueError, match="public knowledge"):
        MSTSynthesizer(epsilon=1.0, delta=1e-6, bounds=WHAS_BOUNDS).fit(df)
    with pytest.raises(ValueError, match="lenfol"):
        MSTSynthesizer(epsilon=1.0, delta=1e-6, bounds={"age": (20, 110)}).fit(df, meta)
    with pytest.warns(UserWarning, match="training minimum and maximum"):
        MSTSynthesizer(epsilon=1.0, delta=1e-6, bounds="metadata", verbose=False).fit(df, infer_metadata(df))


def test_epsilon_spent_is_reported(whas):
    df, meta = whas
    gen = _mst(1.0).fit(df, meta)
    assert gen.epsilon_spent_ == pytest.approx(1.0, rel=1e-4)
    assert gen.privacy_report().loc[:, "rho"].iloc[-1] == pytest.approx(gen.rho_)
    private = _mst(1.0, bounds="private").fit(df, meta)
    assert private.budget_["bounds"] > 0
    assert private.epsilon_spent_ == pytest.approx(1.0, rel=1e-4)
    for col in WHAS_BOUNDS:
        assert private.metadata_[col].bounds is not None


def test_public_bounds_hold_in_the_output(whas):
    df, meta = whas
    out = _mst(3.0).fit(df, meta).sample(500)
    for col, (low, high) in WHAS_BOUNDS.items():
        assert out[col].between(low, high).all(), col
    assert out["age"].max() > df["age"].max() or out["age"].min() < df["age"].min()


def test_consistency_of_the_fitted_marginals(whas):
    df, meta = whas
    gen = _mst(0.5).fit(df, meta)
    names = gen.domain_.names
    for p in gen.one_way_:
        assert np.all(p >= 0) and p.sum() == pytest.approx(1.0)
    for (a, b), t in gen.two_way_.items():
        assert (names[a], names[b]) in gen.tree_
        assert np.all(t >= 0) and t.sum() == pytest.approx(1.0)
        np.testing.assert_allclose(t.sum(axis=1), gen.one_way_[a], atol=1e-8)
        np.testing.assert_allclose(t.sum(axis=0), gen.one_way_[b], atol=1e-8)
    assert len(gen.tree_) == len(names) - 1


def test_same_seed_same_output_and_different_seed_differs(whas):
    df, meta = whas
    a = _mst(1.0, seed=4).fit(df, meta).sample(50)
    b = _mst(1.0, seed=4).fit(df, meta).sample(50)
    c = _mst(1.0, seed=5).fit(df, meta).sample(50)
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(c)


def test_without_noise_the_tree_keeps_the_outcome_relation(whas):
    df, meta = whas
    out = _mst(math.inf).fit(df, meta).sample(3000, random_state=0)
    real = df.groupby("fstat")["lenfol"].median()
    synth = out.groupby("fstat")["lenfol"].median()
    assert synth[1] < synth[0] and real[1] < real[0]


# -- a tree fixed in advance ------------------------------------------------------------------
def test_public_tree_accepts_a_star_or_a_spanning_tree_and_refuses_the_rest():
    names = ["a", "b", "c", "d"]
    assert public_tree(None, names) is None
    assert public_tree("b", names) == [(1, 0), (1, 2), (1, 3)]
    assert public_tree([("a", "b"), ("b", "c"), ["c", "d"]], names) == [(0, 1), (1, 2), (2, 3)]
    with pytest.raises(ValueError, match="'e': no such column"):
        public_tree("e", names)
    with pytest.raises(ValueError, match="closes a cycle"):
        public_tree([("a", "b"), ("b", "c"), ("c", "a")], names)
    with pytest.raises(ValueError, match="do not join all 4 columns"):
        public_tree([("a", "b"), ("c", "d")], names)
    with pytest.raises(ValueError, match="not a pair of columns"):
        public_tree([("a", "x"), ("b", "c"), ("c", "d")], names)


def test_a_star_around_the_outcome_spends_nothing_on_selection(whas):
    df, meta = whas
    gen = _mst(1.0, tree="fstat").fit(df, meta)
    names = gen.domain_.names
    d = len(names)
    assert sorted(gen.tree_) == sorted(("fstat", n) for n in names if n != "fstat")
    assert gen.budget_["selection"] == 0.0 and gen.selection_epsilon_ == 0.0
    rho = cdp_rho(1.0, 1e-6)
    # half of the budget each: the noise is sqrt(3/2) times smaller than with a chosen tree
    assert gen.sigma_one_way_ == pytest.approx(math.sqrt(2 / (2 * rho)) * math.sqrt(d))
    assert gen.sigma_two_way_ == pytest.approx(math.sqrt(2 / (2 * rho)) * math.sqrt(d - 1))
    spent = d / (2 * gen.sigma_one_way_**2) + (d - 1) / (2 * gen.sigma_two_way_**2)
    assert spent == pytest.approx(rho)
    assert gen.epsilon_spent_ == pytest.approx(1.0, rel=1e-4)
    chosen = _mst(1.0).fit(df, meta)
    assert gen.sigma_two_way_ < chosen.sigma_two_way_


def test_a_given_tree_is_measured_as_given_and_saved_with_the_model(whas, tmp_path):
    df, meta = whas
    names = _mst(1.0).fit(df, meta).domain_.names
    chain = [(a, b) for a, b in zip(names[:-1], names[1:], strict=True)]
    gen = _mst(2.0, tree=chain).fit(df, meta)
    assert gen.tree_ == chain
    out = gen.sample(40, random_state=3)
    gen.save(tmp_path / "mst.json")
    again = MSTSynthesizer.load(tmp_path / "mst.json")
    pd.testing.assert_frame_equal(again.sample(40, random_state=3), out)
    with pytest.raises(ValueError, match="no such column"):
        _mst(1.0, tree="not_a_column").fit(df, meta)


# -- the lesson's own MST agrees with the package ----------------------------------------------
NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "10_differential_privacy.ipynb"


def _notebook_functions() -> dict:
    """The functions defined in the lesson's cells tagged ``mst-core`` (only the definitions run)."""
    ns = {"math": math, "np": np, "pa": privacy_accounting, "marginal_counts": marginal_counts,
          "project_to_simplex": project_to_simplex}
    nb = json.loads(NOTEBOOK.read_text(encoding="utf-8"))
    cells = [c for c in nb["cells"] if "mst-core" in c.get("metadata", {}).get("tags", [])]
    assert cells, "the lesson has no cell tagged mst-core"
    for cell in cells:
        tree = ast.parse("".join(cell["source"]))
        defs = [node for node in tree.body if isinstance(node, ast.FunctionDef)]
        exec(compile(ast.Module(defs, type_ignores=[]), str(NOTEBOOK), "exec"), ns)
    return ns


def test_the_lessons_mst_makes_the_packages_measurements():
    ns = _notebook_functions()
    train, _, meta, _, bounds = dp_split("whas500")
    for eps, seed in ((1.0, 0), (3.0, 7)):
        gen = MSTSynthesizer(epsilon=eps, delta=1e-6, bounds=bounds, compress=False, random_state=seed,
                             verbose=False).fit(train, meta)
        codes = gen.domain_.encode(train)
        one_way, edges, two_way, sigma = ns["mst_measure"](codes, gen.domain_.sizes_, eps, 1e-6, seed)
        assert sigma * math.sqrt(len(one_way)) == pytest.approx(gen.sigma_one_way_)
        assert edges == list(gen.noisy_two_way_)
        for ours, theirs in zip(one_way, gen.noisy_counts_, strict=True):
            np.testing.assert_allclose(ours, theirs, rtol=1e-9)
        for edge in edges:
            np.testing.assert_allclose(two_way[edge], gen.noisy_two_way_[edge], rtol=1e-9)


def test_the_lessons_tree_sampler_draws_like_the_packages():
    ns = _notebook_functions()
    train, _, meta, _, bounds = dp_split("whas500")
    gen = MSTSynthesizer(epsilon=3.0, delta=1e-6, bounds=bounds, compress=False, random_state=0,
                         verbose=False).fit(train, meta)
    sizes = gen.domain_.sizes_
    ours = ns["sample_along_tree"](gen.one_way_, gen.two_way_, 40_000, np.random.default_rng(0))
    theirs = sample_tree(gen.one_way_, gen.two_way_, 40_000, np.random.default_rng(1))
    for a, b in gen.two_way_:
        p = marginal_counts(ours, (a, b), sizes) / 40_000
        q = marginal_counts(theirs, (a, b), sizes) / 40_000
        assert 0.5 * np.abs(p - q).sum() < 0.03, (a, b)
        np.testing.assert_allclose(p, gen.two_way_[a, b], atol=0.015)
