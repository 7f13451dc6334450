"""Traces: the Trace model, its JSONL/CSV writers, and the readers of every supported format.

The names are loaded on first use: the writers and errors are needed by every command, the
readers (and numpy behind them) only by those that read.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Trace": "memdoctor.traces.model",
    "TraceReadError": "memdoctor.traces.errors",
    "TraceWriteError": "memdoctor.traces.writer",
    "open_trace_writer": "memdoctor.traces.writer",
    "detect_format": "memdoctor.traces.reader",
    "read_trace": "memdoctor.traces.reader",
    "read_traces": "memdoctor.traces.reader",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'memdoctor.traces' has no attribute {name!r}")
