"""The learner-facing check() and the registry behind it."""

from __future__ import annotations

import pytest

from course_utils import checks
from course_utils.checks import CheckFailed, check, register, run_check


@pytest.fixture()
def toy_check():
    @register("99.double", target="answer", points=2, hint="Revisit doubling.")
    def double(obj):
        if obj != 4:
            raise CheckFailed(f"expected 4, found {obj!r}")

    yield "99.double"
    checks.REGISTRY.pop("99.double", None)
    checks.RESULTS.pop("99.double", None)


def test_right_answer_prints_a_tick_and_records(toy_check, capsys):
    assert check(toy_check, 4) is None
    assert "✅ 99.double" in capsys.readouterr().out
    assert checks.RESULTS[toy_check].passed and checks.RESULTS[toy_check].points == 2


def test_wrong_answer_prints_message_and_hint_without_raising(toy_check, capsys):
    check(toy_check, 5)
    out = capsys.readouterr().out
    assert "❌ 99.double: expected 4, found 5" in out and "hint: Revisit doubling." in out
    assert not checks.RESULTS[toy_check].passed and checks.RESULTS[toy_check].points == 0


def test_statuses(toy_check):
    assert run_check(toy_check, None).status == "not answered"
    assert run_check(toy_check, 3).status == "failed"
    assert run_check(toy_check, 4).status == "passed"

    @register("99.crash", target="x")
    def crash(obj):
        raise KeyError("boom")

    assert run_check("99.crash", 1).status == "error"
    checks.REGISTRY.pop("99.crash")


def test_unknown_ids(capsys):
    check("98.nothing", 1)  # never raises in a notebook
    assert "❌ 98.nothing" in capsys.readouterr().out
    with pytest.raises(ValueError, match="98"):
        checks.load_lesson("98")
    with pytest.raises(ValueError, match="NN.name"):
        register("nodot", target="x")


def test_as_number_accepts_numbers_and_names_the_answer_otherwise():
    import numpy as np

    from course_utils.checks import as_number

    assert as_number(0.25, "the share") == 0.25
    assert as_number(np.float32(0.5), "the share") == 0.5
    assert as_number(np.array(3), "the count") == 3.0
    for bad, pattern in [(True, "the share as one number"), ("0.2", "the share as one number"),
                         ([0.2], "the share as one number"), (float("nan"), "finite")]:
        with pytest.raises(CheckFailed, match=pattern):
            as_number(bad, "the share")
