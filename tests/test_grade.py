"""``python -m course_utils grade``: a varied batch of lesson 01 submissions -> the expected CSV.

One batch runs once per module (it is the expensive part): a right notebook, a blank
one, a file that is not JSON, an infinite loop, deleted variables, a kernel that
exits (a wrong answer rides along with the deleted variables). The timeout cases use tiny notebooks.
"""

from __future__ import annotations

import csv
import hashlib
import sys
import time
from pathlib import Path

import nbformat
import pytest

from course_utils import grade as G
from course_utils.notebook_runner import (
    STATUS_DEAD,
    STATUS_ERROR,
    STATUS_TIMEOUT,
    RunResult,
    run_notebook,
)

pytestmark = pytest.mark.slow  # runs notebooks in fresh kernels

REPO = Path(__file__).resolve().parents[1]
SOLUTION = REPO / "solutions" / "01_clinical_tables.ipynb"
EXERCISE = REPO / "exercises" / "01_clinical_tables.ipynb"
ALL = ["01.stroke_metadata", "01.holdout_roundtrip", "01.holdout_roundtrip_why", "01.whas_unique",
       "01.stroke_unique"]


def _read(path: Path):
    return nbformat.read(path, as_version=4)


def _cell(nb, cell_id: str):
    return next(c for c in nb.cells if c.id == cell_id)


def _add_code(nb, source: str, after: str | None = None, cell_id: str = "added"):
    cell = nbformat.v4.new_code_cell(source)
    cell["id"] = cell_id
    index = len(nb.cells) if after is None else [c.id for c in nb.cells].index(after) + 1
    nb.cells.insert(index, cell)
    return nb


def _submissions(folder: Path) -> list[Path]:
    folder.mkdir()
    paths = []

    def save(name: str, nb) -> None:
        path = folder / f"{name}.ipynb"
        nbformat.write(nb, path)
        paths.append(path)

    save("alice", _read(SOLUTION))  # everything right
    save("bob", _read(EXERCISE))  # handed in blank
    carol = folder / "carol.ipynb"  # truncated file, not JSON
    carol.write_text(SOLUTION.read_text(encoding="utf-8")[:500], encoding="utf-8")
    paths.append(carol)
    dave = _read(SOLUTION)  # an infinite loop in one answer cell
    _cell(dave, "ex3-answer").source = "whas_unique_share = None\nwhile True:\n    pass"
    save("dave", dave)
    erin = _read(SOLUTION)  # deleted variables, and a plausible wrong answer
    _cell(erin, "ex4-answer").source = (
        "counts = stroke.value_counts(['Age', 'Male'])\n"
        "stroke_unique_share = (counts == 1).sum() / len(stroke)")
    save("erin", _add_code(erin, "del stroke_meta, changed, outside_range"))
    save("frank", _add_code(_read(SOLUTION), "import os\nos._exit(1)", after="ex1-check"))
    return paths


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    root = tmp_path_factory.mktemp("grading")
    paths = _submissions(root / "submissions")
    digests = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}
    out = root / "results" / "grades.csv"
    status = G.main([*map(str, paths), "--lesson", "01", "--out", str(out), "--jobs", "2",
                     "--cell-timeout", "20", "--timeout", "300"])
    with open(out, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    return {"status": status, "rows": rows, "out": out, "paths": paths, "digests": digests}


def _table(rows, student):
    return {r["check_id"]: r for r in rows if r["student"] == student}


EXPECTED = {
    "alice": {c: "passed" for c in ALL},
    "bob": {c: "not answered" for c in ALL},
    "carol": {c: "invalid notebook" for c in ALL},
    "dave": {**{c: "passed" for c in ALL}, "01.whas_unique": "not answered"},
    "erin": {"01.stroke_metadata": "missing", "01.holdout_roundtrip": "missing",
             "01.holdout_roundtrip_why": "missing", "01.whas_unique": "passed",
             "01.stroke_unique": "failed"},
    "frank": {c: STATUS_DEAD for c in ALL},
}


def test_csv_has_one_row_per_student_and_check(batch):
    assert batch["status"] == 0
    rows = batch["rows"]
    assert list(rows[0]) == G.CSV_COLUMNS
    assert [r["student"] for r in rows[:: len(ALL)]] == list(EXPECTED)  # input order kept
    assert len(rows) == len(EXPECTED) * len(ALL)


@pytest.mark.parametrize("student", list(EXPECTED))
def test_each_submission_grades_as_expected(batch, student):
    table = _table(batch["rows"], student)
    assert list(table) == ALL
    assert {c: r["status"] for c, r in table.items()} == EXPECTED[student]
    for r in table.values():
        assert (r["passed"] == "True") == (r["status"] == "passed")
        assert float(r["points"]) == (float(r["max_points"]) if r["status"] == "passed" else 0.0)
        assert r["message"]


def test_messages_say_what_happened(batch):
    rows = batch["rows"]
    assert "not valid JSON" in _table(rows, "carol")["01.holdout_roundtrip"]["message"]
    assert "kernel died" in _table(rows, "frank")["01.whas_unique"]["message"]
    assert "`stroke_meta` is not defined" in _table(rows, "erin")["01.stroke_metadata"]["message"]
    assert "hospital is missing" in _table(rows, "erin")["01.stroke_unique"]["message"]


def test_feedback_files_and_submissions_untouched(batch):
    feedback = batch["out"].parent / "feedback"
    assert sorted(p.stem for p in feedback.glob("*.md")) == sorted(EXPECTED)
    alice = (feedback / "alice.md").read_text(encoding="utf-8")
    assert "Score: 5 / 5" in alice
    dave = (feedback / "dave.md").read_text(encoding="utf-8")
    assert "Score: 4 / 5" in dave and "How unique is a patient?" in dave
    assert "ran longer than 20 s and was interrupted" in dave
    for path, digest in batch["digests"].items():
        assert hashlib.sha256(path.read_bytes()).hexdigest() == digest
    assert sorted(p.name for p in batch["paths"][0].parent.iterdir()) == sorted(
        f"{s}.ipynb" for s in EXPECTED)


def _tiny(path: Path, *sources: str) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"c{i}"
    nbformat.write(nb, path)
    return path


def test_kernel_environment_and_a_cell_that_ignores_interrupts(tmp_path):
    """The kernel is this interpreter, in fast mode, one thread, in a private folder; a
    cell that ignores the interrupt is reported as that cell's timeout."""
    path = _tiny(tmp_path / "x.ipynb",
                 "import os, sys\n"
                 f"assert sys.prefix == {sys.prefix!r}\n"
                 "assert os.environ['COURSE_FAST'] == '1'\n"
                 "assert os.environ['OMP_NUM_THREADS'] == '1'\n"
                 f"assert os.getcwd() != {str(tmp_path)!r}",
                 "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass")
    start = time.monotonic()
    result = run_notebook(path, "01", cell_timeout=1, timeout=120)
    assert result.status == STATUS_TIMEOUT
    assert "cell 2 ran longer than 1 s and did not stop when interrupted" in result.detail
    assert time.monotonic() - start < 60  # killed after the cell's timeout, not the overall one
    assert result.cell_errors == []  # the environment assertions held
    rows = G.rows_for("x", result, G.load_lesson("01"))
    assert {r["status"] for r in rows} == {STATUS_TIMEOUT} and not any(r["passed"] for r in rows)


def test_overall_timeout(tmp_path):
    path = _tiny(tmp_path / "slow.ipynb", *["import time\ntime.sleep(2)"] * 30)
    result = run_notebook(path, "01", cell_timeout=10, timeout=6)
    assert result.status == STATUS_TIMEOUT and "within 6 s" in result.detail


def test_points_are_clipped_and_unknown_ids_are_errors():
    specs = G.load_lesson("01")
    inflated = [{"id": s.id, "passed": True, "points": 1000.0, "max_points": 1000.0, "message": "correct",
                 "status": "passed"} for s in specs]
    rows = G.rows_for("x", RunResult("ok", checks=inflated), specs)
    assert sum(r["points"] for r in rows) == sum(s.points for s in specs)
    assert all(r["points"] <= r["max_points"] == s.points for r, s in zip(rows, specs, strict=True))
    forged = [*inflated, {"id": "01.bonus", "passed": True, "points": 5.0, "status": "passed", "message": ""}]
    rows = G.rows_for("x", RunResult("ok", checks=forged), specs)
    assert {r["status"] for r in rows} == {STATUS_ERROR} and sum(r["points"] for r in rows) == 0
    assert "01.bonus" in rows[0]["message"]


def test_grade_refuses_without_a_sandbox_unless_asked(tmp_path, monkeypatch, capsys):
    from course_utils import sandbox

    monkeypatch.setattr(sandbox, "available", lambda: "none")
    nb = _tiny(tmp_path / "a.ipynb", "x = 1")
    assert G.main([str(nb), "--lesson", "01", "--out", str(tmp_path / "g.csv")]) == 2
    err = capsys.readouterr().err
    assert "no sandbox" in err and "--no-sandbox" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "g.csv").exists()
    with pytest.raises(ValueError, match="no sandbox"):  # the Python API refuses too
        G.grade([nb], "01", tmp_path / "g.csv")


def test_without_a_sandbox_a_right_notebook_keeps_its_marks_and_its_child_is_swept(tmp_path, monkeypatch):
    """The backstop where no sandbox works: every process carrying the run's marker dies."""
    import os
    import uuid

    batch = uuid.uuid4().hex
    monkeypatch.setenv("COURSE_SWEEP_TEST", batch)
    path = _tiny(tmp_path / "x.ipynb",
                 "from course_utils.data import load_whas500\nwhas = load_whas500()\n"
                 "counts = whas.value_counts(['age', 'gender'])\n"
                 "whas_unique_share = (counts == 1).sum() / len(whas)",
                 "import os, time\nif os.fork() == 0:\n    os.setsid()\n    while True:\n        time.sleep(1)")
    result = run_notebook(path, "01", cell_timeout=60, timeout=120, sandbox_kind="none")
    assert result.status == "ok" and result.sandbox == "none", result.detail
    assert {c["id"]: c["passed"] for c in result.checks}["01.whas_unique"]
    needle = f"COURSE_SWEEP_TEST={batch}".encode()
    left = []
    for entry in os.listdir("/proc"):
        try:
            if entry.isdigit() and needle in open(f"/proc/{entry}/environ", "rb").read().split(b"\0"):
                left.append(entry)
        except OSError:
            pass
    assert left == []


def test_student_names():
    assert G.student_name("subs/alice.ipynb") == "alice"
    assert G.student_name("submitted/bob/01_clinical_tables.ipynb") == "bob"
    assert G._unique_names([Path("a/x.ipynb"), Path("b/x.ipynb")]) == ["x-1", "x-2"]
