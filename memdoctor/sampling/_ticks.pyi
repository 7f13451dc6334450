# Types of the optional C extension memdoctor/sampling/_ticks.c.
from typing import Any

HANDBACK: int
UNUSUAL: int
END: int
SIGNAL: int
MAX_BATCH: int

def run(fd: int, page_size: int, start: float, interval: float, k: int, now: float, handback_at: float,
        duration: float, /) -> tuple[int, float, int, list[tuple[float, tuple[Any, ...]]]]: ...
