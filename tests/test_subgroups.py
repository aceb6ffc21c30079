"""compare_training_tables: brackets on real data, the subgroup numbers, clear errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from course_utils.data import VETERANS_TARGET, load_veterans, train_holdout_split
from course_utils.evaluation.subgroups import compare_training_tables


@pytest.fixture(scope="module")
def vet():
    df, meta = load_veterans(return_metadata=True)
    train, test = train_holdout_split(df, stratify=VETERANS_TARGET, random_state=1)
    return train, test, meta


def test_brackets_real_beats_shuffled_outcome(vet):
    train, test, meta = vet
    shuffled = train.assign(**{VETERANS_TARGET: np.random.default_rng(0).permutation(train[VETERANS_TARGET])})
    res = compare_training_tables({"real": train, "shuffled": shuffled, "test itself": test}, test,
                                  VETERANS_TARGET, metadata=meta, n_bootstrap=50).set_index("trained_on")
    assert res.loc["test itself", "auc"] > res.loc["real", "auc"] - 1e-9  # scored on its own rows
    assert res.loc["shuffled", "auc"] < res.loc["real", "auc"]
    assert res.loc["real", "auc_low"] <= res.loc["real", "auc"] <= res.loc["real", "auc_high"]
    assert list(res["n_train"]) == [len(train), len(train), len(test)]


def test_subgroup_mean_risk_and_treated_share(vet):
    train, test, meta = vet
    mask = (test["Karnofsky_score"] < 40).to_numpy()
    res = compare_training_tables({"real": train}, test, VETERANS_TARGET, subgroup=mask, metadata=meta,
                                  n_bootstrap=0)
    row = res.iloc[0]
    assert 0 <= row["subgroup_treated"] <= 1 and 0 <= row["subgroup_mean_risk"] <= 1
    # the sickest patients are predicted to die more often than the average test patient
    overall = compare_training_tables({"real": train}, test, VETERANS_TARGET,
                                      subgroup=np.ones(len(test), bool), metadata=meta, n_bootstrap=0)
    assert row["subgroup_mean_risk"] > overall["subgroup_mean_risk"].iloc[0]


def test_clear_errors(vet):
    train, test, meta = vet
    with pytest.raises(ValueError, match="one class"):
        compare_training_tables({"one": train.assign(status=1)}, test, VETERANS_TARGET)
    with pytest.raises(ValueError, match="mask"):
        compare_training_tables({"real": train}, test, VETERANS_TARGET, subgroup=[True, False])
    with pytest.raises(ValueError, match="empty"):
        compare_training_tables({}, test, VETERANS_TARGET)
    with pytest.raises(ValueError, match="no column"):
        compare_training_tables({"x": train.drop(columns=VETERANS_TARGET)}, test, VETERANS_TARGET)
    assert isinstance(pd.DataFrame(), pd.DataFrame)
