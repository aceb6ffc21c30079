"""The worker of a grading run: executes one notebook copy, judges nothing.

``python -m course_utils.notebook_worker NOTEBOOK RESULT ...`` runs inside the run's
sandbox (see :mod:`course_utils.notebook_runner`, which starts it). It drives a fresh
kernel with nbclient, times every cell (interrupt past the cell timeout, kill past a
grace when the interrupt is ignored, kill past the overall deadline), appends the cell
that exports the answers by value, and writes what happened (status, cell errors) as
JSON. This process is as untrusted as the notebook: the grader reads from it only a
status to show and the answers' values to judge.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

INJECTED_CELL_ID = "course-utils-export-answers"
ANSWERS_FILE = "answers.npz"
INPUTS_FILE = "check-inputs.npz"
RESULT_FILE = "runner-result.json"
STUCK_GRACE = 5.0
"""Seconds a cell may go on after its interrupt before its kernel is killed."""

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

    ``status`` is ``"ok"`` when the notebook ran to its end and its answers were judged;
    then ``checks`` holds one dict per check (see :class:`course_utils.checks.CheckResult`).
    Otherwise ``detail`` says what went wrong in words a learner understands.
    """

    status: str
    detail: str = ""
    checks: list[dict[str, Any]] | None = None
    cell_errors: list[CellError] = field(default_factory=list)
    elapsed: float = 0.0
    sandbox: str = ""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly dict (what the worker process writes)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RunResult:
        """Rebuild from :meth:`to_dict` output."""
        errors = [CellError(**e) for e in d.get("cell_errors", [])]
        return cls(d["status"], d.get("detail", ""), d.get("checks"), errors, d.get("elapsed", 0.0),
                   d.get("sandbox", ""))


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


def injected_source(lesson: str, hidden: bool, inputs: str, answers: str) -> str:
    """Source of the final cell: export the lesson's answers by value to ``answers``."""
    # Through __import__, in case the notebook shadowed a name; whatever the notebook
    # did to this code can only change its own exported values, never a verdict.
    return (
        "__import__('course_utils.checks.export', fromlist=['export_answers']).export_answers("
        f"{lesson!r}, globals(), {inputs!r}, {answers!r}, hidden={hidden!r})\n"
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


def _injected_error(nb) -> str | None:
    for cell in nb.cells:
        if cell.get("id") == INJECTED_CELL_ID:
            for out in cell.get("outputs", []):
                if out.get("output_type") == "error":
                    return f"{out.get('ename')}: {str(out.get('evalue'))[:300]}"
    return None


class _CellClock:
    """Which cell runs since when (fed by nbclient's hooks, read by the watchdog)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.index: int | None = None
        self.since = 0.0

    def start(self, cell=None, cell_index: int = 0, **_: Any) -> None:
        with self.lock:
            self.index, self.since = cell_index, time.monotonic()

    def stop(self, **_: Any) -> None:
        with self.lock:
            self.index = None

    def running(self) -> tuple[int | None, float]:
        with self.lock:
            return self.index, (time.monotonic() - self.since if self.index is not None else 0.0)


def execute_in_process(
    path: str | Path,
    lesson: str | None,
    *,
    hidden: bool = True,
    cell_timeout: float = 60,
    timeout: float = 600,
    fast: bool = True,
    inputs: str | Path | None = None,
    answers: str | Path | None = None,
) -> RunResult:
    """Execute the notebook at ``path`` (the worker's job); never judges anything.

    ``path`` should already be a private copy: the notebook's code runs with its folder
    as working directory. With a ``lesson``, an injected last cell exports the answers
    to ``answers`` (default: next to the notebook). A cell that ignores its interrupt
    is killed with its kernel ``STUCK_GRACE`` seconds after its timeout.
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
    answers = Path(answers) if answers is not None else path.with_name(ANSWERS_FILE)
    if lesson is not None:
        cell = nbformat.v4.new_code_cell(injected_source(lesson, hidden, str(inputs) if inputs else None,
                                                         str(answers)))
        cell["id"] = INJECTED_CELL_ID
        nb.cells.append(cell)
    clock = _CellClock()
    # The timing is ours, not nbclient's: nbclient moves on to the next cell after an
    # interrupt whether or not the kernel stopped, which would hide a cell that ignores it.
    client = NotebookClient(
        nb,
        timeout=None,
        kernel_name="python3",
        allow_errors=True,
        resources={"metadata": {"path": str(path.parent)}},
        record_timing=False,
        on_cell_execute=clock.start,
        on_cell_executed=clock.stop,
    )
    expired = threading.Event()
    finished = threading.Event()
    stuck: list[int] = []

    def kernel_pid() -> int | None:
        proc = getattr(getattr(client.km, "provisioner", None), "process", None)
        return getattr(proc, "pid", None)

    def kill_kernel() -> None:
        pid = kernel_pid()
        if pid is not None:
            for kill in (lambda: os.killpg(pid, signal.SIGKILL), lambda: os.kill(pid, signal.SIGKILL)):
                try:
                    kill()
                except OSError:
                    pass

    def watchdog() -> None:
        # A cell past its timeout is interrupted (SIGINT, as Jupyter's interrupt button);
        # one still running a grace later ignores interrupts: its kernel is killed. Past
        # the overall deadline the kernel is killed too; nbclient then returns.
        deadline = start + timeout
        interrupted: set[int] = set()
        while not finished.wait(0.2):
            index, ran = clock.running()
            if index is not None and ran > cell_timeout + STUCK_GRACE:
                stuck.append(index)
            elif index is not None and ran > cell_timeout and index not in interrupted:
                interrupted.add(index)
                pid = kernel_pid()
                if pid is not None:
                    try:
                        os.kill(pid, signal.SIGINT)
                    except OSError:
                        pass
                continue
            elif time.monotonic() < deadline:
                continue
            else:
                expired.set()
            kill_kernel()
            return

    guard = threading.Thread(target=watchdog, daemon=True)
    guard.start()
    status, detail = STATUS_OK, ""
    try:
        client.execute(env=kernel_env(fast))
    except Exception as exc:  # nbclient can fail in many ways; report, never crash
        if isinstance(exc, DeadKernelError):
            index = _running_cell(nb)
            where = f" while running cell {index + 1}" if index is not None else ""
            status = STATUS_DEAD
            detail = (f"the kernel died{where} (os._exit, sys.exit in a subprocess, a crash or "
                      "running out of memory), so no check could run")
        else:
            status, detail = STATUS_ERROR, f"running the notebook failed: {type(exc).__name__}: {exc}"
    finally:
        finished.set()
        kill_kernel()
    # nbclient may return normally after the watchdog killed the kernel: its word wins.
    if stuck:
        status = STATUS_TIMEOUT
        detail = (f"cell {stuck[0] + 1} ran longer than {int(cell_timeout)} s and did not stop "
                  "when interrupted, so its kernel was stopped")
    elif expired.is_set():
        status, detail = STATUS_TIMEOUT, f"the notebook did not finish within {int(timeout)} s"
    errors = _collect_errors(nb, cell_timeout)
    if status == STATUS_OK and lesson is not None:
        problem = _injected_error(nb)
        if problem is not None:
            status, detail = STATUS_NO_RESULTS, f"the answers could not be exported: {problem}"
    return RunResult(status, detail, None, errors, round(time.monotonic() - start, 2))


def _running_cell(nb) -> int | None:
    """Index of the cell that was running: the last one that received an execution count."""
    last = None
    for index, cell in enumerate(nb.cells):
        if cell.get("cell_type") == "code" and cell.get("execution_count") is not None:
            last = index
    return last


def main(argv: list[str] | None = None) -> int:
    """Entry point: run one notebook copy and write its :class:`RunResult` as JSON."""
    parser = argparse.ArgumentParser(prog="python -m course_utils.notebook_worker")
    parser.add_argument("notebook")
    parser.add_argument("result")
    parser.add_argument("--lesson", default=None)
    parser.add_argument("--no-hidden", action="store_true")
    parser.add_argument("--cell-timeout", type=float, default=60)
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--full", action="store_true")
    parser.add_argument("--inputs", default=None)
    parser.add_argument("--answers", default=None)
    args = parser.parse_args(argv)
    try:
        result = execute_in_process(args.notebook, args.lesson, hidden=not args.no_hidden,
                                    cell_timeout=args.cell_timeout, timeout=args.timeout,
                                    fast=not args.full, inputs=args.inputs, answers=args.answers)
    except Exception as exc:  # last resort: always leave a result behind
        result = RunResult(STATUS_ERROR, f"{type(exc).__name__}: {exc}")
    Path(args.result).write_text(json.dumps(result.to_dict()), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
