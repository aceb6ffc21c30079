"""A release report as one self-contained HTML page: the verdict first, then the evidence.

:func:`release_verdict` applies the course's release rules to an :func:`~course_utils.
evaluation.evaluate` report; :func:`render_html` writes the page (figures embedded as
PNG data, no script, no network). The rules are a screen, not a guarantee: passing
them means no attack of lesson 04 found a leak and the table is as useful as the
course can measure; it does not make the table anonymous (see docs/governance.md).
"""

from __future__ import annotations

import base64
import html
import io
from dataclasses import dataclass

import pandas as pd

# The thresholds of the release rules; the generator benchmark's target reads the same ones.
MARGIN = 0.02  # quality and TSTR: at most this far below the real reference
DETECTION_MAX = 0.60
DETECTION_MIN = 0.40  # below it, a classifier finds the rows too close to the training rows
DCR_SHARE_MAX = 0.55
MEMBERSHIP_AUC_MAX = 0.55

RULES = {
    "quality_score": "fidelity: quality score (size-matched) at most 0.02 below the real holdout's",
    "detection_auc_gbm": "detection: gradient-boosting AUC at most 0.60 (and not below 0.40, the sign of near copies)",
    "tstr_auc": "utility: TSTR AUC at most 0.02 below TRTR",
    "exact_match_rate": "privacy: no more exact copies of training rows than new real patients have",
    "dcr_share_closer_to_train": "privacy: DCR share at most 0.55 (0.5 = no closer to training than new patients)",
    "membership_distance_auc": "privacy: membership-inference AUC at most 0.55",
}
"""The release rules, by the :func:`evaluate` metric each one reads."""


@dataclass
class Check:
    """One release rule applied: which metric, its value and reference, and whether it passed."""

    metric: str
    rule: str
    value: float
    reference: float
    passed: bool


def _row(report: pd.DataFrame, metric: str) -> pd.Series | None:
    rows = report[(report["metric"] == metric) & report["column"].isna()]
    if metric.startswith("tstr_"):
        rows = report[report["metric"] == metric]
    return None if rows.empty else rows.iloc[0]


def release_verdict(report: pd.DataFrame) -> tuple[bool, list[Check]]:
    """Apply :data:`RULES` to a report; returns (all passed, one :class:`Check` per rule found)."""
    checks = []
    for metric, rule in RULES.items():
        row = _row(report, metric)
        if row is None:
            continue
        value = float(row["value"])
        if metric == "quality_score" and "value_matched" in row and pd.notna(row.get("value_matched")):
            value = float(row["value_matched"])
        ref = float(row["reference"]) if pd.notna(row["reference"]) else float("nan")
        passed = {
            "quality_score": value >= ref - MARGIN,
            "detection_auc_gbm": DETECTION_MIN <= value <= DETECTION_MAX,
            "tstr_auc": value >= ref - MARGIN,
            "exact_match_rate": value <= (0.0 if pd.isna(ref) else ref) + 1e-9,
            "dcr_share_closer_to_train": value <= DCR_SHARE_MAX,
            "membership_distance_auc": value <= MEMBERSHIP_AUC_MAX,
        }[metric]
        checks.append(Check(metric, rule, value, ref, bool(passed)))
    return all(c.passed for c in checks), checks


def _png(fig) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def report_figures(train: pd.DataFrame, synthetic: pd.DataFrame, holdout: pd.DataFrame,
                   metadata=None) -> dict[str, str]:
    """The report's figures as PNG data URLs: marginals, correlation difference, DCR histograms."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    from .evaluation.privacy import dcr
    from .plotting import plot_correlation_difference, plot_dcr, plot_marginals

    figures = {"Each column, real vs synthetic": _png(
        plot_marginals(train, synthetic, columns=list(train.columns)[:16], metadata=metadata))}
    fig, ax = plt.subplots(figsize=(7, 6))
    plot_correlation_difference(train, synthetic, metadata=metadata, ax=ax)
    figures["Relationships lost or invented (|real - synthetic| association)"] = _png(fig)
    res = dcr(train, synthetic, holdout, metadata)
    fig, ax = plt.subplots(figsize=(7, 3.5))
    plot_dcr(res.synthetic_to_train, res.holdout_to_train, ax=ax)
    figures["Distance to the closest training patient: synthetic vs new real patients"] = _png(fig)
    return figures


def _table(df: pd.DataFrame) -> str:
    return df.to_html(index=False, float_format=lambda v: f"{v:.3f}", na_rep="", border=0,
                      classes="metrics", escape=True)


def render_html(report: pd.DataFrame, figures: dict[str, str], *, title: str,
                sources: dict[str, str]) -> str:
    """The whole page as a string (verdict, rules, every family's table, figures, caveats)."""
    ok, checks = release_verdict(report)
    esc = html.escape
    verdict = ("Release candidate: every rule below passed" if ok else
               "Not ready to release: " + ", ".join(c.metric for c in checks if not c.passed))
    rules = pd.DataFrame([{"rule": c.rule, "value": c.value, "reference": c.reference,
                           "result": "pass" if c.passed else "FAIL"} for c in checks])
    parts = [f"<h1>{esc(title)}</h1>",
             f'<p class="verdict {"ok" if ok else "bad"}" id="verdict">{esc(verdict)}</p>',
             "<h2>Release rules</h2>", _table(rules) if len(rules) else "<p>No rule could be applied.</p>",
             "<p>" + "; ".join(f"{esc(k)}: <code>{esc(v)}</code>" for k, v in sources.items()) + "</p>"]
    shown = ["metric", "value", "reference", "ideal", "interpretation"]
    for family in ("fidelity", "detection", "utility", "privacy"):
        rows = report[(report["family"] == family) &
                      (report["column"].isna() | (report["family"] == "utility"))]
        if rows.empty:
            continue
        parts += [f'<h2 id="{family}">{family.capitalize()}</h2>',
                  _table(rows[[c for c in shown if c in rows.columns]])]
    parts.append("<h2>Figures</h2>")
    for caption, uri in figures.items():
        parts.append(f'<figure><img src="{uri}" alt="{esc(caption)}"><figcaption>{esc(caption)}'
                     "</figcaption></figure>")
    parts.append(
        "<h2>What this report does not show</h2><p>Every privacy number here is an attack that "
        "failed, not a guarantee: a stronger attack may succeed, and a table that passes can still "
        "be personal data under the law where patients remain identifiable. Read the course's "
        "governance page before a release, and prefer differential privacy (lesson 10) where a "
        "guarantee is needed.</p>")
    style = ("body{font-family:sans-serif;max-width:60em;margin:2em auto;padding:0 1em}"
             "table.metrics{border-collapse:collapse;font-size:90%}"
             "table.metrics td,table.metrics th{border-bottom:1px solid #ddd;padding:3px 8px;text-align:left}"
             ".verdict{font-size:130%;padding:.6em;border-radius:4px}.ok{background:#e3f6e3}"
             ".bad{background:#fbe3e3}img{max-width:100%}")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{esc(title)}</title><style>{style}</style></head><body>\n"
            + "\n".join(parts) + "\n</body></html>\n")
