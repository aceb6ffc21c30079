"""Hostile submissions: none may score more than a blank notebook, or harm anyone else.

One batch of lesson 01 submissions is graded once (``--jobs 2``): the blank exercise,
the solution (the victim of the attacks), the solution with a daemon left behind, and
the blank exercise with one hostile cell per attack in :data:`ATTACKS`. Afterwards:

- every hostile submission scores exactly what the blank one scores (zero);
- the victim keeps its full marks and its bytes; the course's files keep their hashes;
- nothing was written to HOME, the course folder or the data folder;
- no process of the batch survives the grader.

Needs a working sandbox (bubblewrap); skipped where none is available. The fallback
sandbox (``unshare``) gets one confinement test of its own.
"""

from __future__ import annotations

import csv
import hashlib
import os
import uuid
from pathlib import Path

import nbformat
import pytest

from course_utils import grade as G
from course_utils import sandbox

pytestmark = pytest.mark.slow  # runs notebooks in fresh kernels

REPO = Path(__file__).resolve().parents[1]
SOLUTION = REPO / "solutions" / "01_clinical_tables.ipynb"
EXERCISE = REPO / "exercises" / "01_clinical_tables.ipynb"
PROTECTED = [REPO / "course_utils", REPO / "data"]
HOME_MARK = Path.home() / "course-attack-was-here.txt"
REPO_MARK = REPO / "course-attack-was-here.txt"
DATA_MARK = REPO / "data" / "course-attack-was-here.txt"
LESSON01 = REPO / "course_utils" / "checks" / "lesson01.py"
CELL_TIMEOUT = 10

FULL = [{"id": c, "passed": True, "message": "correct", "points": 1000.0, "max_points": 1.0,
         "hint": "", "status": "passed"}
        for c in ("01.stroke_metadata", "01.holdout_roundtrip", "01.holdout_roundtrip_why", "01.whas_unique",
                  "01.stroke_unique")]

ATTACKS = {
    # in-kernel tampering with the check machinery
    "tamper_run_lesson": f"""
import course_utils.checks as C
C.run_lesson = lambda *a, **k: [C.CheckResult(**r) for r in {FULL!r}]
""",
    "tamper_registry": """
import course_utils.checks as C
C.load_lesson('01')
for spec in C.REGISTRY.values():
    spec.func = lambda *a, **k: None
stroke_meta, changed, outside_range, whas_unique_share, stroke_unique_share = 'x', 'x', 'x', 0.0, 0.0
""",
    "tamper_helpers": """
import course_utils.checks.lesson01 as L
L._unique_share = lambda df: 0.0
L._whas_output_dim = lambda: 1
L._as_share = lambda obj, what: 0.0
whas_unique_share = stroke_unique_share = 0.0
""",
    "tamper_export": """
import course_utils.checks as C
from course_utils.checks.exchange import Raised
C.export_answer = lambda spec, obj, inputs=None: Raised('passed', 'correct')
stroke_meta = changed = outside_range = whas_unique_share = stroke_unique_share = 1
""",
    # forged result channels
    "fake_stdout": f"""
import json
line = 'COURSE_CHECK_RESULTS_JSON:' + json.dumps({FULL!r})
get_ipython().events.register('pre_run_cell', lambda *a: print(line))
print(line)
""",
    "fake_files_kill_parent": f"""
import json, os
from course_utils.checks import exchange
full = {FULL!r}
for name in ('runner-result.json', '__result.json'):
    open(name, 'w').write(json.dumps({{'status': 'ok', 'detail': '', 'checks': full, 'cell_errors': []}}))
exchange.write('answers.npz', {{c['id']: 'correct' for c in full}})
os.kill(os.getppid(), 9)
""",
    "kill_worker_via_proc": """
import json, os
from course_utils.checks import exchange
exchange.write('answers.npz', {'01.whas_unique': 1000.0, '01.bonus': 1000.0})
open('runner-result.json', 'w').write(json.dumps({'status': 'ok', 'checks': [], 'cell_errors': []}))
mine = [v for v in open('/proc/self/environ', 'rb').read().split(b'\\0') if v.startswith(b'COURSE_ATTACK_BATCH=')]
for pid in [p for p in os.listdir('/proc') if p.isdigit() and int(p) != os.getpid()]:
    try:
        env = open(f'/proc/{pid}/environ', 'rb').read().split(b'\\0')
        cmd = open(f'/proc/{pid}/cmdline', 'rb').read()
    except OSError:
        continue
    if mine and mine[0] in env and b'notebook_runner' in cmd:
        os.kill(int(pid), 9)
""",
    "inflated_points": f"""
from course_utils.checks import RESULTS, CheckResult
for r in {FULL!r}:
    RESULTS[r['id']] = CheckResult(**r)
import course_utils.checks as C
C.clip_results = lambda lesson, results: results
whas_unique_share = 1000
""",
    # writing outside the private copy
    "write_outside": f"""
import os
for path, text in [({str(HOME_MARK)!r}, 'x'), ({str(REPO_MARK)!r}, 'x'), ({str(DATA_MARK)!r}, 'x'),
                   ({str(LESSON01)!r}, '\\nATTACKED = True\\n'), (os.path.expanduser('~/.bashrc'), '\\n# x\\n')]:
    try:
        with open(path, 'a') as fh:
            fh.write(text)
    except OSError:
        pass
""",
    # another submission, the grader's output, the grader's process
    "overwrite_victim": """
import os
targets = {VICTIM!r}, {SUBMISSIONS!r}, {OUT!r}
for pid in [p for p in os.listdir('/proc') if p.isdigit()]:
    for link in ('cwd', 'root'):
        try:
            found = os.readlink(f'/proc/{pid}/{link}')
        except OSError:
            continue
        if found not in ('/', os.getcwd()):
            targets += (found,)
seen = []
for target in targets:
    if os.path.isfile(target):
        seen.append(target)
        try:
            open(target, 'w').write('{}')
        except OSError:
            pass
    elif os.path.isdir(target):
        for name in os.listdir(target):
            seen.append(os.path.join(target, name))
            if name.endswith('.ipynb') and 'hostile' not in name:
                try:
                    open(os.path.join(target, name), 'w').write('{}')
                except OSError:
                    pass
procs = [open(f'/proc/{p}/cmdline', 'rb').read() for p in os.listdir('/proc') if p.isdigit()]
grader = [c for c in procs if b'pytest' in c or b'course_utils grade' in c]
raise RuntimeError(f'SPY seen={seen} grader={len(grader)} processes={len(procs)}')
""",
    # children that outlive the notebook, and a loop that ignores interrupts
    "forked_daemon": """
import os, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.execve('/bin/sleep', ['sleep', '4321'], {})  # no marker in its environment
    while True:
        time.sleep(1)
""",
    "ignores_interrupt": """
import signal
signal.signal(signal.SIGINT, signal.SIG_IGN)
while True:
    pass
""",
}
DAEMON = """
import os, time
if os.fork() == 0:
    os.setsid()
    while True:
        time.sleep(1)
"""


def _with_cell(base: Path, source: str):
    nb = nbformat.read(base, as_version=4)
    cell = nbformat.v4.new_code_cell(source.strip())
    cell["id"] = "hostile"
    nb.cells.append(cell)
    return nb


def _digests() -> dict[Path, str]:
    return {p: hashlib.sha256(p.read_bytes()).hexdigest()
            for root in PROTECTED for p in sorted(root.rglob("*")) if p.is_file()}


def _survivors(batch: str) -> list[str]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            env = (entry / "environ").read_bytes().split(b"\0")
            cmd = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if f"COURSE_ATTACK_BATCH={batch}".encode() in env or cmd == b"sleep\x004321\x00":
            found.append(f"{entry.name}: {cmd[:80]!r}")
    return found


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    if sandbox.available() != "bwrap":
        pytest.skip("needs bubblewrap (bwrap)")
    root = tmp_path_factory.mktemp("attacks")
    subs, out = root / "submissions", root / "results" / "grades.csv"
    subs.mkdir()
    victim = subs / "victim.ipynb"
    nbformat.write(nbformat.read(SOLUTION, as_version=4), victim)
    nbformat.write(nbformat.read(EXERCISE, as_version=4), subs / "blank.ipynb")
    nbformat.write(_with_cell(SOLUTION, DAEMON), subs / "daemon_right.ipynb")
    for name, source in ATTACKS.items():
        source = source.replace("{VICTIM!r}", repr(str(victim))).replace(
            "{SUBMISSIONS!r}", repr(str(subs))).replace("{OUT!r}", repr(str(out.parent)))
        nbformat.write(_with_cell(EXERCISE, source), subs / f"hostile_{name}.ipynb")
    paths = sorted(subs.glob("*.ipynb"))
    victim_bytes = victim.read_bytes()
    lesson01 = LESSON01.read_bytes()
    before = _digests()
    batch_id = uuid.uuid4().hex
    mp = pytest.MonkeyPatch()
    mp.setenv("COURSE_ATTACK_BATCH", batch_id)
    try:
        status = G.main([*map(str, paths), "--lesson", "01", "--out", str(out), "--jobs", "2",
                         "--cell-timeout", str(CELL_TIMEOUT), "--timeout", "240"])
    finally:
        mp.undo()
        survivors = _survivors(batch_id)
        if LESSON01.read_bytes() != lesson01:  # never leave a damaged course behind
            LESSON01.write_bytes(lesson01)
    with open(out, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    totals: dict[str, float] = {}
    for r in rows:
        totals[r["student"]] = totals.get(r["student"], 0.0) + float(r["points"])
    return {"status": status, "rows": rows, "totals": totals, "victim": victim, "victim_bytes": victim_bytes,
            "before": before, "after": _digests(), "survivors": survivors, "out": out, "lesson01": lesson01}


def test_the_batch_was_graded(batch):
    assert batch["status"] == 0
    assert set(batch["totals"]) == {"victim", "blank", "daemon_right", *(f"hostile_{a}" for a in ATTACKS)}


def test_the_victim_keeps_full_marks_and_its_bytes(batch):
    assert batch["totals"]["victim"] == 5.0
    assert batch["victim"].read_bytes() == batch["victim_bytes"]


def test_a_right_notebook_that_leaves_a_child_keeps_its_marks(batch):
    assert batch["totals"]["daemon_right"] == 5.0


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_each_attack_scores_what_a_blank_notebook_scores(batch, attack):
    assert batch["totals"]["blank"] == 0.0
    assert batch["totals"][f"hostile_{attack}"] == batch["totals"]["blank"]
    rows = [r for r in batch["rows"] if r["student"] == f"hostile_{attack}"]
    assert rows and all(r["passed"] == "False" and float(r["points"]) == 0 for r in rows)


def test_statuses_say_what_happened(batch):
    by = {(r["student"], r["check_id"]): r for r in batch["rows"]}
    stuck = by[("hostile_ignores_interrupt", "01.holdout_roundtrip")]
    assert stuck["status"] == "timeout"
    assert f"ran longer than {CELL_TIMEOUT} s and did not stop when interrupted" in stuck["message"]
    assert by[("hostile_forked_daemon", "01.holdout_roundtrip")]["status"] == "not answered"


def test_the_course_files_keep_their_hashes(batch):
    changed = [str(p) for p, d in batch["before"].items() if batch["after"].get(p) != d]
    assert not changed, changed
    assert batch["lesson01"] == LESSON01.read_bytes()
    for mark in (HOME_MARK, REPO_MARK, DATA_MARK):
        assert not mark.exists(), f"a notebook wrote {mark}"


def test_the_sandbox_hides_submissions_output_and_grader(batch):
    feedback = (batch["out"].parent / "feedback" / "hostile_overwrite_victim.md").read_text(encoding="utf-8")
    assert "SPY seen=[] grader=0" in feedback, feedback


def test_no_process_of_the_batch_survives(batch):
    assert batch["survivors"] == []


def test_the_unshare_sandbox_confines_a_notebook(tmp_path):
    """The fallback sandbox: same view of the files, no other process, a working kernel."""
    from course_utils.notebook_runner import STATUS_OK, run_notebook

    if not sandbox._unshare_works():
        pytest.skip("unshare namespaces do not work here")
    victim = tmp_path / "victim.ipynb"
    victim.write_text("{}", encoding="utf-8")
    probe = f"""
import os
wrote = []
for path in ({str(HOME_MARK)!r}, {str(REPO_MARK)!r}, {str(DATA_MARK)!r}, {str(LESSON01)!r}, {str(victim)!r}):
    try:
        with open(path, 'a') as fh:
            fh.write('')
        wrote.append(path)
    except OSError:
        pass
with open('mine.txt', 'w') as fh:  # its own folder stays writable
    fh.write('x')
procs = [p for p in os.listdir('/proc') if p.isdigit()]
seen = os.path.exists({str(victim)!r})
raise RuntimeError(f'PROBE wrote={{wrote}} victim={{seen}} procs={{len(procs)}}')
"""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("whas_unique_share = 0.5"), nbformat.v4.new_code_cell(probe)]
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"c{i}"
    path = tmp_path / "probe.ipynb"
    nbformat.write(nb, path)
    before = LESSON01.read_bytes()
    result = run_notebook(path, "01", cell_timeout=60, timeout=180, sandbox_kind="unshare")
    if LESSON01.read_bytes() != before:
        LESSON01.write_bytes(before)
    assert result.status == STATUS_OK, result.detail
    assert result.sandbox == "unshare"
    message = next((e.evalue for e in result.cell_errors if "PROBE" in e.evalue), str(result.cell_errors))
    # only its private HOME (an empty folder that vanishes with the run) took the write
    assert f"wrote=[{str(HOME_MARK)!r}] victim=False" in message, message
    assert int(message.rsplit("procs=", 1)[1]) < 10, message  # only the run's own processes
    assert {c["id"]: c["status"] for c in result.checks}["01.whas_unique"] == "failed"  # judged, by value
    for mark in (HOME_MARK, REPO_MARK, DATA_MARK):
        assert not mark.exists()
