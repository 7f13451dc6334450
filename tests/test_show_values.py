"""`diff --show-values` on Python snapshots (the V8 side is in test_v8_heap.py).

Without the flag no heap value (Map keys, strings, dict keys) appears in any output; with it, a
few of the newest entries of each growing container are printed under a warning, and the JSON
says `"values_shown": true`.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import memdoctor
from .test_python_heap import SECRET, diff_json, needs_gdb, snapshot, start_app

WARNING = "--show-values: the lines below are VALUES from the heap"


@pytest.mark.integration
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


@pytest.mark.integration
@needs_gdb
def test_python_values_recorded_and_shown_only_when_asked(spawn, tmp_path):
    proc = start_app(spawn, tmp_path, "dict", "--secret", SECRET)
    plain = [tmp_path / "a.snap", tmp_path / "b.snap"]
    for path in plain:
        snapshot(proc.pid, path)
    asked = tmp_path / "c.snap"
    snapshot(proc.pid, asked, "--show-values")
    for path in plain:  # a snapshot taken without the flag holds no value
        assert f"req-{proc.pid}-" not in path.read_text() and SECRET not in path.read_text()
    assert f"req-{proc.pid}-" in asked.read_text() and (asked.stat().st_mode & 0o777) == 0o600

    quiet = memdoctor("diff", str(plain[0]), str(asked), check_code=0)
    assert f"req-{proc.pid}-" not in quiet.stdout and WARNING not in quiet.stdout
    shown = memdoctor("diff", str(plain[0]), str(asked), "--show-values", check_code=0)
    assert WARNING in shown.stdout
    assert "#1 billing._pending_by_request, newest entries:" in shown.stdout
    assert shown.stdout.count(f"'req-{proc.pid}-") == 3
    result = diff_json(plain[0], asked, args=("--show-values",))
    top = result["rows"][0]
    assert result["values_shown"] and top["key"] == "billing._pending_by_request"
    assert [v.split("'")[1].startswith(f"req-{proc.pid}-") for v in top["sample_values"]] == [True] * 3
