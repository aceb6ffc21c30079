"""SMOTE from scratch, the imbalanced-learn wrappers, type repair and the closeness filter."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from imblearn.over_sampling import SMOTE
from scipy import stats
from sklearn.neighbors import NearestNeighbors

from course_utils.data import STROKE_TARGET, load_stroke, load_veterans, train_holdout_split
from course_utils.generators.base import repair_frame
from course_utils.generators.smote import (
    SMOTESynthesizer,
    closeness_filter,
    counts_in_proportion,
    nearest_real_distance,
    new_from_totals,
    smote_from_scratch,
    smote_step,
    totals_for,
)
from course_utils.schema import infer_metadata, validate


def _two_classes(seed: int = 0, n_min: int = 60, n_maj: int = 200):
    rng = np.random.default_rng(seed)
    X_min = rng.normal([2.0, -1.0], [1.0, 0.5], size=(n_min, 2))
    X_maj = rng.normal([0.0, 0.0], [1.5, 1.5], size=(n_maj, 2))
    X = np.vstack([X_maj, X_min])
    y = np.r_[np.zeros(n_maj, int), np.ones(n_min, int)]
    return X, y


def _on_some_segment(points: np.ndarray, X: np.ndarray, k: int, tol: float = 1e-8) -> np.ndarray:
    """For each point: does it lie on a segment from a row of X to one of its k neighbours?"""
    nbrs = NearestNeighbors(n_neighbors=k + 1).fit(X).kneighbors(X, return_distance=False)[:, 1:]
    a = np.repeat(X, k, axis=0)  # segment starts
    b = X[nbrs.ravel()]  # segment ends
    ab = b - a
    t = np.einsum("pij,ij->pi", points[:, None, :] - a[None], ab) / np.maximum((ab**2).sum(1), 1e-300)
    t = np.clip(t, 0, 1)
    closest = a[None] + t[..., None] * ab[None]
    d = np.sqrt(((points[:, None, :] - closest) ** 2).sum(-1)).min(axis=1)
    return d < tol


@pytest.fixture(scope="module")
def stroke():
    df, meta = load_stroke(return_metadata=True)
    train, hold = train_holdout_split(df, test_size=0.25, stratify=STROKE_TARGET, random_state=0)
    return train, hold, meta


# -- the five steps -------------------------------------------------------------------------
def test_smote_step_is_the_point_a_fraction_of_the_way():
    assert np.allclose(smote_step([0, 10], [10, 0], 0.25), [2.5, 7.5])
    assert np.allclose(smote_step([1, 2], [3, 4], 0.0), [1, 2])
    assert np.allclose(smote_step([1, 2], [3, 4], 1.0), [3, 4])


def test_from_scratch_points_lie_on_segments_to_one_of_the_k_neighbours():
    X, y = _two_classes()
    X_min = X[y == 1]
    new, steps = smote_from_scratch(X_min, 500, k=5, random_state=1)
    assert new.shape == (500, 2)
    assert list(steps.columns) == ["row", "neighbour", "fraction"]
    assert steps["fraction"].between(0, 1).all()
    # Each new point is exactly row + fraction * (neighbour - row) ...
    r, nb, f = steps["row"].to_numpy(), steps["neighbour"].to_numpy(), steps["fraction"].to_numpy()
    assert np.allclose(new, X_min[r] + f[:, None] * (X_min[nb] - X_min[r]))
    # ... and the neighbour is one of the row's 5 nearest (not itself).
    knn = NearestNeighbors(n_neighbors=6).fit(X_min).kneighbors(X_min, return_distance=False)
    assert all(nb[i] in knn[r[i], 1:] for i in range(len(r)))
    assert (nb != r).all()
    # The fraction is uniform, not a fixed midpoint.
    assert stats.kstest(f, "uniform").pvalue > 0.001


def test_from_scratch_same_seed_same_output_and_dataframe_in_dataframe_out():
    X, y = _two_classes()
    df = pd.DataFrame(X[y == 1], columns=["a", "b"])
    a, sa = smote_from_scratch(df, 50, k=3, random_state=7)
    b, sb = smote_from_scratch(df, 50, k=3, random_state=7)
    c, _ = smote_from_scratch(df, 50, k=3, random_state=8)
    assert isinstance(a, pd.DataFrame) and list(a.columns) == ["a", "b"]
    pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_frame_equal(sa, sb)
    assert not np.allclose(a.to_numpy(), c.to_numpy())


def test_from_scratch_agrees_with_imbalanced_learn_in_distribution():
    X, y = _two_classes(seed=3)
    n_new = 3000
    ours, _ = smote_from_scratch(X[y == 1], n_new, k=5, random_state=0)
    X_res, y_res = SMOTE(sampling_strategy=totals_for(y, {1: n_new}), k_neighbors=5,
                         random_state=0).fit_resample(X, y)
    theirs = X_res[len(X):]
    # Same class counts.
    assert (y_res[len(X):] == 1).sum() == len(ours) == n_new
    assert np.bincount(y_res).tolist() == [200, 60 + n_new]
    # imbalanced-learn's new points also lie on segments between a row and a neighbour.
    assert _on_some_segment(theirs, X[y == 1], k=5).all()
    assert _on_some_segment(ours, X[y == 1], k=5).all()
    # Summary statistics agree within sampling tolerance.
    sd = X[y == 1].std(axis=0)
    assert np.all(np.abs(ours.mean(0) - theirs.mean(0)) < 0.05 * sd)
    assert np.all(np.abs(ours.std(0) / theirs.std(0) - 1) < 0.05)
    for j in range(2):
        assert stats.ks_2samp(ours[:, j], theirs[:, j]).pvalue > 0.001


def test_scratch_and_imbalanced_learn_variants_give_the_same_class_counts(stroke):
    train, _, meta = stroke
    outs = {v: SMOTESynthesizer(target=STROKE_TARGET, variant=v, random_state=0).fit(train, meta).sample(900)
            for v in ("scratch", "smote")}
    counts = {v: o[STROKE_TARGET].value_counts().to_dict() for v, o in outs.items()}
    assert counts["scratch"] == counts["smote"]
    cols = ["Age", "S2NihssArrival", "S2RankinBeforeStroke"]
    a, b = outs["scratch"][cols].astype(float), outs["smote"][cols].astype(float)
    assert (np.abs(a.mean() - b.mean()) < 0.2 * train[cols].std()).all()


# -- imbalanced-learn's totals --------------------------------------------------------------
def test_totals_for_and_its_inverse():
    y = np.r_[np.zeros(100, int), np.ones(50, int)]
    assert totals_for(y, extra={1: 150}) == {0: 100, 1: 200}
    assert totals_for(y, extra={0: 100, 1: 150}) == {0: 200, 1: 200}
    assert new_from_totals(y, {0: 200, 1: 200}) == {0: 100, 1: 150}
    with pytest.raises(ValueError, match="class"):
        totals_for(y, extra={2: 10})
    with pytest.raises(ValueError, match="real rows"):
        new_from_totals(y, {1: 10})


def test_counts_in_proportion_sum_and_shares():
    c = counts_in_proportion(1001, {0: 1111, 1: 751})
    assert sum(c.values()) == 1001 and abs(c[1] - 1001 * 751 / 1862) < 1


# -- the generator: modes and type repair ---------------------------------------------------
@pytest.mark.parametrize("variant", ["scratch", "smote", "smotenc", "borderline"])
def test_output_is_repaired_and_valid(stroke, variant):
    train, _, meta = stroke
    out = SMOTESynthesizer(target=STROKE_TARGET, variant=variant, random_state=0).fit(train, meta).sample(400)
    validate(out, meta)  # integers whole, binaries 0/1, bounds, one 1 per one-hot group
    assert (out.dtypes == train.dtypes).all()
    for members in meta.one_hot_groups.values():
        assert (out[members].sum(axis=1) == 1).all()


def test_raw_interpolation_breaks_types_that_repair_fixes(stroke):
    train, _, meta = stroke
    X = train.drop(columns=STROKE_TARGET)
    raw, _ = smote_from_scratch(X[train[STROKE_TARGET] == 1], 300, random_state=0)
    hosp = meta.one_hot_groups["Hospital"]
    assert not np.allclose(raw["Age"], raw["Age"].round())  # not whole years
    assert not raw[hosp].isin([0.0, 1.0]).all().all()  # fractions of a hospital
    fixed = repair_frame(pd.concat([raw, train[[STROKE_TARGET]].iloc[:300]], axis=1)[train.columns],
                         meta, train.dtypes.to_dict())
    validate(fixed, meta)
    # argmax keeps the hospital with the larger share
    assert (fixed[hosp].to_numpy().argmax(1) == raw[hosp].to_numpy().argmax(1)).all()


def test_replace_mode_keeps_class_proportions(stroke):
    train, _, meta = stroke
    gen = SMOTESynthesizer(target=STROKE_TARGET, mode="replace", random_state=0).fit(train, meta)
    out = gen.sample(len(train))
    assert out[STROKE_TARGET].value_counts().to_dict() == train[STROKE_TARGET].value_counts().to_dict()


def test_bulk_mode_adds_minority_rows_to_the_real_ones(stroke):
    train, _, meta = stroke
    gen = SMOTESynthesizer(target=STROKE_TARGET, mode="bulk", random_state=0).fit(train, meta)
    assert set(gen.sample(50)[STROKE_TARGET]) == {1}
    both = gen.bulk_out()
    counts = both[STROKE_TARGET].value_counts()
    assert counts[0] == counts[1] == (train[STROKE_TARGET] == 0).sum()
    pd.testing.assert_frame_equal(both.iloc[: len(train)], train)
    more = gen.bulk_out({1: 10, 0: 5})
    assert len(more) == len(train) + 15


def test_sample_per_class_counts_new_rows_not_totals(stroke):
    train, _, meta = stroke
    gen = SMOTESynthesizer(target=STROKE_TARGET, random_state=0).fit(train, meta)
    out = gen.sample_per_class({1: 30})
    assert len(out) == 30 and set(out[STROKE_TARGET]) == {1}


def test_smotenc_keeps_categories_on_mixed_data():
    vet, meta = load_veterans(return_metadata=True)
    out = SMOTESynthesizer(target="status", variant="smotenc", random_state=0).fit(vet, meta).sample(200)
    validate(out, meta)
    assert set(out["Celltype"]) <= set(vet["Celltype"].cat.categories)


# -- clear errors ---------------------------------------------------------------------------
def test_errors_are_clear():
    vet, meta = load_veterans(return_metadata=True)
    with pytest.raises(TypeError, match="Celltype"):
        SMOTESynthesizer(target="status", variant="smote").fit(vet, meta)
    num = vet.drop(columns=["Celltype", "Prior_therapy", "Treatment"])
    few = pd.concat([num[num.status == 1], num[num.status == 0].iloc[:3]], ignore_index=True)
    with pytest.raises(ValueError, match="at least 6 rows"):
        SMOTESynthesizer(target="status", k_neighbors=5).fit(few)
    one = num[num.status == 1]
    with pytest.raises(ValueError, match="single class"):
        SMOTESynthesizer(target="status").fit(one)
    gap = num.astype({"Karnofsky_score": float})
    gap.loc[3, "Karnofsky_score"] = np.nan
    with pytest.raises(ValueError, match="Karnofsky_score"):
        SMOTESynthesizer(target="status").fit(gap)
    with pytest.raises(ValueError, match="target column 'nope'"):
        SMOTESynthesizer(target="nope").fit(num)
    with pytest.raises(ValueError, match="k \\+ 1 = 6"):
        smote_from_scratch(np.zeros((5, 2)), 10, k=5)
    with pytest.raises(TypeError, match="Celltype"):
        smote_from_scratch(vet[["Celltype", "Age_in_years"]], 10)
    with pytest.raises(ValueError, match="missing"):
        smote_from_scratch(gap[["Karnofsky_score", "Age_in_years"]], 10)


# -- the closeness filter -------------------------------------------------------------------
def _filter_case(seed: int = 0):
    rng = np.random.default_rng(seed)
    real = pd.DataFrame({"age": rng.integers(40, 90, 300), "nihss": rng.integers(0, 30, 300),
                         "male": rng.integers(0, 2, 300)})
    synth = real.sample(400, replace=True, random_state=seed).reset_index(drop=True)
    synth["age"] = synth["age"] + rng.integers(-6, 7, 400)
    synth["nihss"] = (synth["nihss"] + rng.integers(-3, 4, 400)).clip(0, 42)
    synth.index = pd.Index(rng.permutation(np.arange(1000, 1400)))  # labels unrelated to position
    return real, synth


def test_filter_drops_copies_then_the_closest_share():
    real, synth = _filter_case()
    kept, d = closeness_filter(real, synth, share=0.1, return_distances=True)
    copies = (d == 0).sum()
    assert copies > 0
    n_drop = round(0.1 * (len(synth) - copies))
    assert len(kept) == len(synth) - copies - n_drop
    assert (d[kept.index] > 0).all()
    dropped = d.drop(kept.index)
    assert d[kept.index].min() >= dropped[dropped > 0].max()
    # The distance belongs to its own row: recompute one by hand.
    lab = kept.index[0]
    # the course's distance: every column scaled by its real range (male is 0/1 already)
    z = (real - real.min()) / (real.max() - real.min())
    zs = (synth.loc[lab] - real.min()) / (real.max() - real.min())
    assert np.isclose(d[lab], np.sqrt(((z - zs) ** 2).sum(axis=1)).min())


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_shuffling_before_the_filter_removes_exactly_the_same_rows(seed):
    real, synth = _filter_case(seed)
    kept = closeness_filter(real, synth, share=0.1)
    shuffled = synth.sample(frac=1.0, random_state=seed + 10)
    kept_shuffled = closeness_filter(real, shuffled, share=0.1)
    assert set(kept.index) == set(kept_shuffled.index)
    # The bug this guards against: distances computed on a re-ordered copy and attached
    # by position remove other rows.
    d = nearest_real_distance(real, synth.sort_values("age"))
    buggy = pd.Series(d.to_numpy(), index=synth.index)
    buggy_dropped = set(buggy.sort_values().index[: len(synth) - len(kept)])
    assert buggy_dropped != set(synth.index) - set(kept.index)


def test_filter_measures_distance_after_type_repair():
    real = pd.DataFrame({"age": [50, 60, 70, 80], "male": [0, 1, 0, 1], "y": [0, 1, 0, 1]})
    meta = infer_metadata(real)
    synth = pd.DataFrame({"age": [50.4, 65.0, 71.0], "male": [0.2, 0.5, 0.3], "y": [0, 1, 0]},
                         index=[7, 8, 9])
    kept = closeness_filter(real, synth, share=0.0, metadata=meta)
    assert list(kept.index) == [8, 9]  # row 7 rounds to (50, 0, 0): a copy of a real patient
    assert kept["age"].tolist() == [65, 71]


def test_filter_needs_a_unique_index():
    real, synth = _filter_case()
    with pytest.raises(ValueError, match="unique index"):
        closeness_filter(real, pd.concat([synth, synth]))


def test_synthesizer_with_closeness_share_returns_no_copies(stroke):
    train, _, meta = stroke
    gen = SMOTESynthesizer(target=STROKE_TARGET, closeness_share=0.1, random_state=0).fit(train, meta)
    out = gen.sample(500)
    assert len(out) == 500
    assert (nearest_real_distance(train, out) > 0).all()
    plain = SMOTESynthesizer(target=STROKE_TARGET, random_state=0).fit(train, meta).sample(500)
    assert (nearest_real_distance(train, plain) == 0).any()  # without it, copies happen


@pytest.mark.parametrize("variant", ["scratch", "smote"])
def test_synthesizer_same_seed_same_output(stroke, variant):
    train, _, meta = stroke
    make = lambda seed: SMOTESynthesizer(target=STROKE_TARGET, variant=variant, closeness_share=0.1,  # noqa: E731
                                         random_state=seed).fit(train, meta).sample(200)
    pd.testing.assert_frame_equal(make(4), make(4))
    assert not make(4).equals(make(5))
