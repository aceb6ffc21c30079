"""Run the cells of a lesson that start with ``#| export`` and return what they define.

A method lesson writes its algorithm in its own code cells and marks them ``#| export``;
the agreement tests load those cells (our own notebooks, so trusted code) and compare
the notebook's version with the package's on the same data and seed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
MARKER = "#| export"


def exported_namespace(notebook: str | Path) -> dict[str, Any]:
    """Execute the ``#| export`` cells of ``notebook`` (relative to the repository) in order."""
    path = ROOT / notebook
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    namespace: dict[str, Any] = {"__name__": f"lesson_{path.stem}"}
    found = 0
    for index, cell in enumerate(cells):
        source = "".join(cell.get("source", ""))
        if cell.get("cell_type") == "code" and source.lstrip().startswith(MARKER):
            exec(compile(source, f"{path.name}[cell {index}]", "exec"), namespace)  # noqa: S102
            found += 1
    if not found:
        raise LookupError(f"{notebook} has no cell marked {MARKER!r}")
    return namespace
