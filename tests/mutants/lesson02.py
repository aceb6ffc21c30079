"""Right answers and plausible wrong answers for the lesson 02 (SMOTE) checks."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from course_utils.checks.lesson02 import exercise_split, holdout_metrics, make_model
from course_utils.config import SEED
from course_utils.data import STROKE_TARGET
from course_utils.evaluation.closeness import nearest_real_distance
from course_utils.generators.smote import SMOTESynthesizer

T = STROKE_TARGET


# -- 02.smote_step ---------------------------------------------------------------------------
def _step_right():
    return lambda row, nb, f: np.asarray(row) + f * (np.asarray(nb) - np.asarray(row))


def _step_wrong_direction():
    return lambda row, nb, f: np.asarray(row) + f * (np.asarray(row) - np.asarray(nb))


def _step_midpoint():
    return lambda row, nb, f: (np.asarray(row) + np.asarray(nb)) / 2


def _step_in_place():
    def step(row, nb, f):
        row += f * (nb - row)
        return row

    return step


# -- 02.totals -------------------------------------------------------------------------------
def _counts() -> dict[int, int]:
    train, _, _ = exercise_split()
    return {int(c): int(n) for c, n in train[T].value_counts().items()}


def _totals_right():
    return {c: 3 * n for c, n in _counts().items()}


def _totals_new_rows_only():
    return {c: 2 * n for c, n in _counts().items()}


def _totals_balanced():
    top = max(_counts().values())
    return dict.fromkeys(_counts(), 3 * top)


def _totals_minority_only():
    c = _counts()
    return {1: 3 * c[1]}


# -- 02.onehot_repair ------------------------------------------------------------------------
def _repair_right():
    def repair(block):
        out = pd.DataFrame(0, index=block.index, columns=block.columns)
        out.values[np.arange(len(block)), block.to_numpy().argmax(axis=1)] = 1
        return out.astype(int)

    return repair


def _repair_round():
    return lambda block: block.round().astype(int)


def _repair_threshold():
    return lambda block: (block > 0.5).astype(int)


def _repair_reset_index():
    def repair(block):
        v = np.zeros(block.shape, dtype=int)
        v[np.arange(len(block)), block.to_numpy().argmax(axis=1)] = 1
        return pd.DataFrame(v, columns=block.columns)

    return repair


# -- 02.closeness ----------------------------------------------------------------------------
def _closeness_right():
    def drop_closest(real, synth, share=0.1):
        d = nearest_real_distance(real, synth)
        rest = d[d > 0]
        closest = rest.sort_values(kind="stable").index[: round(share * len(rest))]
        return synth.drop(index=d.index[d == 0]).drop(index=closest)

    return drop_closest


def _closeness_positional_bug():
    """The original material's bug: distances from a re-ordered copy, attached by position."""

    def drop_closest(real, synth, share=0.1):
        ordered = synth.sort_values("Age").reset_index(drop=True)
        d = nearest_real_distance(real, ordered).to_numpy()
        synth = synth.assign(distance=d)  # attached by position to rows in another order
        synth = synth[synth["distance"] > 0]
        n = round(share * len(synth))
        return synth.sort_values("distance").iloc[n:].drop(columns="distance")

    return drop_closest


def _closeness_keeps_copies():
    def drop_closest(real, synth, share=0.1):
        d = nearest_real_distance(real, synth)
        return synth.drop(index=d.sort_values(kind="stable").index[: round(share * len(d))])

    return drop_closest


def _closeness_unscaled():
    def drop_closest(real, synth, share=0.1):
        from sklearn.neighbors import NearestNeighbors

        dist, _ = NearestNeighbors(n_neighbors=1).fit(real.to_numpy(float)).kneighbors(synth.to_numpy(float))
        d = pd.Series(dist[:, 0], index=synth.index)
        rest = d[d > 0]
        return synth.loc[rest.index].drop(index=rest.sort_values().index[: round(share * len(rest))])

    return drop_closest


# -- the honest synthetic rows (02.leak, 02.utility) ----------------------------------------------------------
def _synthetic_right():
    train, _, meta = exercise_split()
    return SMOTESynthesizer(target=T, random_state=SEED).fit(train, meta).sample(len(train))


def _leak(**changes):
    from course_utils.checks.lesson02 import leak_pipelines

    ref = leak_pipelines()
    out = {"leaky": ref["leaky"], "honest": ref["honest"]}
    out.update({key: ref[name] for key, name in changes.items()})
    return out


# -- 02.utility ------------------------------------------------------------------------------
def _table(real: dict, synthetic: dict) -> pd.DataFrame:
    return pd.DataFrame({"real": real, "synthetic": synthetic}).T


def _utility_right():
    train, holdout, _ = exercise_split()
    syn = _synthetic_right()
    r = holdout_metrics(make_model().fit(train.drop(columns=T), train[T]), holdout, T)
    s = holdout_metrics(make_model().fit(syn.drop(columns=T), syn[T]), holdout, T)
    return _table(r, s)


def _utility_scored_on_train():
    train, _, _ = exercise_split()
    syn = _synthetic_right()
    r = holdout_metrics(make_model().fit(train.drop(columns=T), train[T]), train, T)
    s = holdout_metrics(make_model().fit(syn.drop(columns=T), syn[T]), train, T)
    return _table(r, s)


def _utility_swapped_sens_spec():
    t = _utility_right()
    return t.rename(columns={"sensitivity": "specificity", "specificity": "sensitivity"})


def _utility_auc_from_labels():
    from sklearn.metrics import roc_auc_score

    train, holdout, _ = exercise_split()
    t = _utility_right()
    m = make_model().fit(train.drop(columns=T), train[T])
    t.loc["real", "roc_auc"] = roc_auc_score(holdout[T], m.predict(holdout.drop(columns=T)))
    return t


# -- 02.neighbours -------------------------------------------------------------------------
def _nb_right():
    from sklearn.neighbors import NearestNeighbors

    def class_neighbours(X, y, label, k):
        rows = np.flatnonzero(y == label)
        idx = NearestNeighbors(n_neighbors=k + 1).fit(X[rows]).kneighbors(X[rows])[1][:, 1:]
        return rows[idx]
    return class_neighbours


def _nb_whole_table():
    from sklearn.neighbors import NearestNeighbors

    def class_neighbours(X, y, label, k):
        rows = np.flatnonzero(y == label)
        return NearestNeighbors(n_neighbors=k + 1).fit(X).kneighbors(X[rows])[1][:, 1:]
    return class_neighbours


def _nb_with_self():
    from sklearn.neighbors import NearestNeighbors

    def class_neighbours(X, y, label, k):
        rows = np.flatnonzero(y == label)
        return rows[NearestNeighbors(n_neighbors=k).fit(X[rows]).kneighbors(X[rows])[1]]
    return class_neighbours


def _nb_positions():
    from sklearn.neighbors import NearestNeighbors

    def class_neighbours(X, y, label, k):
        rows = np.flatnonzero(y == label)
        return NearestNeighbors(n_neighbors=k + 1).fit(X[rows]).kneighbors(X[rows])[1][:, 1:]
    return class_neighbours


def _nb_first_k():
    def class_neighbours(X, y, label, k):
        rows = np.flatnonzero(y == label)
        return np.array([[r for r in rows if r != i][:k] for i in rows])
    return class_neighbours


RIGHT: dict[str, Callable[[], object]] = {
    "02.neighbours": _nb_right,
    "02.smote_step": _step_right,
    "02.totals": _totals_right,
    "02.onehot_repair": _repair_right,
    "02.closeness": _closeness_right,
    "02.leak": _leak,
    "02.utility": _utility_right,
}

MUTANTS: dict[str, list[Callable[[], object]]] = {
    "02.neighbours": [_nb_whole_table, _nb_with_self, _nb_positions, _nb_first_k],
    "02.smote_step": [_step_wrong_direction, _step_midpoint, _step_in_place],
    "02.totals": [_totals_new_rows_only, _totals_balanced, _totals_minority_only],
    "02.onehot_repair": [_repair_round, _repair_threshold, _repair_reset_index],
    "02.closeness": [_closeness_positional_bug, _closeness_keeps_copies, _closeness_unscaled],
    "02.leak": [
        lambda: _leak(leaky="leaky on the real holdout"),  # the leaked model scored on real rows
        lambda: _leak(honest="honest on synthetic test rows"),  # honest rows, synthetic test part
        lambda: _leak(honest="real-trained"),  # the model trained on real patients
        lambda: _leak(leaky="honest", honest="leaky"),  # swapped
        lambda: [_leak()["leaky"], _leak()["honest"]],  # a list, keys lost
    ],
    "02.utility": [_utility_scored_on_train, _utility_swapped_sens_spec, _utility_auc_from_labels],
}
