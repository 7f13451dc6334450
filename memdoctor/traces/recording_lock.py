"""Whether a trace file is still being recorded: an advisory lock its writer holds while it records.

`watch` and `run` write their trace line by line while they sample, and a user can `analyze` (or `gate --trace`)
that file at any moment. Read then, the trace is what was recorded so far, and its last line may be half written:
the diagnosis must say so, not read as the verdict on a finished recording, nor the half line as an interruption.

The writer takes an exclusive flock(2) on its file for as long as it records (the kernel drops it when the
descriptor closes, also on `kill -9`); a reader asks for a shared one without waiting and gives it back at once.
flock, not fcntl record locks: those belong to the process, so a reader in the recording process itself would see
its own writer's lock as none, and closing any descriptor of the file would drop it. Where the platform or the file
system has no flock (another OS, some network file systems), nothing is said either way.
"""

from __future__ import annotations

import os
import stat

try:
    import fcntl
except ImportError:  # not POSIX: no lock is taken, none is seen
    fcntl = None  # type: ignore[assignment]

STILL_RECORDING = ("the trace is still being recorded (its writer holds it open): this is the diagnosis of what was "
                   "recorded so far; analyze it again for the rest")


def hold(fd: int) -> None:
    """Take the recording lock on a regular file's descriptor, for as long as it stays open; never fails."""
    if fcntl is None:
        return
    try:
        if stat.S_ISREG(os.fstat(fd).st_mode):
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        pass  # another writer on the same file, or no flock here: recording goes on without the lock


def still_recording(fd: int) -> bool:
    """Whether another open descriptor of this regular file holds the recording lock now."""
    if fcntl is None:
        return False
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return False
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return False
    fcntl.flock(fd, fcntl.LOCK_UN)
    return False
