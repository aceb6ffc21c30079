"""Run a notebook in a fresh kernel, confined, and judge its answers in trusted code.

Shared by ``python -m course_utils check`` (a learner's self-check) and
``python -m course_utils grade`` (an instructor's batch). Both go the same way:

- the notebook runs on a **private copy** in its own temporary folder (the learner's
  file is only read), in a fresh ``python3`` kernel of this interpreter, with
  ``allow_errors`` and a per-cell timeout;
- the kernel and the worker process that drives it (``python -m
  course_utils.notebook_worker``) run inside a sandbox when one is available (see
  :mod:`course_utils.sandbox`), and every process of the run is killed when it ends;
- after the last cell, an injected cell **exports the answers by value** (plain values
  in a safe ``.npz``, see :mod:`course_utils.checks.exchange`); checks on a function
  call it on inputs the grader chose for this run;
- the **verdicts** are computed here, in the caller's process, by this package's own
  checks on those values. Nothing the notebook prints, writes or patches sets a score:
  its output is never parsed, and its answers file holds values, not verdicts.

A cell that runs too long is interrupted; one that ignores the interrupt is reported
as the timeout of that cell and its kernel is killed. A kernel that dies or a file that
is not a notebook gives a clear status instead of an exception.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from . import sandbox
from .notebook_worker import (
    ANSWERS_FILE,
    INJECTED_CELL_ID,
    INPUTS_FILE,
    RESULT_FILE,
    STATUS_DEAD,
    STATUS_ERROR,
    STATUS_INVALID,
    STATUS_NO_RESULTS,
    STATUS_OK,
    STATUS_TIMEOUT,
    CellError,
    RunResult,
    execute_in_process,
    kernel_env,
    validate_notebook_file,
)

MAX_RESULT_BYTES = 2 * 2**20


def _read_private(path: Path, max_bytes: int) -> bytes | None:
    """Bytes of a plain file the run wrote, never following a link the run may have planted."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return None
    with os.fdopen(fd, "rb") as fh:
        info = os.fstat(fh.fileno())
        if not stat.S_ISREG(info.st_mode) or info.st_nlink != 1 or info.st_size > max_bytes:
            return None
        return fh.read(max_bytes + 1)


def _worker_result(path: Path) -> RunResult | None:
    data = _read_private(path, MAX_RESULT_BYTES)
    if data is None:
        return None
    try:
        d = json.loads(data.decode("utf-8"))
        status = str(d["status"])
        if status not in (STATUS_OK, STATUS_INVALID, STATUS_TIMEOUT, STATUS_DEAD, STATUS_NO_RESULTS, STATUS_ERROR):
            return None
        errors = [CellError(int(e["index"]), None if e.get("cell_id") is None else str(e["cell_id"])[:100],
                            str(e["ename"])[:100], str(e["evalue"])[:300], str(e.get("source_head", ""))[:80])
                  for e in d.get("cell_errors", [])[:50]]
        return RunResult(status, str(d.get("detail", ""))[:500], None, errors)
    except (ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError):
        return None


def _judge(lesson: str, answers_file: Path, seed: int, hidden: bool) -> list[dict[str, Any]] | str:
    """Trusted verdicts on the exported answers, or why there are none."""
    from .checks import judge_answers
    from .checks.exchange import MAX_BYTES, AnswerFormatError, Unsupported, decode_entry, loads_lazy

    data = _read_private(answers_file, MAX_BYTES)
    if data is None:
        return "the notebook's answers were not exported (was the kernel stopped?)"
    try:
        manifest, reader = loads_lazy(data)
    except AnswerFormatError as exc:
        return f"the answers file could not be read: {exc}"
    answers: dict[str, Any] = {}
    for key, entry in manifest.items():
        try:
            answers[key] = decode_entry(entry, reader)
        except AnswerFormatError as exc:
            answers[key] = Unsupported("unreadable value", str(exc))
    return [r.__dict__ for r in judge_answers(lesson, answers, seed, hidden=hidden)]


def _write_inputs(lesson: str, path: Path, seed: int, hidden: bool) -> None:
    from .checks import check_inputs, load_lesson
    from .checks.exchange import write

    write(path, {spec.id: check_inputs(spec, seed) for spec in load_lesson(lesson)
                 if spec.inputs is not None and (hidden or not spec.hidden)})


_SAFE_NAME = re.compile(r"[^\w.-]")


def run_notebook(
    path: str | Path,
    lesson: str | None,
    *,
    hidden: bool = True,
    cell_timeout: float = 60,
    timeout: float = 600,
    fast: bool = True,
    sandbox_kind: str | None = "auto",
    hide: Iterable[str | Path] = (),
    seed: int | None = None,
) -> RunResult:
    """Run the notebook at ``path`` on a private copy, confined, and judge its answers here.

    The file at ``path`` is only read. ``lesson`` names the lesson whose checks judge
    the answers (``None``: none). ``hidden=False`` leaves out grader-only checks.
    ``sandbox_kind``: ``"auto"`` (the best available), ``"bwrap"``, ``"unshare"`` or
    ``"none"``. ``hide``: more files and folders the run must not see (``path`` itself
    and its folder are always hidden). ``seed`` fixes the inputs of checks on functions
    (default: a fresh random one). Never raises for anything the notebook does.
    """
    path = Path(path)
    reason = validate_notebook_file(path)
    if reason is not None:
        return RunResult(STATUS_INVALID, reason)
    kind = sandbox.resolve(sandbox_kind)
    seed = secrets.randbelow(2**31) if seed is None else int(seed)
    token = secrets.token_hex(16)
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="course-run-", ignore_cleanup_errors=True) as tmp:
        run = Path(tmp) / "run"
        run.mkdir()
        copy = run / (_SAFE_NAME.sub("_", path.name) or "notebook.ipynb")
        shutil.copyfile(path, copy)
        result_file, answers_file, inputs_file = run / RESULT_FILE, run / ANSWERS_FILE, run / INPUTS_FILE
        cmd = [sys.executable, "-m", "course_utils.notebook_worker", str(copy), str(result_file),
               "--cell-timeout", str(cell_timeout), "--timeout", str(timeout), "--answers", str(answers_file)]
        if lesson is not None:
            _write_inputs(lesson, inputs_file, seed, hidden)
            cmd += ["--lesson", str(lesson), "--inputs", str(inputs_file)]
        if not hidden:
            cmd.append("--no-hidden")
        if not fast:
            cmd.append("--full")
        env = kernel_env(fast)
        env[sandbox.MARKER_VAR] = token
        full = sandbox.wrap(kind, cmd, run, [path, path.parent, *hide])
        timed_out = False
        # Output goes to files, never to a pipe: a child the notebook forks could hold a
        # pipe open for ever; the run ends when the worker exits.
        with open(Path(tmp) / "stdout.txt", "wb") as out, open(Path(tmp) / "stderr.txt", "wb") as err:
            proc = subprocess.Popen(full, cwd=run, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                    env=env, start_new_session=True)
            try:
                proc.wait(timeout=timeout + 60)  # the worker enforces the timeout; a backstop
            except subprocess.TimeoutExpired:
                timed_out = True
            finally:
                sandbox.end_run(proc, token)
        elapsed = round(time.monotonic() - start, 2)
        if timed_out:
            return RunResult(STATUS_TIMEOUT, f"the notebook did not finish within {int(timeout)} s",
                             elapsed=elapsed, sandbox=kind)
        result = _worker_result(result_file)
        if result is None:
            tail = (Path(tmp) / "stderr.txt").read_bytes()[-2000:].decode("utf-8", "replace")
            tail = " | ".join(tail.strip().splitlines()[-3:])
            return RunResult(STATUS_ERROR, "the runner stopped without a result: " + tail,
                             elapsed=elapsed, sandbox=kind)
        result.elapsed, result.sandbox = elapsed, kind
        if result.status == STATUS_OK and lesson is not None:
            checks = _judge(str(lesson), answers_file, seed, hidden)
            if isinstance(checks, str):
                result.status, result.detail = STATUS_NO_RESULTS, f"the checks could not run: {checks}"
            else:
                result.checks = checks
        return result


def main(argv: list[str] | None = None) -> int:
    """``python -m course_utils.notebook_runner``: the worker's entry point (see :mod:`.notebook_worker`)."""
    from .notebook_worker import main as worker_main

    return worker_main(argv)


__all__ = ["ANSWERS_FILE", "INJECTED_CELL_ID", "INPUTS_FILE", "RESULT_FILE", "STATUS_DEAD", "STATUS_ERROR",
           "STATUS_INVALID", "STATUS_NO_RESULTS", "STATUS_OK", "STATUS_TIMEOUT", "CellError", "RunResult",
           "execute_in_process", "kernel_env", "run_notebook", "validate_notebook_file"]


if __name__ == "__main__":
    sys.exit(main())
