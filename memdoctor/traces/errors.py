"""Errors raised by trace readers: the CLI turns them into one line and exit code 2."""

from memdoctor.errors import MemdoctorError


class TraceReadError(MemdoctorError, ValueError):
    """An input that cannot be read as a memory trace (with the reason, in one line)."""
