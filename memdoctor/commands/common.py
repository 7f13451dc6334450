"""What every command shares: turning known failures into one line and exit code 2.

Contract (docs/architecture.md): bad input or an unreadable file gets a short message on stderr and
exit 2, never a traceback; the traceback only with --debug.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import typer

from memdoctor.errors import EXIT_JUDGEMENT_FAILED, EXIT_OK, EXIT_USAGE, MemdoctorError

if TYPE_CHECKING:
    from memdoctor.analysis import Diagnosis, HeapGrowth
    from memdoctor.traces.model import Trace

__all__ = ["EXIT_JUDGEMENT_FAILED", "EXIT_OK", "EXIT_USAGE", "CommandSpec", "State", "fail", "handle_errors",
           "judge_trace"]

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
        except MemdoctorError as exc:  # the one mapping of known failures to a line and an exit code
            if State.debug:
                raise
            raise fail(str(exc).splitlines()[0] if str(exc) else type(exc).__name__, exc.exit_code) from None
        except KeyboardInterrupt:
            raise fail("interrupted", 130) from None
        except BrokenPipeError:
            # The reader of stdout went away mid-result (`| head`): nothing is wrong with the input or with
            # memdoctor; the rest goes to /dev/null (so that the interpreter's own flush at exit is quiet).
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)
            raise typer.Exit(1) from None
        except Exception as exc:
            if State.debug:
                raise
            raise fail(f"internal error: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''} "
                       "(run with --debug for the traceback)") from None

    return wrapper  # type: ignore[return-value]


def judge_trace(trace: Trace, metric: str, label: str, limit_bytes: int | None, warmup_s: float = 0.0,
                several: bool = False, heap_growth: Sequence[HeapGrowth] = ()) -> Diagnosis:
    """The one diagnosis of a trace's series (analysis.diagnose_trace) for every command that judges a trace,
    its input errors as one-line TraceReadErrors."""
    from memdoctor.analysis import diagnose_trace
    from memdoctor.traces.errors import TraceReadError

    try:
        return diagnose_trace(trace, metric=metric, limit_bytes=limit_bytes, warmup_s=warmup_s, label=label,
                              heap_growth=heap_growth)
    except KeyError as exc:
        raise TraceReadError(f"{label}: {exc.args[0]}" if several else str(exc.args[0])) from None
    except ValueError as exc:
        raise TraceReadError(str(exc)) from None
