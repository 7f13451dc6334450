"""Where memdoctor keeps its own state (locks): a directory only the user running it can write.

A lock in a shared directory (/tmp) is a way in: whoever plants a symlink at its name makes a root
memdoctor create or truncate the file it points to. So state lives in a directory that belongs to
the user running memdoctor, mode 0700, never reached through a symlink:
- root: /run/memdoctor (/run is root's and not world-writable);
- another user: $XDG_RUNTIME_DIR/memdoctor when that runtime directory is theirs, else
  /tmp/memdoctor-UID, created 0700, or accepted only when it is a real directory they own with
  mode 0700 (someone else who created that name first gets a one-line refusal, not our lock).
Files in it are opened with O_NOFOLLOW, so even a swapped entry is never followed.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import stat
import time
from collections.abc import Iterator

from memdoctor.heap.runtimes import HeapError

ROOT_STATE_DIR = "/run/memdoctor"


def _candidates() -> list[str]:
    uid = os.geteuid()
    if uid == 0:
        return [ROOT_STATE_DIR]
    out = []
    runtime = os.environ.get("XDG_RUNTIME_DIR", "")
    if runtime.startswith("/") and _owned_by_us(runtime):
        out.append(os.path.join(runtime, "memdoctor"))
    out.append(f"/tmp/memdoctor-{uid}")
    return out


def _owned_by_us(path: str) -> bool:
    try:
        return os.lstat(path).st_uid == os.geteuid()
    except OSError:
        return False


def _verified(path: str) -> str | None:
    """`path` when it is a directory owned by us with mode 0700, whose parent is not writable by others
    (or is sticky), creating it when missing; None when it cannot be used."""
    uid = os.geteuid()
    parent = os.path.dirname(path)
    try:
        pst = os.lstat(parent)
    except OSError:
        return None
    if not stat.S_ISDIR(pst.st_mode):
        return None
    if pst.st_uid not in (0, uid) or (pst.st_mode & 0o002 and not pst.st_mode & stat.S_ISVTX):
        return None  # someone else could rename our directory away and put theirs in its place
    with contextlib.suppress(OSError):  # exists already (checked below), or cannot be made here
        os.mkdir(path, 0o700)
    try:
        st = os.lstat(path)
    except OSError:
        return None
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != uid or stat.S_IMODE(st.st_mode) & 0o077:
        return None
    return path


def state_dir() -> str:
    """memdoctor's private state directory for the user running it (see the module's docstring)."""
    tried = []
    for path in _candidates():
        found = _verified(path)
        if found is not None:
            return found
        tried.append(path)
    raise HeapError(f"no private directory for memdoctor's lock: {', '.join(tried)} exists but is not a 0700 "
                    "directory of yours (someone else may have created it); remove it or set XDG_RUNTIME_DIR")


@contextlib.contextmanager
def exclusive_lock(name: str, timeout: float, what: str) -> Iterator[int]:
    """An flock on state_dir()/name, held for the block (which gets the lock's descriptor: a child that
    inherits it holds the lock too); the file names its holder for the next one to wait."""
    path = os.path.join(state_dir(), name)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise HeapError(f"cannot open the lock {path}: {exc.strerror}") from None
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "another memdoctor"
                    raise HeapError(f"{what} holds the lock ({holder}); retry when it is done (lock: {path})") \
                        from None
                time.sleep(0.1)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"memdoctor PID {os.getpid()}".encode(), 0)
        yield fd
    finally:
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
        os.close(fd)
