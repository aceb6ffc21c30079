"""Reference pages: the glossary covers the course's terms, links resolve, lessons point to them."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ["glossary.md", "metrics_cheatsheet.md", "governance.md", "next_steps.md"]
TERMS = ["DCR", "TSTR", "TRTR", "pMSE", "S_pMSE", "NNDR", "NNAA", "Epsilon-identifiability", "MIA",
         "Attribute inference", "Quasi-identifier", "k-anonymity", "CART", "SMOTE", "VAE", "ELBO", "GAN",
         "WGAN-GP", "MCM", "DP", "Epsilon", "Holdout", "Fidelity", "Utility", "AUC", "KL divergence"]
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")
# every lesson's closing cells carry the learner aids (summary, common mistakes, reading, links)
AIDED = [p for p in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))]


def test_glossary_defines_every_course_term_with_its_lesson():
    rows = [line for line in (ROOT / "docs" / "glossary.md").read_text(encoding="utf-8").splitlines()
            if line.startswith("| **")]
    defined = " ".join(row.split("|")[1] for row in rows)
    missing = [t for t in TERMS if not re.search(rf"(?<![\w-]){re.escape(t)}(?![\w-])", defined)]
    assert not missing, f"terms missing from the glossary: {missing}"
    for row in rows:
        lesson = row.rstrip().rstrip("|").rsplit("|", 1)[-1]
        assert re.search(r"\b\d\d\b", lesson), f"no lesson for: {row[:60]}"


@pytest.mark.parametrize("page", ["README.md", *(f"docs/{d}" for d in DOCS)])
def test_relative_links_resolve(page):
    path = ROOT / page
    for target in LINK.findall(path.read_text(encoding="utf-8")):
        if target.startswith(("http://", "https://", "mailto:")):
            continue
        assert (path.parent / target).exists(), f"{page} links to missing {target}"


@pytest.mark.parametrize("notebook", AIDED, ids=lambda p: p.stem)
def test_lessons_end_with_summary_mistakes_reading_and_reference_links(notebook):
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    tail = []
    for cell in reversed(cells):
        if cell["cell_type"] != "markdown":
            break
        tail.insert(0, "".join(cell["source"]))
    closing = "\n".join(tail)
    for needed in ("what you can now do", "common mistakes", "further reading"):
        assert needed in closing.lower(), f"{notebook.name}: no '{needed}' at the end"
    for doc in ("../docs/glossary.md", "../docs/governance.md"):
        assert doc in closing, f"{notebook.name}: no link to {doc}"
    assert "../docs/glossary.md" in "".join(cells[0]["source"]), f"{notebook.name}: glossary link at the top"
