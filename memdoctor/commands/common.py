"""What every command shares: turning known failures into one line and exit code 2.

Contract (docs/architecture.md): bad input or an unreadable file gets a short message on stderr and
exit 2, never a traceback; the traceback only with --debug.
"""

from __future__ import annotations

import functools
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


def parse_limit(limit: str | None, option: str = "--limit") -> int | None:
    """The memory limit a command judges against: a size larger than zero, or None when not given.
    (0 read as "no limit" silently judged against the trace's own or the machine's.)"""
    from memdoctor.units import UnitError, parse_size

    if limit is None:
        return None
    value = parse_size(limit)
    if value <= 0:
        raise UnitError(f"{option} must be larger than zero")
    return value


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
            # The reader of stdout went away mid-result (`| head`): nothing is wrong with the input or memdoctor.
            from memdoctor.report.console import silence_stdout

            silence_stdout()
            raise typer.Exit(1) from None
        except Exception as exc:
            if State.debug:
                raise
            raise fail(f"internal error: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''} "
                       "(run with --debug for the traceback)") from None

    return wrapper  # type: ignore[return-value]


def judge_worst_series(path: str, metric: str, limit_bytes: int | None, warmup_s: float = 0.0,
                       heap_growth: Sequence[HeapGrowth] | Callable[[Trace], Sequence[HeapGrowth]] = (),
                       input_interval_s: float | None = None,
                       forecast_within_s: float | None = None) -> tuple[Trace, Diagnosis, str | None]:
    """The series of an input that a command judging one series judges, and its diagnosis: the only one, or
    of several (a Prometheus range, docker stats of many containers) the worst, as `gate --trace` takes it
    (analysis.diagnosis.severity), named in the evidence with the others' verdicts (and returned: the note).
    HEAP_GROWTH may be a function of the trace read (`report` drops snapshots of another process than the
    trace's header names): the input is read once, and standard input can be read only once. INPUT_INTERVAL_S:
    the time between samples of an input without timestamps (`analyze --interval`). FORECAST_WITHIN_S: a gate's
    --max-time-to-limit (engine.diagnose), for the report `gate --diagnose` writes."""
    from dataclasses import replace

    from memdoctor.analysis.diagnosis import severity
    from memdoctor.traces.reader import read_traces

    traces = read_traces(path, interval_s=input_interval_s)
    judged = [(tr, judge_trace(tr, metric, path, limit_bytes, warmup_s, several=len(traces) > 1,
                               heap_growth=heap_growth(tr) if callable(heap_growth) else heap_growth,
                               forecast_within_s=forecast_within_s))
              for tr in traces]
    if len(judged) == 1:
        return judged[0][0], judged[0][1], None
    order = sorted(range(len(judged)), key=lambda k: severity(judged[k][1]))
    trace, d = judged[order[0]]

    def name(k: int) -> str:
        return str(judged[k][0].header.get("name") or f"series {k + 1}")

    others = ", ".join(f"{name(k)}: {judged[k][1].verdict}" for k in order[1:])
    note = (f"{len(judged)} series in {path}: judged the worst one, {name(order[0])} "
            f"(as gate --trace does); the others: {others}")
    return trace, replace(d, evidence=[*d.evidence, note]), note


def judge_trace(trace: Trace, metric: str, label: str, limit_bytes: int | None, warmup_s: float = 0.0,
                several: bool = False, heap_growth: Sequence[HeapGrowth] = (),
                forecast_within_s: float | None = None) -> Diagnosis:
    """The one diagnosis of a trace's series (analysis.diagnose_trace) for every command that judges a trace,
    its input errors as one-line TraceReadErrors."""
    from memdoctor.analysis import diagnose_trace
    from memdoctor.traces.errors import TraceReadError

    try:
        return diagnose_trace(trace, metric=metric, limit_bytes=limit_bytes, warmup_s=warmup_s, label=label,
                              heap_growth=heap_growth, forecast_within_s=forecast_within_s)
    except KeyError as exc:
        raise TraceReadError(f"{label}: {exc.args[0]}" if several else str(exc.args[0])) from None
    except ValueError as exc:
        raise TraceReadError(str(exc)) from None
