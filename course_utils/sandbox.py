"""Where a learner's notebook runs: a sandbox chosen at run time, and a sweep afterwards.

A graded notebook is untrusted code. On Linux it runs inside bubblewrap (``bwrap``,
Debian package ``bubblewrap``) when that works, else inside ``unshare`` namespaces
when those work, else unconfined (``"none"``). Inside bubblewrap:

- the whole file system is read-only (the course, the virtual environment, the data);
- ``/tmp``, the system's temporary folder and ``HOME`` are fresh, empty and private;
- the folders of the submissions and of the grader's output are hidden (an empty
  folder over them, or ``/dev/null`` over each file where the folder also holds the
  course itself);
- only the run's own folder is writable;
- its own process and network namespaces: no view of the grader's or anyone's
  processes, no network, and every process of the run dies when the run ends.

Every run also carries a unique marker in its environment; :func:`sweep` kills any
process that still carries it (the backstop where no sandbox is available).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path

MARKER_VAR = "COURSE_RUN_MARKER"
SANDBOXES = ("bwrap", "unshare", "none")

NO_SANDBOX_WARNING = (
    "no sandbox is available (install bubblewrap: `sudo apt-get install bubblewrap`): "
    "notebooks would run with your permissions and could read or change other submissions, "
    "your files and the grades; pass --no-sandbox to grade anyway"
)


def _works(cmd: Sequence[str]) -> bool:
    try:
        done = subprocess.run([*cmd, "/bin/true"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0


@lru_cache(maxsize=1)
def available() -> str:
    """The best sandbox that works on this machine: ``"bwrap"``, ``"unshare"`` or ``"none"``."""
    if not sys.platform.startswith("linux"):
        return "none"
    bwrap = shutil.which("bwrap")
    if bwrap and _works([bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
                         "--unshare-pid", "--unshare-net", "--tmpfs", "/tmp", "--"]):
        return "bwrap"
    if shutil.which("unshare") and _works(_unshare_prefix()):
        return "unshare"
    return "none"


def resolve(choice: str | None) -> str:
    """``"auto"``/``None`` -> :func:`available`; otherwise the named sandbox, which must work."""
    if choice in (None, "auto"):
        return available()
    if choice not in SANDBOXES:
        raise ValueError(f"unknown sandbox {choice!r}; choose one of {SANDBOXES} or 'auto'")
    if choice != "none" and available() != choice and not (choice == "unshare" and _works(_unshare_prefix())):
        raise ValueError(f"the sandbox {choice!r} does not work on this machine")
    return choice


def _unshare_prefix() -> list[str]:
    user = [] if os.geteuid() == 0 else ["--user", "--map-root-user"]
    return ["unshare", *user, "--pid", "--fork", "--kill-child", "--mount-proc", "--net", "--ipc", "--"]


def _under(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def _real(p: str | os.PathLike) -> Path:
    return Path(os.path.realpath(p))


def needed_paths() -> list[Path]:
    """What a run must read: this package's repository, the interpreter's prefixes, the data."""
    from .config import DATA_DIR, REPO_DIR

    paths = [REPO_DIR, Path(sys.prefix), Path(sys.base_prefix), Path(sys.executable).parent, DATA_DIR]
    paths += [Path(p) for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    out: list[Path] = []
    for p in paths:
        real = _real(p)
        if real.exists() and real not in out:
            out.append(real)
    return sorted(out, key=lambda p: len(p.parts))


def bwrap_command(cmd: Sequence[str], run_dir: str | Path, hide: Iterable[str | Path] = ()) -> list[str]:
    """``cmd`` wrapped in bubblewrap: read-only system, private temp and HOME, ``run_dir`` writable.

    ``hide``: files and folders the run must not see (other submissions, the grader's
    output). A folder is covered by an empty one; where it also holds something the run
    needs (e.g. the course folder itself), each file in ``hide`` is covered by /dev/null.
    """
    run_dir = _real(run_dir)
    needed = needed_paths()
    args = ["bwrap", "--die-with-parent", "--new-session", "--unshare-pid", "--unshare-net",
            "--unshare-ipc", "--unshare-uts", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
    blank: list[Path] = []
    for root in (Path("/tmp"), _real(tempfile.gettempdir()), _real(Path.home()), Path("/dev/shm"),
                 Path("/var/tmp"), Path("/run/user")):
        if root.is_dir() and root not in blank and root != Path("/"):
            blank.append(root)
    for root in blank:
        args += ["--tmpfs", str(root)]
    # Put back what the run needs and the blank folders covered (e.g. a course in HOME).
    rebound = [p for p in needed if any(_under(p, root) and p != root for root in blank)]
    for path in rebound:
        args += ["--ro-bind", str(path), str(path)]

    def visible(path: Path) -> bool:
        return not any(_under(path, root) for root in blank) or any(_under(path, n) for n in rebound)

    for item in hide:
        path = _real(item)
        if not path.exists() or not visible(path) or _under(run_dir, path):
            continue
        if path.is_dir():
            # A folder that also holds the course stays; its listed files are masked below.
            if not any(_under(n, path) for n in needed):
                args += ["--tmpfs", str(path)]
        elif not any(_under(path, d) for d in map(_real, hide) if d.is_dir() and d != path
                     and not any(_under(n, d) for n in needed)):
            args += ["--ro-bind", "/dev/null", str(path)]
    args += ["--bind", str(run_dir), str(run_dir), "--chdir", str(run_dir), "--", *cmd]
    return args


def unshare_command(cmd: Sequence[str], run_dir: str | Path) -> list[str]:
    """``cmd`` in its own process, network and IPC namespaces (no file-system confinement)."""
    return [*_unshare_prefix(), *cmd]


def wrap(kind: str, cmd: Sequence[str], run_dir: str | Path, hide: Iterable[str | Path] = ()) -> list[str]:
    """The command line that runs ``cmd`` in the sandbox ``kind``."""
    if kind == "bwrap":
        return bwrap_command(cmd, run_dir, hide)
    if kind == "unshare":
        return unshare_command(cmd, run_dir)
    return list(cmd)


def processes_with_marker(token: str) -> list[int]:
    """Ids of the processes whose environment carries ``MARKER_VAR=token``."""
    needle = f"{MARKER_VAR}={token}".encode()
    found = []
    for entry in Path("/proc").iterdir() if Path("/proc").is_dir() else ():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if needle in environ.split(b"\0"):
            found.append(int(entry.name))
    return found


def sweep(token: str, rounds: int = 5) -> int:
    """Kill every process that carries the run's marker; return how many were killed."""
    killed = 0
    for _ in range(rounds):
        pids = processes_with_marker(token)
        if not pids:
            break
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
                killed += 1
            except OSError:
                pass
        time.sleep(0.05)
    return killed


def end_run(proc: subprocess.Popen, token: str) -> None:
    """Kill what is left of a run: its process group, then anything carrying its marker."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except OSError:
        pass
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass
    sweep(token)


__all__ = ["MARKER_VAR", "NO_SANDBOX_WARNING", "SANDBOXES", "available", "bwrap_command", "end_run",
           "processes_with_marker", "resolve", "sweep", "wrap"]
