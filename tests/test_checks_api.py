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


# -- answers by value: the file format between the learner's kernel and the grader ----------
def test_values_survive_the_trip_with_their_types():
    import numpy as np
    import pandas as pd
    import torch

    from course_utils.checks.exchange import roundtrip
    from course_utils.data import load_whas500

    df, meta = load_whas500(return_metadata=True)
    back = roundtrip(df)
    pd.testing.assert_frame_equal(back, df)  # categories, integer and float columns kept
    frame = pd.DataFrame({"when": pd.to_datetime(["2020-01-01", None]), "flag": [True, False],
                          "text": ["a", None], "n": pd.array([1, None], dtype="Int64")},
                         index=pd.Index(["real", "synthetic"], name="row"))
    pd.testing.assert_frame_equal(roundtrip(frame), frame)
    counts = df.value_counts(["age", "gender"])  # a MultiIndex
    pd.testing.assert_series_equal(roundtrip(counts), counts)
    assert roundtrip(meta).to_dict() == meta.to_dict()
    value = {0: np.int64(3), "a": (1, 2.5, None, {"x", "y"}), "b": [np.float32(0.5), np.array(3)]}
    got = roundtrip(value)
    assert got[0] == 3 and isinstance(got[0], np.integer) and got["a"] == (1, 2.5, None, {"x", "y"})
    assert got["b"][0].dtype == np.float32 and got["b"][1].shape == ()
    assert isinstance(roundtrip(True), bool) and isinstance(roundtrip(10), int) and isinstance(roundtrip(0.1), float)
    t = roundtrip(torch.ones(2, requires_grad=True) * 2)
    assert isinstance(t, torch.Tensor) and t.requires_grad and t.tolist() == [2.0, 2.0]


def test_unsupported_values_are_wrong_answers_with_a_message():
    from course_utils.checks.exchange import Unsupported, roundtrip

    assert isinstance(roundtrip(lambda x: x), Unsupported)
    assert isinstance(roundtrip(object()), Unsupported)
    nested: list = []
    for _ in range(100):
        nested = [nested]
    inner = roundtrip(nested)
    while isinstance(inner, list):
        inner = inner[0]
    assert isinstance(inner, Unsupported) and "nested deeper" in inner.reason
    result = run_check("01.whas_unique", object())
    assert result.status == "failed" and "cannot read back" in result.message
    nested = run_check("01.holdout_roundtrip", (object(), 1))
    assert nested.status == "failed" and "holds (at [0]) a value of type object" in nested.message


class _Boom:
    def __reduce__(self):
        import os

        return (os.system, ("touch /tmp/course-exchange-pickle-ran",))


def test_a_file_that_is_not_plain_values_is_refused_without_running_anything(tmp_path):
    import io
    import json
    import os

    import numpy as np

    from course_utils.checks.exchange import MANIFEST, AnswerFormatError, dumps, loads

    manifest = np.frombuffer(json.dumps({"x": {"$": "ndarray", "key": "a0"}}).encode(), dtype=np.uint8)
    evil = io.BytesIO()
    np.savez(evil, **{MANIFEST: manifest, "a0": np.array([_Boom()], dtype=object)})
    with pytest.raises(AnswerFormatError, match="not a plain .npz"):
        loads(evil.getvalue())
    assert not os.path.exists("/tmp/course-exchange-pickle-ran")
    squeezed = io.BytesIO()
    np.savez_compressed(squeezed, **{MANIFEST: manifest, "a0": np.zeros(10)})
    with pytest.raises(AnswerFormatError, match="compressed"):
        loads(squeezed.getvalue())
    with pytest.raises(AnswerFormatError, match="larger than"):
        loads(dumps({"x": np.zeros(100_000)}), max_bytes=100_000)
    with pytest.raises(AnswerFormatError):
        loads(b"not a zip at all")
    for bad in ({"$": "ndarray", "key": "a9"}, {"$": "eval", "text": "1"}, {"$": "frame", "columns": 3}):
        text = np.frombuffer(json.dumps({"x": bad}).encode(), dtype=np.uint8)
        buf = io.BytesIO()
        np.savez(buf, **{MANIFEST: text})
        with pytest.raises(AnswerFormatError):
            loads(buf.getvalue())


def test_the_grader_half_with_a_seed_of_its_own():
    """Right answers to checks on functions pass on inputs drawn from another seed; the
    exported outputs make the trip through the file format, as in grading."""
    import importlib

    from course_utils.checks import (
        check_inputs,
        export_answer,
        judge_answers,
        load_lesson,
    )
    from course_utils.checks.exchange import dumps, loads

    for lesson in ("02", "04", "06", "07"):
        right = importlib.import_module(f"tests.mutants.lesson{lesson}").RIGHT
        probed = [s for s in load_lesson(lesson) if s.inputs is not None]
        assert probed
        seed = 987_654
        answers = loads(dumps({s.id: export_answer(s, right[s.id](), loads(dumps({"i": check_inputs(s, seed)}))["i"])
                               for s in probed}))
        results = {r.id: r for r in judge_answers(lesson, answers, seed)}
        for spec in probed:
            assert results[spec.id].passed, (spec.id, results[spec.id].message)
        others = [r for r in results.values() if r.id not in answers]
        assert all(r.status == "missing" for r in others)


def test_points_are_clipped_to_the_registry_and_unknown_ids_refused():
    from course_utils.checks import clip_results

    inflated = [{"id": "01.whas_unique", "passed": True, "points": 1000, "status": "passed"},
                {"id": "01.holdout_roundtrip", "passed": True, "points": -5, "status": "passed"},
                {"id": "01.stroke_unique", "passed": True, "points": 1, "status": "failed"}]
    clipped = clip_results("01", inflated)
    assert [r["points"] for r in clipped] == [1.0, 0.0, 0.0]
    assert [r["passed"] for r in clipped] == [True, True, False]
    with pytest.raises(ValueError, match="01.bonus"):
        clip_results("01", [{"id": "01.bonus", "passed": True, "points": 1, "status": "passed"}])
