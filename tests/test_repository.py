"""Repository hygiene: pinned environment, stripped notebooks, a working JupyterLab."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import tomllib
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_environment_yml_is_python_pip_and_requirements():
    text = (ROOT / "environment.yml").read_text()
    deps = [line.strip() for line in text.splitlines() if line.strip().startswith("- ")]
    assert deps == ["- conda-forge", "- python=3.11", "- pip", "- pip:", "- -r requirements.txt", "- -e ."], deps
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    requires = pyproject["project"]["requires-python"]
    assert ">=3.11" in requires and "<3.12" in requires
    assert sys.version_info[:2] == (3, 11)


def test_requirements_are_exact_pins_with_cpu_torch():
    lines = [
        line.split("#")[0].strip()
        for line in (ROOT / "requirements.txt").read_text().splitlines()
        if line.split("#")[0].strip()
    ]
    assert lines, "requirements.txt is empty"
    for line in lines:
        assert re.fullmatch(r"[A-Za-z0-9_.\-\[\]]+==[0-9][0-9A-Za-z.+]*", line), f"not an exact pin: {line}"
    assert "torch==2.13.0" in lines


def _notebooks():
    return sorted(p for folder in ("notebooks", "solutions", "exercises") for p in (ROOT / folder).glob("*.ipynb"))


def test_there_are_notebooks():
    assert any((ROOT / "notebooks").glob("00_*.ipynb")), "lesson 00 is missing"


@pytest.mark.parametrize("path", _notebooks(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_notebooks_are_stored_without_outputs(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] == "code":
            assert not cell.get("outputs"), f"{path.name} cell {i} has outputs"
            assert cell.get("execution_count") is None, f"{path.name} cell {i} has an execution count"


@pytest.mark.parametrize("path", sorted((ROOT / "notebooks").glob("*.ipynb")), ids=lambda p: p.name)
def test_notebooks_start_with_fast_mode_and_run_time(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    first_md = next(c for c in nb["cells"] if c["cell_type"] == "markdown")
    assert re.search(r"run time", "".join(first_md["source"]), re.I), f"{path.name}: state the full-mode run time"
    first_code = next(c for c in nb["cells"] if c["cell_type"] == "code")
    assert "FAST = fast_mode()" in "".join(first_code["source"]), f"{path.name}: first code cell must read FAST"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_jupyter_lab_starts_and_lists_the_notebooks(tmp_path):
    jupyter = Path(sys.executable).parent / "jupyter"
    if not jupyter.exists():
        jupyter = shutil.which("jupyter")
    assert jupyter, "jupyter is not installed in this environment"
    port = _free_port()
    token = "course-test-token"
    env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(tmp_path / "rt"), JUPYTER_CONFIG_DIR=str(tmp_path / "cfg"))
    proc = subprocess.Popen(
        [str(jupyter), "lab", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={ROOT}"]
        + (["--allow-root"] if os.geteuid() == 0 else []),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        status = None
        for _ in range(120):
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2) as r:
                    status = json.load(r)
                break
            except OSError:
                time.sleep(0.5)
        assert status is not None, "JupyterLab did not answer on /api/status within 60 s"
        assert "started" in status
        with urllib.request.urlopen(f"{base}/api/contents/notebooks?token={token}", timeout=5) as r:
            listing = json.load(r)
        names = {item["name"] for item in listing["content"]}
        assert any(n.startswith("00_") for n in names), names
        with urllib.request.urlopen(f"{base}/lab?token={token}", timeout=10) as r:
            assert r.status == 200
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def _public_callables():
    import importlib
    import inspect
    import pkgutil

    import course_utils

    found = []
    for info in pkgutil.walk_packages(course_utils.__path__, "course_utils."):
        if info.name.endswith("__main__"):
            continue
        module = importlib.import_module(info.name)
        for name, obj in vars(module).items():
            if name.startswith("_") or getattr(obj, "__module__", None) != module.__name__:
                continue
            if inspect.isfunction(obj) or inspect.isclass(obj):
                found.append((f"{module.__name__}.{name}", obj))
                if inspect.isclass(obj):
                    for meth_name, meth in vars(obj).items():
                        if not meth_name.startswith("_") and inspect.isfunction(meth):
                            found.append((f"{module.__name__}.{name}.{meth_name}", meth))
    return found


def test_every_public_function_and_class_has_a_docstring():
    import inspect

    missing = []
    for name, obj in _public_callables():
        if inspect.getdoc(obj) is None:
            missing.append(name)
    assert not missing, f"public functions without a docstring: {missing}"


def test_ruff_is_clean():
    ruff = Path(sys.executable).parent / "ruff"
    if not ruff.exists():
        pytest.skip("ruff not installed in this environment")
    result = subprocess.run([str(ruff), "check", "course_utils", "tests"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:]
