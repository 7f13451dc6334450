"""Whether a target may be touched at all: a stopped or traced process is refused before anything is sent.

A process in state T (SIGSTOP, a shell's Ctrl-Z) or t (stopped by a tracer), or one that another
debugger traces (TracerPid in /proc/PID/status), cannot run what a capture injects: gdb could
not even allocate in it ("could not allocate 304 bytes in process N"), and one such run left the
target dying of SIGSEGV on its SIGCONT; a Node target would hold SIGUSR1 pending and open its
inspector long after memdoctor gave up. So the capture refuses with the reason, and changes nothing.
"""

from __future__ import annotations

from memdoctor.heap.runtimes import HeapError


def _status(pid: int) -> dict[str, str]:
    try:
        with open(f"/proc/{pid}/status", encoding="utf-8", errors="replace") as fh:
            text = fh.read()
    except FileNotFoundError:
        raise HeapError(f"no process with PID {pid}: it exited or never existed (check with `ps -p {pid}`)") from None
    except PermissionError:
        raise HeapError(f"cannot read process {pid}: permission denied; run memdoctor as its user or root") from None
    return {key.strip(): value.strip() for key, _, value in (line.partition(":") for line in text.splitlines())}


def refuse_stopped_or_traced(pid: int) -> None:
    """Raise a one-line HeapError when `pid` is stopped, traced by a debugger, or a zombie."""
    fields = _status(pid)
    state = fields.get("State", "")
    if state.startswith("Z"):
        raise HeapError(f"process {pid} is a zombie (it exited; its parent has not reaped it): nothing to snapshot")
    if state.startswith(("T", "t")):
        raise HeapError(f"process {pid} is stopped ({state}): continue it first (kill -CONT {pid}); nothing was "
                        "sent to it")
    tracer = fields.get("TracerPid", "0")
    if tracer not in ("", "0"):
        raise HeapError(f"process {pid} is traced by another debugger (PID {tracer}): detach it first; nothing was "
                        "sent to it")
