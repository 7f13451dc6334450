"""What memdoctor needs to know about a target process before it injects anything.

Everything is read from /proc/PID on the host side, so targets in containers work: their files
are reached through /proc/PID/root, their PID inside their namespace comes from NSpid, and the
staging directory is created inside their mount namespace, owned by their user.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
from dataclasses import dataclass

from memdoctor.heap.patient import refuse_stopped_or_traced
from memdoctor.heap.runtimes import HeapError

# Environment variable the launch-mode agent's processes carry: the directory (inside the
# target's namespace) where each process's control socket lives.
CONTROL_ENV = "MEMDOCTOR_HEAP_CONTROL"


@dataclass
class TargetProcess:
    pid: int  # in our PID namespace
    ns_pid: int  # in the target's own PID namespace
    uid: int
    gid: int
    exe: str
    version: tuple[int, int] | None  # CPython major.minor when it can be told
    root: str  # /proc/PID/root: the target's filesystem
    control_dir: str | None  # launch mode: where its agent listens (path inside the target)

    def host_path(self, inner: str) -> str:
        """A path inside the target's mount namespace, as seen from here."""
        return os.path.join(self.root, inner.lstrip("/"))


def _read(path: str) -> str:
    with open(path, encoding="utf-8", errors="replace") as fh:
        return fh.read()


def inspect_target(pid: int) -> TargetProcess:
    base = f"/proc/{pid}"
    try:
        status = _read(f"{base}/status")
    except FileNotFoundError:
        raise HeapError(f"no process with PID {pid}: it exited or never existed (check with `ps -p {pid}`)") from None
    except PermissionError:
        raise HeapError(f"cannot read process {pid}: permission denied; run memdoctor as its user or root") from None
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    refuse_stopped_or_traced(pid)
    try:
        uid = int(fields["Uid"].split()[1])
        gid = int(fields["Gid"].split()[1])
    except (KeyError, IndexError, ValueError):
        raise HeapError(f"cannot read the owner of process {pid} from /proc/{pid}/status") from None
    ns = fields.get("NSpid", "").split()
    ns_pid = int(ns[-1]) if ns and ns[-1].isdigit() else pid
    try:
        exe = os.readlink(f"{base}/exe")
    except FileNotFoundError:
        raise HeapError(f"no process with PID {pid}: it exited") from None
    except PermissionError:
        raise HeapError(f"cannot inspect process {pid}: permission denied (it belongs to another user); run "
                        "memdoctor as its user or root") from None
    return TargetProcess(pid=pid, ns_pid=ns_pid, uid=uid, gid=gid, exe=exe, version=_python_version(pid, exe),
                         root=f"{base}/root", control_dir=_control_dir(pid))


def _python_version(pid: int, exe: str) -> tuple[int, int] | None:
    pattern = re.compile(r"(?:python|libpython)(\d)\.(\d+)")
    match = pattern.search(os.path.basename(exe))
    if match is None:
        try:
            match = pattern.search(_read(f"/proc/{pid}/maps"))
        except OSError:
            match = None
    return (int(match.group(1)), int(match.group(2))) if match else None


def _control_dir(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/environ", "rb") as fh:
            env = fh.read()
    except OSError:
        return None
    prefix = CONTROL_ENV.encode() + b"="
    for item in env.split(b"\0"):
        if item.startswith(prefix):
            return item[len(prefix):].decode("utf-8", "replace") or None
    return None


def thread_states(pid: int) -> dict[int, str]:
    """tid -> "syscall" (blocked in the kernel), "user" (running code) or "gone"."""
    states: dict[int, str] = {}
    try:
        tids = [int(t) for t in os.listdir(f"/proc/{pid}/task") if t.isdigit()]
    except OSError:
        return states
    for tid in tids:
        try:
            text = _read(f"/proc/{pid}/task/{tid}/syscall").split()
        except OSError:
            states[tid] = "gone"
            continue
        if not text or text[0] == "running" or text[0] == "-1":
            states[tid] = "user"
        else:
            states[tid] = "syscall"
    return states


class Staging:
    """A private directory inside the target's /tmp (or /dev/shm), owned by the target's user.

    The agent reads its request there and writes the snapshot there; memdoctor moves the
    snapshot out and removes the directory, whatever happened.
    """

    def __init__(self, target: TargetProcess) -> None:
        self.target = target
        name = f".memdoctor-{os.getpid()}-{secrets.token_hex(4)}"
        errors = []
        for parent in ("/tmp", "/dev/shm", "/var/tmp"):
            inner = f"{parent}/{name}"
            host = target.host_path(inner)
            try:
                os.mkdir(host, 0o700)
            except OSError as exc:
                errors.append(f"{parent}: {exc.strerror}")
                continue
            try:
                if os.geteuid() == 0 and (target.uid, target.gid) != (0, 0):
                    os.chown(host, target.uid, target.gid)
            except OSError:
                pass
            self.inner, self.host = inner, host
            return
        raise HeapError(f"cannot create a working directory inside process {target.pid}'s filesystem "
                        f"({'; '.join(errors)}): run memdoctor as root or as the target's user")

    def inner_path(self, name: str) -> str:
        return f"{self.inner}/{name}"

    def host_path(self, name: str) -> str:
        return os.path.join(self.host, name)

    def write(self, name: str, data: bytes) -> str:
        path = self.host_path(name)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        if os.geteuid() == 0:
            try:
                os.chown(path, self.target.uid, self.target.gid)
            except OSError:
                pass
        return self.inner_path(name)

    def cleanup(self) -> None:
        shutil.rmtree(self.host, ignore_errors=True)
