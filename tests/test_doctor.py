"""`memdoctor doctor` end to end: real leaking and healthy targets, real snapshots, real report."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import ROOT, memdoctor, node_example, python_example

pytestmark = pytest.mark.integration

INCIDENTS = ROOT / "examples" / "incidents" / "incidents.py"


def _doctor(tmp_path: Path, *args: str) -> dict:
    trace = tmp_path / "doctor.jsonl"
    proc = memdoctor("doctor", "--json", "-o", str(trace), *args, timeout=240, check_code=0)
    out = json.loads(proc.stdout)
    assert Path(out["html"]).is_file() and Path(out["json"]).is_file()
    assert Path(out["html"]).parent == trace.parent
    return out


def test_python_command_leak_is_named_with_a_cap(tmp_path):
    out = _doctor(tmp_path, "--max-time", "90s", "--", *python_example("leaky_list.py"))
    assert out["trigger"] and "leak" in out["trigger"]
    assert len(out["snapshots"]) == 3
    top = out["report"]["suspects"][0]
    assert "_handled_requests" in top["key"]
    assert top["caps"]["max_entries"] > 0


def test_python_incident_dead_letter_queue(tmp_path):
    out = _doctor(tmp_path, "--max-time", "90s", "--", sys.executable, str(INCIDENTS), "dead_letter_queue")
    top = out["report"]["suspects"][0]
    assert "DEAD_LETTERS" in top["key"]
    assert top["caps"]["max_entries"] > 0


def test_node_pid_leak_is_named_and_target_survives(tmp_path, spawn):
    target = spawn(node_example("map_leak.js"))
    out = _doctor(tmp_path, "--max-time", "90s", str(target.pid))
    top = out["report"]["suspects"][0]
    assert "ongoingDialogues" in top["key"]
    assert top["caps"]["max_entries"] > 0
    assert out["target_alive"] is True
    assert target.poll() is None
    os.kill(target.pid, 0)


def test_healthy_python_ends_with_no_leak_and_no_suspects(tmp_path):
    out = _doctor(tmp_path, "--max-time", "15s", "--", *python_example("healthy_worker.py"))
    assert out["trigger"] is None
    assert out["snapshots"] == []
    assert out["report"]["suspects"] == []
    assert out["report"]["diagnosis"]["verdict"] != "leak"


def test_node_incident_dead_letter_queue_cap_from_the_incident_arithmetic(tmp_path):
    node = node_example("map_leak.js")[0]  # skips when node is missing
    service = ROOT / "examples" / "incidents" / "node" / "incidents.js"
    out = _doctor(tmp_path, "--max-time", "90s", "--limit", "512MB", "--", node, str(service), "dead_letter_queue",
                  "--seconds", "120")
    top = out["report"]["suspects"][0]
    assert top["key"].startswith("deadLetters")
    # floor((512 MiB - baseline) x 0.25 / ~80 KiB per entry): about 1,400 with a ~60 MB baseline
    assert 1000 <= top["caps"]["max_entries"] <= 1700


def test_run_says_heap_every_does_not_apply_to_node(tmp_path):
    node = node_example("map_leak.js")[0]
    proc = memdoctor("run", "--duration", "1s", "--heap-every", "10s", "--", node, "-e",
                     "setTimeout(() => {}, 3000)", timeout=60)
    assert "--heap-every takes Python heap snapshots only; it does not apply to node" in proc.stderr


def test_run_snapshot_at_takes_node_snapshots(tmp_path):
    """Issue 21: `run --snapshot-at ... -- node server.js` crossed its shares and took no snapshot,
    silently (the trigger knew Python only). It now snapshots the tree's largest Python or Node.js
    process through its runtime's engine; the diff of the two names the leaking Map."""
    node = node_example("map_leak.js")[0]  # skips when node is missing
    script = str(ROOT / "examples" / "node_heap" / "map_leak.js")
    trace = tmp_path / "t.jsonl"
    probe = subprocess.run([node, "-e", "console.log(process.memoryUsage().rss)"], capture_output=True, text=True,
                           check=True)
    start_rss = int(probe.stdout)  # a bare Node's RSS here: the limit is set a little above it
    limit = int(start_rss * 2.5)
    proc = memdoctor("run", "--interval", "0.1", "--duration", "40s", "--limit", f"{limit}B", "--snapshot-at",
                     "60%,85%", "-o", str(trace), "--json", "--", node, script, "--every", "5", "--kb", "32",
                     timeout=180)
    assert proc.returncode in (0, 1), proc.stderr[-1500:]
    taken = [tmp_path / f"t.jsonl.at{share}.heapsnapshot" for share in (60, 85)]
    assert all(path.exists() for path in taken), (proc.stderr[-1500:], list(tmp_path.iterdir()))
    assert "of the limit: snapshot of PID" in proc.stderr
    rows = json.loads(memdoctor("diff", *map(str, taken), "--json", check_code=0).stdout)["rows"]
    assert "ongoingDialogues" in rows[0]["key"], rows[:3]
