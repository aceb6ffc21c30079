"""Right answers and plausible wrong answers for the lesson 04 (privacy) checks."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from course_utils.checks.lesson04 import (
    candidate_tables,
    exercise_split,
    membership_table,
    suspect_table,
)
from course_utils.evaluation.distances import fit_encoder, nearest_distances


# -- 04.exact_matches ------------------------------------------------------------------------
def _matched(suspect: pd.DataFrame, train: pd.DataFrame, columns: list[str]) -> np.ndarray:
    keys = train[columns].drop_duplicates().assign(_hit=True)
    merged = suspect[columns].merge(keys, on=columns, how="left")
    return merged["_hit"].eq(True).to_numpy()


def _exact_right():
    train, _, _ = exercise_split()
    suspect = suspect_table()
    return float(_matched(suspect, train, list(train.columns)).mean())


def _exact_count():
    train, _, _ = exercise_split()
    suspect = suspect_table()
    return int(_matched(suspect, train, list(train.columns)).sum())


def _exact_train_share():
    """Share of training rows that reappear in the suspect table."""
    train, _, _ = exercise_split()
    suspect = suspect_table()
    return float(_matched(train, suspect, list(train.columns)).mean())


def _exact_some_columns():
    """Matching on a few columns only: many fresh rows then 'match' a patient."""
    train, _, _ = exercise_split()
    suspect = suspect_table()
    return float(_matched(suspect, train, ["age", "gender", "fstat"]).mean())


def _exact_rowwise_position():
    """Compares row i of the suspect table with row i of train (position), not with every row."""
    train, _, _ = exercise_split()
    suspect = suspect_table()
    n = min(len(train), len(suspect))
    same = (suspect.iloc[:n].reset_index(drop=True) == train.iloc[:n].reset_index(drop=True)).all(axis=1)
    return float(same.mean())


# -- 04.dcr_share ----------------------------------------------------------------------------
def _share_right():
    def dcr_share(to_train, to_holdout):
        a, b = np.asarray(to_train, float), np.asarray(to_holdout, float)
        return float(np.mean(np.where(a == b, 0.5, (a < b).astype(float))))

    return dcr_share


def _share_strict():
    return lambda a, b: float(np.mean(np.asarray(a) < np.asarray(b)))


def _share_le():
    return lambda a, b: float(np.mean(np.asarray(a) <= np.asarray(b)))


def _share_reversed():
    def dcr_share(to_train, to_holdout):
        a, b = np.asarray(to_train, float), np.asarray(to_holdout, float)
        return float(np.mean(np.where(a == b, 0.5, (a > b).astype(float))))

    return dcr_share


def _share_size_adjusted():
    """Right on the tie case, but applies the 350/150 size adjustment to the lesson's arrays."""

    def dcr_share(to_train, to_holdout):
        a, b = np.asarray(to_train, float), np.asarray(to_holdout, float)
        s = float(np.mean(np.where(a == b, 0.5, (a < b).astype(float))))
        if len(a) < 100:
            return s
        p0 = 0.7
        return s * (1 - p0) / (s * (1 - p0) + (1 - s) * p0)

    return dcr_share


def _share_medians():
    """Compares the two median distances instead of row by row."""
    return lambda a, b: float(np.median(a) < np.median(b))


# -- 04.leaky --------------------------------------------------------------------------------
def _leaky_right():
    return {"B", "D"}


def _leaky_exact_matches_only():
    """Only tables with exact copies 'leak': none here."""
    train, _, _ = exercise_split()
    cols = list(train.columns)
    return {k for k, t in candidate_tables().items() if _matched(t, train, cols).any()}


def _leaky_only_copies():
    return {"B"}


def _leaky_only_cart():
    return ["D"]


def _leaky_far_is_bad():
    """Reads a large distance to the training data as the warning sign."""
    return {"C"}


def _leaky_everything():
    return {"A", "B", "C", "D"}


# -- 04.membership_auc -----------------------------------------------------------------------
def _distances():
    train, holdout, meta = exercise_split()
    attacked = membership_table()
    enc = fit_encoder(train, meta)
    d_members = nearest_distances(train, attacked, encoder=enc)[0][:, 0]
    d_nonmembers = nearest_distances(holdout, attacked, encoder=enc)[0][:, 0]
    return d_members, d_nonmembers


def _labels(dm, dn):
    return np.r_[np.ones(len(dm)), np.zeros(len(dn))]


def _auc_right():
    dm, dn = _distances()
    return float(roc_auc_score(_labels(dm, dn), -np.r_[dm, dn]))


def _auc_plus_distance():
    dm, dn = _distances()
    return float(roc_auc_score(_labels(dm, dn), np.r_[dm, dn]))


def _auc_swapped_labels():
    dm, dn = _distances()
    return float(roc_auc_score(1 - _labels(dm, dn), -np.r_[dm, dn]))


def _auc_thresholded():
    """AUC of hard 0/1 guesses (closer than the median) instead of the scores."""
    dm, dn = _distances()
    d = np.r_[dm, dn]
    return float(roc_auc_score(_labels(dm, dn), (d < np.median(d)).astype(int)))


def _auc_synthetic_side():
    """Uses the synthetic rows' distances to train and holdout as if they were the patients'."""
    train, holdout, meta = exercise_split()
    attacked = membership_table()
    enc = fit_encoder(train, meta)
    to_train = nearest_distances(attacked, train, encoder=enc)[0][:, 0]
    to_holdout = nearest_distances(attacked, holdout, encoder=enc)[0][:, 0]
    return float(roc_auc_score(np.r_[np.ones(len(to_train)), np.zeros(len(to_holdout))],
                               -np.r_[to_train, to_holdout]))


RIGHT: dict[str, Callable[[], object]] = {
    "04.exact_matches": _exact_right,
    "04.dcr_share": _share_right,
    "04.leaky": _leaky_right,
    "04.membership_auc": _auc_right,
}

MUTANTS: dict[str, list[Callable[[], object]]] = {
    "04.exact_matches": [_exact_count, _exact_train_share, _exact_some_columns, _exact_rowwise_position],
    "04.dcr_share": [_share_strict, _share_le, _share_reversed, _share_size_adjusted, _share_medians],
    "04.leaky": [_leaky_exact_matches_only, _leaky_only_copies, _leaky_only_cart, _leaky_far_is_bad,
                 _leaky_everything],
    "04.membership_auc": [_auc_plus_distance, _auc_swapped_labels, _auc_thresholded, _auc_synthetic_side],
}
