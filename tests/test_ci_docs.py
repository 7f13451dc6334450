"""The documented CI jobs run the same script as here: run it as CI would and check its outputs."""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from .conftest import ROOT, cli_env


def test_documented_jobs_call_the_script():
    for name in ("github-actions.yml", "gitlab-ci.yml"):
        assert "bash docs/ci/memory-gate.sh" in (ROOT / "docs" / "ci" / name).read_text()


@pytest.mark.integration
def test_memory_gate_script_as_ci_runs_it(tmp_path):
    summary = tmp_path / "step_summary.md"
    env = {**cli_env(), "OUT_DIR": str(tmp_path / "out"), "MEMDOCTOR": f"{sys.executable} -m memdoctor",
           "GATE_DURATION": "15s", "GITHUB_STEP_SUMMARY": str(summary), "CI": "true"}
    env.pop("TERM", None)
    proc = subprocess.run(["bash", str(ROOT / "docs" / "ci" / "memory-gate.sh")], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "\x1b[" not in proc.stdout + proc.stderr  # no color codes in a CI log
    cases = list(ET.parse(tmp_path / "out" / "memory-gate.xml").getroot().iter("testcase"))
    assert {c.get("name") for c in cases} == {"command", "verdict", "max-growth"}
    assert all(c.find("failure") is None for c in cases)
    assert "memdoctor gate passed" in summary.read_text()
    assert os.path.getsize(tmp_path / "out" / "memory-trace.jsonl") > 0
