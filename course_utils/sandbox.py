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

import ctypes
import json
import os
import re
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
        done = subprocess.run(list(cmd), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
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
                         "--unshare-pid", "--unshare-net", "--tmpfs", "/tmp", "--", "/bin/true"]):
        return "bwrap"
    if shutil.which("unshare") and _unshare_works():
        return "unshare"
    return "none"


def _unshare_works() -> bool:
    with tempfile.TemporaryDirectory(prefix="course-sandbox-probe-") as tmp:
        return _works(unshare_command([sys.executable, "-c", "pass"], tmp))


def resolve(choice: str | None) -> str:
    """``"auto"``/``None`` -> :func:`available`; otherwise the named sandbox, which must work."""
    if choice in (None, "auto"):
        return available()
    if choice not in SANDBOXES:
        raise ValueError(f"unknown sandbox {choice!r}; choose one of {SANDBOXES} or 'auto'")
    if choice != "none" and available() != choice and not (choice == "unshare" and _unshare_works()):
        raise ValueError(f"the sandbox {choice!r} does not work on this machine")
    return choice


def _unshare_prefix() -> list[str]:
    # A user namespace even for root: the run's capabilities then end at its namespaces.
    return ["unshare", "--user", "--map-root-user", "--mount", "--propagation", "private", "--pid",
            "--fork", "--kill-child", "--mount-proc", "--net", "--ipc", "--"]


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


def private_roots() -> list[Path]:
    """Folders every run gets empty and private: the temporary folders and HOME."""
    roots: list[Path] = []
    for root in (Path("/tmp"), _real(tempfile.gettempdir()), _real(Path.home()), Path("/dev/shm"),
                 Path("/var/tmp"), Path("/run/user")):
        if root.is_dir() and root not in roots and root != Path("/"):
            roots.append(root)
    return roots


def plan(run_dir: str | Path, hide: Iterable[str | Path] = (), *,
         private: Sequence[str | Path] | None = None, needed: Sequence[str | Path] | None = None,
         ) -> list[tuple[str, ...]]:
    """The file-system view of a run, as steps applied in order over a read-only ``/``.

    Steps: ``("tmpfs", path)`` an empty private folder over ``path``; ``("ro-bind",
    source, path)`` and ``("bind", source, path)`` show ``source`` at ``path``, read-only
    or writable. ``hide``: files and folders the run must not see (other submissions,
    the grader's output). A folder is covered by an empty one; where it also holds
    something the run needs (e.g. the course folder itself), each file in ``hide`` is
    covered by /dev/null instead. ``private`` (default :func:`private_roots`) and
    ``needed`` (default :func:`needed_paths`) are there for tests.
    """
    run_dir = _real(run_dir)
    needed = needed_paths() if needed is None else [_real(p) for p in needed]
    steps: list[tuple[str, ...]] = []
    blank = private_roots() if private is None else [_real(p) for p in private]
    steps += [("tmpfs", str(root)) for root in blank]
    # Put back what the run needs and the blank folders covered (e.g. a course in HOME).
    rebound = [p for p in needed if any(_under(p, root) and p != root for root in blank)]
    steps += [("ro-bind", str(path), str(path)) for path in rebound]

    def visible(path: Path) -> bool:
        return not any(_under(path, root) for root in blank) or any(_under(path, n) for n in rebound)

    hidden = [_real(h) for h in hide]
    for path in hidden:
        if not path.exists() or not visible(path) or _under(run_dir, path):
            continue
        if path.is_dir():
            # A folder that also holds the course stays; its listed files are masked below.
            if not any(_under(n, path) for n in needed):
                steps.append(("tmpfs", str(path)))
        elif not any(_under(path, d) for d in hidden if d.is_dir() and d != path
                     and not any(_under(n, d) for n in needed)):
            steps.append(("ro-bind", "/dev/null", str(path)))
    steps.append(("bind", str(run_dir), str(run_dir)))
    return steps


def bwrap_command(cmd: Sequence[str], run_dir: str | Path, hide: Iterable[str | Path] = (),
                  steps: list[tuple[str, ...]] | None = None) -> list[str]:
    """``cmd`` wrapped in bubblewrap with the view of :func:`plan` (or ``steps``), in ``run_dir``."""
    args = ["bwrap", "--die-with-parent", "--new-session", "--unshare-pid", "--unshare-net",
            "--unshare-ipc", "--unshare-uts", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
    for step in plan(run_dir, hide) if steps is None else steps:
        args += [f"--{step[0]}", *step[1:]]
    return [*args, "--chdir", str(_real(run_dir)), "--", *cmd]


def unshare_command(cmd: Sequence[str], run_dir: str | Path, hide: Iterable[str | Path] = (),
                    steps: list[tuple[str, ...]] | None = None) -> list[str]:
    """``cmd`` in new user, mount, process, network and IPC namespaces with the view of :func:`plan`.

    The mounts are made by :func:`_inside` (``python -m course_utils.sandbox``), which
    then drops every capability before it runs ``cmd``.
    """
    spec = json.dumps({"steps": plan(run_dir, hide) if steps is None else steps, "chdir": str(_real(run_dir))})
    return [*_unshare_prefix(), sys.executable, "-m", "course_utils.sandbox", spec, "--", *cmd]


def wrap(kind: str, cmd: Sequence[str], run_dir: str | Path, hide: Iterable[str | Path] = ()) -> list[str]:
    """The command line that runs ``cmd`` in the sandbox ``kind``."""
    if kind == "bwrap":
        return bwrap_command(cmd, run_dir, hide)
    if kind == "unshare":
        return unshare_command(cmd, run_dir, hide)
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


# -- inside the unshare namespaces ----------------------------------------------------------
_MS_RDONLY, _MS_NOSUID, _MS_NODEV, _MS_NOEXEC = 1, 2, 4, 8
_MS_REMOUNT, _MS_BIND, _MS_REC = 32, 4096, 16384
_MS_NOATIME, _MS_NODIRATIME, _MS_RELATIME = 1024, 2048, 1 << 21
_KEPT_FLAGS = {2: _MS_NOSUID, 4: _MS_NODEV, 8: _MS_NOEXEC, 1024: _MS_NOATIME, 2048: _MS_NODIRATIME,
               4096: _MS_RELATIME}  # statvfs flag -> mount flag that a user namespace must keep


def _mount(libc, source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    def enc(v: str | None) -> bytes | None:
        return None if v is None else v.encode()

    if libc.mount(enc(source), enc(target), enc(fstype), ctypes.c_ulong(flags), enc(data)) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount {source} on {target}: {os.strerror(err)}")


def _read_only(libc, target: str) -> None:
    kept = 0
    for st, ms in _KEPT_FLAGS.items():
        if os.statvfs(target).f_flag & st:
            kept |= ms
    _mount(libc, None, target, None, _MS_REMOUNT | _MS_BIND | _MS_RDONLY | kept)


def _writable(libc, target: str) -> None:
    kept = 0
    for st, ms in _KEPT_FLAGS.items():
        if os.statvfs(target).f_flag & st:
            kept |= ms
    _mount(libc, None, target, None, _MS_REMOUNT | _MS_BIND | kept)


def _mount_points() -> list[str]:
    points = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        field = line.split(" ")[4]
        points.append(re.sub(r"\\(\d{3})", lambda m: chr(int(m.group(1), 8)), field))
    return sorted(set(points), key=len)


def _loopback_up() -> None:
    """Bring up ``lo`` in the new network namespace: the kernel and its client talk over it."""
    import fcntl
    import socket
    import struct

    siocsifflags, iff_up, iff_loopback, iff_running = 0x8914, 0x1, 0x8, 0x40
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        fcntl.ioctl(sock, siocsifflags, struct.pack("16sH14s", b"lo", iff_up | iff_loopback | iff_running, b""))


def _inside(spec: dict, cmd: list[str]) -> None:
    """Apply a :func:`plan` over a read-only ``/``, drop every capability, then exec ``cmd``."""
    libc = ctypes.CDLL(None, use_errno=True)
    steps = [tuple(s) for s in spec["steps"]]
    # Sources may lie under a folder a later step covers: hold them open first.
    held = {s[1]: os.open(s[1], os.O_PATH) for s in steps if s[0] != "tmpfs"}
    for point in _mount_points():
        if point.startswith(("/proc", "/sys")):
            continue
        try:
            _read_only(libc, point)
        except OSError:
            pass  # a mount this namespace may not touch stays as it is (it is not ours to write)
    for kind, *rest in steps:
        target = rest[-1]
        if kind == "tmpfs":
            _mount(libc, "tmpfs", target, "tmpfs", _MS_NOSUID | _MS_NODEV, "mode=0755")
            continue
        source = f"/proc/self/fd/{held[rest[0]]}"
        if not os.path.exists(target):
            if os.path.isdir(source):
                os.makedirs(target, exist_ok=True)
            else:
                os.makedirs(os.path.dirname(target), exist_ok=True)
                open(target, "a").close()
        _mount(libc, source, target, None, _MS_BIND | _MS_REC)
        if kind == "ro-bind":
            _read_only(libc, target)
        else:  # a bind copies the read-only flag this namespace gave its source: lift it
            _writable(libc, target)
    for fd in held.values():
        os.close(fd)
    _loopback_up()
    pr_capbset_drop, pr_set_no_new_privs = 24, 38
    for cap in range(64):
        libc.prctl(pr_capbset_drop, cap, 0, 0, 0)
    libc.prctl(pr_set_no_new_privs, 1, 0, 0, 0)
    os.chdir(spec["chdir"])
    os.execvp(cmd[0], cmd)


__all__ = ["MARKER_VAR", "NO_SANDBOX_WARNING", "SANDBOXES", "available", "bwrap_command", "end_run", "plan",
           "private_roots", "unshare_command",
           "processes_with_marker", "resolve", "sweep", "wrap"]


if __name__ == "__main__":
    _spec, _sep, *_cmd = sys.argv[1:]
    _inside(json.loads(_spec), _cmd)
