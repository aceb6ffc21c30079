"""The static course site (`make site`): every lesson executed, with figures, no errors."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest

from course_utils import site

ROOT = Path(__file__).resolve().parents[1]
IMAGE = re.compile(r'<img[^>]*src="data:image/png;base64,')
TRACEBACK = "Traceback (most recent call last)"


@pytest.fixture(scope="session")
def built_site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("site")
    site.build_site(out, jobs=2, fast=True)
    return out


def _text(page: str) -> str:
    """The visible text of a page: styles and tags removed, entities decoded."""
    page = re.sub(r"<style.*?</style>|<script.*?</script>", "", page, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", "", page))


def _image_outputs_expected(notebook: Path) -> bool:
    source = "\n".join("".join(c["source"]) for c in json.loads(notebook.read_text(encoding="utf-8"))["cells"]
                       if c["cell_type"] == "code")
    return bool(re.search(r"\bplt\.|\bplot_\w+\(|\.plot\(", source))


@pytest.mark.parametrize("notebook", site.lessons(ROOT), ids=lambda p: p.stem)
def test_every_lesson_page_exists_with_figures_and_no_error(built_site, notebook):
    page = built_site / "notebooks" / f"{notebook.stem}.html"
    assert page.is_file(), f"no page for {notebook.name}"
    text = page.read_text(encoding="utf-8")
    assert 'href="../index.html"' in text, "the page does not link back to the course map"
    if _image_outputs_expected(notebook):
        assert IMAGE.search(text), f"{page.name} has no embedded figure"
    visible = _text(text)
    assert TRACEBACK not in visible, f"{page.name} shows an error"
    first_heading = next(c for c in json.loads(notebook.read_text(encoding="utf-8"))["cells"]
                         if c["cell_type"] == "markdown")["source"]
    assert "".join(first_heading).splitlines()[0].lstrip("# ").strip()[:20] in visible


def test_index_is_the_course_map_and_every_link_resolves(built_site):
    index = (built_site / "index.html").read_text(encoding="utf-8")
    assert "Course map" in index
    for lesson in site.lessons(ROOT):
        assert f'href="notebooks/{lesson.stem}.html"' in index
    for page in [built_site / "index.html", *sorted((built_site / "docs").glob("*.html"))]:
        for target in re.findall(r'href="([^"#:]+)(?:#[^"]*)?"', page.read_text(encoding="utf-8")):
            assert (page.parent / target).is_file(), f"{page.name} links to missing {target}"


def _solution_lines(solution: Path) -> list[str]:
    lines, inside = [], False
    for cell in json.loads(solution.read_text(encoding="utf-8"))["cells"]:
        for line in "".join(cell["source"]).splitlines():
            if "### BEGIN SOLUTION" in line:
                inside = True
            elif "### END SOLUTION" in line:
                inside = False
            elif inside and len(line.strip()) > 25:
                lines.append(line.strip())
    return lines


@pytest.mark.parametrize("solution", sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb")), ids=lambda p: p.stem)
def test_exercise_pages_carry_the_stubs_not_the_solutions(built_site, solution):
    page = built_site / "exercises" / f"{solution.stem}.html"
    assert page.is_file(), f"no exercise page for {solution.name}"
    visible = _text(page.read_text(encoding="utf-8"))
    assert "raise NotImplementedError()" in visible
    exercise_source = "\n".join("".join(c["source"]) for c in json.loads(
        (ROOT / "exercises" / solution.name).read_text(encoding="utf-8"))["cells"])
    # lines the build removed: those of a solution region not found elsewhere in the exercise
    answers = [line for line in _solution_lines(solution) if line not in exercise_source]
    assert answers, f"{solution.name} has no solution lines to look for"
    leaked = [line for line in answers if line in visible]
    assert not leaked, f"solution lines on the exercise page: {leaked[:3]}"
    assert not (built_site / "solutions").exists()


def test_links_to_notebooks_and_markdown_become_pages():
    page = ('<a href="notebooks/03_x.ipynb">a</a> <a href="../docs/glossary.md#dcr">b</a> '
            '<a href="../README.md">c</a> <a href="https://example.org/x.md">d</a> <a href="#x">e</a>')
    assert site.rewrite_links(page) == (
        '<a href="notebooks/03_x.html">a</a> <a href="../docs/glossary.html#dcr">b</a> '
        '<a href="../index.html">c</a> <a href="https://example.org/x.md">d</a> <a href="#x">e</a>'
    )


def test_a_lesson_that_raises_stops_the_build_with_its_name(tmp_path):
    import nbformat

    (tmp_path / "notebooks").mkdir()
    (tmp_path / "README.md").write_text("# Course\n\n## Course map\n\nnone\n\n## End\n")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 / 0")])
    nbformat.write(nb, tmp_path / "notebooks" / "00_broken.ipynb")
    with pytest.raises(site.SiteError, match="(?s)00_broken.ipynb.*ZeroDivisionError"):
        site.build_site(tmp_path / "out", root=tmp_path, jobs=1)
