"""The one error hierarchy: every failure memdoctor reports to a user is a MemdoctorError.

The CLI maps it once (memdoctor/commands/common.py `handle_errors`): its first line goes to stderr
as `memdoctor: ...` and the process exits with its `exit_code`, never a traceback (unless
--debug). The exit codes are the ARCHITECTURE contract: 2 is a usage error or unreadable input.
Each area keeps its own subclass (TraceReadError, UnitError, TargetError, HeapError...) so callers
can still catch what they expect; none of them needs a mapping of its own.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_JUDGEMENT_FAILED = 1  # gate, compare, --alert/--fail-on: the judgement the user asked for failed
EXIT_USAGE = 2  # usage error or unreadable input


class MemdoctorError(Exception):
    """A failure to report as one line on stderr, exiting with `exit_code`."""

    exit_code: int = EXIT_USAGE
