"""Right answers and plausible wrong answers for the checks of lesson 09 (language-model synthesis)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import numpy as np


# -- 09.serialize_row ------------------------------------------------------------------------
def _text(v):
    return f"{v:.1f}" if isinstance(v, float | np.floating) else str(v)


def _serialize_right(row, order):
    return ", ".join(f"{c} is {_text(row[c])}" for c in order)


def _serialize_table_order(row, order):
    return ", ".join(f"{c} is {_text(row[c])}" for c in row)  # ignores the order


def _serialize_colon(row, order):
    return ", ".join(f"{c}: {_text(row[c])}" for c in order)


def _serialize_no_space(row, order):
    return ",".join(f"{c} is {_text(row[c])}" for c in order)


def _serialize_raw_float(row, order):
    return ", ".join(f"{c} is {row[c]}" for c in order)  # bmi with every decimal


def _serialize_with_anchor(row, order):
    return "patient_id is 1234, " + _serialize_right(row, order)


# -- 09.rejected ---------------------------------------------------------------------------------
def _parse_counts(parse_pairs):
    from course_utils.checks.lesson09 import exercise_format, exercise_sentences

    fmt = exercise_format()
    counts: Counter = Counter()
    for s in exercise_sentences():
        reason = parse_pairs(fmt, s)
        if reason:
            counts[reason] += 1
    return dict(counts)


def _strict(fmt, s):
    from course_utils.generators.text_rows import RowParseError

    try:
        fmt.parse(s)
    except RowParseError as err:
        return err.reason
    return None


def _lenient(fmt, s):
    """GReaT's parser: keep the first of repeated columns, skip unknown ones, accept any value text."""
    names = set(fmt.field_names)
    seen = {}
    for pair in s.split(", ")[1:]:
        name, _, value = pair.partition(" is ")
        if name in names and name not in seen:
            seen[name] = value
    return "missing column" if len(seen) < len(names) else None


def _no_range_check(fmt, s):
    reason = _strict(fmt, s)
    return None if reason in ("out of range", "unknown category") else reason


def _everything_counted(fmt, s):
    return _strict(fmt, s) or "valid"


# -- 09.pick_checkpoint -----------------------------------------------------------------------
def _within(table, max_dcr, max_mia, max_gap, strict=False):
    if strict:
        return table[(table.dcr_share < max_dcr) & (table.mia_auc < max_mia) & (table.tstr_gap < max_gap)]
    return table[(table.dcr_share <= max_dcr) & (table.mia_auc <= max_mia) & (table.tstr_gap <= max_gap)]


def _pick_right(table, max_dcr, max_mia, max_gap):
    ok = _within(table, max_dcr, max_mia, max_gap).sort_values(["fidelity", "epoch"], ascending=[False, True])
    return None if ok.empty else int(ok["epoch"].iloc[0])


def _pick_latest(table, max_dcr, max_mia, max_gap):
    ok = _within(table, max_dcr, max_mia, max_gap)
    return None if ok.empty else int(ok["epoch"].max())


def _pick_ignoring_limits(table, max_dcr, max_mia, max_gap):
    return int(table.sort_values("fidelity", ascending=False)["epoch"].iloc[0])


def _pick_ignoring_mia(table, max_dcr, max_mia, max_gap):
    return _pick_right(table, max_dcr, 1.0, max_gap)


def _pick_strict(table, max_dcr, max_mia, max_gap):
    ok = _within(table, max_dcr, max_mia, max_gap, strict=True).sort_values("fidelity", ascending=False)
    return None if ok.empty else int(ok["epoch"].iloc[0])


def _pick_row_position(table, max_dcr, max_mia, max_gap):
    ok = _within(table, max_dcr, max_mia, max_gap)
    return None if ok.empty else int(ok["fidelity"].idxmax())  # the row label, not the epoch


def _pick_later_on_tie(table, max_dcr, max_mia, max_gap):
    ok = _within(table, max_dcr, max_mia, max_gap).sort_values(["fidelity", "epoch"], ascending=[False, False])
    return None if ok.empty else int(ok["epoch"].iloc[0])


def _pick_no_none(table, max_dcr, max_mia, max_gap):
    got = _pick_right(table, max_dcr, max_mia, max_gap)
    return int(table["epoch"].min()) if got is None else got  # falls back instead of saying none qualifies


RIGHT: dict[str, Callable[[], object]] = {
    "09.serialize_row": lambda: _serialize_right,
    "09.rejected": lambda: _parse_counts(_strict),
    "09.pick_checkpoint": lambda: _pick_right,
}

MUTANTS: dict[str, list[Callable[[], object]]] = {
    "09.serialize_row": [
        lambda: _serialize_table_order,
        lambda: _serialize_colon,
        lambda: _serialize_no_space,
        lambda: _serialize_raw_float,
        lambda: _serialize_with_anchor,
    ],
    "09.rejected": [
        lambda: _parse_counts(_lenient),
        lambda: _parse_counts(_no_range_check),
        lambda: _parse_counts(_everything_counted),
        lambda: 7,
    ],
    "09.pick_checkpoint": [
        lambda: _pick_latest,
        lambda: _pick_ignoring_limits,
        lambda: _pick_ignoring_mia,
        lambda: _pick_strict,
        lambda: _pick_row_position,
        lambda: _pick_later_on_tie,
        lambda: _pick_no_none,
    ],
}
