"""Checks for lesson 03 (evaluating fidelity and utility), used by ``solutions/03_fidelity_utility.ipynb``.

The exercises work on WHAS500 split as
``train_holdout_split(df, stratify="fstat", random_state=SEED)`` (350 training and
150 holdout patients) and on a Gaussian copula fitted to the training part with
``random_state=SEED``; the checks rebuild both themselves (a copula fits in a few
hundredths of a second and samples deterministically for a given seed).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

from ..config import SEED
from . import CheckFailed, as_number, register, whas500_split

TARGET = "fstat"
EXACT_TOL = 1e-6
"""Tolerance for values that follow from counting (KS, TV): any correct method gives the same digits."""
PMSE_RTOL = 0.02
"""Relative tolerance for the pMSE (the propensity model is an unpenalised logistic fit)."""
AUC_TOL = 0.002
"""Absolute tolerance for the AUCs of the TSTR exercise (rank statistics of a logistic fit)."""

exercise_split = whas500_split
"""The exercise's train and holdout parts of WHAS500, and its metadata."""


@lru_cache(maxsize=2)
def exercise_synthetic(n: int | None = None) -> pd.DataFrame:
    """``n`` rows (default: as many as the training part) from the exercise's Gaussian copula."""
    from ..generators import GaussianCopula

    train, _, meta = exercise_split()
    gen = GaussianCopula(random_state=SEED, verbose=False).fit(train, meta)
    return gen.sample(len(train) if n is None else n)


# -- 1. the KS complement of age ------------------------------------------------------------------
@register("03.ks_age", target="ks_age", points=1,
          hint="scipy.stats.ks_2samp(train['age'], synthetic['age']).statistic is D; the score is 1 - D.")
def ks_age(obj: Any) -> None:
    """The KS complement of ``age``, training part vs the copula sample."""
    from scipy.stats import ks_2samp

    value = as_number(obj, "ks_age")
    train, holdout, _ = exercise_split()
    syn = exercise_synthetic()
    d = float(ks_2samp(train["age"], syn["age"]).statistic)
    expected = 1.0 - d
    if abs(value - expected) <= EXACT_TOL:
        return
    if abs(value - d) <= EXACT_TOL:
        raise CheckFailed(f"{value:.4f} is the KS statistic D itself; the score is its complement 1 - D")
    if abs(value - float(ks_2samp(train["age"], syn["age"]).pvalue)) <= EXACT_TOL:
        raise CheckFailed(f"{value:.4f} is the p-value of the KS test, not the complement of its statistic")
    if abs(value - (1.0 - float(ks_2samp(train["age"], holdout["age"]).statistic))) <= EXACT_TOL:
        raise CheckFailed(f"{value:.4f} compares train with the holdout; compare train with `synthetic`")
    if not 0.0 <= value <= 1.0:
        raise CheckFailed(f"a KS complement lies between 0 and 1, found {value:.4f}")
    raise CheckFailed(f"expected the KS complement of age, train vs synthetic; found {value:.4f}")


# -- 2. the TV complement of gender ---------------------------------------------------------------
@register("03.tv_gender", target="tv_gender", points=1,
          hint="Use the shares of each level (value_counts(normalize=True)) and 1 - 0.5 * sum |p - q|.")
def tv_gender(obj: Any) -> None:
    """The total-variation complement of ``gender``, training part vs the copula sample."""
    value = as_number(obj, "tv_gender")
    train, _, _ = exercise_split()
    syn = exercise_synthetic()
    p = train["gender"].astype(object).value_counts(normalize=True)
    q = syn["gender"].astype(object).value_counts(normalize=True)
    p, q = p.align(q, fill_value=0.0)
    total = float(np.abs(p - q).sum())
    expected = 1.0 - 0.5 * total
    if abs(value - expected) <= EXACT_TOL:
        return
    if abs(value - (1.0 - total)) <= EXACT_TOL:
        raise CheckFailed(
            f"{value:.4f} is 1 - sum |p - q|: the total variation distance is half that sum "
            "(every share missing from one level turns up on another, so the sum counts it twice)"
        )
    if abs(value - 0.5 * total) <= EXACT_TOL or abs(value - total) <= EXACT_TOL:
        raise CheckFailed(f"{value:.4f} is a distance (0 = identical); the score is its complement, 1 - distance")
    if not 0.0 <= value <= 1.0:
        raise CheckFailed(
            f"a TV complement lies between 0 and 1, found {value:.4f}: did you use counts instead of shares?"
        )
    raise CheckFailed(f"expected the TV complement of gender, train vs synthetic; found {value:.4f}")


# -- 3. pMSE from propensity scores ---------------------------------------------------------------
def exercise_propensity() -> tuple[np.ndarray, np.ndarray]:
    """Propensity scores and labels of exercise 3: train (350) stacked on a copula sample of 700 rows."""
    from ..evaluation import propensity_scores

    train, _, meta = exercise_split()
    scores, labels, _ = propensity_scores(train, exercise_synthetic(2 * len(train)), "logistic", meta,
                                          random_state=SEED)
    return scores, labels


@register("03.pmse", target="pmse_value", points=1,
          hint="c is the share of synthetic rows among all rows (here 700 of 1050), not 0.5; "
               "average (score - c) ** 2 over every row.")
def pmse_value(obj: Any) -> None:
    """The pMSE of the exercise's propensity scores: mean of (p - c)^2 with c the synthetic share."""
    value = as_number(obj, "pmse_value")
    p, y = exercise_propensity()
    c = float(y.mean())
    expected = float(np.mean((p - c) ** 2))
    if abs(value - expected) <= PMSE_RTOL * expected:
        return
    if abs(value - float(np.mean((p - 0.5) ** 2))) <= PMSE_RTOL * expected:
        raise CheckFailed(
            f"{value:.5f} uses c = 0.5; here the synthetic table is twice the size of the real one, "
            f"so c = {c:.3f}"
        )
    if abs(value - float(np.mean((p - y) ** 2))) <= PMSE_RTOL * expected:
        raise CheckFailed(f"{value:.4f} is the Brier score (score - label)^2; pMSE compares each score with c")
    if abs(value - float(np.mean(np.abs(p - c)))) <= PMSE_RTOL * expected:
        raise CheckFailed(f"{value:.4f} is a mean absolute difference; pMSE squares (score - c)")
    raise CheckFailed(f"expected pMSE = mean((score - c)^2) = about {expected:.2g} (a small number); found {value:.4g}")


# -- 4. TSTR against TRTR -------------------------------------------------------------------------
@lru_cache(maxsize=1)
def exercise_tstr() -> dict[str, float]:
    """TRTR and TSTR AUC of a logistic model (``make_model``) on the exercise's holdout."""
    from ..evaluation import tstr

    train, holdout, meta = exercise_split()
    res = tstr(train, exercise_synthetic(), holdout, TARGET, model="logistic", metadata=meta, n_bootstrap=0,
               random_state=SEED)
    auc = res[res["metric"] == "auc"].set_index("trained_on")["value"]
    return {"trtr": float(auc["real"]), "tstr": float(auc["synthetic"])}


@lru_cache(maxsize=1)
def _tstr_on_train() -> dict[str, float]:
    from ..evaluation import tstr

    train, _, meta = exercise_split()
    res = tstr(train, exercise_synthetic(), train, TARGET, model="logistic", metadata=meta, n_bootstrap=0)
    auc = res[res["metric"] == "auc"].set_index("trained_on")["value"]
    return {"trtr": float(auc["real"]), "tstr": float(auc["synthetic"])}


@register("03.tstr_gap", target="tstr_result", points=1,
          hint="Fit one model on train and one on synthetic; score BOTH on the holdout; gap = TSTR - TRTR.")
def tstr_gap(obj: Any) -> None:
    """A dict with the TRTR and TSTR AUC on the holdout and their gap ``tstr - trtr``."""
    if not isinstance(obj, dict):
        raise CheckFailed(f"expected a dict with keys 'trtr', 'tstr' and 'gap', found {type(obj).__name__}")
    missing = [k for k in ("trtr", "tstr", "gap") if k not in obj]
    if missing:
        raise CheckFailed(f"the dict lacks the key(s) {missing}; expected 'trtr', 'tstr' and 'gap'")
    got = {k: as_number(obj[k], f"tstr_result[{k!r}]") for k in ("trtr", "tstr", "gap")}
    want = exercise_tstr()
    on_train = _tstr_on_train()
    for k in ("trtr", "tstr"):
        if abs(got[k] - want[k]) > AUC_TOL:
            if abs(got[k] - on_train[k]) <= AUC_TOL:
                raise CheckFailed(
                    f"your {k.upper()} AUC ({got[k]:.3f}) is measured on the training rows; score every "
                    "model on the holdout, the patients neither the generator nor the model saw"
                )
            if abs(got[k] - want["tstr" if k == "trtr" else "trtr"]) <= AUC_TOL:
                raise CheckFailed("'trtr' and 'tstr' are swapped: TRTR = trained on real, TSTR = trained on synthetic")
            raise CheckFailed(f"{k.upper()} AUC on the holdout should be about {want[k]:.3f}, found {got[k]:.3f}")
    gap = want["tstr"] - want["trtr"]
    if abs(got["gap"] - gap) > AUC_TOL:
        if abs(got["gap"] + gap) <= AUC_TOL:
            raise CheckFailed("the gap has the wrong sign: report TSTR - TRTR (negative when synthetic data cost AUC)")
        raise CheckFailed(f"the gap should be TSTR - TRTR = {gap:+.3f}, found {got['gap']:+.3f}")


# -- 5. a generator that games the fidelity scores -----------------------------------------------
SHUFFLE_ROWS = 300
GAMED_METRICS = ("ks_complement", "tv_complement", "pmse", "tstr_auc")
CAUGHT_BY = {"tstr_auc"}
"""Of ``GAMED_METRICS``, those on which a column-shuffled table scores worse than real data does."""


def _shuffle_inputs(seed: int | None) -> dict[str, Any]:
    """A table with two strongly related numbers and a category (trusted), and two seeds."""
    rng = np.random.default_rng(3 if seed is None else seed)
    x = rng.normal(size=SHUFFLE_ROWS)
    table = pd.DataFrame({
        "sysbp": np.round(130 + 20 * x).astype(int),
        "diasbp": np.round(80 + 12 * x + rng.normal(0, 3, SHUFFLE_ROWS)).astype(int),
        "risk": pd.Categorical(np.where(x > 0.5, "high", "low"), categories=["high", "low"]),
    }, index=pd.RangeIndex(100, 100 + SHUFFLE_ROWS))
    return {"table": table, "seeds": [int(v) for v in rng.integers(0, 2**31 - 1, size=2)]}


def _shuffle_export(func: Any, inputs: dict[str, Any]) -> list[Any]:
    """Runs in the learner's kernel: seed 1, seed 1 again, seed 2."""
    from . import require_callable

    require_callable(func, "shuffle_columns")
    a, b = inputs["seeds"]
    return [func(inputs["table"].copy(), seed) for seed in (a, a, b)]


@register("03.shuffle_columns", target="shuffle_columns", points=2, inputs=_shuffle_inputs,
          export=_shuffle_export,
          hint="Permute each column on its own, with its own permutation from one "
               "np.random.default_rng(random_state): every value stays in its column, no row stays whole.")
def shuffle_columns(outputs: list[Any], inputs: dict[str, Any]) -> None:
    """``shuffle_columns(table, random_state)``: each column permuted independently, seeded."""
    table = inputs["table"]
    first, again, other = outputs
    for out in outputs:
        if not isinstance(out, pd.DataFrame):
            raise CheckFailed(f"expected a DataFrame, found {type(out).__name__}")
        if list(out.columns) != list(table.columns) or len(out) != len(table):
            raise CheckFailed(f"expected the table's {len(table)} rows and columns {list(table.columns)}, "
                              f"found {len(out)} rows and columns {list(out.columns)}")
        for col in table.columns:
            if out[col].dtype != table[col].dtype:
                raise CheckFailed(f"column {col!r} should keep its dtype {table[col].dtype}, found {out[col].dtype}")
            if sorted(out[col].astype(str)) != sorted(table[col].astype(str)):
                raise CheckFailed(f"column {col!r} should hold exactly the table's values, each once, in "
                                  "another order (a permutation, not a draw with replacement)")
    for col in table.columns:
        kept = float(np.mean(first[col].astype(str).to_numpy() == table[col].astype(str).to_numpy()))
        if col != "risk" and kept > 0.5:
            raise CheckFailed(f"column {col!r} is still in its original order ({kept:.0%} of its values "
                              "in place): shuffle every column")
    r = float(np.corrcoef(first["sysbp"], first["diasbp"])[0, 1])
    if abs(r) > 0.4:
        raise CheckFailed(f"systolic and diastolic pressure still correlate (r = {r:.2f}, {np.corrcoef(table['sysbp'], table['diasbp'])[0, 1]:.2f} "
                          "in the table): the rows were moved whole; give each column its own permutation")
    if not all(first[c].astype(str).tolist() == again[c].astype(str).tolist() for c in table.columns):
        raise CheckFailed("the same random_state gave two different tables: draw with "
                          "np.random.default_rng(random_state)")
    if all(first[c].astype(str).tolist() == other[c].astype(str).tolist() for c in table.columns):
        raise CheckFailed("two different random_state values gave the same table: use random_state")


@register("03.caught_by", target="caught_by", points=1,
          hint="Score the shuffled table as in exercises 1-4 and compare with the reference (the holdout's "
               "scores, the real-trained AUC): a metric catches the shuffle when the shuffled table does worse.")
def caught_by(obj: Any) -> None:
    """``caught_by``: the metrics of exercises 1-4 on which the column-shuffled table does worse than real data."""
    if isinstance(obj, str):
        obj = [obj]
    if not isinstance(obj, list | tuple | set):
        raise CheckFailed(f"expected a set of metric names from {list(GAMED_METRICS)}, found {type(obj).__name__}")
    names = set(obj)
    unknown = sorted(str(n) for n in names - set(GAMED_METRICS))
    if unknown:
        raise CheckFailed(f"unknown metric name(s) {unknown}: use names from {list(GAMED_METRICS)}")
    if names == CAUGHT_BY:
        return
    if names & {"ks_complement", "tv_complement"}:
        raise CheckFailed("the shuffled table holds exactly the training values of each column: its KS and "
                          "TV complements are 1, as good as a score can be")
    if "pmse" in names:
        raise CheckFailed("the pMSE's logistic model has main effects only: with identical columns it cannot "
                          "tell the tables apart (pMSE 0, better than the holdout's), so it does not catch it")
    raise CheckFailed("one of the four metrics does look at the relations between columns: which one "
                      "scores worse for the shuffled table than for the holdout?")
