"""What every command shares: turning known failures into one line and exit code 2.

Contract (ARCHITECTURE.md): bad input or an unreadable file gets a short message on stderr and
exit 2, never a traceback; the traceback only with --debug.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import typer

from memdoctor.extras import MissingExtra
from memdoctor.heap.runtimes import HeapError
from memdoctor.sampling.cgroup import CgroupError
from memdoctor.sampling.target import TargetError
from memdoctor.traces.errors import TraceReadError
from memdoctor.traces.writer import TraceWriteError
from memdoctor.units import UnitError

EXIT_OK = 0
EXIT_JUDGEMENT_FAILED = 1
EXIT_USAGE = 2

KNOWN_ERRORS: tuple[type[BaseException], ...] = (TraceReadError, TraceWriteError, TargetError, UnitError,
                                                 CgroupError, HeapError, MissingExtra)

F = TypeVar("F", bound=Callable[..., Any])


class State:
    debug = False


@dataclass(frozen=True)
class CommandSpec:
    """What a command module exports as COMMAND so that cli.py registers it."""

    name: str
    function: Callable[..., Any]
    help: str
    order: int = 50  # position in `memdoctor --help`
    context_settings: dict[str, Any] = field(default_factory=dict)


def fail(message: str, code: int = EXIT_USAGE) -> typer.Exit:
    """Print `memdoctor: message` on stderr and return the Exit to raise."""
    sys.stderr.write(f"memdoctor: {message}\n")
    sys.stderr.flush()
    return typer.Exit(code)


def handle_errors(func: F) -> F:
    """Wrap a command so that known errors become one line and exit 2."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (typer.Exit, typer.Abort, SystemExit):
            raise
        except KNOWN_ERRORS as exc:
            if State.debug:
                raise
            raise fail(str(exc).splitlines()[0] if str(exc) else type(exc).__name__) from None
        except KeyboardInterrupt:
            raise fail("interrupted", 130) from None
        except Exception as exc:
            if State.debug:
                raise
            raise fail(f"internal error: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''} "
                       "(run with --debug for the traceback)") from None

    return wrapper  # type: ignore[return-value]
