"""Right answers and plausible wrong answers for the lesson 08 (masked clinical modelling) checks."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from course_utils.checks.lesson08 import exercise_split
from course_utils.config import SEED
from course_utils.data import load_whas500


# -- 08.subgroup_mask ------------------------------------------------------------------------
def _mask_right():
    train, _, _ = exercise_split()
    return (train["gender"] == "male") & (train["afb"] == 1)


def _mask_women():
    train, _, _ = exercise_split()
    return (train["gender"] == "female") & (train["afb"] == 1)


def _mask_or():
    train, _, _ = exercise_split()
    return (train["gender"] == "male") | (train["afb"] == 1)


def _mask_whole_table():
    df = load_whas500()
    return (df["gender"] == "male") & (df["afb"] == 1)


def _mask_indices():
    train, _, _ = exercise_split()
    return np.flatnonzero(((train["gender"] == "male") & (train["afb"] == 1)).to_numpy())


# -- 08.leak_test ----------------------------------------------------------------------------
def _other_patients(rows):
    return rows.iloc[np.roll(np.arange(len(rows)), 1)].reset_index(drop=True)


def _leak_right():
    def leak_gap(gen, rows, hidden):
        changed = rows.copy()
        other = _other_patients(rows)
        for j, col in enumerate(gen.features_):
            changed.loc[hidden[:, j], col] = other.loc[hidden[:, j], col]
        before = gen.masked_outputs(rows, hidden)
        after = gen.masked_outputs(changed, hidden)
        return float(np.abs(before - after).max())
    return leak_gap


def _leak_changes_visible_cells():
    def leak_gap(gen, rows, hidden):
        changed = rows.copy()
        other = _other_patients(rows)
        for j, col in enumerate(gen.features_):
            changed.loc[~hidden[:, j], col] = other.loc[~hidden[:, j], col]
        return float(np.abs(gen.masked_outputs(rows, hidden) - gen.masked_outputs(changed, hidden)).max())
    return leak_gap


def _leak_changes_everything():
    def leak_gap(gen, rows, hidden):
        changed = _other_patients(rows)
        return float(np.abs(gen.masked_outputs(rows, hidden) - gen.masked_outputs(changed, hidden)).max())
    return leak_gap


def _leak_changes_nothing():
    def leak_gap(gen, rows, hidden):
        changed = rows.copy()
        return float(np.abs(gen.masked_outputs(rows, hidden) - gen.masked_outputs(changed, hidden)).max())
    return leak_gap


def _leak_always_zero():
    def leak_gap(gen, rows, hidden):
        return 0.0
    return leak_gap


# -- 08.partial_vs_full ----------------------------------------------------------------------
def _shares(share_attribute: str = "share_closer_to_train", partial_ratio: float = 0.25,
            on_holdout: bool = False):
    from course_utils.evaluation import dcr
    from course_utils.generators.mcm import MCMSynthesizer

    train, holdout, meta = exercise_split()
    gen = MCMSynthesizer(epochs=30, random_state=SEED, verbose=False).fit(train, meta)
    source = holdout if on_holdout else train
    partial = gen.regenerate(source, mask_ratio=partial_ratio, random_state=SEED)
    full = gen.sample(len(train), random_state=SEED)
    return {"partial": getattr(dcr(train, partial, holdout, meta), share_attribute),
            "full": getattr(dcr(train, full, holdout, meta), share_attribute)}


def _shares_right():
    return _shares()


def _shares_raw():
    return _shares("share_closer_to_train_raw")


def _shares_swapped():
    right = _shares()
    return {"partial": right["full"], "full": right["partial"]}


def _shares_holdout_rows():
    return _shares(on_holdout=True)


# -- 08.hazard_ratio -------------------------------------------------------------------------
def _chf(df=None, alpha=0.05):
    from course_utils.evaluation.survival import CoxModel

    train, _, meta = exercise_split()
    row = CoxModel(metadata=meta).fit(train if df is None else df).hazard_ratios(alpha).loc["chf"]
    return {"hr": float(row["hr"]), "ci_low": float(row["ci_low"]), "ci_high": float(row["ci_high"]),
            "significant": bool(row["ci_low"] > 1 or row["ci_high"] < 1)}


def _hr_right():
    return _chf()


def _hr_coefficient():
    out = _chf()
    out["hr"] = float(np.log(out["hr"]))
    return out


def _hr_whole_table():
    return _chf(load_whas500())


def _hr_90_percent():
    return _chf(alpha=0.10)


def _hr_not_significant():
    out = _chf()
    out["significant"] = not out["significant"]
    return out


RIGHT: dict[str, Callable[[], object]] = {
    "08.subgroup_mask": _mask_right,
    "08.leak_test": _leak_right,
    "08.partial_vs_full": _shares_right,
    "08.hazard_ratio": _hr_right,
}

MUTANTS: dict[str, list[Callable[[], object]]] = {
    "08.subgroup_mask": [_mask_women, _mask_or, _mask_whole_table, _mask_indices],
    "08.leak_test": [_leak_changes_visible_cells, _leak_changes_everything, _leak_changes_nothing,
                     _leak_always_zero],
    "08.partial_vs_full": [_shares_raw, _shares_swapped, _shares_holdout_rows],
    "08.hazard_ratio": [_hr_coefficient, _hr_whole_table, _hr_90_percent, _hr_not_significant],
}
