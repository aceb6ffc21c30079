"""Checks of lesson 09, language-model synthesis (``solutions/09_language_model_synthesis.ipynb``).

1. ``09.serialize_row``: the learner's ``serialize_row(row, order)`` writes a row as a
   GReaT sentence; compared with the expected text on rows of the exercise split.
2. ``09.rejected``: the learner parses :func:`exercise_sentences` strictly and counts
   the rejected sentences by reason; compared with :meth:`RowFormat.parse_many`.
3. ``09.pick_checkpoint``: the learner's ``pick_checkpoint(table, max_dcr, max_mia,
   max_tstr_gap)`` picks the epoch to recommend; checked on tables built here.

Nothing here trains a model: every check runs in well under a second.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

from . import CheckFailed, register, whas500_split

CHECKPOINT_FIGURES = pd.DataFrame({
    "epoch": [5, 20, 40, 80],
    "fidelity": [0.902, 0.941, 0.950, 0.955],
    "tstr_gap": [0.081, 0.046, 0.031, 0.024],
    "dcr_share": [0.47, 0.51, 0.54, 0.58],
    "mia_auc": [0.49, 0.51, 0.53, 0.56],
})
"""Illustrative checkpoint figures, of the shape lesson 09 measures (not a measurement; used in the exercise)."""


def _call(func: Any, *args: Any) -> Any:
    if not callable(func):
        raise CheckFailed(f"expected a function, found {type(func).__name__}")
    try:
        return func(*args)
    except NotImplementedError:
        raise
    except Exception as exc:  # the learner reads this: name the error
        raise CheckFailed(f"calling your function raised {type(exc).__name__}: {exc}") from None


# -- 1. a row as a sentence -------------------------------------------------------------------
def expected_sentence(row: dict[str, Any], order: list[str]) -> str:
    """The sentence the exercise asks for: ``name is value`` pairs in ``order``, floats with one decimal."""
    def text(v: Any) -> str:
        return f"{v:.1f}" if isinstance(v, float | np.floating) else str(v)

    return ", ".join(f"{c} is {text(row[c])}" for c in order)


def _plain(value: Any) -> Any:
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return float(value)
    return str(value)


def _serialize_inputs(seed: int | None) -> dict[str, Any]:
    """Rows of the exercise's table and shuffled column orders, chosen in trusted code."""
    train, _, _ = whas500_split()
    rng = np.random.default_rng(9 if seed is None else seed)
    picks = rng.choice(len(train), size=3, replace=False)
    rows = [{str(k): _plain(v) for k, v in train.iloc[int(i)].to_dict().items()} for i in picks]
    orders = [[str(c) for c in rng.permutation(list(train.columns))] for _ in picks]
    return {"rows": rows, "orders": orders, "columns": [str(c) for c in train.columns]}


def _serialize_export(func: Any, inputs: dict[str, Any]) -> list[Any]:
    from . import require_callable

    require_callable(func, "serialize_row")
    return [func(dict(row), list(order)) for row, order in zip(inputs["rows"], inputs["orders"], strict=True)]


@register("09.serialize_row", target="serialize_row", points=1, inputs=_serialize_inputs,
          export=_serialize_export,
          hint="Join f'{column} is {value}' pairs with ', ' in the given order; write floats with "
               "f'{value:.1f}' and every other value with str(value).")
def serialize_row_check(outputs: list[Any], inputs: dict[str, Any]) -> None:
    """``serialize_row(row, order)`` gives GReaT's sentence for several rows and shuffled orders."""
    for got, row, order in zip(outputs, inputs["rows"], inputs["orders"], strict=True):
        want = expected_sentence(row, order)
        if not isinstance(got, str):
            raise CheckFailed(f"the function should return one string, found {type(got).__name__}")
        if got == want:
            continue
        if got == expected_sentence(row, inputs["columns"]):
            raise CheckFailed("the pairs follow the table's column order; write them in the order given")
        if " is " not in got:
            raise CheckFailed(f"each pair is 'column is value' (GReaT's format); your text starts {got[:40]!r}")
        if got.replace(", ", ",") == want.replace(", ", ",") or got.replace("; ", ", ") == want:
            raise CheckFailed("separate the pairs with a comma and one space, ', '")
        if "bmi is" in got and got.split("bmi is ")[1].split(",")[0] != want.split("bmi is ")[1].split(",")[0]:
            raise CheckFailed(f"bmi should be written with one decimal: {want.split('bmi is ')[1].split(',')[0]!r}")
        raise CheckFailed(f"for one row expected\n{want!r}\nfound\n{got!r}")


# -- 2. strict parsing ------------------------------------------------------------------------
@lru_cache(maxsize=1)
def exercise_format():
    """The :class:`~course_utils.generators.text_rows.RowFormat` of the exercise split (anchor ``patient_id``)."""
    from ..generators.text_rows import RowFormat

    train, _, meta = whas500_split()
    return RowFormat().fit(train, meta)


def _corrupt(pairs: list[str], how: str) -> list[str]:
    def set_value(name: str, value: str) -> list[str]:
        return [f"{name} is {value}" if p.startswith(name + " is ") else p for p in pairs]

    if how == "repeat":
        return pairs + [pairs[2]]
    if how == "drop":
        return pairs[:3] + pairs[4:]
    if how == "category":
        return set_value("gender", "unknown")
    if how == "range":
        return set_value("age", "130")
    if how == "number":
        return set_value("hr", "9o")
    if how == "column":
        return pairs + ["weight is 70"]
    return pairs


_CORRUPTIONS = {3: "repeat", 8: "drop", 11: "category", 17: "range", 22: "number", 26: "column", 31: "repeat"}


def exercise_sentences() -> list[str]:
    """40 sentences as a model might write them: 33 valid, 7 broken in different ways."""
    train, _, _ = whas500_split()
    fmt = exercise_format()
    rng = np.random.default_rng(2024)
    names = fmt.field_names
    out = []
    for i, row in enumerate(train.iloc[:40].to_dict("records")):
        order = [names[j] for j in rng.permutation(len(names))]
        pairs = fmt.serialize(row, order, anchor_id=int(rng.integers(1000, 10_000))).split(", ")
        out.append(", ".join(_corrupt(pairs, _CORRUPTIONS.get(i, ""))))
    return out


@register("09.rejected", target="rejected", points=1,
          hint="Loop over the sentences, call fmt.parse(s) in a try block and, on RowParseError as err, "
               "add 1 to rejected[err.reason]; a valid sentence adds nothing.")
def rejected_check(obj: Any) -> None:
    """``rejected``: the number of rejected exercise sentences per reason, from a strict parse."""
    if not isinstance(obj, dict):
        raise CheckFailed(f"expected a dict {{reason: count}}, found {type(obj).__name__}")
    _, report = exercise_format().parse_many(exercise_sentences())
    want = dict(report.reasons)
    got = {k: v for k, v in obj.items() if v}
    if not all(isinstance(v, int | np.integer) for v in got.values()):
        raise CheckFailed("the counts should be whole numbers")
    if "valid" in got or sum(got.values()) > len(exercise_sentences()) - report.n_valid:
        raise CheckFailed(f"count only the rejected sentences: {report.n_total - report.n_valid} of "
                          f"{report.n_total} are invalid, you counted {sum(got.values())}")
    missing = sorted(set(want) - set(got))
    if missing:
        raise CheckFailed(f"some invalid sentences were let through: nothing counted for {missing} "
                          "(a lenient parser keeps the first of two repeated columns, or ignores unknown ones)")
    wrong = {k: (got.get(k, 0), v) for k, v in want.items() if got.get(k, 0) != v}
    extra = sorted(set(got) - set(want))
    if wrong or extra:
        raise CheckFailed(f"counts differ from the strict parse: (yours, expected) {wrong}; unexpected reasons {extra}")


# -- 3. choosing a checkpoint ------------------------------------------------------------------
def _tables() -> list[tuple[pd.DataFrame, tuple[float, float, float], int | None]]:
    base = CHECKPOINT_FIGURES
    shuffled = base.sample(frac=1.0, random_state=3).reset_index(drop=True)
    tie = pd.DataFrame({"epoch": [10, 30, 50], "fidelity": [0.93, 0.95, 0.95], "tstr_gap": [0.04, 0.03, 0.02],
                        "dcr_share": [0.50, 0.52, 0.53], "mia_auc": [0.50, 0.51, 0.52]})
    mia_only = base.assign(mia_auc=[0.49, 0.56, 0.53, 0.60], dcr_share=[0.47, 0.50, 0.52, 0.53])
    return [
        (base, (0.55, 0.55, 0.05), 40),
        (shuffled, (0.55, 0.55, 0.05), 40),
        (base, (0.54, 0.53, 0.05), 40),  # a limit met exactly counts as met
        (base, (0.60, 0.60, 0.05), 80),
        (base, (0.50, 0.50, 0.05), None),  # no checkpoint qualifies
        (base, (0.55, 0.55, 0.03), None),
        (mia_only, (0.55, 0.55, 0.05), 40),
        (tie, (0.55, 0.55, 0.05), 30),  # equal fidelity: the earlier epoch (less training, less exposure)
    ]


def best_checkpoint(table: pd.DataFrame, limits: tuple[float, float, float]) -> int | None:
    """The reference answer: best fidelity among the checkpoints within every limit (earlier on a tie)."""
    ok = table[(table.dcr_share <= limits[0]) & (table.mia_auc <= limits[1]) & (table.tstr_gap <= limits[2])]
    if ok.empty:
        return None
    return int(ok.sort_values(["fidelity", "epoch"], ascending=[False, True]).iloc[0]["epoch"])


def _checkpoint_inputs(seed: int | None) -> list[dict[str, Any]]:
    rng = np.random.default_rng(0 if seed is None else seed)
    cases = []
    for table, limits, _ in _tables():
        order = rng.permutation(len(table))  # the grader's own row order each time
        cases.append({"table": table.iloc[order].reset_index(drop=True), "limits": list(limits)})
    return cases


def _checkpoint_export(func: Any, cases: list[dict[str, Any]]) -> list[Any]:
    from . import require_callable

    require_callable(func, "pick_checkpoint")
    return [func(case["table"].copy(), *case["limits"]) for case in cases]


@register("09.pick_checkpoint", target="pick_checkpoint", points=1, inputs=_checkpoint_inputs,
          export=_checkpoint_export,
          hint="Keep the rows with dcr_share <= max_dcr, mia_auc <= max_mia and tstr_gap <= max_tstr_gap; "
               "return None if none is left, else the epoch (an int) of the highest fidelity, the earlier "
               "epoch on a tie.")
def pick_checkpoint_check(outputs: list[Any], cases: list[dict[str, Any]]) -> None:
    """``pick_checkpoint(table, max_dcr, max_mia, max_tstr_gap)``: best fidelity within every limit."""
    for got, case in zip(outputs, cases, strict=True):
        table, limits = case["table"], tuple(case["limits"])
        want = best_checkpoint(table, limits)
        if want is None:
            if got is not None:
                raise CheckFailed(f"with limits {limits} (DCR, MIA, TSTR gap) no checkpoint qualifies; "
                                  f"return None, found {got!r}")
            continue
        if isinstance(got, bool) or not isinstance(got, int | np.integer):
            raise CheckFailed(f"return the epoch as an int (or None), found {type(got).__name__} {got!r}")
        if int(got) != want:
            ok = table[(table.dcr_share <= limits[0]) & (table.mia_auc <= limits[1]) & (table.tstr_gap <= limits[2])]
            detail = ("a limit that is met exactly (<=) counts as met" if want in ok.epoch.tolist() and
                      limits == (0.54, 0.53, 0.05) else
                      "among the checkpoints within all three limits, take the best fidelity (earlier epoch on a tie)")
            raise CheckFailed(f"limits DCR <= {limits[0]}, MIA <= {limits[1]}, TSTR gap <= {limits[2]}: "
                              f"expected epoch {want}, found {got}; {detail}")
