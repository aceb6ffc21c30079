"""Epsilon-identifiability (Yoon et al. 2020): is a synthetic row closer to a patient than any other patient?"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import entropy as _entropy

from ...schema import Metadata, infer_metadata
from ..context import ATOL, RTOL, EvaluationContext, need_rows, rescale_share
from ..distances import check_frame


def entropy_weights(train: pd.DataFrame, metadata: Metadata | None = None) -> dict[str, float]:
    """``{column or one-hot group: 1 / entropy}`` of the training values (natural log).

    Missing is one more value; a one-hot group is one variable. As in Yoon et al.
    (2020), columns with few, unevenly used values (low entropy, e.g. a rare flag)
    get large weights and columns where nearly every patient differs (high entropy,
    e.g. a continuous measurement) small ones. A constant column (entropy 0) gets the
    largest weight of the other columns rather than an infinite one.
    """
    check_frame(train, "training table")
    meta = infer_metadata(train) if metadata is None else metadata
    ent: dict[str, float] = {}
    grouped: set[str] = set()
    for group, members in meta.one_hot_groups.items():
        keys = train[members].astype(str).agg("|".join, axis=1)
        ent[group] = float(_entropy(keys.value_counts(dropna=False).to_numpy()))
        grouped.update(members)
    for name in meta.names:
        if name in grouped:
            continue
        counts = train[name].astype(object).where(train[name].notna(), "<missing>").value_counts()
        ent[name] = float(_entropy(counts.to_numpy()))
    positive = [h for h in ent.values() if h > 0]
    w = {c: (1.0 / h if h > 0 else np.nan) for c, h in ent.items()}
    top = max((1.0 / h for h in positive), default=1.0)
    return {c: (top if np.isnan(v) else v) for c, v in w.items()}


def epsilon_identifiability(
    train: pd.DataFrame,
    synthetic: pd.DataFrame,
    holdout: pd.DataFrame | None = None,
    metadata: Metadata | None = None,
) -> dict[str, float]:
    """Epsilon-identifiability risk (Yoon et al. 2020, ADS-GAN).

    Metric card:
        Definition: with each column weighted by ``1 / entropy`` of its training values
            (:func:`entropy_weights`; coordinates multiplied by the weight), let ``r_i``
            be the distance from training row i to its closest *other* training row and
            ``r̂_i`` its distance to the closest synthetic row. The risk is the share of
            training rows with ``r̂_i < r_i`` (strict, as in the paper): a synthetic row
            is closer to the patient than any other real patient, so it may identify
            them. The reference is the same share with the holdout as the "synthetic"
            table, rescaled (odds) to the synthetic table's size.
        Range: 0 to 1, lower is more private. It depends on the table sizes: a
            generator of fresh patients scores about ``n_S / (n_S + n_T - 1)``
            (returned as ``expected``; 0.5 when the synthetic table has as many rows as
            the training table). Yoon et al. call the data epsilon-identifiable when the
            risk is below epsilon; compare with ``expected`` and the holdout reference.
        What fools it: a larger synthetic table raises it without any leak (hence
            ``expected``); duplicated training patients (``r_i = 0``) can never count.
        Source: Yoon, Drumright, van der Schaar (2020), Anonymization through data
            synthesis using generative adversarial networks (ADS-GAN), IEEE JBHI 24(8);
            the ``IdentifiabilityScore`` of synthcity.

    Returns ``{"synthetic": risk, "expected": no-leak level, "holdout": raw holdout
    risk or nan, "holdout_rescaled": holdout risk at the synthetic size or nan}``.
    """
    ctx = EvaluationContext(train, synthetic, holdout, metadata)
    return _identifiability_risk(ctx)


def _identifiability_risk(ctx: EvaluationContext) -> dict[str, float]:
    weights = entropy_weights(ctx.train, ctx.encoder.metadata_)
    # each column's coordinates are linear in its weight, so reweighting the encoded
    # tables equals encoding with MixedEncoder(weights=...)
    factor = np.ones(ctx.encoder.n_features_)
    for code in ctx.encoder.codes_:
        factor[code.start:code.end] = weights[code.name]
    T = ctx.T * factor
    S = ctx.S * factor
    n_t = len(T)
    need_rows(T, 2, "training")
    r = ctx.search(T, T, exclude_self=True)[0][:, 0]
    r_hat = ctx.search(T, S)[0][:, 0]
    risk = float(np.mean((r_hat < r) & ~np.isclose(r_hat, r, rtol=RTOL, atol=ATOL)))
    expected = len(S) / (len(S) + n_t - 1)
    out = {"synthetic": risk, "expected": expected, "holdout": float("nan"), "holdout_rescaled": float("nan")}
    if ctx.H is not None:
        H = ctx.H * factor
        r_h = ctx.search(T, H)[0][:, 0]
        h_risk = float(np.mean((r_h < r) & ~np.isclose(r_h, r, rtol=RTOL, atol=ATOL)))
        out["holdout"] = h_risk
        out["holdout_rescaled"] = rescale_share(h_risk, len(H) / (len(H) + n_t - 1), expected)
    return out
