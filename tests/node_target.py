"""A Node test target driven line by line over stdin (examples/node_heap/harness.js speaks this)."""

from __future__ import annotations

import os
import select
import shutil
import signal
import subprocess
from pathlib import Path


def private_netns(argv: list[str]) -> list[str]:
    """argv run in a network namespace of its own with its loopback up (root only), else as is: its
    inspector port and memdoctor's per-namespace capture lock are then its own, whatever other tests
    capture at the same time."""
    if os.geteuid() != 0 or not (shutil.which("unshare") and shutil.which("ip")):
        return argv
    return ["unshare", "--net", "sh", "-c", 'ip link set lo up && exec "$0" "$@"', *argv]


def netns_of(pid: int, argv: list[str]) -> list[str]:
    """argv run in the network namespace of process `pid` (root only), else as is."""
    if os.geteuid() != 0 or not shutil.which("nsenter"):
        return argv
    return ["nsenter", f"--net=/proc/{pid}/ns/net", *argv]


class Driven:
    """A Node target that prints `ready PID ...` and answers one `ok ...` line per stdin line."""

    def __init__(self, argv: list[str], stderr=subprocess.DEVNULL, cwd: Path | None = None) -> None:
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr,
                                     text=True, start_new_session=True, cwd=cwd)
        line = self._line(30)
        assert line.startswith("ready"), (line, argv)
        self.pid = int(line.split()[1])

    def _line(self, timeout: float) -> str:
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        assert ready, f"no answer from the target within {timeout} s"
        return self.proc.stdout.readline()

    def send(self, text: str) -> None:
        """One command line, its answer left unread (see answer())."""
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()

    def answer(self, timeout: float = 60) -> int:
        answer = self._line(timeout).split()
        assert answer and answer[0] == "ok", answer
        return int(answer[2])  # the used heap, in bytes

    def command(self, text: str) -> int:
        self.send(text)
        return self.answer()

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.proc.wait(timeout=10)
