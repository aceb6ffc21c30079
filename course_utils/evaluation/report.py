"""One call to evaluate a synthetic table: :func:`evaluate` returns a tidy DataFrame.

Every row is one metric value with its holdout **reference**: the same metric with
the real holdout put in place of the synthetic table. A perfect generator produces
new patients from the same population, so the holdout is the honest ceiling; a
fidelity score clearly *above* the holdout's means the synthetic rows sit closer to
the training rows than new patients do (copying). For utility rows the reference is
the model trained on real data (TRTR); privacy rows come from
:mod:`course_utils.evaluation.privacy` with its own references.

Fidelity scores depend on table size: a small table matches a distribution less
well than a big one by chance alone. So when the synthetic table has more rows than
the holdout, each fidelity row also gets ``value_matched``: the same metric on random
subsamples of the synthetic table of the holdout's size (mean of
``MATCHED_DRAWS`` draws), and the verdict compares that like-for-like value with the
reference.

The holdout must be data the generator never saw. :func:`holdout_overlap` measures
how many holdout rows are exact copies of training rows, and :func:`evaluate`
refuses a holdout that overlaps the training table (rule in :func:`check_holdout`).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from ..schema import Metadata
from .cards import MetricCard, get_card, ideals
from .context import EvaluationContext
from .detection import MAX_ROWS, detection_auc, pmse_report
from .fidelity import fidelity_rows
from .tables import MAX_OVERLAP, check_holdout, holdout_overlap  # noqa: F401  (re-exported: public names of this module)
from .utility import ci_overlap, feature_importance, importance_agreement, tstr

COLUMNS = ["metric", "family", "column", "value", "ideal", "reference", "interpretation", "ci_low", "ci_high"]
"""Columns of the table returned by :func:`evaluate` (``ci_*`` only for utility rows)."""

FAMILIES = ("fidelity", "detection", "utility", "privacy")

MATCHED_DRAWS = 3
"""Subsamples averaged for the size-matched fidelity value (``value_matched``)."""



# ---------------------------------------------------------------------------------------
# interpretation
# ---------------------------------------------------------------------------------------
def _card(metric: str) -> MetricCard | None:
    try:
        return get_card(metric)
    except KeyError:
        return None


def _interpret(family: str, metric: str, value: float, ideal: float, reference: float) -> str:
    """One-sentence verdict of a report row, from its metric card and its holdout reference."""
    if value is None or not np.isfinite(value):
        return "not computable here (for example a constant column)"
    if reference is None or not np.isfinite(reference):
        return f"ideal {ideal:g}; no holdout reference for this metric"
    if family == "utility":
        gap = abs(value - ideal) - abs(reference - ideal)
        if gap <= 0.02:
            return f"as good as training on real data ({reference:.3g})"
        if gap <= 0.1:
            return f"somewhat worse than training on real data ({reference:.3g})"
        return f"clearly worse than training on real data ({reference:.3g})"
    card = _card(metric)
    if card is not None and card.name == "detection_auc" and value < min(0.4, reference - 0.1):
        return (f"below 0.5 (holdout {reference:.3g}): synthetic rows look like near copies of "
                "training rows; check privacy")
    if card is not None and card.name in ("pmse", "s_pmse") and value < 0.3 * reference:
        # two independent samples of one population give pMSE near its null value (S_pMSE
        # near 1); far below that, the classifier cannot even find the sampling noise
        return (f"far below the holdout ({reference:.3g}): the signature of a copy of the training "
                "rows, not of a good generator; check privacy")
    if card is not None and card.scale == "ratio":
        ratio = abs(value - ideal) / max(abs(reference - ideal), 1e-12)
        if ratio <= 1.5:
            return f"at holdout level ({reference:.3g})"
        if ratio <= 5:
            return f"somewhat worse than the holdout ({reference:.3g})"
        return f"clearly worse than the holdout ({reference:.3g})"
    d_v, d_r = abs(value - ideal), abs(reference - ideal)
    tol = max(0.01, 0.25 * d_r)
    if d_v < d_r - tol and family == "fidelity" and d_r > 0.02:
        return f"closer to train than the holdout is ({reference:.3g}): new patients or copies? check privacy"
    if d_v <= d_r + tol:
        return f"at holdout level ({reference:.3g})"
    if d_v <= d_r + max(0.05, 0.5 * d_r):
        return f"somewhat worse than the holdout ({reference:.3g})"
    return f"clearly worse than the holdout ({reference:.3g})"


def _with_reference(value_rows: pd.DataFrame, ref_rows: pd.DataFrame, family: str) -> pd.DataFrame:
    key = ["metric", "column"]
    ref = ref_rows[key + ["value"]].rename(columns={"value": "reference"})
    left = value_rows.assign(column=value_rows["column"].astype(object))
    ref = ref.assign(column=ref["column"].astype(object))
    out = left.merge(ref, on=key, how="left", sort=False)
    out["family"] = family
    return out


# ---------------------------------------------------------------------------------------
# evaluate
# ---------------------------------------------------------------------------------------
def _fidelity_rows(ctx: EvaluationContext, random_state) -> pd.DataFrame:
    train, synthetic, holdout = ctx.train, ctx.synthetic, ctx.holdout
    types = ctx.column_types()
    rows = _with_reference(fidelity_rows(train, synthetic, types), fidelity_rows(train, holdout, types), "fidelity")
    if len(synthetic) > len(holdout):
        rng = np.random.default_rng(random_state)
        draws = []
        for _ in range(MATCHED_DRAWS):
            idx = rng.choice(len(synthetic), size=len(holdout), replace=False)
            draws.append(fidelity_rows(train, synthetic.iloc[idx].reset_index(drop=True), types))
        matched = pd.concat(draws).assign(column=lambda d: d["column"].astype(object))
        matched = matched.groupby(["metric", "column"], dropna=False, sort=False)["value"].mean()
        matched = matched.rename("value_matched").reset_index()
        rows = rows.merge(matched, on=["metric", "column"], how="left", sort=False)
    return rows


def _detection_rows(train, synthetic, holdout, meta, models, max_rows, random_state) -> pd.DataFrame:
    rows = []
    for model in models:
        v = detection_auc(train, synthetic, model, meta, max_rows=max_rows, random_state=random_state)
        r = detection_auc(train, holdout, model, meta, max_rows=max_rows, random_state=random_state)
        rows.append({"metric": f"detection_auc_{model}", "column": None, "value": v, "reference": r})
    p_s = pmse_report(train, synthetic, "logistic", meta, max_rows, random_state)
    p_h = pmse_report(train, holdout, "logistic", meta, max_rows, random_state)
    for metric in ("pmse", "s_pmse"):
        rows.append({"metric": metric, "column": None, "value": p_s[metric], "reference": p_h[metric]})
    out = pd.DataFrame(rows)
    out["ideal"] = ideals(out["metric"])
    out["family"] = "detection"
    return out


def _utility_rows(train, synthetic, holdout, meta, target, model, n_bootstrap, random_state) -> pd.DataFrame:
    rows = []
    res = tstr(train, synthetic, holdout, target, model=model, metadata=meta, n_bootstrap=n_bootstrap,
               random_state=random_state)
    for metric, g in res.groupby("metric", sort=False):
        real = g[g["trained_on"] == "real"].iloc[0]
        syn = g[g["trained_on"] == "synthetic"].iloc[0]
        rows.append({"metric": f"tstr_{metric}", "column": target, "value": syn["value"], "ideal": syn["ideal"],
                     "reference": real["value"], "ci_low": syn["ci_low"], "ci_high": syn["ci_high"]})
    imp = feature_importance(train, synthetic, holdout, target, model=model, metadata=meta,
                             random_state=random_state)
    rows.append({"metric": "importance_agreement", "column": target, "value": importance_agreement(imp),
                 "ideal": get_card("importance_agreement").ideal, "reference": np.nan})
    try:
        task = "classification" if res["metric"].iloc[0] == "auc" else "regression"
        ov_s = ci_overlap(train, synthetic, target, task=task, metadata=meta)
        ov_h = ci_overlap(train, holdout, target, task=task, metadata=meta)
        rows.append({"metric": "ci_overlap", "column": target, "value": float(np.nanmean(ov_s["overlap"])),
                     "ideal": get_card("ci_overlap").ideal, "reference": float(np.nanmean(ov_h["overlap"]))})
    except np.linalg.LinAlgError as exc:  # pragma: no cover - degenerate design
        warnings.warn(f"ci_overlap skipped: {exc}", UserWarning, stacklevel=3)
    out = pd.DataFrame(rows)
    out["family"] = "utility"
    return out


def _privacy_rows(ctx: EvaluationContext, random_state) -> pd.DataFrame | None:
    try:
        from .privacy import privacy_rows
    except ImportError as exc:
        warnings.warn(f"privacy metrics skipped: {exc}", UserWarning, stacklevel=3)
        return None
    return privacy_rows(ctx, random_state=random_state)


def evaluate(
    train: pd.DataFrame,
    synthetic: pd.DataFrame,
    holdout: pd.DataFrame,
    metadata: Metadata | None = None,
    target: str | None = None,
    privacy: bool = True,
    random_state: int | None = 0,
    detection_models: tuple[str, ...] = ("logistic", "gbm"),
    utility_model: str | Any = "logistic",
    max_rows: int = MAX_ROWS,
    n_bootstrap: int = 200,
) -> pd.DataFrame:
    """Evaluate a synthetic table against its training table and a real holdout.

    Args:
        train: the real rows the generator was fitted on.
        synthetic: the generated rows (same columns; order may differ).
        holdout: real rows the generator never saw (refused when it overlaps ``train``,
            see :func:`check_holdout`).
        metadata: column kinds; inferred from ``train`` when None.
        target: an outcome column; when given, utility metrics (TSTR vs TRTR, importance
            agreement, CI overlap) are added.
        privacy: add the privacy metrics of :mod:`course_utils.evaluation.privacy`.
        random_state: seed for every subsample, fold and bootstrap.
        detection_models: classifiers for the detection AUC (``"logistic"``, ``"gbm"``).
        utility_model: model for TSTR (``"logistic"``, ``"gbm"`` or an estimator).
        max_rows: cap on rows per table for the classifier-based metrics.
        n_bootstrap: bootstrap resamples for the utility confidence intervals.

    Returns:
        A tidy DataFrame with columns ``metric, family, column, value, ideal,
        reference, interpretation, ci_low, ci_high``: per-column and per-pair fidelity
        (``column`` is the column or ``"a | b"``), the quality score, detection AUCs and
        pMSE, utility and privacy rows; ``column`` is None for table-level rows.
        :func:`summary` keeps the table-level rows.
    """
    # one context per call: tables checked once, the holdout checked once, and the
    # encoded tables and nearest-neighbour searches shared by the privacy metrics
    ctx = EvaluationContext.for_evaluate(train, synthetic, holdout, metadata)
    train, synthetic, holdout, meta = ctx.train, ctx.synthetic, ctx.holdout, ctx.metadata
    if target is not None and target not in train.columns:
        raise ValueError(f"target column {target!r} is not in the tables")

    parts = [
        _fidelity_rows(ctx, random_state),
        _detection_rows(train, synthetic, holdout, meta, detection_models, max_rows, random_state),
    ]
    if target is not None:
        parts.append(_utility_rows(train, synthetic, holdout, meta, target, utility_model, n_bootstrap, random_state))
    if privacy:
        priv = _privacy_rows(ctx, random_state)
        if priv is not None:
            parts.append(priv)
    out = pd.concat([p for p in parts if len(p)], ignore_index=True)
    for c in COLUMNS:
        if c not in out.columns:
            out[c] = np.nan if c != "interpretation" else None
    # fidelity verdicts compare tables of equal size (see the module docstring)
    judged = out["value"]
    if "value_matched" in out.columns:
        judged = out["value_matched"].where(out["value_matched"].notna(), out["value"])
    computed = [
        _interpret(f, m, v, i, r)
        for f, m, v, i, r in zip(out["family"], out["metric"], judged, out["ideal"], out["reference"], strict=True)
    ]
    has = out["interpretation"].notna() & (out["interpretation"].astype(str) != "")
    out["interpretation"] = np.where(has, out["interpretation"], computed)
    out["column"] = out["column"].astype(object).where(out["column"].notna(), None)
    extra = [c for c in out.columns if c not in COLUMNS]
    return out[COLUMNS + extra]


def summary(report: pd.DataFrame) -> pd.DataFrame:
    """The table-level rows of an :func:`evaluate` report (quality score, AUCs, TSTR, ...).

    Keeps rows whose ``column`` is None plus the utility rows, drops the ``column``
    and confidence-interval columns when empty, and indexes by ``family`` and ``metric``.
    """
    if not isinstance(report, pd.DataFrame) or not {"metric", "family", "column", "value"} <= set(report.columns):
        raise ValueError("summary expects the DataFrame returned by evaluate()")
    keep = report["column"].isna() | (report["family"] == "utility")
    out = report[keep].drop(columns=["column"]).dropna(axis=1, how="all")
    return out.set_index(["family", "metric"])
