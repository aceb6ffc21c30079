"""Checks for lesson 04 (evaluating privacy), used by ``solutions/04_privacy.ipynb``.

The exercises work on WHAS500 split as
``train_holdout_split(df, stratify="fstat", random_state=SEED)`` (350 training and
150 holdout patients). Every table an exercise uses is rebuilt here with the same
seeds, so the checks compute their expected values themselves.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

from ..config import SEED
from . import CheckFailed, as_number, register, require_callable, whas500_split

N_COPIED = 40
"""Training rows hidden in the suspect table of ``04.exact_matches``."""
N_FRESH = 260
"""Rows from an independent-marginals generator in the suspect table."""
LEAKY_SHARE = 0.60
"""A candidate whose size-adjusted DCR share closer to train exceeds this leaks (ideal: 0.5)."""


exercise_split = whas500_split
"""The exercise's train and holdout parts of WHAS500, and its metadata."""


@lru_cache(maxsize=1)
def suspect_table() -> pd.DataFrame:
    """``N_COPIED`` training rows mixed with ``N_FRESH`` independent-marginal rows, shuffled.

    The same code is printed in the exercise notebook.
    """
    from ..generators import IndependentMarginals

    train, _, meta = exercise_split()
    copied = train.sample(N_COPIED, random_state=SEED)
    fresh = IndependentMarginals(random_state=SEED).fit(train, meta).sample(N_FRESH)
    return pd.concat([copied, fresh]).sample(frac=1.0, random_state=SEED).reset_index(drop=True)


@lru_cache(maxsize=1)
def candidate_tables() -> dict[str, pd.DataFrame]:
    """Four synthetic versions of the training table, labelled ``"A"`` to ``"D"``.

    Which generator made which table is the exercise's question (``04.leaky``); read
    this function only after answering it.
    """
    from ..generators import CARTSynthesizer, GaussianCopula, IndependentMarginals, NoisyCopies

    train, _, meta = exercise_split()
    makers = {
        "A": GaussianCopula(random_state=SEED, verbose=False),
        "B": NoisyCopies(noise=0.08, flip=0.15, random_state=SEED),
        "C": IndependentMarginals(random_state=SEED),
        "D": CARTSynthesizer(min_samples_leaf=1, random_state=SEED, verbose=False),
    }
    return {label: gen.fit(train, meta).sample(len(train)) for label, gen in makers.items()}


@lru_cache(maxsize=1)
def membership_table() -> pd.DataFrame:
    """The synthetic table attacked in ``04.membership_auc``: ``NoisyCopies(noise=0.1)``."""
    from ..generators import NoisyCopies

    train, _, meta = exercise_split()
    return NoisyCopies(noise=0.1, random_state=SEED).fit(train, meta).sample(len(train))




# -- 1. exact-match rate ---------------------------------------------------------------------
@register("04.exact_matches", target="exact_rate", points=1,
          hint="For each row of the suspect table ask: is it identical, in every column, to some training "
               "row? The rate is the share of suspect rows for which the answer is yes.")
def exact_matches(obj: Any) -> None:
    """``exact_rate``: share of the suspect table's rows that copy a training row exactly."""
    from ..evaluation.privacy import exact_match_rate

    train, _, meta = exercise_split()
    suspect = suspect_table()
    value = as_number(obj, "the exact-match rate")
    want = exact_match_rate(train, suspect, metadata=meta)["synthetic"]
    n_hits = round(want * len(suspect))
    if abs(value - n_hits) < 1e-9 and n_hits > 1:
        raise CheckFailed(f"{value:g} is a count of rows; give the share of the {len(suspect)} suspect rows")
    if not 0 <= value <= 1:
        raise CheckFailed(f"a rate lies between 0 and 1, found {value:g}")
    if abs(value - n_hits / len(train)) < 1e-9 and len(train) != len(suspect):
        raise CheckFailed("that is a share of the training rows; divide by the number of suspect rows")
    if abs(value - want) > 1e-9:
        raise CheckFailed(f"expected about {n_hits} of {len(suspect)} rows to be exact copies; your rate "
                          f"{value:.3f} corresponds to {value * len(suspect):.1f} rows. Compare every column.")


# -- 2. the DCR share by hand ----------------------------------------------------------------
_TIE_CASE = (np.array([0.0, 0.1, 0.2, 0.3, 0.5, 0.5, 0.7, 0.0]),
             np.array([0.0, 0.2, 0.1, 0.3, 0.4, 0.6, 0.7, 0.1]))


@lru_cache(maxsize=1)
def _lesson_dcr() -> Any:
    from ..evaluation.privacy import dcr

    train, holdout, meta = exercise_split()
    return dcr(train, membership_table(), holdout, meta)


def _dcr_inputs(seed: int | None) -> dict[str, Any]:
    res = _lesson_dcr()
    return {"ties": _TIE_CASE, "lesson": (res.synthetic_to_train, res.synthetic_to_holdout)}


def _dcr_export(func: Any, inputs: dict[str, Any]) -> dict[str, Any]:
    require_callable(func, "dcr_share")
    a, b = (np.array(x, dtype=float) for x in inputs["ties"])
    first = func(a, b)
    changed = not (np.array_equal(a, inputs["ties"][0]) and np.array_equal(b, inputs["ties"][1]))
    to_train, to_holdout = inputs["lesson"]
    return {"ties": first, "changed": changed, "lesson": func(to_train.copy(), to_holdout.copy())}


@register("04.dcr_share", target="dcr_share", points=2, inputs=_dcr_inputs, export=_dcr_export,
          hint="Per synthetic row: 1 if its closest training row is nearer than its closest holdout row, "
               "0.5 if both distances are equal, 0 otherwise; then the mean.")
def dcr_share_check(observed: dict[str, Any], inputs: dict[str, Any]) -> None:
    """``dcr_share(to_train, to_holdout)``: raw share closer to train, ties counted one half."""
    got = as_number(observed["ties"], "the share")
    if observed["changed"]:
        raise CheckFailed("dcr_share changed the arrays it was given")
    # rows: tie, train, holdout, tie, holdout, train, tie, train -> 3 + 3 x 0.5 = 4.5 of 8
    want = 4.5 / 8
    if abs(got - 3 / 8) < 1e-9:
        raise CheckFailed("ties were counted as 0 (strict <); an equal distance is a coin flip: count it 0.5")
    if abs(got - 6 / 8) < 1e-9:
        raise CheckFailed("ties were counted as 1 (<=); an equal distance is a coin flip: count it 0.5")
    if abs(got - (1 - want)) < 1e-9:
        raise CheckFailed("that is the share closer to the HOLDOUT; count rows nearer to a training row")
    if abs(got - want) > 1e-9:
        raise CheckFailed(f"on 8 test rows with 3 ties expected {want:.4f}, found {got:.4f}")
    res = _lesson_dcr()
    got = as_number(observed["lesson"], "the share")
    if abs(got - res.share_closer_to_train_raw) > 1e-6:
        raise CheckFailed(f"on the lesson's arrays expected the raw share {res.share_closer_to_train_raw:.4f}, "
                          f"found {got:.4f} (no size adjustment: just the mean over synthetic rows)")


# -- 3. which generator leaks? -------------------------------------------------------------
@lru_cache(maxsize=1)
def _candidate_shares() -> dict[str, float]:
    from ..evaluation.privacy import dcr

    train, holdout, meta = exercise_split()
    return {k: dcr(train, t, holdout, meta).share_closer_to_train for k, t in candidate_tables().items()}


@register("04.leaky", target="leaky_labels", points=2,
          hint="Exact matches catch only plain copies. Compare each table with the holdout: DCR share "
               "closer to train (0.5 = no leak) and membership-attack AUC (0.5 = coin flip).")
def leaky(obj: Any) -> None:
    """``leaky_labels``: the set of candidate labels whose tables leak training patients."""

    if isinstance(obj, str):
        obj = [obj]
    if not isinstance(obj, set | frozenset | list | tuple):
        raise CheckFailed(f"expected a set of labels such as {{'A'}}, found {type(obj).__name__}")
    labels = {str(x).strip().upper() for x in obj}
    tables = candidate_tables()
    unknown = sorted(labels - set(tables))
    if unknown:
        raise CheckFailed(f"unknown label(s) {unknown}; the candidates are {sorted(tables)}")
    shares = _candidate_shares()
    want = {k for k, s in shares.items() if s > LEAKY_SHARE}
    if not labels:
        raise CheckFailed("no table marked as leaking; judge each one against the holdout, not by whether "
                          "its rows look new")
    wrongly = sorted(labels - want)
    missed = sorted(want - labels)
    if wrongly:
        raise CheckFailed(f"table(s) {wrongly} are no closer to the training patients than to new patients "
                          "(compare with the holdout), so they do not leak in this sense")
    if missed:
        raise CheckFailed(f"you found {len(labels)} leaky table(s), but {len(want)} leak; look again at the "
                          "ones with a DCR share or attack AUC clearly above 0.5")


# -- 4. membership-attack AUC ----------------------------------------------------------------
@register("04.membership_auc", target="mia_auc", points=2,
          hint="Labels: 1 for training rows (members), 0 for holdout rows. Score: a SMALL distance to the "
               "synthetic data means 'member', so pass minus the distance to roc_auc_score.")
def membership_auc(obj: Any) -> None:
    """``mia_auc``: ROC AUC of the distance attack on the exercise's NoisyCopies table."""
    from ..evaluation.privacy import membership_inference

    train, holdout, meta = exercise_split()
    value = as_number(obj, "the AUC")
    if not 0 <= value <= 1:
        raise CheckFailed(f"an AUC lies between 0 and 1, found {value:g}")
    want = membership_inference(train, membership_table(), holdout, meta)["distance_auc"]
    if abs(value - (1 - want)) < 1e-6:
        raise CheckFailed(f"found {value:.3f}, which is 1 - AUC: either the labels are swapped or the score "
                          "is the distance itself (a larger score must mean 'more likely a member')")
    if abs(value - want) > 1e-6:
        raise CheckFailed(f"found {value:.3f}; score every training and holdout row by minus its distance "
                          "to the closest synthetic row (all rows, not a threshold) and pass the scores")
