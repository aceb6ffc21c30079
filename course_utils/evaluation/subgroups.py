"""Several training tables, one real test set, and a rare subgroup: which table trains the best model?

:func:`compare_training_tables` is the capstone's question in one call (lesson 11): the
same model is fitted on each candidate training table (one hospital's real rows, the
pooled real rows that nobody may build, the pooled synthetic rows two hospitals may
share) and scored on the same real patients, overall and in a subgroup.

Metric card:
    definition: per training table, ROC AUC and Brier score of the model's predicted
        probability of the positive class on ``test``, with percentile bootstrap
        intervals over test rows (the same resamples for every table), and in the
        subgroup the mean predicted probability and the share of its patients predicted
        positive (probability above 0.5).
    range: AUC 0.5 (chance) to 1; Brier 0 (perfect) to 1; shares 0 to 1.
    ideal: AUC and Brier as good as the pooled real rows (the oracle); in a subgroup
        whose outcome is known to be negative (haemorrhagic strokes never receive
        thrombolysis) a predicted-positive share of 0.
    what fools it: a small test set (the intervals say how small); a subgroup with few
        patients; a synthetic table made after the test patients were seen (leakage).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from sklearn.metrics import brier_score_loss, roc_auc_score

from ..config import check_random_state
from ..schema import Metadata
from .fidelity import resolve_metadata
from .utility import make_model


def compare_training_tables(
    tables: Mapping[str, pd.DataFrame],
    test: pd.DataFrame,
    target: str,
    subgroup: pd.Series | np.ndarray | None = None,
    metadata: Metadata | None = None,
    model: str = "logistic",
    n_bootstrap: int = 200,
    random_state: int | None = 0,
) -> pd.DataFrame:
    """Fit ``model`` on each table of ``tables``, score it on ``test``; one row per table.

    ``subgroup`` is a boolean mask over the rows of ``test``. Columns of the result:
    ``trained_on, n_train, auc, auc_low, auc_high, brier, subgroup_mean_risk,
    subgroup_treated`` (the last two only with a subgroup). Raises ``ValueError`` for a
    table without the target or with one class only, and for a mask of the wrong length.
    """
    if not tables:
        raise ValueError("tables is empty: pass {name: training table}")
    if target not in test.columns:
        raise ValueError(f"target column {target!r} is not in the test table")
    y = test[target].to_numpy()
    positive = sorted(pd.unique(y), key=str)[-1]
    y = (y == positive).astype(int)
    if len(np.unique(y)) < 2:
        raise ValueError(f"the test table has one class of {target!r}; AUC needs both")
    mask = None
    if subgroup is not None:
        mask = np.asarray(subgroup, dtype=bool)
        if mask.shape != (len(test),):
            raise ValueError(f"subgroup mask has {mask.size} values for {len(test)} test rows")
    features = [c for c in test.columns if c != target]
    meta = resolve_metadata(test[features], metadata.select(features) if metadata is not None else None)
    rng = check_random_state(random_state)
    seed = int(rng.integers(0, 2**31 - 1))
    boots = [rng.integers(0, len(test), len(test)) for _ in range(n_bootstrap)]
    rows = []
    for name, table in tables.items():
        if target not in table.columns:
            raise ValueError(f"training table {name!r} has no column {target!r}")
        yt = (table[target].to_numpy() == positive).astype(int)
        if len(np.unique(yt)) < 2:
            raise ValueError(f"training table {name!r} has one class of {target!r}; a model needs both")
        pipe = make_model(model, "classification", meta, random_state=seed)
        pipe.fit(table[features], yt)
        p = pipe.predict_proba(test[features])[:, 1]
        aucs = [roc_auc_score(y[i], p[i]) for i in boots if len(np.unique(y[i])) == 2]
        row = {"trained_on": name, "n_train": len(table), "auc": roc_auc_score(y, p),
               "auc_low": float(np.quantile(aucs, 0.025)) if aucs else np.nan,
               "auc_high": float(np.quantile(aucs, 0.975)) if aucs else np.nan,
               "brier": brier_score_loss(y, p)}
        if mask is not None and mask.any():
            row["subgroup_mean_risk"] = float(p[mask].mean())
            row["subgroup_treated"] = float((p[mask] > 0.5).mean())
        rows.append(row)
    return pd.DataFrame(rows)
