"""A static HTML version of the course, for reading before (or without) installing it.

``python -m course_utils.site --out site`` (``make site``) executes every lesson in
``notebooks/`` in a fresh kernel (fast mode by default, two at a time), converts it to
HTML with its outputs and figures embedded, renders the exercise notebooks as they are
handed out (stubs, never the solutions) and the Markdown pages of ``docs/`` and
``data/README.md``, and writes an index page made from the README's introduction and
course map. The site mirrors the repository's layout, so a link such as
``notebooks/03_fidelity_utility.ipynb`` or ``../docs/glossary.md`` keeps working once
``.ipynb`` and ``.md`` become ``.html``.

A lesson that raises an error stops the build with the lesson's name and the error:
the site never shows a traceback.
"""

from __future__ import annotations

import argparse
import html
import os
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from . import config

STYLE = """
<style>
  nav.course-nav { font-family: system-ui, sans-serif; padding: 0.6em 1em; margin-bottom: 1em;
                   background: #f3f5f7; border-bottom: 1px solid #d0d7de; }
  nav.course-nav a { margin-right: 1.2em; }
  body.course-page { max-width: 60em; margin: auto; font-family: system-ui, sans-serif;
                     line-height: 1.5; padding: 0 1em 3em; }
  body.course-page table { border-collapse: collapse; }
  body.course-page td, body.course-page th { border: 1px solid #d0d7de; padding: 0.3em 0.6em; }
  body.course-page pre { background: #f6f8fa; padding: 0.8em; overflow-x: auto; }
</style>
"""

_MARKDOWN_PAGES = ("docs/*.md", "data/README.md")
_LINK = re.compile(r'href="(?!https?:|mailto:|#|data:)([^"#]+?)\.(ipynb|md)(#[^"]*)?"')


@dataclass
class SiteError(Exception):
    """A lesson that could not be executed or converted; names the notebook."""

    notebook: str
    detail: str

    def __str__(self) -> str:
        return f"{self.notebook} could not be built:\n{self.detail}"


def lessons(root: Path = config.REPO_DIR) -> list[Path]:
    """The lesson notebooks, in course order (every ``notebooks/NN_*.ipynb`` present)."""
    return sorted((root / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def exercises(root: Path = config.REPO_DIR) -> list[Path]:
    """The exercise notebooks as learners get them (``exercises/NN_*.ipynb``)."""
    return sorted((root / "exercises").glob("[0-9][0-9]_*.ipynb"))


def rewrite_links(page: str) -> str:
    """Point relative links to notebooks and Markdown files at their HTML pages."""

    def replace(match: re.Match) -> str:
        target, _, anchor = match.groups()
        *parents, name = target.split("/")
        if name == "README" and all(part == ".." for part in parents):  # the course README
            target = "/".join([*parents, "index"])
        return f'href="{target}.html{anchor or ""}"'

    return _LINK.sub(replace, page)


def _nav(depth: int, prev: Path | None = None, nxt: Path | None = None) -> str:
    up = "../" * depth
    parts = [f'<a href="{up}index.html">Course map</a>',
             f'<a href="{up}docs/glossary.html">Glossary</a>',
             f'<a href="{up}docs/metrics_cheatsheet.html">Metrics</a>',
             f'<a href="{up}docs/governance.html">Governance</a>']
    if prev is not None:
        parts.append(f'<a href="{prev.stem}.html">&larr; {html.escape(prev.stem)}</a>')
    if nxt is not None:
        parts.append(f'<a href="{nxt.stem}.html">{html.escape(nxt.stem)} &rarr;</a>')
    return f'<nav class="course-nav">{"".join(parts)}</nav>'


def _insert_nav(page: str, nav: str) -> str:
    page = page.replace("</head>", STYLE.replace("body.course-page", "body") + "</head>", 1)
    return re.sub(r"(<body[^>]*>)", lambda m: m.group(1) + nav, page, count=1)


def _markdown_page(title: str, body_markdown: str, depth: int) -> str:
    import mistune

    render = mistune.create_markdown(plugins=["table", "strikethrough", "url"], escape=False)
    body = rewrite_links(render(body_markdown))
    return (
        f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
        f"{STYLE}</head>\n<body class=\"course-page\">{_nav(depth)}\n{body}\n</body></html>\n"
    )


def _convert(notebooks: list[Path], out_dir: Path, execute: bool, fast: bool, timeout: int) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    # TQDM_DISABLE: a static page would show every refresh of a progress bar as a line.
    env = dict(os.environ, COURSE_FAST="1" if fast else "0", OMP_NUM_THREADS="1",
               MKL_NUM_THREADS="1", COURSE_TORCH_THREADS="1", TQDM_DISABLE="1")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(config.REPO_DIR), env.get("PYTHONPATH")]))
    cmd = [sys.executable, "-m", "jupyter", "nbconvert", "--to", "html", "--output-dir", str(out_dir),
           f"--ExecutePreprocessor.timeout={timeout}"] + (["--execute"] if execute else [])
    result = subprocess.run(cmd + [str(nb) for nb in notebooks], capture_output=True, text=True, env=env,
                            cwd=notebooks[0].parent)
    if result.returncode != 0:
        raise SiteError(", ".join(nb.name for nb in notebooks), result.stderr[-4000:])
    return [out_dir / f"{nb.stem}.html" for nb in notebooks]


def _index(root: Path, built_lessons: list[Path], built_exercises: list[Path]) -> str:
    readme = (root / "README.md").read_text(encoding="utf-8")
    title_and_intro = readme.split("\n## ", 1)[0]
    course_map = re.search(r"\n(## Course map\n.*?)(?=\n## )", readme, re.S)
    parts = [title_and_intro, course_map.group(1) if course_map else ""]
    parts.append("## All pages\n\n**Lessons** (executed in fast mode, with outputs and figures):\n")
    parts += [f"- [{p.stem}](notebooks/{p.name})" for p in built_lessons]
    parts.append("\n**Exercises** (as handed out; run them in JupyterLab to check your answers):\n")
    parts += [f"- [{p.stem}](exercises/{p.name})" for p in built_exercises]
    docs = sorted((root / "docs").glob("*.md"))
    if docs:
        parts.append("\n**Reference pages:**\n")
        parts += [f"- [{p.stem.replace('_', ' ')}](docs/{p.name})" for p in docs]
    parts.append(
        "\nTo run the course yourself, clone the repository and type `make lab` "
        "(see the README's *Start here*)."
    )
    return _markdown_page("Synthetic Medical Tabular Data", "\n".join(parts), depth=0)


def build_site(
    out: str | Path = "site",
    root: str | Path = config.REPO_DIR,
    jobs: int = 2,
    fast: bool = True,
    timeout: int = 600,
) -> Path:
    """Build the static site into ``out``; returns the path of its ``index.html``.

    ``jobs`` lessons run side by side, each in its own kernel (two on a two-core laptop).
    Raises :class:`SiteError` naming the first lesson that failed.
    """
    root, out = Path(root), Path(out)
    if jobs < 1:
        raise ValueError(f"jobs must be at least 1, got {jobs}")
    lesson_paths, exercise_paths = lessons(root), exercises(root)
    if not lesson_paths:
        raise ValueError(f"no lesson notebooks found in {root / 'notebooks'}")
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        # One executed lesson per process (a failure names its lesson), later lessons first:
        # they train the bigger models, and starting them first keeps both workers busy to
        # the end. Exercises are only rendered, all in one process.
        futures = {nb: pool.submit(_convert, [nb], out / "notebooks", True, fast, timeout)
                   for nb in reversed(lesson_paths)}
        rendered = pool.submit(_convert, exercise_paths, out / "exercises", False, fast, timeout) \
            if exercise_paths else None
        pages = [futures[nb].result()[0] for nb in lesson_paths] + (rendered.result() if rendered else [])
    for i, page in enumerate(pages[: len(lesson_paths)]):
        prev = lesson_paths[i - 1] if i > 0 else None
        nxt = lesson_paths[i + 1] if i + 1 < len(lesson_paths) else None
        text = rewrite_links(page.read_text(encoding="utf-8"))
        page.write_text(_insert_nav(text, _nav(1, prev, nxt)), encoding="utf-8")
    for page in pages[len(lesson_paths):]:
        text = rewrite_links(page.read_text(encoding="utf-8"))
        page.write_text(_insert_nav(text, _nav(1)), encoding="utf-8")
    for pattern in _MARKDOWN_PAGES:
        for md in sorted(root.glob(pattern)):
            rel = md.relative_to(root).with_suffix(".html")
            target = out / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(
                _markdown_page(md.stem, md.read_text(encoding="utf-8"), depth=len(rel.parts) - 1),
                encoding="utf-8",
            )
    index = out / "index.html"
    index.write_text(_index(root, lesson_paths, exercise_paths), encoding="utf-8")
    return index


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python -m course_utils.site [--out site] [--jobs 2] [--full]``."""
    parser = argparse.ArgumentParser(prog="python -m course_utils.site", description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="site", help="output folder (default: site/)")
    parser.add_argument("--jobs", type=int, default=2, help="lessons executed side by side (default 2)")
    parser.add_argument("--full", action="store_true", help="execute at full settings, not fast mode")
    parser.add_argument("--timeout", type=int, default=600, help="seconds allowed per cell")
    args = parser.parse_args(argv)
    start = time.monotonic()
    try:
        index = build_site(args.out, jobs=args.jobs, fast=not args.full, timeout=args.timeout)
    except SiteError as err:
        print(f"site build failed: {err}", file=sys.stderr)
        return 1
    print(f"site written to {index} in {time.monotonic() - start:.0f} s; open it in a browser")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
