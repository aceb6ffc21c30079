"""Evaluate synthetic tables: fidelity, distinguishability, utility and privacy.

Start with :func:`evaluate` (one tidy table with a holdout reference for every
metric) and :func:`summary`; each metric also has its own function with a "metric
card" docstring (definition, range, ideal value, what fools it, source), and
:func:`cards_table` lists every metric's range, best value and direction in one table
(:mod:`.cards`, the one place that says which value is best).
"""

from .cards import MetricCard, cards_table, get_card, metric_cards, register_metric
from .closeness import closeness_filter, nearest_real_distance
from .detection import detection_auc, pmse, pmse_report, propensity_scores, s_pmse
from .fidelity import (
    association_matrix,
    category_coverage,
    column_metrics,
    column_types,
    contingency_similarity,
    correlation_similarity,
    fidelity_report,
    ks_complement,
    missing_rate_diff,
    pair_metrics,
    quality_score,
    range_coverage,
    tv_complement,
    wasserstein,
)
from .privacy import (
    attribute_inference,
    dcr,
    epsilon_identifiability,
    exact_match_rate,
    membership_inference,
    nnaa,
    nndr,
    privacy_report,
)
from .report import evaluate, summary
from .survival import (
    CoxModel,
    concordance_index,
    hazard_ratio_agreement,
    hazard_ratio_table,
    integrated_brier_score,
    kaplan_meier,
    km_max_gap,
    survival_report,
    survival_tstr,
)
from .tables import check_holdout, holdout_overlap
from .utility import (
    TableEncoder,
    ci_overlap,
    encode,
    feature_importance,
    importance_agreement,
    tstr,
)

__all__ = [
    "CoxModel",
    "concordance_index",
    "hazard_ratio_agreement",
    "hazard_ratio_table",
    "integrated_brier_score",
    "kaplan_meier",
    "km_max_gap",
    "survival_report",
    "survival_tstr",
    "MetricCard",
    "cards_table",
    "closeness_filter",
    "nearest_real_distance",
    "get_card",
    "metric_cards",
    "register_metric",
    "TableEncoder",
    "attribute_inference",
    "dcr",
    "epsilon_identifiability",
    "exact_match_rate",
    "membership_inference",
    "nnaa",
    "nndr",
    "privacy_report",
    "association_matrix",
    "category_coverage",
    "check_holdout",
    "ci_overlap",
    "column_metrics",
    "column_types",
    "contingency_similarity",
    "correlation_similarity",
    "detection_auc",
    "encode",
    "evaluate",
    "feature_importance",
    "fidelity_report",
    "holdout_overlap",
    "importance_agreement",
    "ks_complement",
    "missing_rate_diff",
    "pair_metrics",
    "pmse",
    "pmse_report",
    "propensity_scores",
    "quality_score",
    "range_coverage",
    "s_pmse",
    "summary",
    "tstr",
    "tv_complement",
    "wasserstein",
]
