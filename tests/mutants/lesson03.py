"""Right answers and plausible wrong answers for the lesson 03 (fidelity and utility) checks."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from scipy.stats import ks_2samp
from sklearn.metrics import roc_auc_score

from course_utils.checks.lesson03 import exercise_propensity, exercise_split, exercise_synthetic
from course_utils.evaluation.utility import make_model


# -- 03.ks_age -------------------------------------------------------------------------------
def _ks_right():
    train, _, _ = exercise_split()
    return 1 - ks_2samp(train["age"], exercise_synthetic()["age"]).statistic


def _ks_statistic():
    train, _, _ = exercise_split()
    return ks_2samp(train["age"], exercise_synthetic()["age"]).statistic


def _ks_pvalue():
    train, _, _ = exercise_split()
    return ks_2samp(train["age"], exercise_synthetic()["age"]).pvalue


def _ks_holdout():
    train, holdout, _ = exercise_split()
    return 1 - ks_2samp(train["age"], holdout["age"]).statistic


def _ks_other_column():
    train, _, _ = exercise_split()
    return 1 - ks_2samp(train["hr"], exercise_synthetic()["hr"]).statistic


# -- 03.tv_gender ----------------------------------------------------------------------------
def _shares():
    train, _, _ = exercise_split()
    p = train["gender"].value_counts(normalize=True)
    q = exercise_synthetic()["gender"].value_counts(normalize=True)
    return p.align(q, fill_value=0.0)


def _tv_right():
    p, q = _shares()
    return 1 - 0.5 * (p - q).abs().sum()


def _tv_no_half():
    p, q = _shares()
    return 1 - (p - q).abs().sum()


def _tv_distance():
    p, q = _shares()
    return 0.5 * (p - q).abs().sum()


def _tv_counts():
    train, _, _ = exercise_split()
    p = train["gender"].value_counts()
    q = exercise_synthetic()["gender"].value_counts()
    return 1 - 0.5 * (p - q).abs().sum()


# -- 03.pmse ---------------------------------------------------------------------------------
def _pmse_right():
    p, y = exercise_propensity()
    return float(np.mean((p - y.mean()) ** 2))


def _pmse_half():
    p, _ = exercise_propensity()
    return float(np.mean((p - 0.5) ** 2))


def _pmse_brier():
    p, y = exercise_propensity()
    return float(np.mean((p - y) ** 2))


def _pmse_abs():
    p, y = exercise_propensity()
    return float(np.mean(np.abs(p - y.mean())))


def _pmse_as_array():
    p, y = exercise_propensity()
    return (p - y.mean()) ** 2


# -- 03.tstr_gap -----------------------------------------------------------------------------
def _auc(train_on, test_on) -> float:
    train, _, meta = exercise_split()
    x_meta = meta.select([c for c in train.columns if c != "fstat"])
    model = make_model("logistic", "classification", x_meta)
    model.fit(train_on.drop(columns="fstat"), train_on["fstat"])
    return float(roc_auc_score(test_on["fstat"], model.predict_proba(test_on.drop(columns="fstat"))[:, 1]))


def _tstr_right():
    train, holdout, _ = exercise_split()
    trtr, tstr = _auc(train, holdout), _auc(exercise_synthetic(), holdout)
    return {"trtr": trtr, "tstr": tstr, "gap": tstr - trtr}


def _tstr_on_training_rows():
    train, _, _ = exercise_split()
    trtr, tstr = _auc(train, train), _auc(exercise_synthetic(), train)
    return {"trtr": trtr, "tstr": tstr, "gap": tstr - trtr}


def _tstr_reversed_gap():
    out = _tstr_right()
    out["gap"] = out["trtr"] - out["tstr"]
    return out


def _tstr_swapped():
    out = _tstr_right()
    return {"trtr": out["tstr"], "tstr": out["trtr"], "gap": out["trtr"] - out["tstr"]}


def _tstr_synthetic_test():
    # both models scored on the synthetic table: says nothing about real patients
    train, _, _ = exercise_split()
    syn = exercise_synthetic()
    trtr, tstr = _auc(train, syn), _auc(syn, syn)
    return {"trtr": trtr, "tstr": tstr, "gap": tstr - trtr}


def _tstr_gap_only():
    return _tstr_right()["gap"]


# -- 03.shuffle_columns and 03.caught_by --------------------------------------------------------
def _shuffle_right():
    def shuffle_columns(table, random_state):
        rng = np.random.default_rng(random_state)
        return pd.DataFrame({c: table[c].to_numpy()[rng.permutation(len(table))] for c in table.columns},
                            index=table.index).astype(table.dtypes.to_dict())
    return shuffle_columns


def _shuffle_whole_rows():
    def shuffle_columns(table, random_state):
        return table.sample(frac=1, random_state=random_state)
    return shuffle_columns


def _shuffle_with_replacement():
    def shuffle_columns(table, random_state):
        rng = np.random.default_rng(random_state)
        return pd.DataFrame({c: table[c].to_numpy()[rng.integers(0, len(table), len(table))]
                             for c in table.columns}, index=table.index).astype(table.dtypes.to_dict())
    return shuffle_columns


def _shuffle_first_column_only():
    def shuffle_columns(table, random_state):
        out = table.copy()
        col = table.columns[0]
        out[col] = table[col].to_numpy()[np.random.default_rng(random_state).permutation(len(table))]
        return out
    return shuffle_columns


def _shuffle_unseeded():
    def shuffle_columns(table, random_state):
        rng = np.random.default_rng()  # random_state ignored
        return pd.DataFrame({c: table[c].to_numpy()[rng.permutation(len(table))] for c in table.columns},
                            index=table.index).astype(table.dtypes.to_dict())
    return shuffle_columns


def _shuffle_same_permutation():
    def shuffle_columns(table, random_state):
        # each column shuffled with the same seed: one permutation, so the rows move whole
        return pd.DataFrame({c: table[c].sample(frac=1, random_state=random_state).to_numpy()
                             for c in table.columns}, index=table.index).astype(table.dtypes.to_dict())
    return shuffle_columns


def _shuffle_loses_dtypes():
    def shuffle_columns(table, random_state):
        rng = np.random.default_rng(random_state)
        return pd.DataFrame({c: table[c].to_numpy()[rng.permutation(len(table))] for c in table.columns},
                            index=table.index)  # the category becomes plain text
    return shuffle_columns


GAMED = ("ks_complement", "tv_complement", "pmse", "tstr_auc")

RIGHT: dict[str, Callable[[], object]] = {
    "03.ks_age": _ks_right,
    "03.tv_gender": _tv_right,
    "03.pmse": _pmse_right,
    "03.tstr_gap": _tstr_right,
    "03.shuffle_columns": _shuffle_right,
    "03.caught_by": lambda: {"tstr_auc"},
}

MUTANTS: dict[str, list[Callable[[], object]]] = {
    "03.ks_age": [_ks_statistic, _ks_pvalue, _ks_holdout, _ks_other_column],
    "03.tv_gender": [_tv_no_half, _tv_distance, _tv_counts],
    "03.pmse": [_pmse_half, _pmse_brier, _pmse_abs, _pmse_as_array],
    "03.tstr_gap": [_tstr_on_training_rows, _tstr_reversed_gap, _tstr_swapped, _tstr_synthetic_test,
                    _tstr_gap_only],
    "03.shuffle_columns": [_shuffle_whole_rows, _shuffle_with_replacement, _shuffle_first_column_only,
                           _shuffle_unseeded, _shuffle_loses_dtypes, _shuffle_same_permutation,
                           lambda: "shuffle"],
    "03.caught_by": [lambda: {"pmse", "tstr_auc"}, lambda: set(), lambda: {"ks_complement", "tstr_auc"},
                     lambda: set(GAMED), lambda: "detection_auc"],
}
