"""The export half of grading: runs inside the learner's kernel, after the last cell.

The grader appends one cell that calls :func:`export_answers`. It writes, for each
check of the lesson whose answer variable exists, the answer's plain values (see
:func:`course_utils.checks.export_answer`) to one file in the run's private folder.
Nothing here decides a score: this code runs in the learner's process, where the
learner may have replaced any of it, so the grader only ever reads *values* from the
file and judges them with its own copy of the checks.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from . import exchange, export_answer, load_lesson


def export_answers(lesson: str, namespace: Mapping[str, Any], inputs_path: str | Path | None,
                   answers_path: str | Path, *, hidden: bool = True) -> int:
    """Write the answers of ``lesson`` found in ``namespace`` to ``answers_path``; return how many.

    ``inputs_path`` holds, per check on a function, the inputs the grader chose for it.
    """
    inputs: dict[str, Any] = {}
    if inputs_path is not None and Path(inputs_path).is_file():
        inputs = exchange.read(inputs_path)
    values = {}
    for spec in load_lesson(lesson):
        if (spec.hidden and not hidden) or spec.target not in namespace:
            continue
        values[spec.id] = export_answer(spec, namespace[spec.target], inputs.get(spec.id))
    exchange.write(answers_path, values)
    return len(values)


__all__ = ["export_answers"]
