"""`diff --show-values`: the only way to see heap values, and it says so.

Without the flag no heap value (Map keys, strings, dict keys) appears in any output; with it, a
few of the newest entries of each growing container are printed under a warning, and the JSON
says `"values_shown": true`.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import EXAMPLES, memdoctor

NODE = shutil.which("node")
WARNING = "--show-values: the lines below are VALUES from the heap"


def _drive(proc: subprocess.Popen, text: str) -> None:
    proc.stdin.write(text + "\n")
    proc.stdin.flush()
    assert proc.stdout.readline().startswith("ok")


@pytest.fixture(scope="module")
def node_snapshots(tmp_path_factory) -> list[Path]:
    if NODE is None:
        pytest.skip("node is not installed")
    tmp = tmp_path_factory.mktemp("values")
    proc = subprocess.Popen([NODE, str(EXAMPLES / "node_heap" / "map_leak.js"), "--manual", "--kb", "4"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            start_new_session=True)
    try:
        assert proc.stdout.readline().startswith("ready")
        paths = []
        for i in range(3):
            _drive(proc, "tick 120")
            path = tmp / f"s{i}.heapsnapshot"
            memdoctor("snapshot", str(proc.pid), "-o", str(path), "--json", check_code=0, timeout=120)
            paths.append(path)
    finally:
        proc.kill()
        proc.wait(timeout=5)
    return paths


def test_node_values_only_with_the_flag(node_snapshots):
    paths = list(map(str, node_snapshots))
    for args in ((), ("--json",)):
        quiet = memdoctor("diff", *paths, "--top", "5", *args, check_code=0)
        assert "dlg-" not in quiet.stdout + quiet.stderr and WARNING not in quiet.stdout
    assert json.loads(memdoctor("diff", *paths, "--json", check_code=0).stdout)["values_shown"] is False

    shown = memdoctor("diff", *paths, "--top", "5", "--show-values", check_code=0)
    assert WARNING in shown.stdout
    # The newest Map keys, in insertion order: dialogue ids of the last tick.
    line = next(ln for ln in shown.stdout.splitlines() if "ongoingDialogues (Map), newest entries" in ln)
    assert line.count("'dlg-") == 3 and "<Object>" in line

    result = json.loads(memdoctor("diff", *paths, "--top", "5", "--show-values", "--json", check_code=0).stdout)
    assert result["values_shown"] is True
    top = result["rows"][0]
    assert top["key"] == "ongoingDialogues (Map)"
    assert len(top["sample_values"]) == 3 and all(v.startswith("'dlg-") for v in top["sample_values"])


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
