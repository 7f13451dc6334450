"""`diff --show-values` on Python snapshots (the V8 side is in test_v8_heap.py).

Without the flag no heap value (Map keys, strings, dict keys) appears in any output; with it, a
few of the newest entries of each growing container are printed under a warning, and the JSON
says `"values_shown": true`.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from .conftest import memdoctor

WARNING = "--show-values: the lines below are VALUES from the heap"


def test_python_snapshots_without_values_say_so(tmp_path):
    snaps = []
    for i, n in enumerate((10, 500)):
        code = ("import json, sys\n"
                "sys.path.insert(0, sys.argv[1])\n"
                "from memdoctor.heap.python import agent\n"
                f"cache = {{f'user-{{k}}@example.com': bytearray(512) for k in range({n})}}\n"
                "agent.take_snapshot(sys.argv[2])\n")
        path = tmp_path / f"p{i}.snap"
        subprocess.run([sys.executable, "-c", code, str(Path(__file__).parents[1]), str(path)], check=True)
        snaps.append(str(path))
    out = memdoctor("diff", *snaps, "--show-values", check_code=0)
    assert "hold no values" in out.stdout and "--show-values" in out.stdout
    assert "@example.com" not in out.stdout
