"""Traces: the Trace model, its JSONL/CSV writers, and the readers of every supported format."""

from memdoctor.traces.errors import TraceReadError
from memdoctor.traces.model import Trace
from memdoctor.traces.reader import detect_format, read_trace
from memdoctor.traces.writer import TraceWriteError, open_trace_writer

__all__ = ["Trace", "TraceReadError", "TraceWriteError", "detect_format", "open_trace_writer", "read_trace"]
