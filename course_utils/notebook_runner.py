"""Run a notebook in a fresh kernel, safely, and collect its check results.

Shared by ``python -m course_utils check`` (a learner's self-check) and
``python -m course_utils grade`` (an instructor's batch). Both need the same things:

- the notebook runs in a **temporary copy** (the learner's file is only read);
- a fresh ``python3`` kernel of the interpreter running this code (jupyter_client
  replaces the kernelspec's ``python`` by ``sys.executable``, so a ``.venv`` runs
  its own packages);
- ``allow_errors``: a cell that raises does not stop the cells after it;
- a per-cell timeout that interrupts a cell which runs too long, and an overall
  timeout after which the kernel is killed;
- a kernel that crashes (``os._exit``, out of memory) or a file that is not a
  notebook gives a clear status instead of an exception;
- after the last cell, an injected cell runs every check of the lesson against the
  variables the notebook left behind and prints the results as one JSON line.

Each notebook runs in its own worker process (``python -m course_utils.notebook_runner``)
so that a misbehaving notebook can never take the caller down with it and several
notebooks can run side by side.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

RESULT_MARKER = "COURSE_CHECK_RESULTS_JSON:"
"""Prefix of the line the injected cell prints; the JSON list of results follows it."""

INJECTED_CELL_ID = "course-utils-run-checks"

STATUS_OK = "ok"
STATUS_INVALID = "invalid notebook"
STATUS_TIMEOUT = "timeout"
STATUS_DEAD = "kernel died"
STATUS_NO_RESULTS = "no results"
STATUS_ERROR = "runner error"


@dataclass
class CellError:
    """An exception raised by one cell of the notebook."""

    index: int
    cell_id: str | None
    ename: str
    evalue: str
    source_head: str = ""


@dataclass
class RunResult:
    """What running one notebook produced.

    ``status`` is ``"ok"`` when the notebook ran to its end and the checks ran; then
    ``checks`` holds one dict per check (see :class:`course_utils.checks.CheckResult`).
    Otherwise ``detail`` says what went wrong in words a learner understands.
    """

    status: str
    detail: str = ""
    checks: list[dict[str, Any]] | None = None
    cell_errors: list[CellError] = field(default_factory=list)
    elapsed: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly dict (what the worker process writes)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RunResult:
        """Rebuild from :meth:`to_dict` output."""
        errors = [CellError(**e) for e in d.get("cell_errors", [])]
        return cls(d["status"], d.get("detail", ""), d.get("checks"), errors, d.get("elapsed", 0.0))


def kernel_env(fast: bool = True) -> dict[str, str]:
    """The environment of a grading kernel: ours, with fast mode and one thread per library."""
    env = dict(os.environ)
    if fast:
        env["COURSE_FAST"] = "1"
    else:
        env.pop("COURSE_FAST", None)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env[var] = "1"
    env["COURSE_TORCH_THREADS"] = "1"
    # Find the python3 kernelspec of this environment first, not one in the user's home
    # that may point at another interpreter.
    env["JUPYTER_PREFER_ENV_PATH"] = "1"
    env.pop("PYTEST_CURRENT_TEST", None)
    # Matplotlib must never try to open a window in a headless grader.
    env["MPLBACKEND"] = "Agg"
    return env


def injected_source(lesson: str, hidden: bool) -> str:
    """Source of the final cell: run the lesson's checks against the notebook's variables."""
    # Everything through __import__ and builtins, in case the notebook shadowed a name.
    return (
        "__course_json = __import__('json')\n"
        "__course_checks = __import__('course_utils.checks', fromlist=['run_lesson'])\n"
        f"__course_results = __course_checks.run_lesson({lesson!r}, globals(), hidden={hidden!r})\n"
        "__import__('builtins').print("
        f"{RESULT_MARKER!r} + __course_json.dumps([r.__dict__ for r in __course_results]))\n"
    )


def _read_notebook(path: Path):
    import nbformat

    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"the file is not UTF-8 text ({exc.reason})") from None
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"the file is not valid JSON (line {exc.lineno}, column {exc.colno}: "
                         f"{exc.msg}); was it saved completely?") from None
    try:
        nb = nbformat.reads(text, as_version=4)
    except Exception as exc:  # nbformat raises several kinds for malformed notebooks
        raise ValueError(f"the file is JSON but not a Jupyter notebook ({exc})") from None
    if not isinstance(nb.get("cells"), list):
        raise ValueError("the file is JSON but has no list of cells")
    return nb


def validate_notebook_file(path: str | Path) -> str | None:
    """``None`` when ``path`` reads as a notebook, else the reason in words."""
    try:
        _read_notebook(Path(path))
    except (OSError, ValueError) as exc:
        return str(exc)
    return None


def _collect_errors(nb, cell_timeout: float | None = None) -> list[CellError]:
    errors = []
    for index, cell in enumerate(nb.cells):
        if cell.get("cell_type") != "code" or cell.get("id") == INJECTED_CELL_ID:
            continue
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                head = "".join(cell.get("source", "")).strip().splitlines()[:1]
                ename, evalue = out.get("ename", ""), str(out.get("evalue", ""))[:300]
                if ename == "KeyboardInterrupt" and cell_timeout is not None:
                    evalue = (f"the cell ran longer than {int(cell_timeout)} s and was "
                              "interrupted (an endless loop?)")
                errors.append(CellError(index, cell.get("id"), ename, evalue,
                                        head[0][:80] if head else ""))
    return errors


def _parse_results(nb) -> list[dict[str, Any]] | None:
    for cell in nb.cells:
        if cell.get("id") != INJECTED_CELL_ID:
            continue
        for out in cell.get("outputs", []):
            if out.get("output_type") != "stream":
                continue
            for line in out.get("text", "").splitlines():
                if line.startswith(RESULT_MARKER):
                    try:
                        return json.loads(line[len(RESULT_MARKER):])
                    except json.JSONDecodeError:
                        return None
    return None


def _injected_error(nb) -> str:
    for cell in nb.cells:
        if cell.get("id") == INJECTED_CELL_ID:
            for out in cell.get("outputs", []):
                if out.get("output_type") == "error":
                    return f"{out.get('ename')}: {out.get('evalue')}"
    return "the checks printed nothing"


def execute_in_process(
    path: str | Path,
    lesson: str | None,
    *,
    hidden: bool = True,
    cell_timeout: float = 60,
    timeout: float = 600,
    fast: bool = True,
) -> RunResult:
    """Execute the notebook at ``path`` in this process's control (the worker's job).

    ``path`` should already be a temporary copy: the executed notebook is not written
    anywhere, but the notebook's own code runs with the copy's folder as working
    directory. ``lesson=None`` runs the cells without the injected check cell.
    """
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import DeadKernelError

    start = time.monotonic()
    path = Path(path)
    try:
        nb = _read_notebook(path)
    except (OSError, ValueError) as exc:
        return RunResult(STATUS_INVALID, str(exc))
    if lesson is not None:
        cell = nbformat.v4.new_code_cell(injected_source(lesson, hidden))
        cell["id"] = INJECTED_CELL_ID
        nb.cells.append(cell)
    client = NotebookClient(
        nb,
        timeout=int(max(1, cell_timeout)),
        kernel_name="python3",
        allow_errors=True,
        interrupt_on_timeout=True,
        error_on_timeout={"ename": "CellTimeoutError",
                          "evalue": f"the cell ran for more than {int(cell_timeout)} s and was "
                                    "interrupted", "traceback": []},
        resources={"metadata": {"path": str(path.parent)}},
        record_timing=False,
    )
    expired = threading.Event()
    finished = threading.Event()

    def watchdog() -> None:
        # Past the overall deadline the kernel is killed: nbclient then sees a dead
        # kernel and returns, however the notebook misbehaves (ignored interrupts too).
        if finished.wait(timeout):
            return
        expired.set()
        km = client.km
        proc = getattr(getattr(km, "provisioner", None), "process", None)
        if proc is not None:
            try:
                os.kill(proc.pid, signal.SIGKILL)
            except OSError:
                pass

    guard = threading.Thread(target=watchdog, daemon=True)
    guard.start()
    status, detail = STATUS_OK, ""
    try:
        client.execute(env=kernel_env(fast))
    except DeadKernelError:
        if expired.is_set():
            status, detail = STATUS_TIMEOUT, f"the notebook did not finish within {int(timeout)} s"
        else:
            index = _running_cell(nb)
            where = f" while running cell {index + 1}" if index is not None else ""
            status = STATUS_DEAD
            detail = (f"the kernel died{where} (os._exit, sys.exit in a subprocess, a crash or "
                      "running out of memory), so no check could run")
    except Exception as exc:  # nbclient can fail in many ways; report, never crash
        if expired.is_set():
            status, detail = STATUS_TIMEOUT, f"the notebook did not finish within {int(timeout)} s"
        else:
            status, detail = STATUS_ERROR, f"running the notebook failed: {type(exc).__name__}: {exc}"
    finally:
        finished.set()
    errors = _collect_errors(nb, cell_timeout)
    checks = None
    if status == STATUS_OK and lesson is not None:
        checks = _parse_results(nb)
        if checks is None:
            status, detail = STATUS_NO_RESULTS, f"the checks could not run: {_injected_error(nb)}"
    return RunResult(status, detail, checks, errors, round(time.monotonic() - start, 2))


def _running_cell(nb) -> int | None:
    """Index of the cell that was running: the last one that received an execution count."""
    last = None
    for index, cell in enumerate(nb.cells):
        if cell.get("cell_type") == "code" and cell.get("execution_count") is not None:
            last = index
    return last


def run_notebook(
    path: str | Path,
    lesson: str | None,
    *,
    hidden: bool = True,
    cell_timeout: float = 60,
    timeout: float = 600,
    fast: bool = True,
) -> RunResult:
    """Run the notebook at ``path`` in a temporary copy, in a worker process, and return the result.

    The file at ``path`` is only read. ``lesson`` names the lesson whose checks run
    after the last cell (``None``: none). ``hidden=False`` leaves out grader-only
    checks. Never raises for anything the notebook does.
    """
    path = Path(path)
    reason = validate_notebook_file(path)
    if reason is not None:
        return RunResult(STATUS_INVALID, reason)
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="course-run-") as tmp:
        copy = Path(tmp) / path.name
        shutil.copyfile(path, copy)
        out = Path(tmp) / "__result.json"
        cmd = [sys.executable, "-m", "course_utils.notebook_runner", str(copy), str(out),
               "--cell-timeout", str(cell_timeout), "--timeout", str(timeout)]
        if lesson is not None:
            cmd += ["--lesson", str(lesson)]
        if not hidden:
            cmd.append("--no-hidden")
        if not fast:
            cmd.append("--full")
        # The worker enforces the overall timeout itself; this is the backstop.
        try:
            proc = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True,
                                  timeout=timeout + 60, env=kernel_env(fast))
        except subprocess.TimeoutExpired:
            return RunResult(STATUS_TIMEOUT, f"the notebook did not finish within {int(timeout)} s",
                             elapsed=round(time.monotonic() - start, 2))
        if not out.is_file():
            tail = (proc.stderr or "").strip().splitlines()[-3:]
            return RunResult(STATUS_ERROR, "the runner stopped without a result: " + " | ".join(tail),
                             elapsed=round(time.monotonic() - start, 2))
        return RunResult.from_dict(json.loads(out.read_text(encoding="utf-8")))


def main(argv: list[str] | None = None) -> int:
    """Worker entry point: run one notebook copy and write its :class:`RunResult` as JSON."""
    parser = argparse.ArgumentParser(prog="python -m course_utils.notebook_runner")
    parser.add_argument("notebook")
    parser.add_argument("result")
    parser.add_argument("--lesson", default=None)
    parser.add_argument("--no-hidden", action="store_true")
    parser.add_argument("--cell-timeout", type=float, default=60)
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--full", action="store_true")
    args = parser.parse_args(argv)
    try:
        result = execute_in_process(args.notebook, args.lesson, hidden=not args.no_hidden,
                                    cell_timeout=args.cell_timeout, timeout=args.timeout,
                                    fast=not args.full)
    except Exception as exc:  # last resort: always leave a result behind
        result = RunResult(STATUS_ERROR, f"{type(exc).__name__}: {exc}")
    Path(args.result).write_text(json.dumps(result.to_dict()), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
