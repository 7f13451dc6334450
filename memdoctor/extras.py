"""Optional extras: the heavy packages only some commands use, and the one line that says how to get them.

The base install carries what the everyday commands need (watch, run, gate, analyze, compare,
caps, fleet, Python heap snapshots). These are installed on demand (pyproject.toml's extras):
numba loads in ~1 s of CPU and ~100 MiB of RSS, matplotlib pulls ~90 MiB onto the disk, and a
watcher beside a production process must not pay for either (issue 18, docs/benchmarks.md).
"""

from __future__ import annotations

import importlib
from types import ModuleType

from memdoctor.errors import MemdoctorError

# extra name -> (module it provides, what needs it)
EXTRAS = {
    "v8": ("numba", "diffing V8 (Node.js) heap snapshots"),
    "plots": ("matplotlib", "plots (report --format html, --plots)"),
    "memray": ("memray", "memray capture files and native allocation tracking"),
}


class MissingExtra(MemdoctorError):
    """A command needs an optional extra that is not installed (exit 2, one line)."""

    def __init__(self, extra: str) -> None:
        module, what = EXTRAS[extra]
        super().__init__(f"{what} needs {module}, which is not installed: pip install 'memdoctor[{extra}]'")
        self.extra = extra


def require(extra: str) -> ModuleType:
    """Import the extra's module, or raise MissingExtra naming the pip install that provides it."""
    module, _what = EXTRAS[extra]
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingExtra(extra) from None
