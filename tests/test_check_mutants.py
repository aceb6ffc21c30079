"""Every registered exercise check against a right answer, None, and plausible wrong answers.

Parametrised over ``tests/mutants/lesson*.py``: each defines ``RIGHT`` (check id ->
function building a right answer) and ``MUTANTS`` (check id -> functions building wrong
answers). A lesson whose checks lack a right answer or a mutant fails here.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from course_utils.checks import load_lesson, run_check

MUTANT_DIR = Path(__file__).parent / "mutants"
LESSONS = sorted(p.stem.removeprefix("lesson") for p in MUTANT_DIR.glob("lesson*.py"))


def _module(lesson: str):
    return importlib.import_module(f"tests.mutants.lesson{lesson}")


def _cases(kind: str):
    cases = []
    for lesson in LESSONS:
        module = _module(lesson)
        if kind == "right":
            cases += [pytest.param(lesson, cid, id=cid) for cid in sorted(module.RIGHT)]
        else:
            for cid, mutants in sorted(module.MUTANTS.items()):
                cases += [pytest.param(lesson, cid, i, id=f"{cid}-{i}") for i in range(len(mutants))]
    return cases


@pytest.mark.parametrize("lesson", LESSONS)
def test_every_check_has_a_right_answer_and_a_mutant(lesson):
    module = _module(lesson)
    registered = {spec.id for spec in load_lesson(lesson)}
    assert registered, f"lesson {lesson} registers no checks"
    assert set(module.RIGHT) == registered, "RIGHT must cover exactly the registered checks"
    without = sorted(cid for cid in registered if not module.MUTANTS.get(cid))
    assert not without, f"checks without a wrong-answer mutant: {without}"
    assert set(module.MUTANTS) <= registered, "MUTANTS names a check that is not registered"


@pytest.mark.parametrize(("lesson", "check_id"), _cases("right"))
def test_right_answer_passes(lesson, check_id):
    load_lesson(lesson)
    obj = _module(lesson).RIGHT[check_id]()
    result = run_check(check_id, obj)
    assert result.passed, result.message


@pytest.mark.parametrize(("lesson", "check_id"), _cases("right"))
def test_none_fails(lesson, check_id):
    load_lesson(lesson)
    result = run_check(check_id, None)
    assert not result.passed
    assert result.status == "not answered"


@pytest.mark.parametrize(("lesson", "check_id", "index"), _cases("mutants"))
def test_mutant_fails_with_a_message(lesson, check_id, index):
    load_lesson(lesson)
    obj = _module(lesson).MUTANTS[check_id][index]()
    result = run_check(check_id, obj)
    assert not result.passed, f"a wrong answer passed {check_id}"
    # The check itself must recognise the answer as wrong and say why (CheckFailed),
    # not crash on it: a learner reads this message.
    assert result.status == "failed", result.message
    assert len(result.message) > 20, result.message
