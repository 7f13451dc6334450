"""`memdoctor compare BEFORE AFTER`: real before/after recordings of the examples, and the floor-slope interval."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from memdoctor.analysis import diagnose
from memdoctor.analysis.compare import compare
from memdoctor.analysis.engine import diagnose_trace
from memdoctor.traces.reader import read_trace

from .conftest import assert_one_line_error, memdoctor, memdoctor_popen, python_example

MB = 1024 * 1024


@pytest.fixture(scope="module")
def recordings(tmp_path_factory) -> dict[str, Path]:
    """Three real recordings made at once: the leak, a smaller leak (a partial fix), the healthy worker."""
    root = tmp_path_factory.mktemp("compare")
    programs = {
        "leak": python_example("leaky_list.py", "--rate-kb", "400", "--every", "0.05"),
        "smaller_leak": python_example("leaky_list.py", "--rate-kb", "40", "--every", "0.05"),
        "healthy": python_example("healthy_worker.py"),
    }
    procs = {name: memdoctor_popen("run", "--interval", "50ms", "--duration", "6s", "-o", str(root / f"{name}.jsonl"),
                                   "--json", "--", *argv) for name, argv in programs.items()}
    for name, proc in procs.items():
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, (name, out[-1000:], err[-1000:])
    return {name: root / f"{name}.jsonl" for name in programs}


def _compare(before: Path, after: Path, code: int) -> dict:
    proc = memdoctor("compare", str(before), str(after), "--limit", "512MB", "--json", check_code=code)
    return json.loads(proc.stdout)


@pytest.mark.integration
def test_fix_confirmed_exit_0(recordings) -> None:
    out = _compare(recordings["leak"], recordings["healthy"], 0)
    assert out["outcome"] == "fixed" and out["leak_gone"] is True and out["worse"] is False
    before, after = out["before"]["floor_slope"], out["after"]["floor_slope"]
    # The leak keeps 400 KB every 50 ms (+ sleep overhead): ~6-8 MiB/s, inside its own interval.
    assert 4 * MB < before["slope_bytes_per_s"] < 9 * MB
    assert before["low"] <= before["slope_bytes_per_s"] <= before["high"] and before["low"] > 0
    assert after["low"] <= 0.05 * MB and abs(after["slope_bytes_per_s"]) < 0.05 * MB
    assert out["time_to_limit_before_s"] is not None and 20 < out["time_to_limit_before_s"] < 200
    assert out["time_to_limit_after_s"] is None


@pytest.mark.integration
def test_regression_is_exit_1(recordings) -> None:
    out = _compare(recordings["healthy"], recordings["leak"], 1)
    assert out["outcome"] == "worse" and out["still_leaks"] is True
    assert out["time_to_limit_after_s"] is not None
    text = memdoctor("compare", str(recordings["healthy"]), str(recordings["leak"]), "--limit", "512MB",
                     check_code=1).stdout
    assert "outcome: worse" in text and "90% CI" in text
    assert max(len(line) for line in text.splitlines()) <= 100


@pytest.mark.integration
def test_partial_fix_is_improved_not_fixed(recordings) -> None:
    out = _compare(recordings["leak"], recordings["smaller_leak"], 0)
    assert out["outcome"] == "improved" and out["leak_gone"] is False and out["still_leaks"] is True
    assert 0.03 < out["growth_ratio"] < 0.3  # 40 KB vs 400 KB per request
    assert out["time_to_limit_after_s"] > out["time_to_limit_before_s"]
    # And the other way round, the bigger leak is worse.
    assert _compare(recordings["smaller_leak"], recordings["leak"], 1)["outcome"] == "worse"


def test_a_wrapped_reason_keeps_its_indent() -> None:
    """compare's reasons wrapped at its table's width, but the second line of one started at column 0, where it read
    as a new line of output rather than the rest of a reason."""
    samples = Path(__file__).resolve().parents[1] / "sample_traces"
    text = memdoctor("compare", str(samples / "node_healthy_server.jsonl"), str(samples / "node_map_leak.jsonl"),
                     check_code=1).stdout
    reasons = text.split("outcome: worse\n", 1)[1].splitlines()
    assert len(reasons) >= 2  # the reason is longer than the table's 100 columns
    assert all(line.startswith("  ") and line == line.rstrip() and len(line) <= 100 for line in reasons), reasons


def test_same_healthy_trace_is_unchanged() -> None:
    sample = Path(__file__).resolve().parents[1] / "sample_traces" / "python_healthy_worker.jsonl"
    out = _compare(sample, sample, 0)
    assert out["outcome"] == "unchanged" and out["worse"] is False


def test_growth_interval_covers_the_true_slope_under_a_sawtooth() -> None:
    """compare reads each trace's growth and interval from its one diagnosis (no estimator of its own)."""
    rng = np.random.default_rng(7)
    t = np.arange(0, 600, 0.5)
    slope = 20_000.0  # bytes/s
    sawtooth = (t % 10) / 10 * 30 * MB
    mem = 100 * MB + slope * t + sawtooth + rng.normal(0, 0.2 * MB, t.size)
    mem[0] = 4096  # the start-up sample every real recording has
    leak = diagnose(t, mem)
    assert leak.verdict == "leak"
    assert leak.growth_low_bytes_per_s < slope < leak.growth_high_bytes_per_s
    assert leak.growth_high_bytes_per_s - leak.growth_low_bytes_per_s < slope  # narrow enough to tell it from zero
    flat = diagnose(t, 100 * MB + sawtooth + rng.normal(0, 0.2 * MB, t.size))
    assert flat.verdict == "no-leak"
    assert flat.growth_low_bytes_per_s <= 0 <= flat.growth_high_bytes_per_s
    out = compare(leak, flat)
    assert out["outcome"] == "fixed" and out["after"]["floor_slope"]["slope_bytes_per_s"] == flat.growth_bytes_per_s
    assert out["growth_difference"]["p"] < 0.001


def test_after_undecided_is_not_fixed() -> None:
    """An AFTER too short to judge (17 samples) is not a fix: the comparison says so and how much longer."""
    rng = np.random.default_rng(3)
    t = np.arange(0, 600, 0.5)
    before = diagnose(t, 100 * MB + 20_000.0 * t + rng.normal(0, 0.2 * MB, t.size))
    after = diagnose(t[:17], 100 * MB + rng.normal(0, 0.2 * MB, 17))
    assert before.verdict == "leak" and after.verdict == "inconclusive"
    out = compare(before, after)
    assert out["outcome"] == "unchanged" and out["leak_gone"] is False


def test_unreadable_input_is_exit_2(tmp_path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text("not a trace\n")
    sample = Path(__file__).resolve().parents[1] / "sample_traces" / "python_healthy_worker.jsonl"
    assert_one_line_error(memdoctor("compare", str(bad), str(sample), check_code=2))
    assert_one_line_error(memdoctor("compare", str(sample), str(tmp_path / "missing.jsonl"), check_code=2))


def test_a_short_after_that_cannot_tell_its_growth_from_befores_is_not_fixed(tmp_path: Path) -> None:
    """Issue 20: compare said "fixed" when AFTER was an undecided trace. Here AFTER is the first 90 s of the same
    leaking app (express-session's MemoryStore): it reads no-leak at low confidence, but its growth interval
    still holds BEFORE's rate (difference p = 0.83), so the outcome is unchanged, with how long to record."""
    before = Path(__file__).resolve().parents[1] / "benchmarks" / "classifier" / "recordings" / \
        "rw_node_session_memorystore.jsonl"
    lines = before.read_text().splitlines()
    after = tmp_path / "after_90s.jsonl"
    after.write_text("\n".join([lines[0], *[x for x in lines[1:] if '"t"' in x and json.loads(x).get("t", 0) <= 90]])
                     + "\n")
    result = json.loads(memdoctor("compare", str(before), str(after), "--json").stdout)
    assert result["before"]["verdict"] == "leak"
    assert result["outcome"] != "fixed", result["evidence"]
    if result["after"]["verdict"] == "no-leak":
        assert any("cannot be told from BEFORE's" in e and "record AFTER longer" in e for e in result["evidence"])


def test_a_significant_difference_between_two_healthy_traces_is_named() -> None:
    """Two no-leak traces whose floors differ significantly (a 7-minute Python job: flat against 200 KiB/min,
    under 2 % of its 500 MB level) read "unchanged ... (difference p = 0)" with nothing about the difference: the
    outcome follows the two verdicts (neither leaks), and the difference is said in words, its p never 0."""
    rng = np.random.default_rng(7)
    t = np.arange(0, 420, 0.2)
    flat = 500e6 + 4096 * np.round(rng.normal(0, 1, len(t)))
    slow = flat + 200 * 1024 / 60 * t
    result = compare(diagnose(t, flat), diagnose(t, slow))
    assert result["before"]["verdict"] == result["after"]["verdict"] == "no-leak", result["after"]["evidence"]
    assert result["outcome"] == "unchanged"
    line = result["evidence"][0]
    assert "significantly faster" in line and "p = 0)" not in line and "p < 0.001" in line, line


def test_an_undecided_side_is_not_called_not_leaking() -> None:
    """A Node Map with no eviction (undecided at 105 s, 4.2 MiB/min) against its TTL-swept twin (no-leak,
    1.2 MiB/min, p < 0.001 for the difference): compare said "neither leaks (BEFORE inconclusive ...)" and
    "unchanged". The swept AFTER is better, not "fixed" (BEFORE was never shown to leak); the other way round,
    the mirror: worse (exit 1), naming the undecided side and how much longer to record it. It read "unchanged",
    exit 0, so a change that dropped the sweep passed a CI compare (a helper's review, 2026-12-08)."""
    shapes = Path(__file__).parent / "data" / "shapes"
    leak, swept = str(shapes / "node_map_nosweep_105s.csv"), str(shapes / "node_map_ttl_105s.csv")
    better = json.loads(memdoctor("compare", leak, swept, "--json").stdout)
    assert (better["before"]["verdict"], better["after"]["verdict"]) == ("inconclusive", "no-leak")
    assert better["outcome"] == "improved", better["evidence"]
    assert not any("neither leaks" in line for line in better["evidence"]), better["evidence"]
    back = json.loads(memdoctor("compare", swept, leak, "--json", check_code=1).stdout)
    assert back["outcome"] == "worse" and back["worse"] is True, back["evidence"]
    line = back["evidence"][0]
    assert "AFTER is undecided" in line and "significantly faster" in line and "record AFTER about" in line, line


def test_a_worse_after_an_undecided_before_does_not_say_before_did_not_leak() -> None:
    """`compare` read "AFTER leaks (sawtooth); BEFORE did not (inconclusive)": an undecided BEFORE is not one that
    did not leak. (Two bundled recordings: an undecided 4.2 MiB/min rise, a job runner leaking 150 MiB/min.)"""
    shapes = Path(__file__).parent / "data" / "shapes"
    result = json.loads(memdoctor("compare", str(shapes / "node_map_nosweep_105s.csv"),
                                  str(shapes / "node_step_jobs.csv"), "--json", check_code=None).stdout)
    assert (result["before"]["verdict"], result["after"]["verdict"]) == ("inconclusive", "leak")
    assert result["outcome"] == "worse", result["evidence"]
    assert "BEFORE did not" not in result["evidence"][0], result["evidence"]
    assert "BEFORE was undecided" in result["evidence"][0], result["evidence"]


def test_leak_gone_follows_the_outcome() -> None:
    """A no-leak AFTER whose growth cannot be told from a leaking BEFORE's is "unchanged": its JSON said
    "leak_gone": true beside it (an adversarial review, 2026-12-05)."""
    from dataclasses import replace

    from memdoctor.analysis.diagnosis import Verdict

    rng = np.random.default_rng(5)
    t = np.arange(0, 600, 0.5)
    before = diagnose(t, 100 * MB + 20_000.0 * t + rng.normal(0, 0.2 * MB, t.size))
    assert before.verdict == "leak"
    after = replace(before, verdict=Verdict("no-leak"))  # the same growth, read no-leak
    out = compare(before, after)
    assert out["outcome"] == "unchanged" and out["leak_gone"] is False


def test_a_growth_measured_to_the_page_is_tested_against_the_other_side() -> None:
    """tests/data/shapes: a job runner's two 150 MB steps (inconclusive, 4.3 MiB/s, 3.7-4.9) against a level process
    around one spike (no-leak, 0 B/h over 256 floor points on the same page count: an interval of zero width). The
    zero width read as "no interval", the difference went untested, and compare said "their growth cannot be told
    apart". Zero width is a growth known to the page: the test runs on the other side's error."""
    shapes = Path(__file__).parent / "data" / "shapes"
    before = diagnose_trace(read_trace(str(shapes / "py_two_jobs_kept_90s.csv")))
    after = diagnose_trace(read_trace(str(shapes / "py_buffer_spike_90s.csv")))
    assert after.growth_low_bytes_per_s == after.growth_high_bytes_per_s == 0.0
    out = compare(before, after)
    assert out["growth_difference"]["p"] is not None and out["growth_difference"]["p"] < 0.001, out
    assert out["outcome"] == "improved", out


def test_a_short_after_of_the_same_healthy_fill_is_not_worse() -> None:
    """A review of the 'worse' mirror (2026-12-08): a healthy fill (80 MiB, time constant 40 s) recorded for 10 minutes
    reads no-leak; the same program recorded for 3 minutes is undecided at its warm-up's growth, significantly faster
    than the 10 minutes' level, and compare said "worse", exit 1. A recording much shorter than BEFORE holds more of its
    warm-up: not a regression."""
    def fill(seconds: float, seed: int):
        rng = np.random.default_rng(seed)
        t = np.arange(0.0, seconds, 1.0)
        return t, 100 * MB + 80 * MB * (1 - np.exp(-t / 40.0)) + rng.normal(0, 0.2 * MB, len(t))

    before, after = diagnose(*fill(600.0, 1)), diagnose(*fill(180.0, 2))
    assert before.verdict == "no-leak", before.evidence
    out = compare(before, after)
    assert out["outcome"] != "worse", (after.verdict, out["evidence"])
