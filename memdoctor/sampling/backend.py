"""One facade over the per-platform samplers: /proc on Linux, psutil elsewhere.

MEMDOCTOR_SAMPLER=psutil forces the portable backend (to compare, or where /proc is odd).
"""

from __future__ import annotations

import os

from memdoctor.sampling.tree import ProcessTree


def procfs_usable() -> bool:
    return os.path.exists(f"/proc/{os.getpid()}/statm") and os.path.exists(f"/proc/{os.getpid()}/task")


def open_process_tree(pid: int, *, follow_children: bool = True):
    """A process-tree sampler for `pid` on the best backend this system has."""
    choice = os.environ.get("MEMDOCTOR_SAMPLER", "auto").lower()
    if choice == "psutil" or (choice == "auto" and not procfs_usable()):
        from memdoctor.sampling.psutil_tree import PsutilProcessTree

        return PsutilProcessTree(pid, follow_children=follow_children)
    return ProcessTree(pid, follow_children=follow_children)
