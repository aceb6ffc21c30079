"""Batch grading: ``python -m course_utils grade SUBMISSIONS... --lesson 01 --out grades.csv``.

Each submission runs in its own fresh kernel, on a private copy in its own temporary
folder (the submitted file is only read), in fast mode (``COURSE_FAST=1``, one thread per
library), with ``allow_errors`` and a per-cell timeout, inside a sandbox (bubblewrap;
see :mod:`course_utils.sandbox`) that shows it neither the other submissions nor the
grader's output. After the last cell the notebook's answers are exported by value, and
every check of the lesson, the hidden ones included, judges them here, in the grader's
own process (see :mod:`course_utils.notebook_runner`). Points are clipped to each
check's maximum; a result for a check the lesson does not define is an error.

Output:

- ``grades.csv``: one row per submission and check, columns ``student, check_id, points,
  max_points, passed, message, status``;
- ``feedback/<student>.md`` next to the CSV: a short report per learner.

The student name is the file name without ``.ipynb``; when the file keeps the exercise's
own name (``01_clinical_tables.ipynb``, as in nbgrader's ``submitted/<student>/`` layout)
the name of its folder is used instead. A file that is not a notebook, a notebook that
never finishes, a kernel that dies and a variable that was deleted each give rows with a
clear message, never a crash of the grader.

Where no sandbox works, ``grade`` says so and refuses to run unless ``--no-sandbox`` is
given: the notebooks would then run with your permissions (see the README, section
"Grading a room").
"""

from __future__ import annotations

import argparse
import csv
import re
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from . import sandbox
from .checks import CheckSpec, clip_results, load_lesson
from .notebook_runner import STATUS_ERROR, STATUS_OK, RunResult, run_notebook

CSV_COLUMNS = ["student", "check_id", "points", "max_points", "passed", "message", "status"]
_EXERCISE_NAME = re.compile(r"^\d{2}_")


@dataclass
class Submission:
    """One graded notebook: who, which file, and what running it gave."""

    student: str
    path: Path
    result: RunResult


def student_name(path: str | Path) -> str:
    """The learner a submission belongs to, from its file name (or folder, see module doc)."""
    path = Path(path)
    stem = path.stem
    if _EXERCISE_NAME.match(stem) and path.parent.name not in ("", "."):
        return path.parent.name
    return stem


def _safe_filename(name: str) -> str:
    return re.sub(r"[^\w.-]", "_", name) or "student"


def _unique_names(paths: Sequence[Path]) -> list[str]:
    names = [student_name(p) for p in paths]
    seen: dict[str, int] = {}
    out = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        out.append(name if names.count(name) == 1 else f"{name}-{seen[name]}")
    return out


def rows_for(student: str, result: RunResult, specs: list[CheckSpec]) -> list[dict]:
    """CSV rows of one submission: one per registered check, whatever happened to the notebook.

    Points never exceed a check's maximum; a result for an id the lesson does not
    define turns the whole submission into an error.
    """
    lesson = specs[0].lesson if specs else ""
    try:
        checks = clip_results(lesson, result.checks or [])
    except ValueError as exc:
        result = RunResult(STATUS_ERROR, f"grading failed: {exc}", None, result.cell_errors, result.elapsed)
        checks = []
    by_id = {c["id"]: c for c in checks}
    rows = []
    for spec in specs:
        res = by_id.get(spec.id)
        if result.status == STATUS_OK and res is not None:
            rows.append({"student": student, "check_id": spec.id, "points": float(res["points"]),
                         "max_points": float(spec.points), "passed": bool(res["passed"]),
                         "message": res["message"], "status": res["status"]})
        else:
            message = result.detail if result.status != STATUS_OK else "this check did not run"
            rows.append({"student": student, "check_id": spec.id, "points": 0.0,
                         "max_points": float(spec.points), "passed": False, "message": message,
                         "status": result.status if result.status != STATUS_OK else "error"})
    return rows


def feedback_markdown(student: str, lesson: str, rows: list[dict], result: RunResult,
                      specs: list[CheckSpec]) -> str:
    """A short Markdown report for one learner."""
    hints = {s.id: s.hint for s in specs}
    score = sum(r["points"] for r in rows)
    total = sum(r["max_points"] for r in rows)
    lines = [f"# Lesson {lesson}: feedback for {student}", "",
             f"**Score: {score:g} / {total:g}**", ""]
    if result.status != STATUS_OK:
        lines += [f"Your notebook could not be graded normally: {result.detail}.", ""]
    lines += ["| check | result | points | message |", "|---|---|---|---|"]
    for r in rows:
        mark = "✅" if r["passed"] else "❌"
        message = str(r["message"]).replace("|", "\\|").replace("\n", " ")
        lines.append(f"| `{r['check_id']}` | {mark} | {r['points']:g}/{r['max_points']:g} | {message} |")
    missed = [r for r in rows if not r["passed"] and hints.get(r["check_id"])]
    if missed:
        lines += ["", "## What to revisit", ""]
        lines += [f"- `{r['check_id']}`: {hints[r['check_id']]}" for r in missed]
    errors = [e for e in result.cell_errors if e.ename != "NotImplementedError"]
    if errors:
        lines += ["", "## Cells that raised an error", ""]
        lines += [f"- cell {e.index + 1} (`{e.source_head}`): {e.ename}: {e.evalue[:200]}"
                  for e in errors[:10]]
    return "\n".join(lines) + "\n"


def grade(
    paths: Sequence[str | Path],
    lesson: str,
    out: str | Path,
    *,
    jobs: int = 1,
    cell_timeout: float = 60,
    timeout: float = 600,
    fast: bool = True,
    feedback_dir: str | Path | None = None,
    progress: bool = True,
    sandbox_kind: str = "auto",
) -> list[dict]:
    """Grade notebooks, write the CSV and feedback files, and return the CSV rows.

    ``feedback_dir`` defaults to ``feedback/`` next to ``out``. Rows come in the order
    of ``paths``, checks in their registration order. ``sandbox_kind`` as in
    :func:`~course_utils.notebook_runner.run_notebook`; every run is denied a view of
    every submission, of ``out`` and of the feedback folder. Where ``"auto"`` finds no
    sandbox, ``ValueError``: pass ``sandbox_kind="none"`` to run unconfined.
    """
    from tqdm.auto import tqdm

    lesson = str(lesson).zfill(2)
    specs = load_lesson(lesson)
    if not specs:
        raise ValueError(f"lesson {lesson} has no registered checks")
    paths = [Path(p) for p in paths]
    names = _unique_names(paths)
    results: dict[int, RunResult] = {}
    out = Path(out)
    feedback = Path(feedback_dir) if feedback_dir is not None else out.parent / "feedback"
    kind = sandbox.resolve(sandbox_kind)
    if kind == "none" and sandbox_kind != "none":
        raise ValueError(sandbox.NO_SANDBOX_WARNING)  # unconfined only when asked for by name
    hide = [*paths, *{p.parent for p in paths}, out, out.parent, feedback]

    def one(i: int) -> tuple[int, RunResult]:
        return i, run_notebook(paths[i], lesson, hidden=True, cell_timeout=cell_timeout,
                               timeout=timeout, fast=fast, sandbox_kind=kind, hide=hide)

    bar = tqdm(total=len(paths), desc=f"grading lesson {lesson}", unit="notebook",
               disable=not progress)
    with ThreadPoolExecutor(max_workers=max(1, int(jobs))) as pool:
        futures = [pool.submit(one, i) for i in range(len(paths))]
        for future in as_completed(futures):
            i, result = future.result()
            results[i] = result
            bar.set_postfix_str(f"{names[i]}: {result.status}")
            bar.update()
    bar.close()

    out.parent.mkdir(parents=True, exist_ok=True)
    feedback.mkdir(parents=True, exist_ok=True)
    all_rows: list[dict] = []
    for i, name in enumerate(names):
        rows = rows_for(name, results[i], specs)
        all_rows.extend(rows)
        (feedback / f"{_safe_filename(name)}.md").write_text(
            feedback_markdown(name, lesson, rows, results[i], specs), encoding="utf-8")
    with open(out, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        writer.writerows(all_rows)
    return all_rows


def main(argv: list[str] | None = None) -> int:
    """``python -m course_utils grade``; returns 0 when the batch was graded (whatever the marks)."""
    parser = argparse.ArgumentParser(
        prog="python -m course_utils grade",
        description="Grade submitted exercise notebooks into a CSV and feedback files.",
    )
    parser.add_argument("submissions", nargs="+", type=Path,
                        help="notebooks, or folders searched recursively for *.ipynb")
    parser.add_argument("--lesson", required=True, help="lesson number, e.g. 01")
    parser.add_argument("--out", type=Path, default=Path("grades.csv"))
    parser.add_argument("--feedback", type=Path, default=None,
                        help="folder for the Markdown feedback (default: feedback/ next to --out)")
    parser.add_argument("--jobs", type=int, default=1, help="kernels run side by side (default 1)")
    parser.add_argument("--cell-timeout", type=float, default=60,
                        help="seconds one cell may run before it is interrupted (default 60)")
    parser.add_argument("--timeout", type=float, default=600,
                        help="seconds a whole notebook may run before its kernel is killed (default 600)")
    parser.add_argument("--no-fast", action="store_true", help="grade at full settings")
    parser.add_argument("--no-sandbox", action="store_true",
                        help="run the notebooks unconfined, with your permissions (only where no "
                             "sandbox works and you trust every submission)")
    args = parser.parse_args(argv)
    if args.no_sandbox:
        print("warning: grading without a sandbox: every notebook runs with your permissions and "
              "can read or change other submissions, your files and the grades", file=sys.stderr)
        kind = "none"
    else:
        kind = sandbox.available()
        if kind == "none":
            print(sandbox.NO_SANDBOX_WARNING, file=sys.stderr)
            return 2

    paths: list[Path] = []
    for item in args.submissions:
        if item.is_dir():
            paths.extend(sorted(p for p in item.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts))
        elif item.exists():
            paths.append(item)
        else:
            print(f"no such file: {item}", file=sys.stderr)
            return 2
    if not paths:
        print("no notebooks to grade", file=sys.stderr)
        return 2
    try:
        rows = grade(paths, args.lesson, args.out, jobs=args.jobs, cell_timeout=args.cell_timeout,
                     timeout=args.timeout, fast=not args.no_fast, feedback_dir=args.feedback,
                     sandbox_kind=kind)
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 2
    totals: dict[str, list[float]] = {}
    for r in rows:
        t = totals.setdefault(r["student"], [0.0, 0.0])
        t[0] += r["points"]
        t[1] += r["max_points"]
    for student, (score, total) in totals.items():
        print(f"{student}: {score:g}/{total:g}")
    feedback = args.feedback or args.out.parent / "feedback"
    print(f"wrote {args.out} ({len(rows)} rows) and {len(totals)} feedback files in {feedback}/")
    return 0
