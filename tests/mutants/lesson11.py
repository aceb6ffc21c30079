"""Right answers and plausible wrong answers for the lesson 11 (capstone) checks."""

from __future__ import annotations

import pandas as pd

from course_utils.checks.lesson11 import SITES, capstone_sites, oracle_auc_reference
from course_utils.config import SEED
from course_utils.data import STROKE_GROUPS, STROKE_TARGET, load_stroke, train_holdout_split
from course_utils.evaluation.subgroups import compare_training_tables
from course_utils.generators import CARTSynthesizer


def _site_rows(drop_hospital: bool = True, reset: bool = True) -> dict[str, pd.DataFrame]:
    stroke = load_stroke()
    hospital = stroke[STROKE_GROUPS["Hospital"]].to_numpy().argmax(axis=1) + 1
    table = stroke.drop(columns=STROKE_GROUPS["Hospital"]) if drop_hospital else stroke
    rows = {name: table[hospital == h] for name, h in SITES.items()}
    return {k: v.reset_index(drop=True) if reset else v for k, v in rows.items()}


def _split(rows: dict[str, pd.DataFrame], **kw) -> dict[str, tuple[pd.DataFrame, pd.DataFrame]]:
    kw = {"stratify": STROKE_TARGET, "random_state": SEED, **kw}
    return {k: train_holdout_split(v, **kw) for k, v in rows.items()}


# -- 11.site_split -------------------------------------------------------------------------
def _split_right():
    return _split(_site_rows())


def _split_with_hospital_columns():
    return _split(_site_rows(drop_hospital=False))


def _split_no_stratify():
    return _split(_site_rows(), stratify=None)


def _split_sites_swapped():
    right = _split(_site_rows())
    return {"A": right["B"], "B": right["A"]}


def _split_pooled_first():
    stroke = load_stroke()
    hospital = stroke[STROKE_GROUPS["Hospital"]].to_numpy().argmax(axis=1) + 1
    table = stroke.drop(columns=STROKE_GROUPS["Hospital"])
    rows = table[(hospital == 5) | (hospital == 2)].reset_index(drop=True)
    site = hospital[(hospital == 5) | (hospital == 2)]
    train, holdout = train_holdout_split(rows.assign(site=site), stratify=STROKE_TARGET, random_state=SEED)
    # split once, then divide by site: each site's holdout is not its own 30%
    return {name: tuple(part[part["site"] == h].drop(columns="site").reset_index(drop=True)
                        for part in (train, holdout)) for name, h in SITES.items()}


# -- 11.pooled_synthetic -------------------------------------------------------------------
def _synthetic(site: str, leaf: int = 10) -> pd.DataFrame:
    split, meta = capstone_sites()
    train = split[site][0]
    return CARTSynthesizer(min_samples_leaf=leaf, random_state=SEED).fit(train, meta).sample(len(train))


def _pooled_right():
    return pd.concat([_synthetic("A"), _synthetic("B")], ignore_index=True)


def _pooled_real_rows():
    split, _ = capstone_sites()
    return pd.concat([split["A"][0], split["B"][0]], ignore_index=True)


def _pooled_one_site():
    return _synthetic("B")


def _pooled_leaf_one():
    return pd.concat([_synthetic("A", leaf=1), _synthetic("B", leaf=1)], ignore_index=True)


def _pooled_fit_on_holdout():
    split, meta = capstone_sites()
    parts = []
    for site in ("A", "B"):
        train, holdout = split[site]
        both = pd.concat([train, holdout], ignore_index=True)
        gen = CARTSynthesizer(min_samples_leaf=1, random_state=SEED).fit(both, meta)
        parts.append(gen.sample(len(train)))
    return pd.concat(parts, ignore_index=True)


# -- 11.oracle_auc -------------------------------------------------------------------------
def _oracle_right():
    return oracle_auc_reference()


def _auc_of(tables: dict, test: pd.DataFrame) -> float:
    _, meta = capstone_sites()
    res = compare_training_tables(tables, test, STROKE_TARGET, metadata=meta, n_bootstrap=0,
                                  random_state=SEED)
    return float(res["auc"].iloc[0])


def _oracle_site_a_alone():
    split, _ = capstone_sites()
    test = pd.concat([split["A"][1], split["B"][1]], ignore_index=True)
    return _auc_of({"A": split["A"][0]}, test)


def _oracle_scored_on_train():
    split, _ = capstone_sites()
    pooled = pd.concat([split["A"][0], split["B"][0]], ignore_index=True)
    return _auc_of({"oracle": pooled}, pooled)


def _oracle_as_percent():
    return 100 * oracle_auc_reference()


# -- 11.veterans_release ------------------------------------------------------------------
def _vet(leaf: int = 15, fit_on: str = "train", stratify: bool = True, n: int | None = None):
    from course_utils.data import VETERANS_TARGET, load_veterans

    df, meta = load_veterans(return_metadata=True)
    train, holdout = train_holdout_split(df, stratify=VETERANS_TARGET if stratify else None,
                                         random_state=SEED)
    source = {"train": train, "all": df}[fit_on]
    gen = CARTSynthesizer(min_samples_leaf=leaf, random_state=SEED).fit(source, meta)
    return train, holdout, gen.sample(len(train) if n is None else n)


def _vet_right():
    return _vet()


def _vet_fit_on_everything():
    return _vet(leaf=1, fit_on="all")


def _vet_leaf_one():
    return _vet(leaf=1)


def _vet_train_as_synthetic():
    train, holdout, _ = _vet()
    return train, holdout, train.copy()


def _vet_too_few_rows():
    return _vet(n=20)


RIGHT = {
    "11.site_split": _split_right,
    "11.pooled_synthetic": _pooled_right,
    "11.oracle_auc": _oracle_right,
    "11.veterans_release": _vet_right,
}

MUTANTS = {
    "11.site_split": [_split_with_hospital_columns, _split_no_stratify, _split_sites_swapped,
                      _split_pooled_first],
    "11.pooled_synthetic": [_pooled_real_rows, _pooled_one_site, _pooled_leaf_one, _pooled_fit_on_holdout],
    "11.oracle_auc": [_oracle_site_a_alone, _oracle_scored_on_train, _oracle_as_percent],
    "11.veterans_release": [_vet_fit_on_everything, _vet_leaf_one, _vet_train_as_synthetic, _vet_too_few_rows],
}
