"""Consoles that follow the conventions: no color when NO_COLOR is set or output is not a TTY."""

from __future__ import annotations

import os
import sys

from rich.console import Console


def _color_allowed(stream) -> bool:
    return "NO_COLOR" not in os.environ and hasattr(stream, "isatty") and stream.isatty()


def silence_stdout() -> None:
    """The reader of stdout went away (`memdoctor gate ... | head`): what is still to print, the interpreter's
    own flush at exit included, goes to /dev/null."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


class _PipedConsole(Console):
    """A reader that stops reading is its own business: the command ends with its own exit code. rich's
    default exits 1 there, which turned a passing gate into a failure."""

    def on_broken_pipe(self) -> None:
        self.quiet = True
        silence_stdout()


def stdout_console() -> Console:
    """Results: stdout; rich itself also honours NO_COLOR and TERM=dumb."""
    return _PipedConsole(file=sys.stdout, no_color=not _color_allowed(sys.stdout), highlight=False,
                         soft_wrap=False, width=None if sys.stdout.isatty() else 120)


def stderr_console() -> Console:
    """Progress and messages: stderr, so that stdout stays clean for results and --json."""
    return Console(file=sys.stderr, no_color=not _color_allowed(sys.stderr), highlight=False, stderr=True,
                   width=None if sys.stderr.isatty() else 120)


def is_tty(stream=None) -> bool:
    stream = stream or sys.stderr
    return hasattr(stream, "isatty") and stream.isatty() and os.environ.get("TERM") != "dumb"
