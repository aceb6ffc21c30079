"""Re-identification risk of a *real* table: uniqueness and k-anonymity.

Removing names and record numbers does not make a table anonymous. A handful of
ordinary columns (age, sex, hospital, postcode...) that an outsider could know about a
person, the *quasi-identifiers*, often single out one patient. Lesson 00 counts how
often that happens in the course data.

- :func:`equivalence_class_sizes` -- for every row, how many rows share its values on
  the quasi-identifiers (its *equivalence class*).
- :func:`k_anonymity` -- the size of the smallest class: the table is k-anonymous on
  those columns for this k (Sweeney, 2002, "k-anonymity: a model for protecting
  privacy", Int. J. Uncertainty, Fuzziness and Knowledge-Based Systems 10(5)).
- :func:`uniqueness_table` -- for growing sets of quasi-identifiers, the number and
  share of patients who are unique, and k.

These measure the risk of releasing real rows. Synthetic rows need other checks
(distance to the closest record, membership inference: lesson 04).
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd


def _check(df: pd.DataFrame, quasi_identifiers: Sequence[str]) -> list[str]:
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
    qi = _check(df, quasi_identifiers)
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
    qi = _check(df, quasi_identifiers)
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
