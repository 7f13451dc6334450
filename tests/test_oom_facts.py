"""Issue 19 item 7: an OOM kill is a fact the trace keeps and the gate fails on.

- the gate fails a target OOM-killed under --pid, in a --trace, and a Node.js command that died of
  "JavaScript heap out of memory" (SIGABRT at --max-old-space-size), with a message saying so;
- `watch --cgroup` writes {"event": "oom_kill"} when the cgroup's own counter rises (v1
  memory.oom_control, v2 memory.events), though the cgroup lives on.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from memdoctor.analysis import diagnose
from memdoctor.analysis.gate import Thresholds, judge, measure
from memdoctor.sampling.limits import oom_state
from memdoctor.sampling.oom import node_heap_limit_bytes

from .cgroup_util import make_memory_cgroup
from .conftest import memdoctor, memdoctor_popen, read_jsonl, wait_for

needs_node = pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")

NODE_HEAP_OOM = ("const a = [];"
                 "setInterval(() => { for (let i = 0; i < 20000; i++) a.push({ i, s: 'x'.repeat(40) + i }); }, 5);")


def _flat_series() -> tuple[np.ndarray, np.ndarray]:
    t = np.arange(0.0, 60.0, 0.1)
    return t, np.full(len(t), 100 * 1024**2, dtype=float) + (np.arange(len(t)) % 7) * 1024


def test_judge_fails_an_oom_killed_target_whatever_its_trend():
    t, mem = _flat_series()
    healthy = measure(t, mem, diagnose(t, mem, limit_bytes=512 * 1024**2))
    assert judge(healthy, Thresholds()).passed  # the same series without the kill passes
    m = measure(t, mem, diagnose(t, mem, limit_bytes=512 * 1024**2, oom_kill_times=np.asarray([59.9])))
    assert m.diagnosis.verdict == "leak"  # the one engine takes an OOM kill as a leak fact
    result = judge(m, Thresholds(), oom_kill_times=[59.9])
    assert not result.passed
    check = next(c for c in result.failures if c.name == "oom-kill")
    assert "OOM-killed" in check.message


def test_oom_state_reads_v1_and_v2_files():
    assert oom_state("oom_kill_disable 0\nunder_oom 1\noom_kill 3\n") == (3, True)
    assert oom_state("low 0\nhigh 0\nmax 12\noom 2\noom_kill 2\noom_group_kill 0\n") == (2, False)
    assert oom_state("oom_kill_disable 0\nunder_oom 0\n") == (None, False)  # kernels before 4.13


def test_node_heap_limit_from_the_flag_and_node_options():
    assert node_heap_limit_bytes(["node", "--max-old-space-size=450", "app.js"], {}) == 450 << 20
    assert node_heap_limit_bytes(["node", "app.js", "--max-old-space-size=9"], {"NODE_OPTIONS":
                                 "--max-old-space-size=96"}) == 96 << 20


@pytest.mark.integration
def test_gate_on_a_trace_with_an_oom_kill_fails(tmp_path: Path):
    t, mem = _flat_series()
    trace = tmp_path / "killed.jsonl"
    lines = [json.dumps({"memdoctor_trace": 1, "pid": 1, "interval_s": 0.1, "limit_bytes": 512 * 1024**2})]
    lines += [json.dumps({"t": round(float(a), 3), "rss": int(b)}) for a, b in zip(t, mem, strict=True)]
    lines.append(json.dumps({"t": 59.9, "event": "oom_kill"}))
    trace.write_text("\n".join(lines) + "\n")
    proc = memdoctor("gate", "--trace", str(trace), "--json", check_code=1)
    result = json.loads(proc.stdout)
    assert "oom-kill" in result["failures"]


@pytest.mark.integration
@needs_node
def test_node_dying_of_heap_out_of_memory_is_an_oom_kill(tmp_path: Path):
    script = tmp_path / "oom.js"
    script.write_text(NODE_HEAP_OOM)
    out = tmp_path / "n.jsonl"
    proc = memdoctor("run", "--interval", "0.05", "-o", str(out), "--json", "--",
                     "node", "--max-old-space-size=48", str(script), check_code=0, timeout=120)
    outcome = json.loads(proc.stdout)
    assert outcome["child_returncode"] == -6 and outcome["oom_killed"] is True, outcome["child_exit"]
    _header, samples = read_jsonl(out)
    assert samples[-1] == {"t": samples[-1]["t"], "event": "oom_kill"}
    gate = memdoctor("gate", "--interval", "50ms", "--json", "--", "node", "--max-old-space-size=48", str(script),
                     check_code=1, timeout=120)
    result = json.loads(gate.stdout)
    assert "oom-kill" in result["failures"]
    assert "OOM-killed" in next(c["message"] for c in result["checks"] if c["name"] == "oom-kill")


def _in_cgroup_cmd(procs_file: Path, code: str) -> list[str]:
    return ["sh", "-c", f'echo $$ > "{procs_file}" && exec "{sys.executable}" -c "$0" "$@"', code]


GROW_UNTIL_KILLED = ("import os, sys, time\n"
                     "while not os.path.exists(sys.argv[1]): time.sleep(0.02)\n"
                     "keep = []\n"
                     "while True:\n"
                     "    keep.append(bytearray(4 << 20))\n"
                     "    keep[-1][::4096] = b'x' * 1024\n"
                     "    time.sleep(0.01)\n")


@pytest.mark.integration
def test_gate_pid_fails_a_target_oom_killed_in_its_cgroup(tmp_path: Path, spawn):
    cgroup = make_memory_cgroup()
    try:
        cgroup.set_limit(96 * 1024**2)
        go = tmp_path / "go"
        target = spawn([*_in_cgroup_cmd(cgroup.procs_file, GROW_UNTIL_KILLED), str(go)])
        wait_for(lambda: str(target.pid) in cgroup.procs_file.read_text().split(), what="the target in its cgroup")
        out = tmp_path / "g.jsonl"
        proc = memdoctor_popen("gate", "--pid", str(target.pid), "--duration", "60s", "--interval", "20ms", "-o",
                               str(out), "--json")
        wait_for(lambda: out.exists() and len(out.read_text().splitlines()) >= 5, what="the gate to sample")
        go.write_text("")
        stdout, stderr = proc.communicate(timeout=120)
        assert proc.returncode == 1, stderr
        assert "oom-kill" in json.loads(stdout)["failures"]
    finally:
        cgroup.remove()


@pytest.mark.integration
def test_watch_cgroup_records_an_oom_kill_while_the_cgroup_lives_on(tmp_path: Path, spawn):
    cgroup = make_memory_cgroup()
    survivor = None
    try:
        cgroup.set_limit(96 * 1024**2)
        # A process that stays: the cgroup outlives the kill, as a container outlives one worker.
        survivor = spawn(_in_cgroup_cmd(cgroup.procs_file, "import time\ntime.sleep(120)\n"))
        wait_for(lambda: str(survivor.pid) in cgroup.procs_file.read_text().split(), what="the survivor in its cgroup")
        out = tmp_path / "cg.jsonl"
        proc = memdoctor_popen("watch", "--cgroup", str(cgroup.path), "--interval", "0.05", "--duration", "8s",
                               "-o", str(out), "--json")
        wait_for(lambda: out.exists() and len(out.read_text().splitlines()) >= 5, what="5 samples")
        go = tmp_path / "go"
        victim = spawn([*_in_cgroup_cmd(cgroup.procs_file, GROW_UNTIL_KILLED), str(go)])
        wait_for(lambda: str(victim.pid) in cgroup.procs_file.read_text().split(), what="the victim in its cgroup")
        go.write_text("")
        assert victim.wait(timeout=60) == -9
        stdout, stderr = proc.communicate(timeout=60)
        assert proc.returncode == 0, stderr
        outcome = json.loads(stdout)
        assert outcome["oom_killed"] is True and len(outcome["oom_kill_times"]) == 1
        _header, samples = read_jsonl(out)
        assert [s for s in samples if s.get("event") == "oom_kill"]
        gate = memdoctor("gate", "--trace", str(out), "--json", check_code=1)
        assert "oom-kill" in json.loads(gate.stdout)["failures"]
    finally:
        if survivor is not None:
            survivor.kill()
            survivor.wait(timeout=10)
        cgroup.remove()
