"""Utility: can the synthetic table stand in for the real one when fitting a model?

- :class:`TableEncoder` / :func:`encode`: the one encoding used by every model in
  the evaluation package (DataFrames in, a float matrix out).
- :func:`tstr`: train on real (TRTR) and on synthetic (TSTR), test both on the real
  holdout the generator never saw, with paired bootstrap confidence intervals.
- :func:`feature_importance` / :func:`importance_agreement`: do the two models
  rank the predictors alike?
- :func:`ci_overlap`: do logistic (or linear) regression coefficients fitted on
  real and on synthetic data have overlapping confidence intervals?
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.exceptions import NotFittedError
from sklearn.inspection import permutation_importance
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import Pipeline

from ..config import make_rng
from ..encoding import TableEncoding
from ..schema import Metadata
from .cards import ideal
from .fidelity import check_tables, resolve_metadata

# ---------------------------------------------------------------------------------------
# encoding
# ---------------------------------------------------------------------------------------


class TableEncoder(TransformerMixin, BaseEstimator):
    """Encode a mixed-type DataFrame as a float matrix for scikit-learn models.

    The course's one encoding layer (:class:`~course_utils.encoding.TableEncoding`)
    with the models' settings:

    - categorical columns (and text columns) -> one-hot, levels learnt in ``fit``;
      a level unseen in ``fit`` becomes all zeros; ``drop_first=True`` drops the first
      level (needed for unpenalised regression, where a full one-hot set is collinear
      with the intercept);
    - binary, integer and continuous columns -> as they are (standardised when
      ``scale=True``, with the mean and standard deviation learnt in ``fit``);
    - datetime columns -> seconds since 1970 (then as numbers);
    - missing values: numbers are filled with the ``fit`` median, categories are
      treated as "no level"; every column that had a missing value in ``fit`` also
      gets a 0/1 indicator column ``"<column>__missing"``.

    Fitted attributes: ``columns_``, ``encoding_`` (the fitted layer) and ``feature_names_``.
    """

    def __init__(self, metadata: Metadata | None = None, drop_first: bool = False, scale: bool = True):
        self.metadata = metadata
        self.drop_first = drop_first
        self.scale = scale

    def fit(self, X: pd.DataFrame, y: Any = None) -> TableEncoder:
        """Learn levels, fill values and scales from ``X``."""
        if not isinstance(X, pd.DataFrame):
            raise TypeError(f"TableEncoder expects a pandas DataFrame, got {type(X).__name__}")
        if len(X) == 0:
            raise ValueError("TableEncoder: the table has no rows")
        meta = resolve_metadata(X, self.metadata)
        self.encoding_ = TableEncoding(categories="onehot", levels="seen",
                                       numbers="standard" if self.scale else "none", scale_binary=True,
                                       missing="last", indicate="observed", groups="columns",
                                       drop_first=self.drop_first, date_unit="s").fit(X, meta)
        self.columns_ = list(X.columns)
        self.feature_names_ = list(self.encoding_.feature_names_)
        return self

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        """Encode ``X`` (same columns as in ``fit``, any order) as a float64 matrix."""
        if not hasattr(self, "columns_"):
            raise NotFittedError("TableEncoder is not fitted yet; call fit first")
        if not isinstance(X, pd.DataFrame):
            raise TypeError(f"TableEncoder expects a pandas DataFrame, got {type(X).__name__}")
        absent = [c for c in self.columns_ if c not in X.columns]
        if absent:
            raise ValueError(f"column(s) {absent} were seen in fit but are missing here")
        return self.encoding_.transform(X, "table")

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Names of the encoded columns (``"col=level"`` for one-hot, ``"col__missing"``)."""
        if not hasattr(self, "feature_names_"):
            raise NotFittedError("TableEncoder is not fitted yet; call fit first")
        return np.asarray(self.feature_names_, dtype=object)


def encode(df: pd.DataFrame, metadata: Metadata | None = None, drop_first: bool = False, scale: bool = True) -> pd.DataFrame:
    """Encode a mixed table as numbers (see :class:`TableEncoder`), as a labelled DataFrame."""
    enc = TableEncoder(metadata, drop_first=drop_first, scale=scale).fit(df)
    return pd.DataFrame(enc.transform(df), columns=enc.feature_names_, index=df.index)


# ---------------------------------------------------------------------------------------
# models
# ---------------------------------------------------------------------------------------


def _task(y: pd.Series, task: str) -> str:
    if task in ("classification", "regression"):
        return task
    if task != "auto":
        raise ValueError(f"task must be 'auto', 'classification' or 'regression', got {task!r}")
    if isinstance(y.dtype, pd.CategoricalDtype) or not pd.api.types.is_numeric_dtype(y.dtype) or y.nunique() <= 10:
        return "classification"
    return "regression"


def make_model(model: str | BaseEstimator, task: str, metadata: Metadata | None = None, random_state: int = 0) -> Pipeline:
    """A ``Pipeline(TableEncoder, estimator)`` for ``"logistic"`` (linear), ``"gbm"`` or an estimator."""
    if isinstance(model, str):
        if model in ("logistic", "linear"):
            est = LogisticRegression(max_iter=2000) if task == "classification" else LinearRegression()
        elif model == "gbm":
            cls = HistGradientBoostingClassifier if task == "classification" else HistGradientBoostingRegressor
            est = cls(max_iter=100, random_state=random_state)
        else:
            raise ValueError(f"model must be 'logistic', 'gbm' or a scikit-learn estimator, got {model!r}")
    elif hasattr(model, "fit"):
        est = clone(model)
    else:
        raise TypeError(f"model must be a string or a scikit-learn estimator, got {type(model).__name__}")
    return Pipeline([("encode", TableEncoder(metadata)), ("model", est)])


def _split_xy(df: pd.DataFrame, target: str, name: str) -> tuple[pd.DataFrame, pd.Series]:
    if target not in df.columns:
        raise ValueError(f"target column {target!r} is not in the {name} table")
    y = df[target]
    if y.isna().any():
        raise ValueError(f"target column {target!r} has missing values in the {name} table")
    return df.drop(columns=[target]), y


def _check_classes(y: pd.Series, target: str, name: str) -> None:
    if y.nunique() < 2:
        raise ValueError(
            f"target column {target!r} has a single class ({y.iloc[0]!r}) in the {name} table, "
            "so no classifier can be trained on it"
        )


def _auc(y: np.ndarray, score: np.ndarray) -> float:
    """ROC AUC through the Mann-Whitney U statistic (ties count one half)."""
    pos = int(y.sum())
    neg = len(y) - pos
    if pos == 0 or neg == 0:
        return float("nan")
    ranks = stats.rankdata(score)
    return float((ranks[y == 1].sum() - pos * (pos + 1) / 2) / (pos * neg))


def _scores(task: str, y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """Metric values on one (resampled) test set; ``pred`` is P(y = 1) or the prediction.

    Written with NumPy rather than ``sklearn.metrics`` because the bootstrap calls it
    hundreds of times (same definitions; tested against scikit-learn).
    """
    if task == "regression":
        resid = y - pred
        ss_tot = ((y - y.mean()) ** 2).sum()
        r2 = 1.0 - (resid**2).sum() / ss_tot if ss_tot > 0 else float("nan")
        return {"r2": float(r2), "mae": float(np.abs(resid).mean())}
    hard = (pred >= 0.5).astype(int)
    tp = int(np.sum((hard == 1) & (y == 1)))
    tn = int(np.sum((hard == 0) & (y == 0)))
    fp = int(np.sum((hard == 1) & (y == 0)))
    fn = int(np.sum((hard == 0) & (y == 1)))
    pos, neg = tp + fn, tn + fp
    return {
        "auc": _auc(y, pred),
        "accuracy": (tp + tn) / len(y),
        "f1": 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0,
        "brier": float(np.mean((pred - y) ** 2)),
        "sensitivity": tp / pos if pos else float("nan"),
        "specificity": tn / neg if neg else float("nan"),
    }


def tstr(
    train: pd.DataFrame,
    synthetic: pd.DataFrame,
    holdout: pd.DataFrame,
    target: str,
    model: str | BaseEstimator = "logistic",
    task: str = "auto",
    metadata: Metadata | None = None,
    n_bootstrap: int = 200,
    confidence: float = 0.95,
    random_state: int | None = 0,
) -> pd.DataFrame:
    """Train on real vs train on synthetic, both tested on the real holdout.

    Metric card:
        definition: fit the same model on ``train`` (TRTR) and on ``synthetic`` (TSTR),
            predict the ``holdout``; classification (binary target): ROC AUC, accuracy,
            F1, Brier score, sensitivity, specificity at a 0.5 threshold; regression:
            R2 and MAE. Confidence intervals: percentile bootstrap over holdout rows
            (``n_bootstrap`` resamples of the test predictions, the same resample for
            both models, so the difference TSTR - TRTR gets a paired interval).
        range: per metric. Ideal: TSTR equal to TRTR (difference 0).
        fools it: a synthetic table that copies the training rows reaches TRTR exactly;
            a strong signal in one predictor can give good TSTR while the rest of the
            table is poor. The holdout must be data the generator never saw.
        source: Esteban, Hyland & Rätsch (2017), "Real-valued (medical) time series
            generation with recurrent conditional GANs" (TSTR); Beaulieu-Jones et al. (2019).

    Returns a tidy DataFrame: ``metric, trained_on ("real", "synthetic", "difference"),
    value, ci_low, ci_high, ideal`` (ideal of the difference is 0).
    """
    train, synthetic = check_tables(train, synthetic, ("train", "synthetic"))
    train, holdout = check_tables(train, holdout, ("train", "holdout"))
    X_r, y_r = _split_xy(train, target, "train")
    X_s, y_s = _split_xy(synthetic, target, "synthetic")
    X_h, y_h = _split_xy(holdout, target, "holdout")
    task = _task(y_r, task)
    meta = resolve_metadata(X_r, metadata.select(X_r.columns) if metadata is not None else None)
    positive = None
    if task == "classification":
        for y, name in ((y_r, "train"), (y_s, "synthetic"), (y_h, "holdout")):
            _check_classes(y, target, name)
        classes = sorted(pd.unique(y_r), key=str)
        if len(classes) > 2:
            raise ValueError(
                f"target column {target!r} has {len(classes)} classes; tstr supports binary "
                "classification and regression (recode the target, e.g. one class vs the rest)"
            )
        positive = classes[-1]
    rng = make_rng(random_state)
    seed = int(rng.integers(0, 2**31 - 1))
    preds = {}
    for name, (X, y) in {"real": (X_r, y_r), "synthetic": (X_s, y_s)}.items():
        pipe = make_model(model, task, meta, random_state=seed)
        if task == "classification":
            pipe.fit(X, (y == positive).astype(int))
            preds[name] = pipe.predict_proba(X_h)[:, 1]
        else:
            pipe.fit(X, y.astype(float))
            preds[name] = pipe.predict(X_h)
    y_test = (y_h == positive).to_numpy(dtype=int) if task == "classification" else y_h.to_numpy(dtype=float)
    point = {k: _scores(task, y_test, p) for k, p in preds.items()}
    n = len(y_test)
    boots: dict[str, list[dict[str, float]]] = {"real": [], "synthetic": []}
    for _ in range(n_bootstrap):
        idx = rng.integers(0, n, size=n)
        for k, p in preds.items():
            boots[k].append(_scores(task, y_test[idx], p[idx]))
    alpha = (1 - confidence) / 2
    rows = []
    for metric in point["real"]:
        b = {k: np.array([d[metric] for d in boots[k]], dtype=float) for k in boots}
        b["difference"] = b["synthetic"] - b["real"]
        vals = {"real": point["real"][metric], "synthetic": point["synthetic"][metric]}
        vals["difference"] = vals["synthetic"] - vals["real"]
        for k in ("real", "synthetic", "difference"):
            lo, hi = (np.nanquantile(b[k], [alpha, 1 - alpha]) if n_bootstrap and np.isfinite(b[k]).any()
                      else (np.nan, np.nan))
            rows.append({"metric": metric, "trained_on": k, "value": vals[k], "ci_low": float(lo),
                         "ci_high": float(hi), "ideal": 0.0 if k == "difference" else ideal(f"tstr_{metric}")})
    return pd.DataFrame(rows)


def feature_importance(
    train: pd.DataFrame,
    synthetic: pd.DataFrame,
    holdout: pd.DataFrame,
    target: str,
    model: str | BaseEstimator = "logistic",
    task: str = "auto",
    metadata: Metadata | None = None,
    n_repeats: int = 5,
    max_rows: int = 2000,
    random_state: int | None = 0,
) -> pd.DataFrame:
    """Permutation importance of every predictor for a model trained on real and on synthetic.

    Both models are scored on the real holdout (at most ``max_rows`` rows, sampled with
    ``random_state``); a predictor's importance is the drop in ROC AUC (classification)
    or R2 (regression) when its column is shuffled. Returns one row per predictor:
    ``feature, importance_real, importance_synthetic, rank_real, rank_synthetic``
    (rank 1 = most important). :func:`importance_agreement` gives their Spearman
    correlation.
    """
    train, synthetic = check_tables(train, synthetic, ("train", "synthetic"))
    train, holdout = check_tables(train, holdout, ("train", "holdout"))
    X_r, y_r = _split_xy(train, target, "train")
    X_s, y_s = _split_xy(synthetic, target, "synthetic")
    task = _task(y_r, task)
    meta = resolve_metadata(X_r, metadata.select(X_r.columns) if metadata is not None else None)
    rng = make_rng(random_state)
    if len(holdout) > max_rows:
        holdout = holdout.iloc[np.sort(rng.choice(len(holdout), max_rows, replace=False))]
    X_h, y_h = _split_xy(holdout, target, "holdout")
    seed = int(rng.integers(0, 2**31 - 1))
    out = {}
    if task == "classification":
        _check_classes(y_r, target, "train")
        _check_classes(y_s, target, "synthetic")
        positive = sorted(pd.unique(y_r), key=str)[-1]
        ys = {"real": (y_r == positive).astype(int), "synthetic": (y_s == positive).astype(int)}
        y_test = (y_h == positive).astype(int)
        scoring = "roc_auc"
    else:
        ys = {"real": y_r.astype(float), "synthetic": y_s.astype(float)}
        y_test = y_h.astype(float)
        scoring = "r2"
    for name, X in (("real", X_r), ("synthetic", X_s)):
        pipe = make_model(model, task, meta, random_state=seed).fit(X, ys[name])
        res = permutation_importance(pipe, X_h, y_test, scoring=scoring, n_repeats=n_repeats, random_state=seed)
        out[name] = res.importances_mean
    table = pd.DataFrame({"feature": list(X_h.columns), "importance_real": out["real"],
                          "importance_synthetic": out["synthetic"]})
    table["rank_real"] = table["importance_real"].rank(ascending=False, method="average")
    table["rank_synthetic"] = table["importance_synthetic"].rank(ascending=False, method="average")
    return table


def importance_agreement(table: pd.DataFrame) -> float:
    """Spearman rank correlation of real vs synthetic importances from :func:`feature_importance`.

    Metric card:
        definition: Spearman's rho between the permutation importances of the
            predictors for a model trained on real and one trained on synthetic data.
        range: -1 to 1. Ideal: 1 (same ordering of predictors).
        fools it: with many useless predictors the ranks of the noise dominate; with
            few predictors rho jumps in large steps.
        source: common practice in synthetic-data utility studies (e.g. Yale et al. 2020).
    """
    if len(table) < 2:
        return float("nan")
    rho = stats.spearmanr(table["importance_real"], table["importance_synthetic"]).statistic
    return float(rho)


# ---------------------------------------------------------------------------------------
# regression coefficients
# ---------------------------------------------------------------------------------------


def _wald_fit(X: np.ndarray, y: np.ndarray, task: str) -> tuple[np.ndarray, np.ndarray]:
    """Coefficients (intercept first) and their standard errors, unpenalised."""
    Xd = np.hstack([np.ones((len(X), 1)), X])
    if task == "classification":
        m = LogisticRegression(C=np.inf, max_iter=5000, tol=1e-8).fit(X, y)
        beta = np.concatenate([m.intercept_, m.coef_.ravel()])
        p = 1.0 / (1.0 + np.exp(-(Xd @ beta)))
        hessian = Xd.T @ (Xd * (p * (1 - p))[:, None])
        cov = np.linalg.pinv(hessian)
    else:
        beta, *_ = np.linalg.lstsq(Xd, y, rcond=None)
        resid = y - Xd @ beta
        dof = max(len(y) - Xd.shape[1], 1)
        cov = np.linalg.pinv(Xd.T @ Xd) * (resid @ resid / dof)
    se = np.sqrt(np.clip(np.diag(cov), 0, None))
    # a predictor that is constant in this table has no information: say so with NaN
    const = np.concatenate([[False], X.std(axis=0) == 0])
    se[const] = np.nan
    beta = np.where(const, np.nan, beta)
    return beta, se


def ci_overlap(
    real: pd.DataFrame,
    synthetic: pd.DataFrame,
    target: str,
    task: str = "auto",
    metadata: Metadata | None = None,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Overlap of regression-coefficient confidence intervals, real fit vs synthetic fit.

    Metric card:
        definition: fit the same unpenalised logistic (binary target) or linear
            regression on both tables, predictors encoded by a :class:`TableEncoder`
            fitted on the real table (numbers standardised, first level dropped); Wald
            intervals ``b ± z·se`` with ``se`` from the inverse Hessian (logistic) or
            ``sigma²(X'X)^-1`` (linear). For each coefficient with real interval
            ``[L_o, U_o]`` and synthetic interval ``[L_s, U_s]`` the overlap is
            ``0.5 * (w / (U_o - L_o) + w / (U_s - L_s))`` with
            ``w = min(U_o, U_s) - max(L_o, L_s)``. Also reported:
            ``std_diff = |b_s - b_o| / se_o``.
        range: negative (intervals far apart) to 1. Ideal: 1 (identical intervals);
            an independent real sample of the same size gives about 0.6 to 0.8.
        fools it: wide intervals (small or noisy synthetic data) overlap easily; only
            the chosen model's associations are checked.
        source: Karr, Kohnen, Oganian, Reiter & Sanil (2006), "A framework for
            evaluating the utility of data altered to protect confidentiality",
            The American Statistician 60(3); synthpop's ``compare.fit``.

    Returns one row per coefficient: ``term, coef_real, se_real, coef_synthetic,
    se_synthetic, ci_low_real, ci_high_real, ci_low_synthetic, ci_high_synthetic,
    overlap, std_diff``.
    """
    real, synthetic = check_tables(real, synthetic, ("real", "synthetic"))
    X_r, y_r = _split_xy(real, target, "real")
    X_s, y_s = _split_xy(synthetic, target, "synthetic")
    task = _task(y_r, task)
    meta = resolve_metadata(X_r, metadata.select(X_r.columns) if metadata is not None else None)
    enc = TableEncoder(meta, drop_first=True, scale=True).fit(X_r)
    fits = {}
    if task == "classification":
        classes = sorted(pd.unique(y_r), key=str)
        if len(classes) != 2:
            raise ValueError(f"target column {target!r} must have two classes for logistic regression, found {len(classes)}")
        _check_classes(y_s, target, "synthetic")
        ys = {"real": (y_r == classes[1]).astype(int).to_numpy(), "synthetic": (y_s == classes[1]).astype(int).to_numpy()}
    else:
        ys = {"real": y_r.to_numpy(dtype=float), "synthetic": y_s.to_numpy(dtype=float)}
    for name, X in (("real", X_r), ("synthetic", X_s)):
        fits[name] = _wald_fit(enc.transform(X), ys[name], task)
    z = stats.norm.ppf(0.5 + confidence / 2)
    (b_o, se_o), (b_s, se_s) = fits["real"], fits["synthetic"]
    lo_o, hi_o, lo_s, hi_s = b_o - z * se_o, b_o + z * se_o, b_s - z * se_s, b_s + z * se_s
    with np.errstate(divide="ignore", invalid="ignore"):
        w = np.minimum(hi_o, hi_s) - np.maximum(lo_o, lo_s)
        overlap = 0.5 * (w / (hi_o - lo_o) + w / (hi_s - lo_s))
        std_diff = np.abs(b_s - b_o) / se_o
    return pd.DataFrame({
        "term": ["(intercept)"] + list(enc.feature_names_),
        "coef_real": b_o, "se_real": se_o, "coef_synthetic": b_s, "se_synthetic": se_s,
        "ci_low_real": lo_o, "ci_high_real": hi_o, "ci_low_synthetic": lo_s, "ci_high_synthetic": hi_s,
        "overlap": overlap, "std_diff": std_diff,
    })
