"""Quasi-identifiers: uniqueness and k-anonymity, of a real table and of a synthetic one.

Removing names and record numbers does not make a table anonymous. A handful of
ordinary columns (age, sex, hospital, postcode...) that an outsider could know about a
person, the *quasi-identifiers*, often single out one patient. Lesson 00 counts how
often that happens in the course data (real rows); lesson 04 asks the same of
synthetic rows.

- :func:`equivalence_class_sizes` -- for every row, how many rows share its values on
  the quasi-identifiers (its *equivalence class*).
- :func:`k_anonymity` -- the size of the smallest class: the table is k-anonymous on
  those columns for this k (Sweeney, 2002, "k-anonymity: a model for protecting
  privacy", Int. J. Uncertainty, Fuzziness and Knowledge-Based Systems 10(5)). The one
  k-anonymity function of the course: :func:`quasi_identifier_uniqueness` uses it too.
- :func:`uniqueness_table` -- for growing sets of quasi-identifiers, the number and
  share of patients who are unique, and k.
- :func:`quasi_identifier_uniqueness` -- the same questions for a synthetic table, with
  numeric quasi-identifiers generalised into bins and the holdout as reference.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ...schema import Metadata, infer_metadata
from ..context import column_numbers, encode_tables


def _check_quasi_identifiers(df: pd.DataFrame, quasi_identifiers: Sequence[str]) -> list[str]:
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"expected a pandas DataFrame, got {type(df).__name__}")
    if isinstance(quasi_identifiers, str):
        raise TypeError("quasi_identifiers must be a list of column names, not one string")
    qi = list(quasi_identifiers)
    if not qi:
        raise ValueError("give at least one quasi-identifier column")
    missing = [c for c in qi if c not in df.columns]
    if missing:
        raise ValueError(f"quasi-identifier column(s) not in the table: {missing}")
    if len(set(qi)) != len(qi):
        raise ValueError(f"quasi-identifier columns are repeated: {qi}")
    if len(df) == 0:
        raise ValueError("the table has no rows")
    return qi


def equivalence_class_sizes(df: pd.DataFrame, quasi_identifiers: Sequence[str]) -> pd.Series:
    """For each row, the number of rows (itself included) with the same quasi-identifier values.

    A size of 1 means the row is unique: whoever knows those few facts about a patient
    finds exactly one candidate row, and so learns everything else in it. Missing values
    count as one value of their own (two rows both missing age match each other).
    Returns an integer Series aligned with ``df.index``.
    """
    qi = _check_quasi_identifiers(df, quasi_identifiers)
    # codes per column make categoricals, floats and NaN all groupable the same way
    codes = pd.DataFrame({c: pd.factorize(df[c], use_na_sentinel=False)[0] for c in qi}, index=df.index)
    sizes = codes.groupby(qi, sort=False)[qi[0]].transform("size")
    return sizes.astype("int64").rename("class_size")


def k_anonymity(df: pd.DataFrame, quasi_identifiers: Sequence[str]) -> int:
    """The k for which ``df`` is k-anonymous on ``quasi_identifiers``: the smallest class size.

    Range 1 to ``len(df)``; k = 1 means at least one patient is unique. Larger is safer,
    but k says nothing about the sensitive columns inside a class (if every member of a
    class died, knowing someone is in it reveals that they died).
    """
    return int(equivalence_class_sizes(df, quasi_identifiers).min())


def uniqueness_table(df: pd.DataFrame, quasi_identifiers: Sequence[str]) -> pd.DataFrame:
    """Re-identification risk for growing sets of quasi-identifiers.

    Row ``i`` uses the first ``i`` columns of ``quasi_identifiers`` (order matters: put the
    facts an outsider most easily knows first). Columns of the result:

    - ``quasi_identifiers``: the columns used, joined by " + ";
    - ``n_identifiers``: how many;
    - ``n_classes``: number of distinct value combinations;
    - ``n_unique``: patients whose combination no one else shares;
    - ``share_unique``: ``n_unique / len(df)``, from 0 (no one unique) to 1 (everyone);
    - ``k_anonymity``: the smallest class size.

    Adding a column can only split classes, so ``n_unique`` never decreases down the table.
    """
    qi = _check_quasi_identifiers(df, quasi_identifiers)
    rows = []
    for i in range(1, len(qi) + 1):
        used = qi[:i]
        sizes = equivalence_class_sizes(df, used)
        n_unique = int((sizes == 1).sum())
        rows.append(
            {
                "quasi_identifiers": " + ".join(used),
                "n_identifiers": i,
                # each class of size s contributes s rows, so the class count is sum(1/s)
                "n_classes": int(round((1.0 / sizes).sum())),
                "n_unique": n_unique,
                "share_unique": n_unique / len(df),
                "k_anonymity": int(sizes.min()),
            }
        )
    return pd.DataFrame(rows)


def _qi_codes(df: pd.DataFrame, train: pd.DataFrame, qis: list[str], meta: Metadata,
              n_bins: int, max_levels: int) -> pd.DataFrame:
    out = {}
    for c in qis:
        col = df[c]
        kind = meta[c].kind
        if kind in ("continuous", "integer", "datetime") and train[c].nunique() > max_levels:
            ref = column_numbers(train[c].dropna(), kind)
            edges = np.unique(np.quantile(ref, np.linspace(0, 1, n_bins + 1))[1:-1])
            binned = np.digitize(column_numbers(col, kind), edges).astype(object)
            binned[col.isna().to_numpy()] = "<missing>"
            out[c] = binned
        else:
            out[c] = col.astype(object).where(col.notna(), "<missing>").astype(str).to_numpy()
    return pd.DataFrame(out)


def _qi_stats(codes: pd.DataFrame, train_codes: pd.DataFrame) -> dict[str, float]:
    keys = codes.astype(str).agg("\x1f".join, axis=1)
    tkeys = train_codes.astype(str).agg("\x1f".join, axis=1)
    columns = list(codes.columns)
    sizes = equivalence_class_sizes(codes, columns)
    unique = sizes == 1
    tcounts = tkeys.value_counts()
    train_unique = set(tcounts.index[tcounts == 1])
    matches = unique & keys.isin(train_unique)
    return {
        "unique_share": float(unique.mean()),
        "k_anonymity": k_anonymity(codes, columns),
        "n_unique": int(unique.sum()),
        "unique_matches": int(matches.sum()),
        "unique_match_share": float(matches.mean()),
    }


def quasi_identifier_uniqueness(
    train: pd.DataFrame,
    synthetic: pd.DataFrame,
    quasi_identifiers: list[str],
    holdout: pd.DataFrame | None = None,
    n_bins: int = 5,
    max_levels: int = 10,
    metadata: Metadata | None = None,
) -> pd.DataFrame:
    """Uniqueness and k-anonymity of quasi-identifier combinations in the synthetic table.

    Metric card:
        Definition: rows are grouped by their values on the quasi-identifiers (numeric
            ones with more than ``max_levels`` distinct training values are cut into
            ``n_bins`` training-quantile bins, as a data custodian would generalise
            age). ``unique_share``: share of synthetic rows alone in their group.
            ``k_anonymity``: the smallest group size (the table is k-anonymous for this
            k). ``unique_matches`` / ``unique_match_share``: synthetic rows that are
            unique in the synthetic table *and* whose combination belongs to exactly one
            training patient - the rows through which someone who knows that patient's
            quasi-identifiers would find "them". The holdout row gives the same numbers
            for real new patients (a smaller table has more uniques by chance).
        Range: shares 0 to 1, lower is safer; k >= 1, higher is safer (k = 5 or 10 are
            common release thresholds for de-identified data).
        What fools it: uniqueness of a synthetic row is not disclosure by itself (the row
            is not a person); coarser bins make every table look safe.
        Source: Sweeney (2002), k-anonymity: a model for protecting privacy; El Emam
            et al. on re-identification risk of health data.

    Returns one row per table (``synthetic``, and ``holdout`` when given) with the
    statistics as columns.
    """
    encode_tables(train, {"synthetic": synthetic, "holdout": holdout}, metadata)  # checks, errors name the table
    meta = infer_metadata(train) if metadata is None else metadata
    qis = list(quasi_identifiers or [])
    if not qis:
        raise ValueError("quasi_identifiers must name at least one column")
    for c in qis:
        if c not in meta.names:
            raise ValueError(f"quasi-identifier {c!r} is not in the training table")
    tcodes = _qi_codes(train, train, qis, meta, n_bins, max_levels)
    rows = []
    for name, df in (("synthetic", synthetic), ("holdout", holdout)):
        if df is None:
            continue
        stats = _qi_stats(_qi_codes(df.reset_index(drop=True), train, qis, meta, n_bins, max_levels), tcodes)
        rows.append({"table": name, **stats})
    return pd.DataFrame(rows).set_index("table")
