"""``python -m course_utils check NOTEBOOK``: a learner's self-check in a fresh kernel."""

from __future__ import annotations

import hashlib
from pathlib import Path

import nbformat
import pytest

from course_utils import selfcheck

SETUP = "from course_utils.checks import check\nfrom course_utils.data import load_whas500\nwhas = load_whas500()"
RIGHT = ("whas_unique_share = None\n"
         "counts = whas.value_counts(['age', 'gender'])\n"
         "whas_unique_share = (counts == 1).sum() / len(whas)")


# A last cell that tries to pass every check by patching the machinery in its kernel.
TAMPER = """import course_utils.checks as C
C.load_lesson('01')
for spec in C.REGISTRY.values():
    spec.func = lambda *a, **k: None
C.run_lesson = lambda *a, **k: []
print('COURSE_CHECK_RESULTS_JSON: []')
"""


def _write(path: Path, sources: list[str]) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"c{i}"
    nbformat.write(nb, path)
    return path


def _digest(path: Path) -> tuple[str, int]:
    return hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns


def test_lesson_of():
    assert selfcheck.lesson_of("exercises/01_clinical_tables.ipynb") == "01"
    with pytest.raises(ValueError, match="NN_topic"):
        selfcheck.lesson_of("homework.ipynb")


def test_report_per_exercise_and_exit_status(tmp_path, capsys):
    path = _write(tmp_path / "01_mine.ipynb", [
        SETUP, RIGHT, "check('01.whas_unique', whas_unique_share)",
        "stroke_unique_share = None\nraise NotImplementedError()",
        "undefined_name + 1",
        TAMPER,
    ])
    before = _digest(path)
    status = selfcheck.main([str(path)])
    out = capsys.readouterr().out
    assert status == 1  # some checks fail, whatever the last cell patched
    assert "✅ 01.whas_unique" in out
    assert "❌ 01.stroke_unique: no answer yet" in out
    assert "hint: Revisit quasi-identifiers and one-hot groups" in out
    assert "❌ 01.stroke_metadata: variable `stroke_meta` is not defined" in out
    assert "still raise NotImplementedError" in out
    assert "raised NameError" in out
    assert "01.holdout_roundtrip_why" not in out  # grader-only checks stay hidden
    assert _digest(path) == before  # the learner's file is never modified
    assert not list(tmp_path.glob("*.nbconvert*")) and len(list(tmp_path.iterdir())) == 1


def test_unreadable_notebook_and_missing_file(tmp_path, capsys, monkeypatch):
    from course_utils import sandbox

    monkeypatch.setattr(sandbox, "available", lambda: "none")
    broken = tmp_path / "01_broken.ipynb"
    broken.write_text('{"cells": [', encoding="utf-8")
    assert selfcheck.main([str(broken)]) == 2
    captured = capsys.readouterr()
    assert "not valid JSON" in captured.out
    assert "no sandbox" in captured.err and len(captured.err.strip().splitlines()) == 1
    assert selfcheck.main([str(tmp_path / "01_nothing.ipynb")]) == 2
