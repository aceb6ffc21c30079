"""A learner's self-check: ``python -m course_utils check exercises/01_clinical_tables.ipynb``.

Runs the notebook top to bottom in a fresh kernel, in a temporary copy (your file is
only read, never changed), then runs every check of the lesson against the variables
the notebook left behind and prints one line per exercise. The exit status is 0 when
every check passes, 1 otherwise (2 when the notebook could not be run at all).

Your saved file is what gets checked: save the notebook in JupyterLab first. The
checks run in fast mode (``COURSE_FAST=1``) unless you pass ``--full``.

It takes the grader's path: the notebook runs in a sandbox where one is available
(otherwise unconfined, with a one-line note: on your own machine the notebook is your
own code), its answers are exported by value, and the verdicts are reached in this
process by the course's own checks, exactly as ``grade`` reaches them.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from . import sandbox
from .checks import clip_results
from .notebook_runner import STATUS_OK, RunResult, run_notebook

_LESSON = re.compile(r"^(\d{2})_")


def lesson_of(path: str | Path) -> str:
    """The lesson number of an exercise notebook, from its file name (``01_topic.ipynb`` -> ``"01"``)."""
    match = _LESSON.match(Path(path).name)
    if match is None:
        raise ValueError(
            f"cannot tell the lesson of {Path(path).name!r}: exercise notebooks are named "
            "NN_topic.ipynb; pass --lesson NN"
        )
    return match.group(1)


def format_report(path: str | Path, result: RunResult, lesson: str | None = None) -> str:
    """The per-exercise report a learner reads (points clipped to each check's maximum)."""
    lines = [f"{Path(path).name}"]
    if result.status != STATUS_OK:
        lines.append(f"  ❌ the notebook could not be checked: {result.detail}")
        return "\n".join(lines)
    checks = result.checks or []
    if checks:
        checks = clip_results(lesson or str(checks[0]["id"]).split(".", 1)[0], checks)
    for res in checks:
        if res["passed"]:
            lines.append(f"  ✅ {res['id']}")
        else:
            lines.append(f"  ❌ {res['id']}: {res['message']}")
            if res.get("hint"):
                lines.append(f"     hint: {res['hint']}")
    errors = [e for e in result.cell_errors if e.ename != "NotImplementedError"]
    todo = [e for e in result.cell_errors if e.ename == "NotImplementedError"]
    if todo:
        lines.append(f"  {len(todo)} answer cell(s) still raise NotImplementedError "
                     "(replace the stub with your code)")
    for err in errors[:5]:
        lines.append(f"  ⚠ cell {err.index + 1} raised {err.ename}: {err.evalue[:160]}")
    score = sum(r["points"] for r in checks)
    total = sum(r["max_points"] for r in checks)
    passed = sum(bool(r["passed"]) for r in checks)
    lines.append(f"  {passed}/{len(checks)} checks passed, {score:g}/{total:g} points "
                 f"({result.elapsed:.0f} s)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """``python -m course_utils check NOTEBOOK...``; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m course_utils check",
        description="Run exercise notebooks in a fresh kernel and report every check.",
    )
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--lesson", default=None, help="lesson number, when the file name lacks it")
    parser.add_argument("--full", action="store_true", help="run at full settings, not fast mode")
    parser.add_argument("--cell-timeout", type=float, default=300,
                        help="seconds one cell may run (default 300)")
    parser.add_argument("--timeout", type=float, default=1800,
                        help="seconds the whole notebook may run (default 1800)")
    args = parser.parse_args(argv)
    status = 0
    if sandbox.available() == "none":
        print("note: no sandbox here (bubblewrap is not installed), so the notebook runs with "
              "your permissions; fine for your own notebook", file=sys.stderr)
    for path in args.notebooks:
        if not path.is_file():
            print(f"{path}: no such file", file=sys.stderr)
            status = max(status, 2)
            continue
        try:
            lesson = args.lesson or lesson_of(path)
        except ValueError as exc:
            print(exc, file=sys.stderr)
            status = max(status, 2)
            continue
        print(f"running {path} in a fresh kernel ...", flush=True)
        result = run_notebook(path, lesson, hidden=False, cell_timeout=args.cell_timeout,
                              timeout=args.timeout, fast=not args.full)
        try:
            print(format_report(path, result, lesson))
        except ValueError as exc:  # a result for a check the lesson does not define
            print(f"{path.name}\n  ❌ the notebook could not be checked: {exc}")
            status = max(status, 2)
            continue
        if result.status != STATUS_OK:
            status = max(status, 2)
        elif not result.checks or not all(r["passed"] for r in result.checks):
            status = max(status, 1)
    return status
