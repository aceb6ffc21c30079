"""What a graded notebook sees: the sandbox's view of the files, without a kernel.

The scene: a course folder inside HOME that also holds a submission and the grades, a
submissions folder inside the course, and another one elsewhere. Each sandbox must show
the course read-only, hide HOME's other files, every submission and the grades, and
let the run write only to its own folder.
"""

from __future__ import annotations

import subprocess

import pytest

from course_utils import sandbox

SCRIPT = """
cat {course}/lesson.py; echo
for f in {course}/alice.ipynb {course}/grades.csv {subs}/bob.ipynb {elsewhere}/carol.ipynb {home}/secret.txt; do
  if [ ! -e "$f" ]; then echo "$f: absent"
  elif c=$(cat "$f" 2>/dev/null); then echo "$f: ${{#c}} bytes"; else echo "$f: unreadable"; fi
done
touch {course}/new 2>/dev/null && echo "course writable" || echo "course read-only"
touch {run}/mine && echo "run writable"
"""


def _scene(tmp_path):
    home = tmp_path / "home"
    course, elsewhere = home / "course", tmp_path / "elsewhere"
    subs = course / "submissions"
    for folder in (subs, elsewhere, tmp_path / "run"):
        folder.mkdir(parents=True)
    files = {course / "lesson.py": "the course", course / "alice.ipynb": "alice", course / "grades.csv": "grades",
             subs / "bob.ipynb": "bob", elsewhere / "carol.ipynb": "carol", home / "secret.txt": "secret"}
    for path, text in files.items():
        path.write_text(text, encoding="utf-8")
    hide = [course / "alice.ipynb", subs / "bob.ipynb", elsewhere / "carol.ipynb", course, subs, elsewhere,
            course / "grades.csv"]
    steps = sandbox.plan(tmp_path / "run", hide, private=[home], needed=[*sandbox.needed_paths(), course])
    script = SCRIPT.format(course=course, subs=subs, elsewhere=elsewhere, home=home, run=tmp_path / "run")
    return steps, script, home, course, subs, elsewhere


@pytest.mark.parametrize("kind", ["bwrap", "unshare"])
def test_the_view_of_a_run(tmp_path, kind):
    works = sandbox.available() == "bwrap" if kind == "bwrap" else sandbox._unshare_works()
    if not works:
        pytest.skip(f"{kind} does not work here")
    steps, script, home, course, subs, elsewhere = _scene(tmp_path)
    wrap = sandbox.bwrap_command if kind == "bwrap" else sandbox.unshare_command
    cmd = wrap(["/bin/sh", "-c", script], tmp_path / "run", steps=steps)
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "the course"  # the course itself stays readable
    shown = dict(line.split(": ", 1) for line in lines[1:6])
    # a submission and the grades inside the course folder: covered by /dev/null
    assert shown[str(course / "alice.ipynb")] in ("0 bytes", "unreadable")
    assert shown[str(course / "grades.csv")] in ("0 bytes", "unreadable")
    assert shown[str(subs / "bob.ipynb")] == "absent"
    assert shown[str(elsewhere / "carol.ipynb")] == "absent"
    assert shown[str(home / "secret.txt")] == "absent"
    assert lines[6:] == ["course read-only", "run writable"]
    assert not (course / "new").exists() and (tmp_path / "run" / "mine").exists()
    assert (course / "alice.ipynb").read_text(encoding="utf-8") == "alice"  # untouched outside
