"""One table of metric cards: name, family, range, best value, direction and meaning.

Every place that needs to know what a metric's best value is, or which way is
better, reads this table: the ``ideal`` column of :func:`~course_utils.evaluation.evaluate`
and of every metric report, the verdicts (``interpretation``), the benchmarks and
the lessons' tables. Adding a metric is one :func:`register_metric` call (the
course's own cards are registered at the bottom of this module); the metric
function's docstring keeps the full card (definition, what fools it, source).

``direction`` says how a value is judged:

- ``"higher"`` / ``"lower"``: closer to ``best`` is better and ``best`` is the end
  of the range;
- ``"target"``: ``best`` is a value inside the range (0.5 for an AUC that should be
  a coin flip) and both sides are worse;
- ``"reference"``: there is no fixed best value; the metric is judged against the
  same metric computed on the real holdout (``best`` is None, ``ideal`` is nan).

``scale`` is ``"difference"`` when a verdict compares distances to ``best`` and
``"ratio"`` when it compares their ratio (pMSE-type metrics, whose size varies by
orders of magnitude between tables).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pandas as pd

FAMILIES = ("fidelity", "detection", "utility", "privacy")
DIRECTIONS = ("higher", "lower", "target", "reference")


@dataclass(frozen=True)
class MetricCard:
    """What the course says about one metric (see the module docstring for the fields)."""

    name: str
    family: str
    low: float
    high: float
    best: float | None
    direction: str
    meaning: str
    scale: str = "difference"

    @property
    def ideal(self) -> float:
        """``best`` as a float (nan when the metric is judged against the holdout only)."""
        return float("nan") if self.best is None else float(self.best)

    @property
    def range(self) -> str:
        """The range as text, e.g. ``"0 to 1"`` or ``"0 to inf"``."""
        def fmt(x: float) -> str:
            return "inf" if math.isinf(x) else f"{x:g}"
        return f"{fmt(self.low)} to {fmt(self.high)}"


_CARDS: dict[str, MetricCard] = {}


def register_metric(card: MetricCard, *, replace: bool = False) -> MetricCard:
    """Add ``card`` to the table; a second card of the same name needs ``replace=True``."""
    if not isinstance(card, MetricCard):
        raise TypeError(f"expected a MetricCard, got {type(card).__name__}")
    if card.family not in FAMILIES:
        raise ValueError(f"metric {card.name!r}: unknown family {card.family!r}; use one of {FAMILIES}")
    if card.direction not in DIRECTIONS:
        raise ValueError(f"metric {card.name!r}: unknown direction {card.direction!r}; use one of {DIRECTIONS}")
    if (card.best is None) != (card.direction == "reference"):
        raise ValueError(f"metric {card.name!r}: a best value goes with every direction but 'reference'")
    if card.name in _CARDS and not replace:
        raise ValueError(f"a metric called {card.name!r} is registered already")
    _CARDS[card.name] = card
    return card


def metric_cards(family: str | None = None) -> list[MetricCard]:
    """Every registered card in registration order, optionally of one ``family``."""
    return [c for c in _CARDS.values() if family is None or c.family == family]


def get_card(name: str) -> MetricCard:
    """The card of ``name``; ``detection_auc_<model>`` finds the ``detection_auc`` card."""
    if name in _CARDS:
        return _CARDS[name]
    if name.startswith("detection_auc_"):
        return _CARDS["detection_auc"]
    raise KeyError(f"no metric card called {name!r}; registered: {sorted(_CARDS)}")


def ideal(name: str) -> float:
    """Best value of metric ``name`` (nan when it is judged against the holdout only)."""
    return get_card(name).ideal


def ideals(names: Any) -> list[float]:
    """:func:`ideal` of each name (for a report's ``ideal`` column)."""
    return [ideal(str(n)) for n in names]


def cards_table(family: str | None = None) -> pd.DataFrame:
    """The cards as a table indexed by metric (for a lesson: ``cards_table("privacy")``)."""
    rows = [{"metric": c.name, "family": c.family, "range": c.range, "best": c.best,
             "direction": c.direction, "meaning": c.meaning} for c in metric_cards(family)]
    return pd.DataFrame(rows, columns=["metric", "family", "range", "best", "direction", "meaning"]
                        ).set_index("metric")


_INF = float("inf")
for _card in (
    # fidelity: per column
    MetricCard("ks_complement", "fidelity", 0, 1, 1.0, "higher",
               "1 - Kolmogorov-Smirnov distance between the real and synthetic distributions of a numeric column"),
    MetricCard("tv_complement", "fidelity", 0, 1, 1.0, "higher",
               "1 - total variation distance between the level frequencies of a discrete column"),
    MetricCard("wasserstein", "fidelity", 0, _INF, 0.0, "lower",
               "earth mover's distance between the two distributions, in units of the real range"),
    MetricCard("missing_rate_diff", "fidelity", 0, 1, 0.0, "lower",
               "absolute difference of the share of missing values"),
    MetricCard("range_coverage", "fidelity", 0, 1, 1.0, "higher",
               "share of the real range that the synthetic values cover"),
    MetricCard("category_coverage", "fidelity", 0, 1, 1.0, "higher",
               "share of the real levels that appear in the synthetic column"),
    # fidelity: per pair
    MetricCard("pearson_similarity", "fidelity", 0, 1, 1.0, "higher",
               "1 - half the absolute difference of the Pearson correlations of a numeric pair"),
    MetricCard("spearman_similarity", "fidelity", 0, 1, 1.0, "higher",
               "1 - half the absolute difference of the Spearman correlations of a numeric pair"),
    MetricCard("contingency_similarity", "fidelity", 0, 1, 1.0, "higher",
               "1 - total variation distance between the two-way tables of a pair (numbers binned)"),
    MetricCard("cramers_v_similarity", "fidelity", 0, 1, 1.0, "higher",
               "1 - absolute difference of Cramer's V of a discrete pair"),
    MetricCard("correlation_ratio_similarity", "fidelity", 0, 1, 1.0, "higher",
               "1 - absolute difference of the correlation ratio of a numeric-discrete pair"),
    # fidelity: whole table
    MetricCard("column_shapes", "fidelity", 0, 1, 1.0, "higher",
               "mean KS / TV complement over the columns"),
    MetricCard("column_pair_trends", "fidelity", 0, 1, 1.0, "higher",
               "mean correlation or contingency similarity over the pairs"),
    MetricCard("quality_score", "fidelity", 0, 1, 1.0, "higher",
               "mean of column shapes and column pair trends (SDMetrics' quality score)"),
    # detection
    MetricCard("detection_auc", "detection", 0, 1, 0.5, "target",
               "ROC AUC of a classifier telling real from synthetic rows; 0.5 = indistinguishable"),
    MetricCard("pmse", "detection", 0, 1, 0.0, "lower",
               "mean squared distance of propensity scores from the synthetic share", scale="ratio"),
    MetricCard("s_pmse", "detection", 0, _INF, 1.0, "target",
               "pMSE over its expected value under indistinguishability; 1 = as by chance", scale="ratio"),
    # utility (TSTR rows: a model trained on synthetic rows, tested on the holdout)
    MetricCard("tstr_auc", "utility", 0, 1, 1.0, "higher", "ROC AUC on the holdout"),
    MetricCard("tstr_accuracy", "utility", 0, 1, 1.0, "higher", "accuracy on the holdout"),
    MetricCard("tstr_f1", "utility", 0, 1, 1.0, "higher", "F1 score on the holdout"),
    MetricCard("tstr_brier", "utility", 0, 1, 0.0, "lower", "Brier score (mean squared error of P(y=1))"),
    MetricCard("tstr_sensitivity", "utility", 0, 1, 1.0, "higher", "share of positive holdout rows found"),
    MetricCard("tstr_specificity", "utility", 0, 1, 1.0, "higher", "share of negative holdout rows found"),
    MetricCard("tstr_r2", "utility", -_INF, 1, 1.0, "higher", "R squared on the holdout"),
    MetricCard("tstr_mae", "utility", 0, _INF, 0.0, "lower", "mean absolute error on the holdout"),
    MetricCard("importance_agreement", "utility", -1, 1, 1.0, "higher",
               "rank correlation of the feature importances of the real- and synthetic-trained models"),
    MetricCard("ci_overlap", "utility", 0, 1, 1.0, "higher",
               "mean overlap of the regression coefficients' confidence intervals"),
    # privacy
    MetricCard("exact_match_rate", "privacy", 0, 1, 0.0, "lower",
               "share of synthetic rows that copy a training row exactly"),
    MetricCard("dcr_median", "privacy", 0, _INF, None, "reference",
               "median distance of a synthetic row to its closest training row"),
    MetricCard("dcr_share_closer_to_train", "privacy", 0, 1, 0.5, "target",
               "size-adjusted share of synthetic rows closer to training than to holdout rows"),
    MetricCard("dcr_p5_ratio", "privacy", 0, _INF, 1.0, "target",
               "5th-percentile DCR of synthetic rows over that of holdout rows; well below 1 flags copies"),
    MetricCard("nndr_mean", "privacy", 0, 1, None, "reference",
               "mean ratio of closest to second-closest training distance"),
    MetricCard("nnaa", "privacy", 0, 1, 0.5, "target",
               "nearest-neighbour adversarial accuracy; 0.5 = indistinguishable, near 0 = copies"),
    MetricCard("nnaa_privacy_loss", "privacy", -1, 1, 0.0, "target",
               "adversarial accuracy against the holdout minus against training"),
    MetricCard("epsilon_identifiability", "privacy", 0, 1, None, "reference",
               "share of training patients with a synthetic row closer than any other patient "
               "(its no-leak level depends on the table sizes)"),
    MetricCard("membership_distance_auc", "privacy", 0, 1, 0.5, "target",
               "ROC AUC of guessing training membership from the distance to the synthetic rows"),
    MetricCard("membership_density_auc", "privacy", 0, 1, 0.5, "target",
               "ROC AUC of guessing training membership from the synthetic density"),
    MetricCard("membership_density_ratio_auc", "privacy", 0, 1, 0.5, "target",
               "ROC AUC of a density-ratio (DOMIAS-like) membership attack"),
    MetricCard("attribute_inference_accuracy", "privacy", 0, 1, None, "reference",
               "accuracy of guessing a sensitive field from key fields"),
    MetricCard("qi_unique_share", "privacy", 0, 1, None, "reference",
               "share of synthetic rows alone in their quasi-identifier group"),
    MetricCard("qi_k_anonymity", "privacy", 1, _INF, None, "reference",
               "smallest quasi-identifier group (k of k-anonymity)"),
    MetricCard("qi_unique_match_share", "privacy", 0, 1, 0.0, "lower",
               "share of synthetic rows unique on the quasi-identifiers and matching one training patient"),
):
    register_metric(_card)
del _card
