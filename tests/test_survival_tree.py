"""The log-rank survival tree, and sequential CART drawing a (time, event) pair from it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from lifelines.statistics import logrank_test

from course_utils import data
from course_utils.generators import CARTSynthesizer, GaussianCopula, Synthesizer, get_generator
from course_utils.generators.survival_tree import SurvivalTreeSampler, logrank_statistics
from course_utils.schema import infer_metadata

VETERANS_PAIR = ("survival_days", "status")


@pytest.fixture(scope="module")
def veterans():
    return data.load_veterans(return_metadata=True)


def _hazard_table(n: int = 400, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Predictor 0 sets the hazard (four times higher above 0.5), predictor 1 is noise;
    a third of the patients are censored at random."""
    rng = np.random.default_rng(seed)
    X = rng.random((n, 2))
    time = rng.exponential(np.where(X[:, 0] > 0.5, 1.0, 4.0))
    censor = rng.exponential(8.0, n)
    return X, np.minimum(time, censor).round(2), (time <= censor).astype(int)


def test_logrank_statistic_matches_lifelines_with_ties_and_censoring():
    rng = np.random.default_rng(3)
    time = rng.integers(1, 30, 120).astype(float)  # many tied times
    event = (rng.random(120) < 0.7).astype(int)
    masks = np.array([rng.random(120) < p for p in (0.2, 0.5, 0.8)])
    ours = logrank_statistics(time, event, masks)
    for mask, stat in zip(masks, ours, strict=True):
        ref = logrank_test(time[mask], time[~mask], event[mask], event[~mask]).test_statistic
        assert stat == pytest.approx(ref, rel=1e-9)
    assert logrank_statistics(time, np.zeros(120), masks).tolist() == [0, 0, 0]  # no event, no test


def test_the_tree_splits_on_the_predictor_that_sets_the_hazard_and_keeps_its_leaves_whole():
    X, time, event = _hazard_table()
    tree = SurvivalTreeSampler(X, time, event, min_samples_leaf=20)
    assert tree.feature_[0] == 0 and 0.4 < tree.threshold_[0] < 0.6
    leaves = np.flatnonzero(tree.feature_ < 0)
    assert tree.n_leaves == len(leaves) and tree.count[leaves].min() >= 20
    assert tree.count[leaves].sum() == len(time)
    stump = SurvivalTreeSampler(X, time, event, min_samples_leaf=20, max_depth=1)
    assert stump.n_leaves == 2
    # no predictor, or no events: one leaf, the whole table
    assert SurvivalTreeSampler(np.empty((400, 0)), time, event).n_leaves == 1
    assert SurvivalTreeSampler(X, time, np.zeros(400)).n_leaves == 1


def test_draws_copy_one_patients_pair_from_the_leaf_a_row_lands_in():
    X, time, event = _hazard_table()
    tree = SurvivalTreeSampler(X, time, event, min_samples_leaf=20)
    new = np.random.default_rng(1).random((500, 2))
    t, e = tree.draw(new, np.random.default_rng(2))
    real = set(zip(time.tolist(), event.tolist(), strict=True))
    assert all(pair in real for pair in zip(t.tolist(), e.tolist(), strict=True))
    # the high-hazard side gets the short times: the leaves carry the hazard to new rows
    assert np.median(t[new[:, 0] > 0.6]) < 0.5 * np.median(t[new[:, 0] < 0.4])
    again = tree.draw(new, np.random.default_rng(2))
    assert np.array_equal(t, again[0]) and np.array_equal(e, again[1])
    missing = new.copy()
    missing[:, 0] = np.nan  # a missing predictor goes right at every cut, as in fitting
    assert (tree.apply(missing) == tree.apply(np.column_stack([np.ones(500), new[:, 1]]))).all()


def test_cart_draws_the_pair_together_after_the_columns_before_it(veterans):
    df, meta = veterans
    gen = CARTSynthesizer(survival=VETERANS_PAIR, visit_sequence=["status"], random_state=0).fit(df, meta)
    order = gen.visit_sequence_
    assert order.index("status") == order.index("survival_days") + 1  # moved from first to after its time
    assert gen.methods_["survival_days"] == gen.methods_["status"] == "survctree"
    assert gen.survival_tree_ is not None and "survival_days" not in gen.trees_
    syn = gen.sample(400)
    real = set(zip(df["survival_days"], df["status"], strict=True))
    assert all(pair in real for pair in zip(syn["survival_days"], syn["status"], strict=True))
    assert syn.dtypes.equals(df.dtypes)
    plain = CARTSynthesizer(random_state=0).fit(df, meta)
    assert plain.survival_tree_ is None and plain.methods_["survival_days"] == "cart"


def test_survival_cart_keeps_the_hazards_a_cox_model_reads():
    from course_utils.evaluation.survival import survival_tstr

    X, time, event = _hazard_table(600, seed=5)
    df = pd.DataFrame({"marker": X[:, 0].round(3), "noise": X[:, 1].round(3), "days": time, "died": event})
    meta = infer_metadata(df)
    train, holdout = df.iloc[:420].reset_index(drop=True), df.iloc[420:].reset_index(drop=True)
    scores = {}
    for label, survival in (("tree", ("days", "died")), ("shuffled", None)):
        gen = CARTSynthesizer(survival=survival, random_state=0).fit(train, meta)
        syn = gen.sample(len(train))
        if survival is None:  # the pair kept, its link to the marker broken
            order = np.random.default_rng(0).permutation(len(syn))
            syn["days"], syn["died"] = syn["days"].to_numpy()[order], syn["died"].to_numpy()[order]
        scores[label] = survival_tstr(train, syn, holdout, "days", "died", metadata=meta)
    tree, broken = (scores[k].loc["TSTR", "c_index"] for k in ("tree", "shuffled"))
    assert tree > scores["tree"].loc["TRTR", "c_index"] - 0.03
    assert tree > broken + 0.1


def test_survival_settings_are_checked_by_name(veterans):
    df, meta = veterans
    cases = [(("days", "status"), "'days', which is not in the table"),
             (("Celltype", "status"), "'Celltype' is categorical"),
             (("survival_days", "Karnofsky_score"), "'Karnofsky_score' is integer; it must be a 0/1"),
             (("survival_days",), "survival must be None or"), ("survival_days", "survival must be None or")]
    for survival, message in cases:
        with pytest.raises(ValueError, match=message):
            CARTSynthesizer(survival=survival).fit(df, meta)
    holes = df.copy()
    holes.loc[3, "survival_days"] = np.nan
    with pytest.raises(ValueError, match="'survival_days' has missing values"):
        CARTSynthesizer(survival=VETERANS_PAIR).fit(holes, infer_metadata(holes))


def test_conditions_seeds_and_files_work_with_the_pair(veterans, tmp_path):
    df, meta = veterans
    gen = CARTSynthesizer(survival=VETERANS_PAIR, closeness_guard="match", random_state=4).fit(df, meta)
    alive = gen.sample(30, conditions={"status": 0})
    assert (alive["status"] == 0).all()
    censored = set(df.loc[df["status"] == 0, "survival_days"])
    assert set(alive["survival_days"]) <= censored  # still real censored follow-ups
    first = CARTSynthesizer(survival=VETERANS_PAIR, visit_sequence=["survival_days"], random_state=0,
                            max_rejection_draws=5).fit(df, meta)
    assert (first.sample(3, conditions={"survival_days": 72})["survival_days"] == 72).all()
    # the pair is drawn, never set: a time no patient had is waited for in vain, even first in the order
    with pytest.raises(ValueError, match="met by only 0"):
        first.sample(3, conditions={"survival_days": 5})
    a = CARTSynthesizer(survival=VETERANS_PAIR, random_state=7).fit(df, meta).sample(50)
    b = CARTSynthesizer(survival=VETERANS_PAIR, random_state=7).fit(df, meta).sample(50)
    pd.testing.assert_frame_equal(a, b)
    path = gen.save(tmp_path / "cart.cugen")
    loaded = Synthesizer.load(path)
    pd.testing.assert_frame_equal(gen.sample(40, random_state=9), loaded.sample(40, random_state=9))


def test_the_registry_passes_the_pair_to_cart_only():
    cart = get_generator("CARTSynthesizer").make(0, survival=VETERANS_PAIR)
    assert cart.survival == VETERANS_PAIR
    assert get_generator("CARTSynthesizer").make(0).survival is None
    assert isinstance(get_generator("GaussianCopula").make(0, survival=VETERANS_PAIR), GaussianCopula)
