"""Survival utility: do time-to-event analyses on synthetic data reach the real answers?

Clinicians use a table like WHAS500 for survival analysis: each row has a follow-up
time (``lenfol``, days) and an event indicator (``fstat``: 1 = died during follow-up,
0 = *censored*, alive when last seen, so the true death time is only known to be
later). Every function here keeps censoring honest: censored patients count as "at
risk up to their last visit", never as survivors to the end and never dropped.

- :class:`CoxModel` fits a Cox proportional-hazards model (lifelines' ``CoxPHFitter``,
  Efron ties) on one table, covariates encoded as numbers in their own units
  (categoricals as 0/1 dummies of the non-first levels), so a hazard ratio reads
  "per year of age", "female vs male".
- :func:`hazard_ratio_table` and :func:`hazard_ratio_agreement`: the real fit next to
  the synthetic fit, covariate by covariate.
- :func:`concordance_index`, :func:`brier_scores`, :func:`integrated_brier_score` and
  :func:`survival_tstr`: discrimination and calibration of a model trained on
  synthetic data and scored on the real holdout (TSTR) against one trained on real
  data (TRTR).
- :func:`kaplan_meier` and :func:`km_max_gap`: the product-limit survival curve and
  the largest vertical gap between two curves (plot them with
  :func:`course_utils.plotting.plot_kaplan_meier`).
- :func:`survival_report`: everything above as one tidy table.

The curves and model-free scores live in :mod:`.survival_metrics` and are re-exported here.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
from sklearn.exceptions import NotFittedError

from ..schema import Metadata
from .fidelity import resolve_metadata
from .survival_metrics import (
    _check_survival_frame,
    brier_scores,
    concordance_index,
    evaluation_times,
    integrated_brier_score,
    kaplan_meier,
    km_max_gap,
)
from .utility import TableEncoder

__all__ = [
    "CoxModel",
    "brier_scores",
    "concordance_index",
    "evaluation_times",
    "hazard_ratio_agreement",
    "hazard_ratio_table",
    "integrated_brier_score",
    "kaplan_meier",
    "km_max_gap",
    "survival_report",
    "survival_scores",
    "survival_tstr",
]

ALPHA = 0.05
"""Significance level of the hazard-ratio intervals (95% confidence)."""

FALLBACK_PENALIZER = 0.01
"""Ridge penalty used when an unpenalised Cox fit does not converge (e.g. a rare flag
that never meets an event in a small synthetic table)."""


# ---------------------------------------------------------------------------------------
# Cox proportional hazards
# ---------------------------------------------------------------------------------------
class CoxModel:
    """A Cox proportional-hazards model of ``duration``/``event`` on every other column.

    Args:
        duration: the follow-up time column.
        event: the event indicator column (1 = event, 0 = censored).
        metadata: the table's metadata (inferred when ``None``).
        penalizer: lifelines' ridge penalty (0: the textbook unpenalised fit). When the
            unpenalised fit does not converge, it is refitted with
            :data:`FALLBACK_PENALIZER` and ``penalizer_`` says so.
        encoder: a fitted :class:`~course_utils.evaluation.TableEncoder` to reuse (so a
            synthetic fit has exactly the covariates of the real one); ``None`` fits one.

    Fitted attributes: ``encoder_``, ``covariates_`` (encoded names), ``fitter_``
    (lifelines' ``CoxPHFitter``), ``dropped_`` (covariates constant in this table,
    whose hazard ratio cannot be estimated), ``penalizer_``.
    """

    def __init__(self, duration: str = "lenfol", event: str = "fstat", metadata: Metadata | None = None,
                 penalizer: float = 0.0, encoder: TableEncoder | None = None):
        self.duration = duration
        self.event = event
        self.metadata = metadata
        self.penalizer = penalizer
        self.encoder = encoder

    def _design(self, df: pd.DataFrame) -> pd.DataFrame:
        X = self.encoder_.transform(df.drop(columns=[self.duration, self.event]))
        return pd.DataFrame(X, columns=self.encoder_.feature_names_, index=df.index)

    def fit(self, df: pd.DataFrame) -> CoxModel:
        """Fit on ``df`` (every column but ``duration`` and ``event`` is a covariate)."""
        from lifelines import CoxPHFitter
        from lifelines.exceptions import ConvergenceError

        if not (isinstance(self.penalizer, int | float) and self.penalizer >= 0):
            raise ValueError(f"penalizer must be a number >= 0, got {self.penalizer!r}")
        _check_survival_frame(df, self.duration, self.event, "training")
        covariates = df.drop(columns=[self.duration, self.event])
        if self.encoder is None:
            meta = self.metadata.select(covariates.columns) if self.metadata is not None else None
            meta = resolve_metadata(covariates, meta)
            self.encoder_ = TableEncoder(meta, drop_first=True, scale=False).fit(covariates)
        else:
            self.encoder_ = self.encoder
        design = self._design(df)
        self.covariates_ = list(design.columns)
        self.dropped_ = [c for c in design.columns if design[c].nunique() < 2]
        data = design.drop(columns=self.dropped_)
        data["_time"] = pd.to_numeric(df[self.duration]).to_numpy(dtype=float)
        data["_event"] = pd.to_numeric(df[self.event]).to_numpy(dtype=float)
        if data["_event"].sum() == 0:
            raise ValueError(f"column {self.event!r}: no events in this table; a Cox model needs some")
        self.penalizer_ = float(self.penalizer)
        with warnings.catch_warnings():
            # lifelines warns about near-separation in small synthetic tables; the
            # wide interval it produces is the honest report of that
            warnings.simplefilter("ignore")
            try:
                self.fitter_ = CoxPHFitter(penalizer=self.penalizer_).fit(data, "_time", "_event")
            except ConvergenceError:
                self.penalizer_ = max(self.penalizer_, FALLBACK_PENALIZER)
                self.fitter_ = CoxPHFitter(penalizer=self.penalizer_).fit(data, "_time", "_event")
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "fitter_"):
            raise NotFittedError("this CoxModel is not fitted yet; call fit(df) first")

    def hazard_ratios(self, alpha: float = ALPHA) -> pd.DataFrame:
        """One row per covariate: ``hr, ci_low, ci_high, p, coef, se`` (NaN where dropped).

        The interval is the Wald interval ``exp(coef ± z·se)`` at level ``1 - alpha``.
        """
        from scipy import stats

        self._check_fitted()
        s = self.fitter_.summary
        z = stats.norm.ppf(1 - alpha / 2)
        out = pd.DataFrame(index=pd.Index(self.covariates_, name="covariate"))
        out["coef"] = s["coef"].reindex(out.index)
        out["se"] = s["se(coef)"].reindex(out.index)
        out["hr"] = np.exp(out["coef"])
        out["ci_low"] = np.exp(out["coef"] - z * out["se"])
        out["ci_high"] = np.exp(out["coef"] + z * out["se"])
        out["p"] = 2 * stats.norm.sf(np.abs(out["coef"] / out["se"]))
        return out[["hr", "ci_low", "ci_high", "p", "coef", "se"]]

    def predict_risk(self, df: pd.DataFrame) -> np.ndarray:
        """The linear predictor (log relative hazard): higher means earlier death."""
        self._check_fitted()
        X = self._design(df).drop(columns=self.dropped_)
        return np.asarray(X.to_numpy(dtype=float) @ self.fitter_.params_.to_numpy(), dtype=float)

    def predict_survival(self, df: pd.DataFrame, times: Any) -> np.ndarray:
        """Predicted survival probabilities, shape ``(n_rows, n_times)``."""
        self._check_fitted()
        X = self._design(df).drop(columns=self.dropped_)
        sf = self.fitter_.predict_survival_function(X, times=np.asarray(times, dtype=float))
        return sf.to_numpy().T


def hazard_ratio_table(
    real: pd.DataFrame,
    synthetic: pd.DataFrame,
    duration: str = "lenfol",
    event: str = "fstat",
    metadata: Metadata | None = None,
    alpha: float = ALPHA,
    penalizer: float = 0.0,
) -> pd.DataFrame:
    """Cox hazard ratios fitted on the real and on the synthetic table, covariate by covariate.

    Metric card:
        definition: the same Cox model (same encoded covariates) fitted on both tables.
            Per covariate: ``overlap`` of the two 95% intervals of the log hazard ratio,
            ``0.5 * (w / width_real + w / width_synthetic)`` with ``w`` the length of
            their intersection (negative when they are apart), as for regression
            coefficients (Karr et al. 2006); ``within_real_ci``: the synthetic hazard
            ratio lies inside the real interval; ``same_sign``: both log hazard ratios
            have the same sign; ``same_significance``: both or neither interval excludes
            1; ``agrees``: same sign and same significance.
        range: overlap from negative to 1 (ideal 1: identical intervals; an independent
            real sample of the same size gives about 0.6-0.8); the flags are 0/1.
        fools it: wide intervals (small or noisy synthetic tables) overlap easily; a
            generator that copies real rows agrees perfectly.
        source: Karr, Kohnen, Oganian, Reiter & Sanil (2006), The American Statistician
            60(3); the MCM study on WHAS500 compares Cox hazard ratios the same way.

    Returns one row per covariate with the real and synthetic ``hr, ci_low, ci_high, p``
    and the agreement columns above. A covariate constant in one table has NaN there
    and does not agree.
    """
    _check_survival_frame(real, duration, event, "real")
    _check_survival_frame(synthetic, duration, event, "synthetic")
    missing = sorted(set(real.columns) - set(synthetic.columns))
    if missing:
        raise ValueError(f"the synthetic table lacks column(s) {missing}")
    synthetic = synthetic[list(real.columns)]
    cox_real = CoxModel(duration, event, metadata, penalizer).fit(real)
    cox_syn = CoxModel(duration, event, metadata, penalizer, encoder=cox_real.encoder_).fit(synthetic)
    r = cox_real.hazard_ratios(alpha)
    s = cox_syn.hazard_ratios(alpha)
    out = pd.concat([r.add_suffix("_real"), s.add_suffix("_synthetic")], axis=1)
    lo_r, hi_r = np.log(out["ci_low_real"]), np.log(out["ci_high_real"])
    lo_s, hi_s = np.log(out["ci_low_synthetic"]), np.log(out["ci_high_synthetic"])
    w = np.minimum(hi_r, hi_s) - np.maximum(lo_r, lo_s)
    out["overlap"] = 0.5 * (w / (hi_r - lo_r) + w / (hi_s - lo_s))
    out["within_real_ci"] = (out["hr_synthetic"] >= out["ci_low_real"]) & (out["hr_synthetic"] <= out["ci_high_real"])
    out["same_sign"] = np.sign(out["coef_real"]) == np.sign(out["coef_synthetic"])
    out["same_significance"] = (out["p_real"] < alpha) == (out["p_synthetic"] < alpha)
    estimable = out["hr_synthetic"].notna() & out["hr_real"].notna()
    out["same_significance"] &= estimable
    out["agrees"] = out["same_sign"] & out["same_significance"]
    keep = ["hr_real", "ci_low_real", "ci_high_real", "p_real",
            "hr_synthetic", "ci_low_synthetic", "ci_high_synthetic", "p_synthetic",
            "overlap", "within_real_ci", "same_sign", "same_significance", "agrees"]
    return out[keep]


def hazard_ratio_agreement(table: pd.DataFrame) -> dict[str, float]:
    """Summaries of a :func:`hazard_ratio_table`.

    ``mean_overlap`` (mean CI overlap, NaN covariates counted as 0),
    ``share_within_real_ci``, ``share_agree`` (same sign and significance) and
    ``n_covariates``. Ideal: 1, 1, 1.
    """
    if not isinstance(table, pd.DataFrame) or "overlap" not in table.columns:
        raise TypeError("expected the DataFrame returned by hazard_ratio_table")
    return {
        "mean_overlap": float(table["overlap"].fillna(0.0).mean()),
        "share_within_real_ci": float(table["within_real_ci"].mean()),
        "share_agree": float(table["agrees"].mean()),
        "n_covariates": int(len(table)),
    }


# ---------------------------------------------------------------------------------------
# discrimination and calibration of a Cox model
# ---------------------------------------------------------------------------------------
def survival_scores(model: CoxModel, test: pd.DataFrame, times: Any, censoring: pd.DataFrame | None = None) -> dict[str, float]:
    """C-index and integrated Brier score of a fitted :class:`CoxModel` on ``test``."""
    _check_survival_frame(test, model.duration, model.event, "test")
    t, e = test[model.duration], test[model.event]
    S = model.predict_survival(test, times)
    ref = test if censoring is None else censoring
    return {
        "c_index": concordance_index(t, e, model.predict_risk(test)),
        "integrated_brier": integrated_brier_score(t, e, S, times, ref[model.duration], ref[model.event]),
    }


def survival_tstr(
    train: pd.DataFrame,
    synthetic: pd.DataFrame,
    holdout: pd.DataFrame,
    duration: str = "lenfol",
    event: str = "fstat",
    metadata: Metadata | None = None,
    times: Any = None,
    penalizer: float = 0.0,
    test: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Cox model trained on real (TRTR) vs synthetic (TSTR) data, scored on the real holdout.

    Metric card:
        definition: the same Cox model fitted on ``train`` and on ``synthetic``; each
            scored on ``holdout`` (or on ``test``, e.g. one subgroup of the holdout) by
            :func:`concordance_index` and :func:`integrated_brier_score` over ``times``
            (default :func:`evaluation_times` of the holdout); the censoring curve of the
            Brier weights comes from the whole holdout.
        range: see the two metrics; ``gap`` is TSTR minus TRTR (ideal 0; a positive
            C-index gap or negative Brier gap means synthetic training did better).
        fools it: a generator that copies training rows matches TRTR exactly.
        source: Esteban, Hyland & Rätsch (2017) for TSTR; survival version as in the
            MCM study.

    Returns a table indexed by ``TRTR`` and ``TSTR`` with ``c_index`` and ``integrated_brier``.
    """
    for df, what in ((train, "train"), (synthetic, "synthetic"), (holdout, "holdout")):
        _check_survival_frame(df, duration, event, what)
    grid = evaluation_times(holdout, duration) if times is None else np.asarray(times, dtype=float)
    scored = holdout if test is None else _check_survival_frame(test, duration, event, "test")
    real_model = CoxModel(duration, event, metadata, penalizer).fit(train)
    syn_model = CoxModel(duration, event, metadata, penalizer, encoder=real_model.encoder_).fit(
        synthetic[list(train.columns)])
    rows = {name: survival_scores(m, scored, grid, censoring=holdout)
            for name, m in (("TRTR", real_model), ("TSTR", syn_model))}
    return pd.DataFrame(rows).T[["c_index", "integrated_brier"]]


def survival_report(
    train: pd.DataFrame,
    synthetic: pd.DataFrame,
    holdout: pd.DataFrame,
    duration: str = "lenfol",
    event: str = "fstat",
    metadata: Metadata | None = None,
) -> pd.DataFrame:
    """Survival utility of a synthetic table as one tidy table.

    Rows: hazard-ratio agreement with the real training fit (mean CI overlap, share
    within the real CI, share with the same sign and significance), with the real
    holdout's own fit as the reference (what new patients would give); C-index and
    integrated Brier score TSTR with the TRTR reference; the largest Kaplan-Meier
    gap to the training curve with the holdout's gap as reference. Columns:
    ``metric, family, value, reference, ideal, interpretation``.
    """
    table = hazard_ratio_table(train, synthetic, duration, event, metadata)
    ref_table = hazard_ratio_table(train, holdout, duration, event, metadata)
    agree, ref = hazard_ratio_agreement(table), hazard_ratio_agreement(ref_table)
    scores = survival_tstr(train, synthetic, holdout, duration, event, metadata)
    rows = [
        ("hazard ratio CI overlap", agree["mean_overlap"], ref["mean_overlap"], 1.0,
         "mean overlap of the 95% intervals, synthetic vs real training fit"),
        ("hazard ratios within real CI", agree["share_within_real_ci"], ref["share_within_real_ci"], 1.0,
         "share of covariates whose synthetic HR falls inside the real 95% interval"),
        ("hazard ratio sign and significance", agree["share_agree"], ref["share_agree"], 1.0,
         "share of covariates with the same direction and the same significance"),
        ("C-index TSTR", scores.loc["TSTR", "c_index"], scores.loc["TRTR", "c_index"], 1.0,
         "ranking of holdout patients by a Cox model trained on synthetic data"),
        ("integrated Brier score TSTR", scores.loc["TSTR", "integrated_brier"],
         scores.loc["TRTR", "integrated_brier"], 0.0, "calibration on the holdout, lower is better"),
        ("Kaplan-Meier max gap", km_max_gap(train, synthetic, duration, event),
         km_max_gap(train, holdout, duration, event), 0.0, "largest distance between survival curves"),
    ]
    return pd.DataFrame(rows, columns=["metric", "value", "reference", "ideal", "interpretation"]).assign(
        family="survival")[["metric", "family", "value", "reference", "ideal", "interpretation"]]
