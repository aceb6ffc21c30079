"""The course as a learner meets it: JupyterLab in a real browser (Chromium via playwright).

Starts JupyterLab on a free local port (token set, 127.0.0.1 only) over a copy of lesson 00
and the lesson 01 exercise, so that autosave never writes outputs into the repository; runs
lesson 00 with Run > Run All Cells and looks for a table, a figure and no error; then runs
the exercise's first check cell and reads its ❌ line, types the right answer and reads ✅.
Screenshots go to ``test-artifacts/browser/`` (ignored by git).

Needs Debian's Chromium (``apt-get install -y chromium``); no browser is downloaded.
Outside CI a missing Chromium skips the test; in CI (``CI=true``) it fails.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts" / "browser"
CHROMIUM = Path(os.environ.get("COURSE_CHROMIUM", "/usr/bin/chromium"))
INSTALL = "sudo apt-get install -y chromium"
LESSON = "notebooks/00_why_synthetic_data.ipynb"
EXERCISE = "exercises/01_clinical_tables.ipynb"
SOLUTION = "solutions/01_clinical_tables.ipynb"
FIRST_CHECK = 'check("01.stroke_metadata", stroke_meta)'
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def _require_browser():
    problem = None
    if not CHROMIUM.exists():
        problem = f"Chromium is not installed at {CHROMIUM}; install it with `{INSTALL}`"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            problem = "playwright is not installed; run `.venv/bin/pip install -r requirements.txt`"
    if problem and IN_CI:
        pytest.fail(problem)
    if problem:
        pytest.skip(problem)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A JupyterLab server over a scratch copy of the two notebooks; yields (url, token, root)."""
    _require_browser()
    tmp = tmp_path_factory.mktemp("lab")
    root = tmp / "course"
    for rel in (LESSON, EXERCISE):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / rel, root / rel)
    port, token = _free_port(), "browser-test-token"
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        COURSE_FAST="1",
        JUPYTER_CONFIG_DIR=str(tmp / "config"),
        JUPYTER_RUNTIME_DIR=str(tmp / "runtime"),
        JUPYTERLAB_WORKSPACES_DIR=str(tmp / "workspaces"),
        JUPYTERLAB_SETTINGS_DIR=str(tmp / "settings"),
        IPYTHONDIR=str(tmp / "ipython"),
        MPLCONFIGDIR=str(tmp / "mpl"),
    )
    # No news pop-up, no "build recommended" dialog: a first-time learner sees neither
    # in a fresh profile either, and they would cover the notebook in screenshots.
    # Every cell rendered (no windowing), so that the test sees every output.
    settings = tmp / "settings" / "@jupyterlab"
    for extension, name, values in (
        ("apputils-extension", "notification", {"fetchNews": "false", "checkForUpdates": False}),
        ("notebook-extension", "tracker", {"windowingMode": "none"}),
    ):
        (settings / extension).mkdir(parents=True)
        (settings / extension / f"{name}.jupyterlab-settings").write_text(json.dumps(values))
    log = open(tmp / "lab.log", "w")  # closed when the server stops
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}"]
        + (["--allow-root"] if os.geteuid() == 0 else []),
        stdout=log, stderr=subprocess.STDOUT, env=env, cwd=root,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2):
                    break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("JupyterLab did not answer within 60 s:\n" + (tmp / "lab.log").read_text()[-3000:])
        yield url, token, root
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="module")
def page(lab):
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        context.set_default_timeout(60_000)
        yield context.new_page()
        context.close()
        browser.close()


def _open(page, lab, rel: str):
    url, token, _ = lab
    page.goto(f"{url}/lab/tree/{rel}?token={token}")
    page.locator(".jp-Notebook .jp-Cell").first.wait_for()
    # The kernel is ready when the status bar names it and reads Idle (before it starts,
    # the bar reads "No Kernel | Initializing" and Run All would be lost).
    page.locator(".jp-StatusBar-Widget", has_text=re.compile(r"Python 3.*\| Idle")).first.wait_for(
        timeout=90_000
    )


def _code_prompts(page):
    return page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell .jp-InputPrompt")


def _wait_until_all_ran(page, timeout_s: float = 120) -> list[str]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        prompts = [t.strip() for t in _code_prompts(page).all_inner_texts()]
        if prompts and all(p not in ("[ ]:", "[*]:", "") for p in prompts):
            return prompts
        time.sleep(0.5)
    return [t.strip() for t in _code_prompts(page).all_inner_texts()]


def _error_outputs(page) -> list[str]:
    # JupyterLab renders errors and stderr (warnings) with the same mime type; an error is
    # the one that shows IPython's traceback banner.
    panel = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)")
    stderr = panel.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
    return [t for t in stderr.all_inner_texts()
            if t.lstrip().startswith("-" * 20) or "Traceback (most recent call last)" in t]


def test_lesson_00_runs_in_jupyterlab_with_a_table_a_plot_and_no_error(lab, page):
    _open(page, lab, LESSON)
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").click()
    page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
    prompts = _wait_until_all_ran(page)
    page.screenshot(path=str(ARTIFACTS / "lesson00.png"), full_page=True)
    assert prompts and all(p.startswith("[") and p[1:-2].isdigit() for p in prompts), (
        f"not every code cell ran: prompts {prompts}"
    )
    panel = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)")
    assert panel.locator(".jp-OutputArea-output table").count() >= 1, "no table in the outputs"
    assert panel.locator(".jp-OutputArea-output img").count() >= 1, "no figure in the outputs"
    assert _error_outputs(page) == []


def _solution_for(variable: str) -> str:
    cells = json.loads((ROOT / SOLUTION).read_text(encoding="utf-8"))["cells"]
    source = next("".join(c["source"]) for c in cells
                  if c["cell_type"] == "code" and "".join(c["source"]).startswith(f"{variable} = None"))
    return "\n".join(line for line in source.splitlines() if "### " not in line)


def _run_cell(page, cell, timeout_s: float = 60) -> None:
    cell.locator(".jp-InputArea-editor").click()
    page.keyboard.press("Escape")  # command mode: Shift+Enter runs the selected cell
    page.keyboard.press("Shift+Enter")
    prompt = cell.locator(".jp-InputPrompt")
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        text = prompt.inner_text().strip()
        if text[1:-2].isdigit():
            return
        time.sleep(0.3)
    raise AssertionError(f"cell did not finish within {timeout_s} s (prompt {text!r})")


def _cell_showing(cells, text: str, timeout_s: float = 60) -> int:
    """Index of the first code cell whose editor shows ``text``; on a busy machine JupyterLab
    draws the cells' editors a while after the notebook opens, so read them until it has."""
    deadline = time.monotonic() + timeout_s
    while True:
        sources = [c.locator(".jp-InputArea-editor").inner_text() for c in cells.all()]
        found = [i for i, source in enumerate(sources) if text in source]
        if found:
            return found[0]
        if time.monotonic() > deadline:
            raise AssertionError(f"no code cell shows {text!r} after {timeout_s} s; {len(sources)} cells read")
        time.sleep(0.5)


def test_exercise_check_cell_shows_its_verdict_in_jupyterlab(lab, page):
    _open(page, lab, EXERCISE)
    cells = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell")
    check_at = _cell_showing(cells, FIRST_CHECK)
    for i in range(check_at + 1):  # setup, the unanswered stub (it raises), then the check
        _run_cell(page, cells.nth(i))
    verdict = cells.nth(check_at).locator(".jp-OutputArea-output").inner_text()
    page.screenshot(path=str(ARTIFACTS / "exercise01_unanswered.png"))
    # the stub raised, and the error detector of the lesson test sees it
    assert any("NotImplementedError" in e for e in _error_outputs(page))
    assert "❌" in verdict and "01.stroke_metadata" in verdict, verdict

    # A learner types the answer into the stub cell and runs the check again.
    answer_cell = cells.nth(check_at - 1)
    answer_cell.locator(".jp-InputArea-editor").click()
    page.keyboard.press("Control+a")
    page.keyboard.insert_text(_solution_for("stroke_meta"))
    _run_cell(page, answer_cell)
    _run_cell(page, cells.nth(check_at))
    verdict = cells.nth(check_at).locator(".jp-OutputArea-output").inner_text()
    page.screenshot(path=str(ARTIFACTS / "exercise01_answered.png"))
    assert "✅" in verdict and "01.stroke_metadata" in verdict, verdict
