"""The one table of metric cards: every report's ``ideal`` column and verdict read it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from course_utils.evaluation import cards_table, fidelity_report, get_card, metric_cards, tstr
from course_utils.evaluation.cards import FAMILIES, MetricCard, register_metric
from course_utils.evaluation.report import _interpret


def _table(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    return pd.DataFrame({"x": x, "z": x + rng.normal(size=n), "g": rng.choice(list("abc"), n),
                         "y": (x + rng.normal(size=n) > 0).astype(int)})


def test_every_family_has_cards_and_the_table_lists_them():
    table = cards_table()
    assert set(table["family"]) == set(FAMILIES)
    assert list(table.index) == [c.name for c in metric_cards()]
    assert {"range", "best", "direction", "meaning"} <= set(table.columns)
    assert get_card("detection_auc_gbm").best == 0.5
    assert get_card("dcr_share_closer_to_train").direction == "target"


def test_fidelity_and_utility_reports_take_their_ideal_from_the_cards():
    train, other = _table(200, 0), _table(200, 1)
    rep = fidelity_report(train, other)
    assert np.allclose(rep["ideal"], [get_card(m).ideal for m in rep["metric"]])
    res = tstr(train, other, _table(100, 2), "y", n_bootstrap=0)
    real = res[res["trained_on"] == "real"]
    assert list(real["ideal"]) == [get_card(f"tstr_{m}").ideal for m in real["metric"]]
    assert real.set_index("metric").loc["brier", "ideal"] == 0.0


def test_a_changed_card_changes_the_report_and_the_verdict():
    old = get_card("wasserstein")
    try:
        register_metric(MetricCard("wasserstein", "fidelity", 0, 1, 0.5, "target", "test"), replace=True)
        rep = fidelity_report(_table(100, 0), _table(100, 1))
        assert (rep.loc[rep["metric"] == "wasserstein", "ideal"] == 0.5).all()
    finally:
        register_metric(old, replace=True)
    # pMSE verdicts compare ratios of distances to the card's best value (1 for s_pmse)
    assert "at holdout level" in _interpret("detection", "s_pmse", 1.2, 1.0, 1.15)
    assert "clearly worse" in _interpret("detection", "s_pmse", 9.0, 1.0, 1.15)


def test_bad_cards_are_refused():
    with pytest.raises(ValueError, match="family"):
        register_metric(MetricCard("m", "astrology", 0, 1, 1.0, "higher", "x"))
    with pytest.raises(ValueError, match="direction"):
        register_metric(MetricCard("m", "fidelity", 0, 1, 1.0, "sideways", "x"))
    with pytest.raises(ValueError, match="best value"):
        register_metric(MetricCard("m", "fidelity", 0, 1, None, "higher", "x"))
    with pytest.raises(ValueError, match="already"):
        register_metric(get_card("nnaa"))
    with pytest.raises(KeyError, match="registered"):
        get_card("no_such_metric")
