"""What memdoctor needs to know about a target process before it injects anything.

Everything is read from /proc/PID on the host side, so targets in containers work: their files
are reached through /proc/PID/root, their PID inside their namespace comes from NSpid, and the
staging directory is created inside their mount namespace, owned by their user.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import stat
from collections.abc import Callable
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


# The largest result.json the agent writes (a few KB of facts and an error line); more is not one of ours.
RESULT_MAX_BYTES = 16 << 20


class Staging:
    """A private directory inside the target's /tmp (or /dev/shm, /var/tmp), made by the target's user.

    The agent (running as the target's user) reads its request there and writes the snapshot
    there. The target's user owns that directory, and /tmp is everyone's: a compromised target can
    swap any name in it for a symlink at any moment. So when memdoctor is root and the target is
    not, root never creates, opens, truncates, moves or chowns anything in it: every such step runs
    in a forked child that became the target's user (setgroups/setgid/setuid) and works through
    directory file descriptors with O_NOFOLLOW. Root keeps only an O_NOFOLLOW directory fd of the
    staging directory, verified to belong to the target's user, to stat names in it; the snapshot
    reaches the output file through a descriptor root opened in the output's own directory, which
    the child writes into (it can reach nothing else of root's). When memdoctor is the target's
    own user (or the target is root), there is no boundary to cross and the same steps run in-process.
    """

    def __init__(self, target: TargetProcess) -> None:
        self.target = target
        self.drop = os.geteuid() == 0 and target.uid != 0
        self.owner = target.uid if self.drop else os.geteuid()
        name = f".memdoctor-{os.getpid()}-{secrets.token_hex(4)}"
        errors = []
        for parent in ("/tmp", "/dev/shm", "/var/tmp"):
            try:
                parent_fd = os.open(target.host_path(parent),
                                    os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
            except OSError as exc:
                errors.append(f"{parent}: {exc.strerror}")
                continue
            try:
                self.as_target(lambda pfd=parent_fd: os.mkdir(name, 0o700, dir_fd=pfd))
                fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=parent_fd)
            except (OSError, HeapError) as exc:
                os.close(parent_fd)
                errors.append(f"{parent}: {getattr(exc, 'strerror', None) or exc}")
                continue
            st = os.fstat(fd)
            if st.st_uid != self.owner or stat.S_IMODE(st.st_mode) & 0o077:
                os.close(fd)
                os.close(parent_fd)
                errors.append(f"{parent}: the new directory is not the target user's own")
                continue
            self.name, self.parent_fd, self.fd = name, parent_fd, fd
            self.inner, self.host = f"{parent}/{name}", target.host_path(f"{parent}/{name}")
            return
        raise HeapError(f"cannot create a working directory inside process {target.pid}'s filesystem "
                        f"({'; '.join(errors)}): run memdoctor as root or as the target's user")

    # --- acting as the target's user -----------------------------------------------------------

    def as_target(self, fn: Callable[[], bytes | None]) -> bytes:
        """Run `fn` as the target's user (a forked child when root must not act itself); its bytes."""
        if not self.drop:
            try:
                return fn() or b""
            except OSError as exc:
                raise HeapError(exc.strerror or str(exc)) from None
        read_end, write_end = os.pipe()
        child = os.fork()
        if child == 0:  # pragma: no cover - the child: never returns
            code = 1
            try:
                os.close(read_end)
                os.setgroups([])
                os.setgid(self.target.gid)
                os.setuid(self.target.uid)
                out = b"+" + (fn() or b"")
                code = 0
            except BaseException as exc:
                out = b"-" + (getattr(exc, "strerror", None) or str(exc) or type(exc).__name__).encode()
            try:
                view = memoryview(out)
                while view:
                    view = view[os.write(write_end, view):]
            finally:
                os._exit(code)
        os.close(write_end)
        chunks = []
        with os.fdopen(read_end, "rb") as fh:
            while chunk := fh.read(1 << 20):
                chunks.append(chunk)
        os.waitpid(child, 0)
        data = b"".join(chunks)
        if not data.startswith(b"+"):
            raise HeapError(data[1:].decode(errors="replace") or "the helper acting as the target's user failed")
        return data[1:]

    # --- files ---------------------------------------------------------------------------------

    def inner_path(self, name: str) -> str:
        return f"{self.inner}/{name}"

    def host_path(self, name: str) -> str:
        return os.path.join(self.host, name)

    def write(self, name: str, data: bytes) -> str:
        """A new file `name` holding `data`, created by the target's user (never through a symlink)."""
        def create() -> None:
            fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600,
                         dir_fd=self.fd)
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)

        try:
            self.as_target(create)
        except HeapError as exc:
            raise HeapError(f"cannot write {name} in the target's working directory: {exc}") from None
        return self.inner_path(name)

    def exists(self, name: str) -> bool:
        """Whether `name` is a regular file in the staging directory (stat only: nothing is opened)."""
        try:
            return stat.S_ISREG(os.stat(name, dir_fd=self.fd, follow_symlinks=False).st_mode)
        except OSError:
            return False

    def _open_regular(self, name: str) -> int:
        """As the target's user: `name` opened for reading, only if it is a regular file (no symlink, FIFO)."""
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=self.fd)
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise OSError(0, f"{name} is not a regular file")
        return fd

    def read(self, name: str, limit: int = RESULT_MAX_BYTES) -> bytes:
        """The content of a small file the agent wrote, read by the target's user."""
        def read() -> bytes:
            with os.fdopen(self._open_regular(name), "rb") as fh:
                data = fh.read(limit + 1)
            if len(data) > limit:
                raise OSError(0, f"{name} is larger than {limit} bytes")
            return data

        return self.as_target(read)

    def copy_out(self, name: str, out_fd: int) -> None:
        """Copy `name` into `out_fd` (a file root opened): the target's user reads, writes only into that fd."""
        def copy() -> None:
            with os.fdopen(self._open_regular(name), "rb") as src:
                while chunk := src.read(1 << 20):
                    view = memoryview(chunk)
                    while view:
                        view = view[os.write(out_fd, view):]

        self.as_target(copy)

    def cleanup(self) -> None:
        """Remove the directory and what is in it, as the target's user (fd-based, symlinks not followed)."""
        with contextlib.suppress(HeapError, OSError):
            self.as_target(lambda: shutil.rmtree(self.name, dir_fd=self.parent_fd))
        for fd in (self.fd, self.parent_fd):
            with contextlib.suppress(OSError):
                os.close(fd)
