"""lldb, where gdb is missing: not implemented yet.

The gdb driver (gdb.py) relies on gdb's machine interface for the safe point, the deadline and
the clean detach; an lldb driver needs the same guarantees (breakpoints on PyEval_SaveThread
and on a pending PyCallable_Check(NULL), interrupt and detach at the deadline) and has not
been written and tested yet. Until then memdoctor says so and names the alternatives.
"""

from __future__ import annotations

import shutil

from memdoctor.heap.python.target import TargetProcess
from memdoctor.heap.runtimes import HeapError


def available() -> str | None:
    return shutil.which("lldb")


def run_python(target: TargetProcess, code: str, *, timeout_s: float, run_timeout_s: float):
    raise HeapError(f"gdb is not installed and memdoctor cannot inject through lldb yet: install gdb (apt-get "
                    f"install gdb), or start process {target.pid} with `memdoctor run --heap-every 60s -- ...`")
