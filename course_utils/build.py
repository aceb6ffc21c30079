"""Build the learner notebooks in ``exercises/`` from the answer notebooks in ``solutions/``.

``solutions/NN_topic.ipynb`` is the only hand-edited copy. ``python -m course_utils build``
writes ``exercises/NN_topic.ipynb`` from it:

- in code cells, the lines between ``### BEGIN SOLUTION`` and ``### END SOLUTION``
  (markers included) become ``# YOUR CODE HERE`` and ``raise NotImplementedError()``,
  indented like the ``BEGIN`` marker; in markdown cells they become ``YOUR ANSWER HERE``;
- the lines between ``### BEGIN HIDDEN TESTS`` and ``### END HIDDEN TESTS`` are removed;
- cells tagged ``solution-only`` (cell metadata ``tags``) are removed whole;
- outputs and execution counts are cleared; cell ids, order and metadata are kept.

The markers are nbgrader's, so an instructor who uses nbgrader can take the solution
notebooks as they are. The output is deterministic (the same bytes on every run), so
``python -m course_utils build --check`` can tell whether ``exercises/`` is stale; the
test suite runs it. Unbalanced or nested markers stop the build with an error naming
the notebook and the cell.
"""

from __future__ import annotations

import argparse
import copy
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from .config import REPO_DIR

BEGIN_SOLUTION = "### BEGIN SOLUTION"
END_SOLUTION = "### END SOLUTION"
BEGIN_HIDDEN = "### BEGIN HIDDEN TESTS"
END_HIDDEN = "### END HIDDEN TESTS"
SOLUTION_ONLY_TAG = "solution-only"
"""Cell tag: the whole cell (e.g. an explanation of the answer) is left out of the learner copy."""

CODE_STUB = ("# YOUR CODE HERE", "raise NotImplementedError()")
MARKDOWN_STUB = "YOUR ANSWER HERE"

SOLUTIONS_DIR = REPO_DIR / "solutions"
EXERCISES_DIR = REPO_DIR / "exercises"

_MARKERS = {BEGIN_SOLUTION: "solution", END_SOLUTION: "solution",
            BEGIN_HIDDEN: "hidden", END_HIDDEN: "hidden"}


class BuildError(ValueError):
    """A solution notebook that cannot be turned into an exercise (names notebook and cell)."""


@dataclass
class Region:
    """One marked region of a cell: its kind, first and last line (markers included)."""

    kind: str  # "solution" | "hidden"
    start: int
    end: int
    indent: str


def _marker(line: str) -> str | None:
    stripped = line.strip()
    for marker in (BEGIN_HIDDEN, END_HIDDEN, BEGIN_SOLUTION, END_SOLUTION):
        if stripped == marker or (stripped.startswith(marker) and not stripped[len(marker):].strip()):
            return marker
    # A misspelt marker ("### BEGIN SOLUTIONS", "## END SOLUTION") would leak an answer.
    if re.match(r"^#+\s*(BEGIN|END)\s+(SOLUTION|HIDDEN)", stripped, flags=re.IGNORECASE):
        return "malformed"
    return None


def find_regions(lines: list[str], where: str) -> list[Region]:
    """The marked regions of a cell's lines; ``BuildError`` (naming ``where``) when unbalanced."""
    regions: list[Region] = []
    open_region: tuple[str, int, str] | None = None
    for i, line in enumerate(lines):
        marker = _marker(line)
        if marker is None:
            continue
        if marker == "malformed":
            raise BuildError(f"{where}, line {i + 1}: unrecognised marker {line.strip()!r}; "
                             f"write exactly {BEGIN_SOLUTION!r} / {END_SOLUTION!r} or "
                             f"{BEGIN_HIDDEN!r} / {END_HIDDEN!r}")
        kind = _MARKERS[marker]
        if marker.startswith("### BEGIN"):
            if open_region is not None:
                raise BuildError(f"{where}, line {i + 1}: {marker!r} inside an open "
                                 f"{open_region[0]} region (begun on line {open_region[1] + 1}); "
                                 "regions cannot nest")
            open_region = (kind, i, line[: len(line) - len(line.lstrip())])
        else:
            if open_region is None or open_region[0] != kind:
                raise BuildError(f"{where}, line {i + 1}: {marker!r} without a matching "
                                 f"'### BEGIN {'SOLUTION' if kind == 'solution' else 'HIDDEN TESTS'}'")
            regions.append(Region(kind, open_region[1], i, open_region[2]))
            open_region = None
    if open_region is not None:
        raise BuildError(f"{where}, line {open_region[1] + 1}: {lines[open_region[1]].strip()!r} "
                         "is never closed")
    return regions


def strip_source(source: str, cell_type: str, where: str) -> str:
    """The learner version of one cell's source."""
    lines = source.split("\n")
    regions = find_regions(lines, where)
    if not regions:
        return source
    out: list[str] = []
    pos = 0
    for region in regions:
        out.extend(lines[pos:region.start])
        if region.kind == "solution":
            if cell_type == "code":
                out.extend(region.indent + stub for stub in CODE_STUB)
            else:
                out.append(region.indent + MARKDOWN_STUB)
        pos = region.end + 1
    out.extend(lines[pos:])
    # A hidden-tests region at the end of a cell would leave trailing blank lines.
    while out and not out[-1].strip():
        out.pop()
    return "\n".join(out)


def _where(path: Path, index: int, cell) -> str:
    cell_id = cell.get("id")
    return f"{path.name}: cell {index + 1}" + (f" (id {cell_id!r})" if cell_id else "")


def build_notebook(path: str | Path):
    """Read a solution notebook and return its learner version (an ``nbformat`` node)."""
    import nbformat

    path = Path(path)
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as exc:  # not JSON, not a notebook
        raise BuildError(f"{path.name}: cannot be read as a notebook ({exc})") from None
    out = copy.deepcopy(nb)
    cells = []
    for index, cell in enumerate(nb.cells):
        where = _where(path, index, cell)
        if not cell.get("id"):
            raise BuildError(f"{where}: the cell has no id; open and save the notebook with "
                             "Jupyter (nbformat 4.5) so every cell gets a stable id")
        tags = cell.get("metadata", {}).get("tags", [])
        # Markers are checked even in removed cells: an unbalanced one is a mistake anyway.
        source = strip_source(cell.source, cell.cell_type, where)
        if SOLUTION_ONLY_TAG in tags:
            continue
        new = copy.deepcopy(cell)
        new.source = source
        if new.cell_type == "code":
            new.outputs = []
            new.execution_count = None
        cells.append(new)
    out.cells = cells
    return out


def notebook_text(nb) -> str:
    """The exact file contents nbformat writes for ``nb`` (with a final newline)."""
    import nbformat

    text = nbformat.writes(nb)
    return text if text.endswith("\n") else text + "\n"


def plan(solutions: Path = SOLUTIONS_DIR, exercises: Path = EXERCISES_DIR) -> dict[Path, str | None]:
    """What ``exercises/`` should hold: ``{path: text}``; ``None`` marks a stale file to delete."""
    wanted: dict[Path, str | None] = {}
    for src in sorted(Path(solutions).glob("*.ipynb")):
        wanted[Path(exercises) / src.name] = notebook_text(build_notebook(src))
    for old in sorted(Path(exercises).glob("*.ipynb")):
        if old not in wanted:
            wanted[old] = None
    return wanted


def stale_files(solutions: Path = SOLUTIONS_DIR, exercises: Path = EXERCISES_DIR) -> list[str]:
    """Exercise files that differ from a fresh build (missing, changed, or without a solution)."""
    stale = []
    for path, text in plan(solutions, exercises).items():
        if text is None:
            stale.append(f"{path} (no solution notebook; remove it)")
        elif not path.is_file():
            stale.append(f"{path} (missing)")
        elif path.read_bytes() != text.encode("utf-8"):
            stale.append(f"{path} (out of date)")
    return stale


def build(solutions: Path = SOLUTIONS_DIR, exercises: Path = EXERCISES_DIR) -> list[Path]:
    """Write ``exercises/`` from ``solutions/``; return the files written or removed."""
    changed = []
    wanted = plan(solutions, exercises)  # build all first: a bad notebook writes nothing
    Path(exercises).mkdir(parents=True, exist_ok=True)
    for path, text in wanted.items():
        if text is None:
            path.unlink()
            changed.append(path)
        elif not path.is_file() or path.read_bytes() != text.encode("utf-8"):
            path.write_bytes(text.encode("utf-8"))
            changed.append(path)
    return changed


def main(argv: list[str] | None = None) -> int:
    """``python -m course_utils build [--check]``."""
    parser = argparse.ArgumentParser(prog="python -m course_utils build",
                                     description="Write exercises/ from solutions/.")
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 and list the files when exercises/ is stale")
    parser.add_argument("--solutions", type=Path, default=SOLUTIONS_DIR)
    parser.add_argument("--exercises", type=Path, default=EXERCISES_DIR)
    args = parser.parse_args(argv)
    try:
        if args.check:
            stale = stale_files(args.solutions, args.exercises)
            if stale:
                print("exercises/ is stale; run `python -m course_utils build`:", file=sys.stderr)
                for line in stale:
                    print(f"  {line}", file=sys.stderr)
                return 1
            print(f"exercises/ is up to date ({len(list(args.solutions.glob('*.ipynb')))} notebooks)")
            return 0
        changed = build(args.solutions, args.exercises)
    except BuildError as exc:
        print(f"build failed: {exc}", file=sys.stderr)
        return 1
    for path in changed:
        print(f"{'removed' if not path.exists() else 'wrote'} {path}")
    if not changed:
        print("exercises/ already up to date")
    return 0


__all__ = [
    "BEGIN_HIDDEN", "BEGIN_SOLUTION", "BuildError", "END_HIDDEN", "END_SOLUTION",
    "SOLUTION_ONLY_TAG", "build", "build_notebook", "find_regions", "main", "notebook_text",
    "stale_files", "strip_source",
]
