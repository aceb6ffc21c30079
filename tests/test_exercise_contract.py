"""Contract of every exercise notebook, parametrised over ``solutions/*.ipynb``.

- the solution notebook runs without an error and scores full marks, in the sandbox the
  grader would use, with its answers exported by value and judged outside the kernel on
  inputs drawn from a fresh seed;
- its generated exercise scores zero on every check, for the right reason: the only
  errors are ``NotImplementedError`` from the answer stubs (never an ImportError,
  FileNotFoundError or NameError from a cell the learner does not edit);
- no line of an answer, a hidden test or a solution-only cell reaches ``exercises/``;
- the check ids used in the notebook are registered, and every visible check is called.

Each notebook runs once per module (cached): they are the expensive part.
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest

from course_utils import sandbox
from course_utils.build import SOLUTION_ONLY_TAG, find_regions
from course_utils.checks import load_lesson
from course_utils.notebook_runner import STATUS_OK, run_notebook

pytestmark = pytest.mark.slow  # runs notebooks in fresh kernels

REPO = Path(__file__).resolve().parents[1]
SOLUTIONS = sorted((REPO / "solutions").glob("*.ipynb"))
IDS = [p.stem for p in SOLUTIONS]
STUB = "raise NotImplementedError()"
CHECK_CALL = re.compile(r"""check\(\s*["'](\d{2}\.\w+)["']""")


def _lesson(path: Path) -> str:
    return path.name[:2]


@pytest.fixture(scope="module")
def runs():
    """Run every solution and exercise once, two kernels at a time; tests wait for theirs."""
    paths = [p for s in SOLUTIONS for p in (s, REPO / "exercises" / s.name) if p.is_file()]
    pool = ThreadPoolExecutor(max_workers=2)
    futures = {p: pool.submit(run_notebook, p, _lesson(p), hidden=True, cell_timeout=120,
                              timeout=600, fast=True) for p in paths}
    yield lambda path: futures[path].result()
    pool.shutdown(cancel_futures=True)


def test_there_is_at_least_one_solution_notebook():
    assert SOLUTIONS, "solutions/ holds no notebook"


@pytest.mark.parametrize("solution", SOLUTIONS, ids=IDS)
def test_solution_scores_full_marks(solution, runs):
    result = runs(solution)
    assert result.status == STATUS_OK, result.detail
    assert result.sandbox == sandbox.available()  # graded as a room would be, where it can be
    assert result.cell_errors == [], result.cell_errors
    registered = [spec.id for spec in load_lesson(_lesson(solution))]
    assert [c["id"] for c in result.checks] == registered
    failed = {c["id"]: c["message"] for c in result.checks if not c["passed"]}
    assert not failed, failed


@pytest.mark.parametrize("solution", SOLUTIONS, ids=IDS)
def test_exercise_scores_zero_for_the_right_reason(solution, runs):
    exercise = REPO / "exercises" / solution.name
    assert exercise.is_file(), "run `python -m course_utils build`"
    result = runs(exercise)
    assert result.status == STATUS_OK, result.detail
    nb = nbformat.read(exercise, as_version=4)
    for err in result.cell_errors:
        source = nb.cells[err.index].source
        assert err.ename == "NotImplementedError" and STUB in source, (
            f"cell {err.index + 1} ({err.cell_id}) of the exercise raised {err.ename}: "
            f"{err.evalue}; only answer stubs may fail")
    stubs = sum(STUB in c.source for c in nb.cells if c.cell_type == "code")
    assert len(result.cell_errors) == stubs  # every stub raised, nothing else did
    for c in result.checks:
        assert not c["passed"], f"{c['id']} passes on the blank exercise"
        assert c["points"] == 0
        assert c["status"] in ("not answered", "failed"), (c["id"], c["status"], c["message"])


def _secret_lines(path: Path) -> set[str]:
    """Non-trivial lines of the solution regions, hidden tests and solution-only cells."""
    nb = nbformat.read(path, as_version=4)
    secret, public = set(), set()
    for index, cell in enumerate(nb.cells):
        lines = cell.source.split("\n")
        inside = set()
        if SOLUTION_ONLY_TAG in cell.get("metadata", {}).get("tags", []):
            inside = set(range(len(lines)))
        for region in find_regions(lines, f"{path.name}: cell {index + 1}"):
            inside |= set(range(region.start + 1, region.end))
        for i, line in enumerate(lines):
            (secret if i in inside else public).add(line.strip())
    # lines that also appear outside the regions (e.g. "print(X.shape)") are not secrets
    return {s for s in secret - public if len(s) >= 12 and not s.startswith("#")}


@pytest.mark.parametrize("solution", SOLUTIONS, ids=IDS)
def test_no_solution_text_in_exercises(solution):
    secrets = _secret_lines(solution)
    assert secrets, "the solution notebook has no answer region"
    for exercise in sorted((REPO / "exercises").glob("*.ipynb")):
        text = {line.strip() for c in nbformat.read(exercise, as_version=4).cells
                for line in c.source.split("\n")}
        leaked = sorted(secrets & text)
        assert not leaked, f"{exercise.name} contains solution text: {leaked[:3]}"


def _check_calls(path: Path) -> set[str]:
    nb = nbformat.read(path, as_version=4)
    return {cid for c in nb.cells if c.cell_type == "code" for cid in CHECK_CALL.findall(c.source)}


@pytest.mark.parametrize("solution", SOLUTIONS, ids=IDS)
def test_check_calls_match_the_registry(solution):
    lesson = _lesson(solution)
    specs = {spec.id: spec for spec in load_lesson(lesson)}
    used = _check_calls(solution)
    assert used <= set(specs), f"unregistered check ids: {sorted(used - set(specs))}"
    exercise_calls = _check_calls(REPO / "exercises" / solution.name)
    visible = {cid for cid, spec in specs.items() if not spec.hidden}
    assert exercise_calls == visible, "every visible check needs a check cell; hidden ones none"
    for cid in used:
        assert cid.startswith(f"{lesson}."), f"{cid} belongs to another lesson"
