"""Every privacy metric as one tidy table: :func:`privacy_report` (and :func:`privacy_rows` for a context)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ...config import make_rng
from ...schema import Metadata
from ..cards import get_card
from ..context import EvaluationContext, check_max_rows
from .distance import MAX_ROWS, _dcr_result, _nnaa_result, _nndr_result
from .identifiability import _identifiability_risk
from .inference import MAX_ROWS_DENSITY, _membership_aucs, attribute_inference
from .matching import _exact_rates
from .quasi_identifiers import quasi_identifier_uniqueness

COLUMNS = ["metric", "family", "column", "value", "ideal", "reference", "interpretation"]
_NAN = float("nan")


def privacy_report(
    train: pd.DataFrame,
    synthetic: pd.DataFrame,
    holdout: pd.DataFrame,
    metadata: Metadata | None = None,
    random_state: int | np.random.Generator | None = 0,
    quasi_identifiers: list[str] | None = None,
    sensitive: str | None = None,
    n_repeats: int = 5,
    max_rows: int | None = MAX_ROWS,
    n_jobs: int | None = None,
) -> pd.DataFrame:
    """Every privacy metric of this package as one tidy table.

    Columns: ``metric``, ``family`` ("privacy"), ``column`` (None, or the columns a
    metric is about), ``value``, ``ideal`` (from the metric's card), ``reference`` (the
    same metric with the real holdout in the synthetic role where that is meaningful,
    else nan) and ``interpretation`` (one sentence). ``quasi_identifiers`` (default:
    three columns drawn with ``random_state``) are the keys of the uniqueness and
    attribute-inference rows; without ``sensitive``, attribute inference averages
    ``2 * n_repeats`` random key/sensitive draws. See each function's metric card for
    definitions.

    Cost: every nearest-neighbour search between two whole tables is done once and
    shared by the metrics that need it (exact blocked brute force, see
    :func:`course_utils.evaluation.distances.nearest_distances`), on ``n_jobs``
    threads (``None``: as many as numpy's BLAS may use). Exact matches, DCR, NNDR,
    epsilon-identifiability and the distance membership attack use every row; NNAA and
    attribute inference use at most ``max_rows`` rows per table (default
    :data:`MAX_ROWS` = 10,000; None: every row) and the density membership attacks at
    most ``min(max_rows, 5000)``, random subsamples of ``random_state`` (the
    interpretation of a capped row says so). Tables below the caps are not subsampled.
    """
    if holdout is None:
        raise ValueError("privacy is judged against a holdout: pass real patients the generator never saw")
    rng = make_rng(random_state)
    check_max_rows(max_rows)
    ctx = EvaluationContext(train, synthetic, holdout, metadata, n_jobs=n_jobs)
    return privacy_rows(ctx, rng, quasi_identifiers, sensitive, n_repeats, max_rows)


def privacy_rows(
    ctx: EvaluationContext,
    random_state: int | np.random.Generator | None = 0,
    quasi_identifiers: list[str] | None = None,
    sensitive: str | None = None,
    n_repeats: int = 5,
    max_rows: int | None = MAX_ROWS,
) -> pd.DataFrame:
    """The rows of :func:`privacy_report` from an evaluation context (``evaluate()`` passes its own)."""
    if ctx.holdout is None:
        raise ValueError("privacy is judged against a holdout: pass real patients the generator never saw")
    check_max_rows(max_rows)
    seeds = make_rng(random_state).integers(0, 2**31 - 1, size=4)
    rows = _Rows()
    _distance_rows(rows, ctx, n_repeats, int(seeds[0]), max_rows)
    _attack_rows(rows, ctx, int(seeds[1]), max_rows)
    _quasi_identifier_rows(rows, ctx, quasi_identifiers, sensitive, n_repeats, seeds[2:], max_rows)
    return pd.DataFrame(rows.rows, columns=COLUMNS)


class _Rows:
    """Collects report rows; each row's best value comes from its metric card."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def add(self, metric: str, value: float, reference: float, text: str, column: str | None = None,
            ideal: float | None = None) -> None:
        # the card's best value, unless it depends on the table sizes (epsilon-identifiability)
        best = get_card(metric).ideal if ideal is None else ideal
        self.rows.append({"metric": metric, "family": "privacy", "column": column, "value": float(value),
                          "ideal": float(best), "reference": float(reference), "interpretation": text})


def _capped(cap: int | None, *sizes: int) -> str:
    """The note of a row estimated on a random subsample (empty when nothing was capped)."""
    if cap is None or max(sizes) <= cap:
        return ""
    return f" (estimated on {cap:,} random rows per table)"


def _distance_rows(rows: _Rows, ctx: EvaluationContext, n_repeats: int, seed: int, max_rows: int | None) -> None:
    ex = _exact_rates(ctx)
    rows.add("exact_match_rate", ex["synthetic"], ex["holdout"],
             f"{ex['synthetic']:.1%} of synthetic rows copy a training row exactly "
             f"(new real patients: {ex['holdout']:.1%}).")
    # the two nearest training rows serve DCR and NNDR: one search each, not two
    ctx.nearest("S", "T", 2)
    ctx.nearest("H", "T", 2)
    d = _dcr_result(ctx)
    med_s, med_h = float(np.median(d.synthetic_to_train)), float(np.median(d.holdout_to_train))
    rows.add("dcr_median", med_s, med_h,
             "Median distance of a synthetic row to its closest training row; smaller than the holdout's "
             "means synthetic rows hug training patients." if med_s < med_h else
             "Median distance of a synthetic row to its closest training row is no smaller than for new real "
             "patients.")
    rows.add("dcr_share_closer_to_train", d.share_closer_to_train, _NAN,
             f"Size-adjusted share of synthetic rows closer to training than to holdout patients "
             f"({d.share_closer_to_train:.2f}; 0.5 = no more than chance, 1 = copies).")
    rows.add("dcr_p5_ratio", d.p5_ratio, _NAN,
             "5th-percentile DCR of synthetic rows over that of holdout rows; well below 1 flags near copies.")
    nd = _nndr_result(ctx)
    rows.add("nndr_mean", nd["synthetic_mean"], nd["holdout_mean"],
             "Mean ratio of closest to second-closest training distance; lower than the holdout's means "
             "synthetic rows single out individual patients.")
    # the membership attack needs these anyway; NNAA reuses them
    ctx.nearest("T", "S")
    ctx.nearest("H", "S")
    aa = _nnaa_result(ctx, n_repeats, seed, max_rows)
    note = _capped(max_rows, len(ctx.T), len(ctx.S), len(ctx.H))
    rows.add("nnaa", aa["train_synthetic"], aa["train_holdout"],
             "Nearest-neighbour adversarial accuracy: 0.5 = indistinguishable, near 0 = copies, near 1 = "
             f"easy to tell apart{note}.")
    rows.add("nnaa_privacy_loss", aa["privacy_loss"], _NAN,
             "Adversarial accuracy against the holdout minus against training; above 0 means the synthetic "
             f"data fit training patients better than new ones{note}.")
    eps = _identifiability_risk(ctx)
    rows.add("epsilon_identifiability", eps["synthetic"], eps["holdout_rescaled"],
             f"{eps['synthetic']:.1%} of training patients have a synthetic row closer than any other patient "
             f"(a generator of fresh patients: about {eps['expected']:.1%}).", ideal=eps["expected"])


def _attack_rows(rows: _Rows, ctx: EvaluationContext, seed: int, max_rows: int | None) -> None:
    cap = MAX_ROWS_DENSITY if max_rows is None else min(MAX_ROWS_DENSITY, int(max_rows))
    mia = _membership_aucs(ctx, cap, seed)
    note = _capped(cap, len(ctx.T), len(ctx.S), len(ctx.H))
    rows.add("membership_distance_auc", mia["distance_auc"], _NAN,
             "ROC AUC of guessing training membership from the distance to the synthetic data; 0.5 = coin flip.")
    rows.add("membership_density_auc", mia["density_auc"], _NAN,
             "ROC AUC of guessing training membership from the synthetic data's density at the record; "
             f"0.5 = coin flip{note}.")
    rows.add("membership_density_ratio_auc", mia["density_ratio_auc"], _NAN,
             "ROC AUC of a density-ratio (DOMIAS-like) membership attack: synthetic versus real-population "
             f"density; 0.5 = coin flip{note}.")


def _quasi_identifier_rows(rows: _Rows, ctx: EvaluationContext, quasi_identifiers: list[str] | None,
                           sensitive: str | None, n_repeats: int, seeds: np.ndarray,
                           max_rows: int | None) -> None:
    meta = ctx.encoder.metadata_
    names = list(meta.names)
    if quasi_identifiers is not None:
        qis = list(quasi_identifiers)
    else:
        drawn = make_rng(int(seeds[0])).choice(len(names), min(3, len(names)), replace=False)
        qis = [names[i] for i in np.sort(drawn)]
    if len(names) >= 2:
        keys = qis if sensitive is not None or quasi_identifiers is not None else None
        if keys is not None and sensitive is not None and sensitive in keys:
            keys = [c for c in keys if c != sensitive]
        ai = attribute_inference(ctx.train, ctx.synthetic, ctx.holdout, keys=keys or None, sensitive=sensitive,
                                 n_repeats=2 * n_repeats, metadata=meta, random_state=int(seeds[1]),
                                 max_rows=max_rows)
        note = _capped(max_rows, len(ctx.T)).replace("rows per table", "training patients")
        rows.add("attribute_inference_accuracy", ai["synthetic_accuracy"].mean(), ai["holdout_accuracy"].mean(),
                 "Accuracy of guessing a sensitive field from key fields with the synthetic data; the reference "
                 f"uses real holdout patients, so the difference is the leakage{note}.",
                 column=None if keys is None or sensitive is None else f"{', '.join(map(str, keys))} -> {sensitive}")
    qu = quasi_identifier_uniqueness(ctx.train, ctx.synthetic, qis, ctx.holdout, metadata=meta)
    qcol = ", ".join(map(str, qis))
    rows.add("qi_unique_share", qu.loc["synthetic", "unique_share"], qu.loc["holdout", "unique_share"],
             "Share of synthetic rows alone in their quasi-identifier group.", column=qcol)
    rows.add("qi_k_anonymity", qu.loc["synthetic", "k_anonymity"], qu.loc["holdout", "k_anonymity"],
             "Smallest quasi-identifier group in the synthetic table (k of k-anonymity).", column=qcol)
    rows.add("qi_unique_match_share", qu.loc["synthetic", "unique_match_share"],
             qu.loc["holdout", "unique_match_share"],
             "Share of synthetic rows unique on the quasi-identifiers whose combination belongs to exactly "
             "one training patient.", column=qcol)
