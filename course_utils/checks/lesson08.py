"""Checks of lesson 08, masked clinical modelling (``solutions/08_masked_clinical_modelling.ipynb``).

The exercise works on WHAS500 split as ``train_holdout_split(df, stratify="fstat",
random_state=SEED)`` (350 training, 150 holdout patients):

- ``08.subgroup_mask``: a True/False mask of the training rows that are male patients
  with atrial fibrillation (the subgroup targeted augmentation enlarges);
- ``08.leak_test``: a function that measures how much a model's predictions move when
  the true values of the *hidden* cells change; called on a correct MCM (must be 0) and
  on one that feeds hidden cells into the network (must be above 0);
- ``08.partial_vs_full``: the DCR share closer to train of partial (25% of each row
  regenerated) and of full synthesis;
- ``08.hazard_ratio``: the hazard ratio of congestive heart failure (``chf``) with its
  95% interval in a Cox model fitted on the training split, and whether it is significant.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import numpy as np

from . import CheckFailed, as_number, register, whas500_split

exercise_split = whas500_split
"""The exercise's train and holdout parts of WHAS500, and its metadata."""

LEAK_TOL = 1e-6
"""Largest prediction change a model without the leak may show (float noise only)."""
PARTIAL_MIN = 0.55
"""Partial synthesis keeps three quarters of each real row: its DCR share is above this."""
FULL_MAX = 0.62
"""Full synthesis of a reasonably regularised MCM stays below this DCR share."""
HR_RTOL = 1e-3


# -- 1. a subgroup mask ------------------------------------------------------------------------------
@register("08.subgroup_mask", target="subgroup_mask", points=1,
          hint="gender is a categorical with labels 'male'/'female'; combine two conditions with &.")
def subgroup_mask(obj: Any) -> None:
    """True exactly for the training rows of male patients with atrial fibrillation (afb == 1)."""
    train, _, _ = exercise_split()
    values = np.asarray(obj)
    if values.dtype != bool:
        raise CheckFailed(f"expected a True/False mask, found values of type {values.dtype}")
    if values.ndim != 1:
        raise CheckFailed(f"expected one True/False per row, found shape {values.shape}")
    if len(values) != len(train):
        raise CheckFailed(
            f"expected one value per training row ({len(train)}), found {len(values)}"
            + (": build the mask on the training split, not the whole table" if len(values) == 500 else "")
        )
    male = (train["gender"] == "male").to_numpy()
    afb = (train["afb"] == 1).to_numpy()
    expected = male & afb
    if np.array_equal(values, expected):
        return
    if np.array_equal(values, ~male & afb):
        raise CheckFailed("this mask selects women with atrial fibrillation; gender 'male' is code 0")
    if np.array_equal(values, male | afb):
        raise CheckFailed("this mask selects men *or* patients with atrial fibrillation; both must hold")
    raise CheckFailed(f"the mask selects {int(values.sum())} rows; {int(expected.sum())} training patients "
                      "are male with atrial fibrillation")


# -- 2. the leak test --------------------------------------------------------------------------------
@lru_cache(maxsize=1)
def _leak_models() -> tuple[Any, Any]:
    from ..generators.mcm import MCMSynthesizer

    train, _, meta = exercise_split()
    kw = {"epochs": 3, "hidden": (16,), "random_state": 0, "verbose": False}
    return (MCMSynthesizer(**kw).fit(train, meta), MCMSynthesizer(hide_input=False, **kw).fit(train, meta))


def _leak_inputs(seed: int | None) -> dict[str, Any]:
    train, _, _ = exercise_split()
    rows = train.iloc[:60].reset_index(drop=True)
    hidden = np.random.default_rng(8 if seed is None else seed).random((len(rows), train.shape[1])) < 0.4
    return {"rows": rows, "hidden": hidden}


def _leak_export(func: Any, inputs: dict[str, Any]) -> dict[str, Any]:
    """Runs in the learner's kernel: the learner's test on a sound and on a leaky model."""
    if not callable(func):
        raise CheckFailed(f"expected a function leak_gap(gen, rows, hidden), found {type(func).__name__}")
    fixed, leaky = _leak_models()
    rows, hidden = inputs["rows"], np.asarray(inputs["hidden"], dtype=bool)
    return {name: func(gen, rows.copy(), hidden.copy()) for name, gen in (("fixed", fixed), ("leaky", leaky))}


@register("08.leak_test", target="leak_gap", points=1, inputs=_leak_inputs, export=_leak_export,
          hint="Change only the cells where hidden is True (e.g. take another patient's value), "
               "call gen.masked_outputs on both tables with the same mask, return the largest absolute change.")
def leak_test(gaps: dict[str, Any], inputs: dict[str, Any]) -> None:
    """``leak_gap(gen, rows, hidden)`` is 0 for a correct MCM and above 0 for a leaky one."""
    gap_fixed = as_number(gaps["fixed"], "the largest change of a prediction")
    gap_leaky = as_number(gaps["leaky"], "the largest change of a prediction")
    if gap_fixed > LEAK_TOL:
        raise CheckFailed(
            f"your test finds a change of {gap_fixed:.3g} on a model whose hidden cells never reach the "
            "network: did you change visible cells too? Only hidden cells may change"
        )
    if gap_leaky <= LEAK_TOL:
        raise CheckFailed(
            "your test finds no change on a model that reads the hidden cells' true values: did the "
            "hidden cells really get new values, and did you compare the outputs of both tables?"
        )


# -- 3. partial vs full synthesis on DCR ------------------------------------------------------------
@register("08.partial_vs_full", target="dcr_shares", points=1,
          hint="dcr(train, regenerated, holdout, meta).share_closer_to_train for mask_ratio=0.25 and 1.0.")
def partial_vs_full(obj: Any) -> None:
    """``{"partial": share, "full": share}``: size-adjusted DCR shares, partial clearly above full."""
    if not isinstance(obj, Mapping) or set(obj) != {"partial", "full"}:
        raise CheckFailed('expected a dict {"partial": share, "full": share}')
    partial = as_number(obj["partial"], "the partial-synthesis DCR share")
    full = as_number(obj["full"], "the full-synthesis DCR share")
    for name, v in (("partial", partial), ("full", full)):
        if not 0 <= v <= 1:
            raise CheckFailed(f"a share lies between 0 and 1; {name} is {v}")
    if full > FULL_MAX:
        raise CheckFailed(
            f"full synthesis at {full:.2f}: the size-adjusted share (share_closer_to_train) of a fresh "
            f"generator is about 0.5; use that one, not the raw share (about 0.7 with this split)"
        )
    if partial <= full:
        raise CheckFailed(f"partial ({partial:.2f}) should sit above full ({full:.2f}): partial rows keep three "
                          "quarters of a real patient's values. Are the two swapped?")
    if partial < PARTIAL_MIN:
        raise CheckFailed(f"partial synthesis at {partial:.2f} is as far from the training patients as new "
                          "patients are; was it computed on regenerated *training* rows with mask_ratio=0.25?")


# -- 4. reading a hazard ratio ----------------------------------------------------------------------
@lru_cache(maxsize=1)
def _chf_reference() -> dict[str, float]:
    from ..evaluation.survival import CoxModel

    train, _, meta = exercise_split()
    row = CoxModel(metadata=meta).fit(train).hazard_ratios().loc["chf"]
    return {"hr": float(row["hr"]), "ci_low": float(row["ci_low"]), "ci_high": float(row["ci_high"]),
            "significant": bool(row["ci_low"] > 1 or row["ci_high"] < 1)}


@register("08.hazard_ratio", target="chf_hazard", points=1,
          hint="CoxModel(metadata=meta).fit(train).hazard_ratios().loc['chf']; significant when the "
               "interval excludes 1.")
def hazard_ratio(obj: Any) -> None:
    """``{"hr", "ci_low", "ci_high", "significant"}`` of ``chf`` in the Cox model fitted on the training split."""
    keys = {"hr", "ci_low", "ci_high", "significant"}
    if not isinstance(obj, Mapping) or set(obj) != keys:
        raise CheckFailed(f"expected a dict with the keys {sorted(keys)}")
    ref = _chf_reference()
    hr = as_number(obj["hr"], "the hazard ratio")
    if np.isclose(hr, np.log(ref["hr"]), rtol=HR_RTOL):
        raise CheckFailed("this is the coefficient (the log hazard ratio); the hazard ratio is exp(coef)")
    if not np.isclose(hr, ref["hr"], rtol=HR_RTOL):
        raise CheckFailed(f"the hazard ratio of chf is not {hr:.3f}: fit the Cox model on the training split "
                          "(all other columns as covariates) and read the chf row")
    low, high = as_number(obj["ci_low"], "ci_low"), as_number(obj["ci_high"], "ci_high")
    if not (np.isclose(low, ref["ci_low"], rtol=HR_RTOL) and np.isclose(high, ref["ci_high"], rtol=HR_RTOL)):
        raise CheckFailed(f"the interval [{low:.3f}, {high:.3f}] is not the 95% interval of the chf hazard ratio")
    if not isinstance(obj["significant"], bool | np.bool_):
        raise CheckFailed("significant should be True or False")
    if bool(obj["significant"]) != ref["significant"]:
        raise CheckFailed("look at the interval again: a hazard ratio is significant at 5% when its 95% "
                          "interval does not contain 1")
