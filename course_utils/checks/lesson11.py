"""Checks for lesson 11, the capstone (``solutions/11_capstone.ipynb``).

The capstone's data: the stroke table without its hospital columns; site A is
hospital 5, site B hospital 2; each site is split on its own with
``train_holdout_split(site_rows, stratify="Clotbuster given", random_state=SEED)``.
:func:`capstone_sites` rebuilds exactly that, so the checks compare with it.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import pandas as pd

from . import CheckFailed, as_number, register

SITES = {"A": 5, "B": 2}
"""Site name -> hospital number (the two hospitals of lesson 00's story)."""
MAX_COPIED = 0.05
"""Largest share of pooled synthetic rows that may be exact copies of a real training row."""


@lru_cache(maxsize=1)
def capstone_sites() -> tuple[dict[str, tuple[pd.DataFrame, pd.DataFrame]], Any]:
    """``({site: (train, holdout)}, metadata)`` exactly as the capstone builds them."""
    from ..config import SEED
    from ..data import STROKE_GROUPS, STROKE_TARGET, load_stroke, train_holdout_split
    from ..schema import infer_metadata

    stroke = load_stroke()
    hospital = stroke[STROKE_GROUPS["Hospital"]].to_numpy().argmax(axis=1) + 1
    table = stroke.drop(columns=STROKE_GROUPS["Hospital"])
    meta = infer_metadata(table, one_hot_groups={g: c for g, c in STROKE_GROUPS.items() if g != "Hospital"})
    split = {name: train_holdout_split(table[hospital == h].reset_index(drop=True),
                                       stratify=STROKE_TARGET, random_state=SEED)
             for name, h in SITES.items()}
    return split, meta


def oracle_auc_reference() -> float:
    """AUC on the pooled holdouts of a logistic regression fitted on the pooled real training rows."""
    from ..config import SEED
    from ..data import STROKE_TARGET
    from ..evaluation.subgroups import compare_training_tables

    split, meta = capstone_sites()
    test = pd.concat([split["A"][1], split["B"][1]], ignore_index=True)
    pooled = pd.concat([split["A"][0], split["B"][0]], ignore_index=True)
    res = compare_training_tables({"oracle": pooled}, test, STROKE_TARGET, metadata=meta,
                                  n_bootstrap=0, random_state=SEED)
    return float(res["auc"].iloc[0])


def _row_keys(df: pd.DataFrame) -> pd.Series:
    return df.astype(str).agg("|".join, axis=1)


@register("11.site_split", target="site_split", points=2,
          hint="Revisit section 1 of lesson 11: drop the Hosp_ columns, take each hospital's rows "
          "(site A = hospital 5, site B = hospital 2), reset their index, and split each site on "
          "its own with train_holdout_split(..., stratify=STROKE_TARGET, random_state=SEED).")
def site_split(obj: Any) -> None:
    """``{"A": (train, holdout), "B": (train, holdout)}``, each site split on its own."""
    if not isinstance(obj, dict) or set(obj) != set(SITES):
        found = sorted(obj) if isinstance(obj, dict) else type(obj).__name__
        raise CheckFailed(f"expected a dict with the keys 'A' and 'B', found {found}")
    want, _ = capstone_sites()
    for site, pair in obj.items():
        if not isinstance(pair, tuple | list) or len(pair) != 2 or not all(
                isinstance(p, pd.DataFrame) for p in pair):
            raise CheckFailed(f"expected site {site!r} to hold a pair (train, holdout) of DataFrames")
        for part, got, ref in zip(("train", "holdout"), pair, want[site], strict=True):
            hosp = [c for c in got.columns if str(c).startswith("Hosp_")]
            if hosp:
                raise CheckFailed(f"site {site} {part} still has the hospital columns {hosp[:2]}...: drop them")
            if list(got.columns) != list(ref.columns):
                raise CheckFailed(f"site {site} {part}: expected the stroke table's other columns, "
                                  f"found {len(got.columns)} columns")
            if len(got) != len(ref):
                raise CheckFailed(
                    f"site {site} {part}: expected {len(ref)} rows (hospital {SITES[site]}, 70/30), "
                    f"found {len(got)}; did you split the pooled table, or pick another hospital?")
            same = got.reset_index(drop=True).astype(float).equals(ref.astype(float))
            if not same:
                if sorted(_row_keys(got)) == sorted(_row_keys(ref)):
                    raise CheckFailed(f"site {site} {part}: the right patients in another order; "
                                      "reset the site's index before splitting")
                raise CheckFailed(f"site {site} {part}: not the split the lesson makes; stratify on "
                                  "the outcome and use random_state=SEED")


@register("11.pooled_synthetic", target="pooled_synthetic", points=2,
          hint="Revisit sections 3 and 4: each site fits a generator on ITS OWN training rows and "
          "samples as many rows as it has; the pooled table is the two synthetic tables, one under "
          "the other. No real row is pooled.")
def pooled_synthetic(obj: Any) -> None:
    """Both sites' synthetic rows, one table, as many as both training parts, no real row copied."""
    if not isinstance(obj, pd.DataFrame):
        raise CheckFailed(f"expected a DataFrame, found {type(obj).__name__}")
    split, _ = capstone_sites()
    columns = list(split["A"][0].columns)
    if list(obj.columns) != columns:
        raise CheckFailed(f"expected the {len(columns)} columns of the site tables, found {len(obj.columns)}")
    n_a, n_b = len(split["A"][0]), len(split["B"][0])
    if len(obj) != n_a + n_b:
        hint = " (only one site?)" if len(obj) in (n_a, n_b) else ""
        raise CheckFailed(f"expected {n_a} + {n_b} = {n_a + n_b} rows, one per training patient of "
                          f"each site, found {len(obj)}{hint}")
    real = set(_row_keys(pd.concat([split["A"][0], split["B"][0]]).astype(float)))
    held = set(_row_keys(pd.concat([split["A"][1], split["B"][1]]).astype(float)))
    keys = _row_keys(obj[columns].astype(float))
    copied = float(keys.isin(real).mean())
    if copied > MAX_COPIED:
        raise CheckFailed(f"{copied:.0%} of the rows are exact copies of real training patients: "
                          "pool the synthetic rows, never the real ones (or use larger leaves)")
    if float(keys.isin(held).mean()) > MAX_COPIED:
        raise CheckFailed("rows copy holdout patients: a generator saw the holdout (fit on train only)")


@register("11.oracle_auc", target="oracle_auc", points=1,
          hint="Revisit section 4: fit on the two sites' real training rows pooled (the oracle) "
          "and score on the two holdouts pooled, with compare_training_tables(..., metadata=meta, "
          "random_state=SEED); read the 'auc' column.")
def oracle_auc(obj: Any) -> None:
    """The oracle's ROC AUC on the pooled test patients."""
    value = as_number(obj, "the oracle's AUC")
    right = oracle_auc_reference()
    if abs(value - right) <= 1e-6:
        return
    if value > 0.95:
        raise CheckFailed(f"found {value:.3f}: that is too good to be true; was the model scored "
                          "on its own training rows, or trained with the holdout?")
    if not 0.5 <= value <= 1:
        raise CheckFailed(f"expected an AUC between 0.5 and 1, found {value:.3f}")
    raise CheckFailed(f"found {value:.3f}; the oracle is trained on both sites' real training rows "
                      "and scored on both holdouts")


__all__ = ["MAX_COPIED", "SITES", "capstone_sites", "oracle_auc_reference"]


# -- 11.veterans_release: the whole pipeline on a table no lesson used --------------------------
VETERANS_MAX_DCR = 0.62
"""A release whose DCR share (mean of the grader's own draws from it) is above this leans on training patients."""


@register("11.veterans_release", target="veterans_release", points=2,
          hint="Split the veterans table first (train_holdout_split, stratify on 'status'), fit the generator "
               "on the training part only, sample as many rows as it has, and keep leaves large enough "
               "(CART: min_samples_leaf of 10 or more on 96 patients) that the DCR share stays near 0.5.")
def veterans_release(obj: Any) -> None:
    """``(train, holdout, synthetic)`` for the veterans table: a clean split and a release that passes."""
    from ..data import VETERANS_TARGET, load_veterans
    from ..evaluation.privacy import dcr
    from ..schema import infer_metadata

    if not isinstance(obj, tuple | list) or len(obj) != 3 or not all(isinstance(t, pd.DataFrame) for t in obj):
        raise CheckFailed("expected a tuple (train, holdout, synthetic) of three DataFrames")
    train, holdout, synthetic = obj
    vet = load_veterans()
    cols = list(vet.columns)
    for name, t in (("train", train), ("holdout", holdout), ("synthetic", synthetic)):
        if list(t.columns) != cols:
            raise CheckFailed(f"{name}: expected the veterans table's columns {cols}")
    if len(train) + len(holdout) != len(vet):
        raise CheckFailed(f"train and holdout should together be the {len(vet)} patients, found "
                          f"{len(train)} + {len(holdout)}")
    if not 0.2 <= len(holdout) / len(vet) <= 0.4:
        raise CheckFailed(f"keep 20-40% of the patients as the holdout; found {len(holdout)} of {len(vet)}")
    keys = lambda t: _row_keys(t[cols].astype(str))  # noqa: E731
    if sorted(pd.concat([keys(train), keys(holdout)])) != sorted(keys(vet)):
        raise CheckFailed("train and holdout are not a split of the veterans table (rows repeated or changed)")
    share = train[VETERANS_TARGET].mean(), holdout[VETERANS_TARGET].mean()
    if abs(share[0] - share[1]) > 0.08:
        raise CheckFailed(f"the share of deaths differs between train ({share[0]:.2f}) and holdout "
                          f"({share[1]:.2f}): stratify the split on 'status'")
    if len(synthetic) < len(train):
        raise CheckFailed(f"release at least as many synthetic rows as training patients ({len(train)})")
    copied_train = keys(synthetic).isin(set(keys(train))).mean()
    copied_holdout = keys(synthetic).isin(set(keys(holdout))).mean()
    if copied_holdout > 0.02:
        raise CheckFailed(f"{copied_holdout:.0%} of the synthetic rows copy holdout patients: the generator "
                          "saw the holdout; fit it on the training part only")
    if copied_train > 0.05:
        raise CheckFailed(f"{copied_train:.0%} of the synthetic rows copy training patients exactly")
    meta = infer_metadata(vet)
    result = dcr(train.reset_index(drop=True), synthetic.reset_index(drop=True),
                 holdout.reset_index(drop=True), meta)
    if result.share_closer_to_train > VETERANS_MAX_DCR:
        raise CheckFailed(f"DCR share {result.share_closer_to_train:.2f}: the synthetic rows sit closer to "
                          "the training patients than new patients do; use larger leaves or another method")
