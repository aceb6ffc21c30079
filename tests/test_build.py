"""``python -m course_utils build``: solutions/ -> exercises/, deterministic, with --check."""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest

from course_utils import build as B

REPO = Path(__file__).resolve().parents[1]


def _nb(cells, path: Path) -> Path:
    nb = nbformat.v4.new_notebook()
    for i, (kind, source, *tags) in enumerate(cells):
        cell = nbformat.v4.new_code_cell(source) if kind == "code" else nbformat.v4.new_markdown_cell(source)
        cell["id"] = f"cell-{i}"
        if tags:
            cell["metadata"]["tags"] = list(tags)
        if kind == "code":
            cell["execution_count"] = 3
            cell["outputs"] = [nbformat.v4.new_output("stream", text="42\n")]
        nb.cells.append(cell)
    nbformat.write(nb, path)
    return path


ANSWER = """def area(r):
    \"\"\"Area of a circle.\"\"\"
    ### BEGIN SOLUTION
    import math
    return math.pi * r ** 2
    ### END SOLUTION
answer = None
### BEGIN SOLUTION
answer = area(2.0)
### END SOLUTION"""

CHECK = """check("99.area", answer)
### BEGIN HIDDEN TESTS
check("99.area_hidden", answer)
### END HIDDEN TESTS"""


@pytest.fixture
def folders(tmp_path):
    sol, ex = tmp_path / "solutions", tmp_path / "exercises"
    sol.mkdir()
    _nb([("markdown", "# Title"), ("code", ANSWER), ("code", CHECK),
         ("markdown", "Why pi r squared: the secret explanation", "solution-only"),
         ("markdown", "Explain.\n### BEGIN SOLUTION\nBecause of symmetry.\n### END SOLUTION"),
         ("code", "print('the end')")], sol / "99_demo.ipynb")
    return sol, ex


def test_stubs_keep_indentation_and_hidden_tests_go(folders):
    sol, _ = folders
    nb = B.build_notebook(sol / "99_demo.ipynb")
    answer = nb.cells[1].source.split("\n")
    assert answer == [
        "def area(r):", '    """Area of a circle."""',
        "    # YOUR CODE HERE", "    raise NotImplementedError()",
        "answer = None", "# YOUR CODE HERE", "raise NotImplementedError()",
    ]
    assert nb.cells[2].source == 'check("99.area", answer)'
    assert "YOUR ANSWER HERE" in nb.cells[3].source and "symmetry" not in nb.cells[3].source


def test_solution_only_cells_removed_ids_order_kept_outputs_cleared(folders):
    sol, _ = folders
    nb = B.build_notebook(sol / "99_demo.ipynb")
    assert [c.id for c in nb.cells] == ["cell-0", "cell-1", "cell-2", "cell-4", "cell-5"]
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
    assert all("secret" not in c.source for c in nb.cells)
    nbformat.validate(nb)


def test_build_is_deterministic_and_check_detects_staleness(folders, capsys):
    sol, ex = folders
    assert B.main(["--solutions", str(sol), "--exercises", str(ex), "--check"]) == 1
    assert "99_demo.ipynb (missing)" in capsys.readouterr().err
    assert B.main(["--solutions", str(sol), "--exercises", str(ex)]) == 0
    first = (ex / "99_demo.ipynb").read_bytes()
    assert B.main(["--solutions", str(sol), "--exercises", str(ex)]) == 0
    assert (ex / "99_demo.ipynb").read_bytes() == first
    assert B.main(["--solutions", str(sol), "--exercises", str(ex), "--check"]) == 0
    # edit the solution: the exercise is now stale, and --check names it
    nb = nbformat.read(sol / "99_demo.ipynb", as_version=4)
    nb.cells[0].source = "# A new title"
    nbformat.write(nb, sol / "99_demo.ipynb")
    capsys.readouterr()
    assert B.main(["--solutions", str(sol), "--exercises", str(ex), "--check"]) == 1
    assert "99_demo.ipynb (out of date)" in capsys.readouterr().err
    # an exercise without a solution is stale too, and build removes it
    shutil.copy(ex / "99_demo.ipynb", ex / "98_orphan.ipynb")
    assert any("98_orphan" in s for s in B.stale_files(sol, ex))
    B.build(sol, ex)
    assert not (ex / "98_orphan.ipynb").exists()
    assert B.stale_files(sol, ex) == []


@pytest.mark.parametrize(
    ("source", "needle"),
    [
        ("x = 1\n### BEGIN SOLUTION\nx = 2", "never closed"),
        ("### END SOLUTION\nx = 1", "without a matching"),
        ("### BEGIN SOLUTION\n### BEGIN HIDDEN TESTS\n### END HIDDEN TESTS\n### END SOLUTION",
         "cannot nest"),
        ("### BEGIN HIDDEN TESTS\nx = 1\n### END SOLUTION", "without a matching"),
        ("### BEGIN SOLUTIONS\nx = 1\n### END SOLUTION", "unrecognised marker"),
    ],
)
def test_unbalanced_markers_refused_naming_notebook_and_cell(tmp_path, source, needle, capsys):
    sol, ex = tmp_path / "solutions", tmp_path / "exercises"
    sol.mkdir()
    _nb([("markdown", "# T"), ("code", "y = 0"), ("code", source)], sol / "07_bad.ipynb")
    with pytest.raises(B.BuildError) as info:
        B.build_notebook(sol / "07_bad.ipynb")
    message = str(info.value)
    assert "07_bad.ipynb" in message and "cell 3" in message and "cell-2" in message
    assert needle in message
    assert B.main(["--solutions", str(sol), "--exercises", str(ex)]) == 1
    assert "07_bad.ipynb" in capsys.readouterr().err
    assert not list(ex.glob("*.ipynb")) if ex.exists() else True


def test_cell_without_id_refused(tmp_path):
    path = _nb([("code", "x = 1")], tmp_path / "05_noid.ipynb")
    nb = nbformat.read(path, as_version=4)
    del nb.cells[0]["id"]
    nb.nbformat_minor = 4
    nbformat.write(nb, path)
    with pytest.raises(B.BuildError, match="no id"):
        B.build_notebook(path)


def test_repository_exercises_are_up_to_date(capsys):
    """The committed exercises/ must match a fresh build of solutions/."""
    status = B.main(["--check"])
    assert status == 0, capsys.readouterr().err
    assert sorted(p.name for p in (REPO / "exercises").glob("*.ipynb")) == sorted(
        p.name for p in (REPO / "solutions").glob("*.ipynb"))
