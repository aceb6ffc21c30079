"""Distinguishability: can a classifier tell synthetic rows from real ones?

- :func:`detection_auc`: classifier two-sample test, cross-validated ROC AUC of
  "real vs synthetic" (0.5 = indistinguishable).
- :func:`pmse`, :func:`s_pmse`, :func:`pmse_report`: propensity-score mean squared
  error and its standardised form, as synthpop's ``utility.gen`` reports them.

Large tables are subsampled (``max_rows`` rows per side, default 5,000, drawn with
``random_state``): the test's power is already high at that size, and it keeps a
full evaluation within seconds.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import Pipeline

from ..config import make_rng
from ..schema import Metadata
from .fidelity import check_tables, resolve_metadata, row_keys
from .utility import TableEncoder

try:  # nearest-neighbour adversarial accuracy lives with the privacy metrics
    from .privacy import nnaa  # noqa: F401
except ImportError:  # pragma: no cover - the privacy module is optional here
    pass

MAX_ROWS = 5000
"""Default cap on rows per side for the classifier-based tests."""


def _subsample(df: pd.DataFrame, n: int, rng: np.random.Generator) -> pd.DataFrame:
    if len(df) <= n:
        return df
    return df.iloc[np.sort(rng.choice(len(df), size=n, replace=False))]


def _stack(real: pd.DataFrame, synthetic: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    X = pd.concat([real, synthetic], ignore_index=True)
    y = np.r_[np.zeros(len(real), dtype=int), np.ones(len(synthetic), dtype=int)]
    return X, y


def _grouped_folds(X: pd.DataFrame, cv: int, rng: np.random.Generator) -> list[tuple[np.ndarray, np.ndarray]]:
    """Random folds that keep identical rows together.

    A row present in both tables (a copy) would otherwise sit in the training fold
    with one label and in the test fold with the other, and the classifier would learn
    to predict the *wrong* label for it, pushing the AUC far below 0.5.
    """
    _, group = np.unique(row_keys(X), return_inverse=True)
    fold_of_group = rng.permutation(group.max() + 1) % cv
    fold = fold_of_group[group]
    idx = np.arange(len(X))
    return [(idx[fold != k], idx[fold == k]) for k in range(cv)]


def _classifier(model: str | Any, random_state: int) -> Any:
    if model == "logistic":
        return LogisticRegression(max_iter=2000)
    if model == "gbm":
        return HistGradientBoostingClassifier(max_iter=100, random_state=random_state)
    if isinstance(model, str):
        raise ValueError(f"model must be 'logistic', 'gbm' or a scikit-learn classifier, got {model!r}")
    if not hasattr(model, "fit"):
        raise TypeError(f"model must be a string or a scikit-learn classifier, got {type(model).__name__}")
    from sklearn.base import clone

    return clone(model)


def detection_auc(
    real: pd.DataFrame,
    synthetic: pd.DataFrame,
    model: str | Any = "gbm",
    metadata: Metadata | None = None,
    cv: int = 5,
    max_rows: int = MAX_ROWS,
    random_state: int | None = 0,
) -> float:
    """Cross-validated ROC AUC of a classifier trained to tell real from synthetic rows.

    Metric card:
        definition: draw the same number of rows from each table (the smaller size,
            at most ``max_rows``), label them 0 (real) and 1 (synthetic), encode them
            with :class:`~course_utils.evaluation.utility.TableEncoder` and report the
            mean ROC AUC over ``cv`` random folds (identical rows kept in one fold) of ``model`` (``"logistic"``:
            main-effects logistic regression; ``"gbm"``: histogram gradient boosting,
            which also sees interactions).
        range: 0.5 (indistinguishable) to 1 (perfectly separable); values a little
            under 0.5 are noise. Ideal: 0.5; an independent real sample (the holdout)
            gives about 0.45 to 0.55. Values clearly *below* 0.5 (say under 0.4) mean
            the synthetic rows are near copies of real rows: each held-out row's twin
            sat in the training folds with the opposite label, so the classifier
            predicts the wrong side (exact copies are kept in one fold and give 0.5).
        fools it: copying the training rows gives 0.5 (check privacy); a weak model
            misses what it cannot represent (logistic regression cannot see a broken
            interaction, so read the gbm value too).
        source: Lopez-Paz & Oquab (2017), "Revisiting classifier two-sample tests",
            ICLR; SDMetrics ``LogisticDetection`` reports ``1 - 2 * max(AUC - 0.5, 0)``.
    """
    real, synthetic = check_tables(real, synthetic)
    meta = resolve_metadata(real, metadata)
    rng = make_rng(random_state)
    n = min(len(real), len(synthetic), max_rows)
    if n < cv:
        raise ValueError(f"detection_auc needs at least cv={cv} rows in each table, got {n}")
    X, y = _stack(_subsample(real, n, rng), _subsample(synthetic, n, rng))
    seed = int(rng.integers(0, 2**31 - 1))
    pipe = Pipeline([("encode", TableEncoder(meta)), ("model", _classifier(model, seed))])
    folds = _grouped_folds(X, cv, np.random.default_rng(seed))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        scores = cross_val_score(pipe, X, y, cv=folds, scoring="roc_auc")
    return float(np.mean(scores))


def propensity_scores(
    real: pd.DataFrame,
    synthetic: pd.DataFrame,
    model: str | Any = "logistic",
    metadata: Metadata | None = None,
    max_rows: int = MAX_ROWS,
    random_state: int | None = 0,
) -> tuple[np.ndarray, np.ndarray, int]:
    """In-sample propensity scores P(synthetic | row) for the stacked table.

    Returns ``(scores, labels, k)`` where labels are 0 (real) / 1 (synthetic) and ``k``
    is the number of parameters of the logistic model (intercept included; 0 for
    other models). Each table is capped at ``max_rows`` rows (sampled with
    ``random_state``), keeping their sizes otherwise as given.
    """
    real, synthetic = check_tables(real, synthetic)
    meta = resolve_metadata(real, metadata)
    rng = make_rng(random_state)
    X, y = _stack(_subsample(real, max_rows, rng), _subsample(synthetic, max_rows, rng))
    seed = int(rng.integers(0, 2**31 - 1))
    if model == "logistic":
        # synthpop fits an unpenalised main-effects logit; drop one level per factor so
        # the parameters are identifiable and k counts them correctly
        enc = TableEncoder(meta, drop_first=True)
        clf = LogisticRegression(C=np.inf, max_iter=5000)
    else:
        enc = TableEncoder(meta)
        clf = _classifier(model, seed)
    Z = enc.fit_transform(X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(Z, y)
    k = Z.shape[1] + 1 if model == "logistic" else 0
    return clf.predict_proba(Z)[:, 1], y, k


def pmse_report(
    real: pd.DataFrame,
    synthetic: pd.DataFrame,
    model: str | Any = "logistic",
    metadata: Metadata | None = None,
    max_rows: int = MAX_ROWS,
    random_state: int | None = 0,
) -> dict[str, float]:
    """pMSE, its null expectation and the standardised pMSE in one dict.

    Keys: ``pmse``, ``expected`` (null expectation, logistic model only), ``s_pmse``,
    ``k`` (parameters), ``c`` (share of synthetic rows), ``n`` (rows). See :func:`pmse`
    and :func:`s_pmse` for the metric cards.
    """
    p, y, k = propensity_scores(real, synthetic, model, metadata, max_rows, random_state)
    n = len(y)
    c = float(y.mean())
    value = float(np.mean((p - c) ** 2))
    expected = (k - 1) * (1 - c) ** 2 * c / n if k else float("nan")
    s = value / expected if k and expected > 0 else float("nan")
    return {"pmse": value, "expected": float(expected), "s_pmse": float(s), "k": k, "c": c, "n": n}


def pmse(
    real: pd.DataFrame,
    synthetic: pd.DataFrame,
    model: str | Any = "logistic",
    metadata: Metadata | None = None,
    max_rows: int = MAX_ROWS,
    random_state: int | None = 0,
) -> float:
    """Propensity-score mean squared error.

    Metric card:
        definition: stack the two tables (``N`` rows, share ``c`` synthetic), fit a
            propensity model (default: unpenalised main-effects logistic regression)
            predicting "is synthetic", and average ``(p_i - c)^2`` over all rows.
        range: 0 to ``c^2`` (for c = 0.5: 0 to 0.25). Ideal: 0, but it is never 0 with a
            fitted model: compare with :func:`s_pmse` or the holdout reference.
        fools it: it grows with the number of model parameters even for perfect data
            (hence the standardised form); a main-effects model misses interactions.
        source: Woo, Reiter, Oganian & Karr (2009), Journal of Privacy and
            Confidentiality 1(1); Snoke et al. (2018), JRSS A 181(3); synthpop ``utility.gen``.
    """
    return pmse_report(real, synthetic, model, metadata, max_rows, random_state)["pmse"]


def s_pmse(
    real: pd.DataFrame,
    synthetic: pd.DataFrame,
    metadata: Metadata | None = None,
    max_rows: int = MAX_ROWS,
    random_state: int | None = 0,
) -> float:
    """Standardised pMSE: pMSE divided by its expectation when both tables share one distribution.

    Metric card:
        definition: ``pMSE / E0[pMSE]`` with ``E0[pMSE] = (k - 1)(1 - c)^2 c / N`` for a
            logistic propensity model with ``k`` parameters (Snoke et al. 2018), the
            ratio synthpop reports as ``S_pMSE``.
        range: 0 to large. Ideal: about 1 (what two samples of one population give);
            synthpop's rule of thumb calls values under about 10 good.
        fools it: as for :func:`pmse`; the null expectation is asymptotic and only
            exact for the logistic model.
        source: Snoke, Raab, Nowok, Dibben & Slavkovic (2018), "General and specific
            utility measures for synthetic data", JRSS A 181(3).
    """
    return pmse_report(real, synthetic, "logistic", metadata, max_rows, random_state)["s_pmse"]
