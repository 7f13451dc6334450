"""Finding, launching and stopping the target of a recording.

`run` launches the command in its own process group, so that stopping it reaches the whole
tree (npm -> node, gunicorn -> workers): SIGTERM first, SIGKILL after a grace period. `watch`
attaches to a PID or to the one process whose command line matches a pattern.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass

from memdoctor.errors import MemdoctorError
from memdoctor.redact import redact_command
from memdoctor.sampling import procfs


class TargetError(MemdoctorError):
    """No usable target: unknown PID, no or several matches, a command that cannot start."""


@dataclass
class TargetInfo:
    pid: int
    cmdline: list[str]
    runtime: str | None


def detect_runtime(cmd: list[str], exe: str | None = None) -> str | None:
    """"python" or "node" from the executable name, when it is one of them."""
    names = [os.path.basename(exe or ""), *(os.path.basename(c) for c in cmd[:1])]
    for name in names:
        if re.match(r"^(python|pypy)(\d+(\.\d+)?)?$", name):
            return "python"
        if re.match(r"^(node|nodejs)(\d+)?$", name):
            return "node"
    return None


def describe(pid: int) -> TargetInfo:
    """The command line and runtime of a running process; TargetError if it is not there."""
    if pid <= 0:
        raise TargetError(f"PID {pid} is not a process id: give a positive number")
    try:
        cmd = procfs.cmdline(pid)
    except procfs.ProcessGone:
        raise TargetError(f"no process with PID {pid}: check the PID (ps aux) or use --name PATTERN") from None
    except procfs.ProcessAccessDenied:
        raise TargetError(f"cannot read process {pid}: permission denied; run memdoctor as its user or root") from None
    try:
        gone = procfs.exiting(pid)
    except (procfs.ProcessGone, procfs.ProcessAccessDenied, ValueError, IndexError):
        gone = False  # the samplers say what is wrong with it, if anything
    if gone:
        # A zombie has no memory left to watch: it exited and waits for its parent to reap it. Recording it
        # gave "recorded 0 samples over 0ms (target exited)" and exit 0.
        raise TargetError(f"process {pid} has exited (a zombie its parent has not reaped): nothing to watch")
    try:
        exe = os.readlink(f"/proc/{pid}/exe")
    except OSError:
        exe = None
    return TargetInfo(pid=pid, cmdline=cmd, runtime=detect_runtime(cmd, exe))


def _own_lineage() -> set[int]:
    """memdoctor itself and its ancestors: never a match for --name."""
    pids = set()
    pid = os.getpid()
    while pid > 1 and pid not in pids:
        pids.add(pid)
        try:
            pid = procfs.parent_pid(pid)
        except (procfs.ProcessGone, procfs.ProcessAccessDenied, ValueError):
            break
    return pids


def _is_memdoctor(argv: list[str]) -> bool:
    """A memdoctor process (`memdoctor ...`, `python -m memdoctor ...`, `python .../bin/memdoctor`):
    its own command line holds the --name pattern it was given, so it would match it."""
    program = os.path.basename(argv[0]) if argv else ""
    script = os.path.basename(argv[1]) if len(argv) > 1 else ""
    return program == "memdoctor" or argv[1:3] == ["-m", "memdoctor"] or (
        program.startswith("python") and script == "memdoctor")


def find_by_name(pattern: str) -> tuple[int, str]:
    """The single process whose command line matches `pattern` (a regular expression): its PID and
    command line. memdoctor's own processes (itself, its ancestors, any other memdoctor) never match."""
    try:
        regex = re.compile(pattern)
    except re.error as exc:
        raise TargetError(f"--name {pattern!r} is not a valid regular expression: {exc}") from None
    skip = _own_lineage()
    matches: list[tuple[int, str]] = []
    for entry in os.listdir(procfs.PROC):
        if not entry.isdigit() or int(entry) in skip:
            continue
        try:
            argv = procfs.cmdline(int(entry))
        except (procfs.ProcessGone, procfs.ProcessAccessDenied, OSError):
            continue
        cmd = " ".join(argv)
        if cmd and regex.search(cmd) and not _is_memdoctor(argv):
            matches.append((int(entry), cmd))
    if not matches:
        raise TargetError(f"no process matches --name {pattern!r}: check with `ps aux`")
    if len(matches) > 1:
        listed = "; ".join(f"{pid}: {redact_command(cmd)[:60]}" for pid, cmd in matches[:5])
        more = f" and {len(matches) - 5} more" if len(matches) > 5 else ""
        raise TargetError(f"{len(matches)} processes match --name {pattern!r} ({listed}{more}): "
                          "give a narrower pattern or the PID")
    return matches[0]


TARGET_OUTPUT_CHOICES = "'inherit', 'quiet' or a FILE"


@dataclass
class TargetOutput:
    """Where a launched command's own stdout and stderr go (None: memdoctor's own, inherited)."""

    stdout: int | None = None
    stderr: int | None = None
    path: str | None = None
    _fd: int | None = None

    def close(self) -> None:
        """Close memdoctor's copy of the file (the child keeps its own)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def target_output(spec: str | None, json_out: bool) -> TargetOutput:
    """Resolve `--target-output` before anything is launched: an unusable FILE is a one-line error.

    - None or 'inherit': the command writes where memdoctor writes, except that with --json its
      stdout goes to memdoctor's stderr, so that memdoctor's stdout holds exactly one JSON document;
    - 'quiet': both are discarded;
    - a FILE: both are appended to it, created 0600 (what a service prints may hold secrets). As for
      -o, the name is the user's choice, opened as every output is (memdoctor/output_files.py)."""
    if spec is None or spec == "inherit":
        return TargetOutput(stdout=2 if json_out else None)
    if spec == "quiet":
        return TargetOutput(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if not spec.strip():
        raise TargetError(f"--target-output: use {TARGET_OUTPUT_CHOICES}")
    from memdoctor.output_files import OutputPathError, open_output

    try:
        fd = open_output(spec, truncate=False, append=True)
    except OutputPathError as exc:
        raise TargetError(f"--target-output {spec}: {exc.reason}") from None
    return TargetOutput(stdout=fd, stderr=fd, path=spec, _fd=fd)


def launch(cmd: list[str], before_exec: Callable[[], None] | None = None,
           output: TargetOutput | None = None, env: dict[str, str] | None = None,
           pass_fds: tuple[int, ...] = ()) -> subprocess.Popen:
    """Start `cmd` in a new process group, its stdio inherited unless `output` sends it elsewhere.

    `before_exec` runs in the child between fork and exec (it must only make system calls: it
    moves the child into its cgroup, sampling/run_cgroup.py). `env` and `pass_fds`: the Node.js
    heap channel (sampling/node_heap.py)."""
    if not cmd:
        raise TargetError("no command given: use `memdoctor run [OPTIONS] -- CMD ARGS...`")
    out = output or TargetOutput()
    try:
        return subprocess.Popen(cmd, process_group=0, stdout=out.stdout, stderr=out.stderr, env=env,
                                pass_fds=pass_fds,
                                preexec_fn=before_exec)  # after fork: one write() (run_cgroup.move_self)
    except FileNotFoundError:
        raise TargetError(f"command not found: {cmd[0]}") from None
    except PermissionError:
        raise TargetError(f"cannot execute {cmd[0]}: permission denied") from None
    except OSError as exc:
        raise TargetError(f"cannot start {cmd[0]}: {exc.strerror}") from None


def stop_process_group(child: subprocess.Popen, grace_s: float = 5.0) -> None:
    """SIGTERM the child's process group, then SIGKILL whatever is left after `grace_s`."""
    if child.poll() is not None:
        _kill_group(child.pid, signal.SIGKILL)  # leftovers of a group whose leader exited
        return
    _kill_group(child.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        if child.poll() is not None:
            break
        time.sleep(0.02)
    _kill_group(child.pid, signal.SIGKILL)
    try:
        child.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass


def _kill_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def describe_exit(returncode: int | None) -> str:
    if returncode is None:
        return "still running"
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return f"killed by {name}"
    return f"exited with code {returncode}"
