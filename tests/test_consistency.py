"""One diagnosis everywhere (issue 20): every command gives the same verdict and pattern for a trace.

For every bundled single-series trace (sample_traces/, tests/data/, the labelled benchmark's
recordings, and the importers' files written by other recorders) the verdict and pattern printed by
`analyze --json`, `gate --trace --json`, `report --format json`, `compare` (both sides), `caps --trace`,
the live view's analysis of the whole recording and the pytest plugin's judgement of a watched
process (`judge_trace`, what the `memdoctor_watch` fixture runs on its recording) are identical, and
the gate's pass/fail, and the plugin's, follow from them. The CLI runs in-process (typer's CliRunner):
one pass over ~40 traces takes seconds.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from memdoctor.cli import app
from memdoctor.pipelines.live import LiveMonitor
from memdoctor.pytest_plugin import judge_trace
from memdoctor.sampling.recorder import RecordingState
from memdoctor.traces.importers.multi import rows
from memdoctor.traces.reader import read_traces
from memdoctor.units import format_rate

ROOT = Path(__file__).resolve().parents[1]
TRACE_SUFFIXES = (".jsonl", ".csv", ".dat", ".txt")
SKIP_DIRS = {"fuzz"}  # deliberately broken inputs: test_fuzz.py


def _bundled() -> list[Path]:
    found: list[Path] = []
    for base in (ROOT / "sample_traces", ROOT / "tests" / "data", ROOT / "benchmarks" / "classifier" / "recordings"):
        for path in sorted(base.rglob("*")):
            if path.suffix not in TRACE_SUFFIXES or not path.is_file() or SKIP_DIRS & set(path.parts):
                continue
            if path.name.startswith("README"):
                continue
            try:
                traces = read_traces(str(path))
            except Exception:  # not a trace (a label file, a snapshot's notes): not this test's business
                continue
            if len(rows([(str(path), traces)], None)) == 1 and len(traces[0]) >= 2:
                found.append(path)
    return found


TRACES = _bundled()
runner = CliRunner()


def _cli(*args: str) -> dict:
    result = runner.invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code in (0, 1), (args, result.output[-2000:])
    return json.loads(result.stdout)


def _live_view(path: Path) -> tuple[str, str]:
    """What watch/run show at the end of this recording: the live monitor's analysis of all of it."""
    trace = read_traces(str(path))[0]
    state = RecordingState()
    for t, rss in zip(trace.t, trace.rss, strict=True):
        state.series.append(float(t), float(rss))
    # The runtime heap the recorder keeps beside RSS at each detail line (`run -- node`), as the file holds it.
    heap = trace.series.get("heap")
    if heap is not None:
        state.heap_points = [(float(t), float(v)) for t, v in zip(trace.t, heap, strict=True) if v == v]
    monitor = LiveMonitor(state, mode="off", console=Console(file=io.StringIO()), title="t",
                          duration=None, limit_bytes=trace.limit_bytes)
    monitor._analyze()
    assert monitor.diagnosis is not None
    return monitor.diagnosis.verdict, monitor.diagnosis.pattern


def test_the_bundled_traces_are_found() -> None:
    names = {p.name for p in TRACES}
    assert len(TRACES) >= 25, names
    assert {"node_server_leak_20ms.jsonl", "python_leaky_list.jsonl", "py_step_jobs.csv"} <= names


@pytest.mark.parametrize("path", TRACES, ids=[str(p.relative_to(ROOT)) for p in TRACES])
def test_every_command_gives_the_same_verdict(path: Path) -> None:
    p = str(path)
    analyze = _cli("analyze", p, "--json")
    want = (analyze["verdict"], analyze["pattern"])
    # One answer in the output too: no evidence line shows an overruled reading as a verdict of its own
    # ("the classifier alone said no-leak" under a leak).
    for line in analyze["evidence"]:
        assert set(re.findall(r"\bsaid (no-leak|leak|inconclusive)\b", line)) <= {want[0]}, line
    # ... and no leak beside "watch more to decide" (a sequential job runner's one step read "leak, 0.99" with it).
    if want[0] == "leak":
        assert not any("more to decide" in line for line in analyze["evidence"]), analyze["evidence"]
        # ... nor beside "too small to matter" (a steady 417 KiB/min rise, decided by its rate, had both).
        assert not any("too small to matter" in line for line in analyze["evidence"]), analyze["evidence"]
        # ... nor beside "heap sizing, not yet evidence of a leak" (rw_py_sawtooth_slow_leak: a steady rise).
        assert not any("not yet evidence of a leak" in line for line in analyze["evidence"]), analyze["evidence"]
        # ... nor beside the floor test's "levels off at the end: ... not judged a leak" (a 4-minute lru-cache fill).
        assert not any("not judged a leak" in line for line in analyze["evidence"]), analyze["evidence"]

    gate = _cli("gate", "--trace", p, "--json")
    assert (gate["diagnosis"]["verdict"], gate["diagnosis"]["pattern"]) == want
    verdict_check = next(c for c in gate["checks"] if c["name"] == "verdict")
    assert verdict_check["value"] == want[0]
    if want[0] == "leak":
        # A failing verdict line does not carry a reading that says no (a steady 417 KiB/min leak failed with the
        # floor test's "no rise above 2.5 MiB/min" in its message).
        assert "no rise above" not in verdict_check["message"], verdict_check["message"]
        assert "a leak must exceed" not in verdict_check["message"], verdict_check["message"]
    # A plateau is a floor that stopped: not beside a floor test that finds its end still at a leak's rate.
    if want[1] == "plateau":
        assert not any("still above" in line for line in analyze["evidence"]), analyze["evidence"]
    # The growth shown, when it is the floor test's, reads in its line as it does in the diagnosis ("floor growth
    # 7.8 MiB/s" stood above "the floor rises 468.7 MiB/min +/- 0.4 MiB/min").
    floor_test = analyze.get("floor_test") or {}
    # (Where the rate is at least its error, the rate sets the unit of both; a rate within its error is shown in
    # the error's unit, "0 B/min +/- 17.6 KiB/min".)
    growth = analyze["growth_bytes_per_s"]
    if (floor_test.get("floor_growth_bytes_per_s") == growth and "+/-" in floor_test.get("message", "")
            and abs(growth) >= (floor_test.get("standard_error_bytes_per_s") or 0.0)):
        assert format_rate(growth) in floor_test["message"], floor_test["message"]
    # "held flat" is not said of a significant trend (an evicting LRU's small rise, p < 0.001).
    for line in analyze["evidence"]:
        assert not re.search(r"held flat \([^)]*p < 0\.0", line), line
    # The gate's pass/fail follows from the verdict (default thresholds: fail on leak only).
    assert gate["passed"] == (want[0] != "leak"), gate["checks"]
    assert gate["diagnosis"]["growth_bytes_per_s"] == analyze["growth_bytes_per_s"]

    report = _cli("report", p, "--format", "json")
    assert (report["diagnosis"]["verdict"], report["diagnosis"]["pattern"]) == want

    compare = _cli("compare", p, p, "--json")
    for side in ("before", "after"):
        assert (compare[side]["verdict"], compare[side]["pattern"]) == want
        assert compare[side]["floor_slope"]["slope_bytes_per_s"] == analyze["growth_bytes_per_s"]
    assert compare["outcome"] == "unchanged"

    # caps judges the trace at the limit it is given, as analyze --limit does; one without job steps (no --node
    # needed) still gives its verdict.
    caps = _cli("caps", "--trace", p, "--limit", "64GiB", "--json")["diagnosis"]
    at_limit = _cli("analyze", p, "--limit", "64GiB", "--json")
    assert {k: caps[k] for k in caps} == {k: at_limit[k] for k in caps}
    assert (caps["verdict"], caps["pattern"]) == want

    assert _live_view(path) == want

    plugin = judge_trace(path)
    assert (plugin.diagnosis.verdict, plugin.diagnosis.pattern) == want
    assert plugin.diagnosis.to_dict()["growth_bytes_per_s"] == analyze["growth_bytes_per_s"]
    assert plugin.passed == gate["passed"], plugin.message  # a watched process fails as the gate does


@pytest.mark.parametrize("warmup", ["0s", "5s"])
def test_warmup_means_the_same_on_every_command(warmup: str) -> None:
    path = str(ROOT / "tests" / "data" / "gate" / "node_server_leak_20ms.jsonl")
    analyze = _cli("analyze", path, "--warmup", warmup, "--json")
    gate = _cli("gate", "--trace", path, "--warmup", warmup, "--json")
    compare = _cli("compare", path, path, "--warmup", warmup, "--json")
    report = _cli("report", path, "--warmup", warmup, "--format", "json")
    plugin = judge_trace(path, warmup=warmup).diagnosis.to_dict()
    for d in (gate["diagnosis"], compare["before"], report["diagnosis"], plugin):
        assert (d["verdict"], d["pattern"], d["growth_bytes_per_s"]) == (
            analyze["verdict"], analyze["pattern"], analyze["growth_bytes_per_s"])


@pytest.mark.parametrize("metric", ["rss", "uss"])
def test_metric_means_the_same_on_every_command(metric: str) -> None:
    """Issue 20: "the same options (--warmup, --limit, --metric) exist on every command that judges a trace";
    caps --trace printed its verdict on RSS only. On this Node recording RSS says leak and the few USS detail
    samples cannot decide: each command says the same for the series asked for."""
    path = str(ROOT / "tests" / "data" / "importers" / "leak.node.memdoctor.jsonl")
    analyze = _cli("analyze", path, "--metric", metric, "--json")
    gate = _cli("gate", "--trace", path, "--metric", metric, "--json")["diagnosis"]
    compare = _cli("compare", path, path, "--metric", metric, "--json")["before"]
    report = _cli("report", path, "--metric", metric, "--format", "json")["diagnosis"]
    caps = _cli("caps", "--trace", path, "--metric", metric, "--limit", "1GiB", "--json")["diagnosis"]
    for d in (gate, compare, report, caps):
        assert (d["verdict"], d["pattern"]) == (analyze["verdict"], analyze["pattern"]), d
    assert analyze["verdict"] == ("leak" if metric == "rss" else "inconclusive")


def test_the_node_server_leak_is_one_leak_everywhere() -> None:
    """Issue 20's first example: analyze said no-leak (plateau, 0 B/h), the gate failed it, compare said
    neither leaks, --max-growth passed at 0 B/h."""
    path = str(ROOT / "tests" / "data" / "gate" / "node_server_leak_20ms.jsonl")
    analyze = _cli("analyze", path, "--json")
    assert analyze["verdict"] == "leak" and analyze["growth_bytes_per_s"] * 60 / 1024**2 > 5
    gate = _cli("gate", "--trace", path, "--max-growth", "5MB/min", "--json")
    assert not gate["passed"] and "max-growth" in gate["failures"]
    healthy = str(ROOT / "tests" / "data" / "gate" / "node_healthy_server_20ms_a.jsonl")
    assert _cli("compare", path, healthy, "--json")["outcome"] == "fixed"
    assert _cli("compare", healthy, path, "--json")["outcome"] == "worse"


def test_no_leak_is_never_shown_beside_a_leak_rate_the_window_cannot_resolve() -> None:
    """From the review of issue 20: a healthy Node worker pool's 19 s read "no-leak (sawtooth), floor growth
    7.8 MiB/s, limit in 41s" beside a failed --max-growth (the floor test: 467 +/- 355 MiB/min, catches only
    leaks >= 1656 MiB/min). A longer watch can change that answer: inconclusive, with how much longer."""
    path = str(ROOT / "tests" / "data" / "gate" / "node_worker_pool_doctor_19s.jsonl")
    analyze = _cli("analyze", path, "--json")
    assert analyze["verdict"] == "inconclusive", analyze["evidence"]
    assert analyze["watch_more_s"] >= 60
    gate = _cli("gate", "--trace", path, "--max-growth", "5MB/min", "--json")
    assert gate["diagnosis"]["verdict"] == "inconclusive" and "max-growth" in gate["failures"]
    assert "undecided" in next(c for c in gate["checks"] if c["name"] == "max-growth")["message"]


def test_fail_on_inconclusive_adds_to_leak() -> None:
    """Issue 20: --fail-on inconclusive replaced leak, and passed a leak."""
    path = str(ROOT / "sample_traces" / "python_leaky_list.jsonl")
    gate = _cli("gate", "--trace", path, "--fail-on", "inconclusive", "--json")
    assert not gate["passed"] and "verdict" in gate["failures"]


def test_memory_above_the_limit_fails_max_time_to_limit() -> None:
    """Issue 20: memory above --limit read "inconclusive, check the limit" and --max-time-to-limit passed it."""
    path = str(ROOT / "sample_traces" / "python_leaky_list.jsonl")
    gate = _cli("gate", "--trace", path, "--limit", "50MB", "--max-time-to-limit", "1h", "--json")
    assert "time-to-limit" in gate["failures"]
    assert gate["diagnosis"]["time_to_limit_s"] == 0.0 and gate["diagnosis"]["verdict"] == "leak"
    # One sentence ("the 50.0 MiB limit is reached in already" was two glued together, an end-to-end review).
    message = next(c for c in gate["checks"] if c["name"] == "time-to-limit")["message"]
    assert message.startswith("memory is already at the 50.0 MiB limit"), message


def test_memory_above_the_limit_fails_max_time_to_limit_on_a_short_trace(tmp_path: Path) -> None:
    """Below 20 samples there is no trend test, but memory above --limit is a fact: the time to the limit is 0
    and --max-time-to-limit fails (a 17-sample climb 100 -> 500 MiB passed with "reached in never")."""
    path = tmp_path / "steep.csv"
    path.write_text("t,rss\n" + "".join(f"{i},{(100 + 25 * i) * 1024**2}\n" for i in range(17)))
    gate = _cli("gate", "--trace", str(path), "--limit", "400MB", "--max-time-to-limit", "1h", "--json")
    assert "time-to-limit" in gate["failures"] and not gate["passed"]
    assert gate["diagnosis"]["time_to_limit_s"] == 0.0
    analyze = _cli("analyze", str(path), "--limit", "400MB", "--json")
    assert analyze["time_to_limit_s"] == 0.0 and any("already above the limit" in e for e in analyze["evidence"])


def test_max_time_to_limit_beyond_a_day_is_judged_on_the_diagnosis_forecast(tmp_path: Path) -> None:
    """A floor rising 0.5 MiB/min over 1 GiB for 30 min is no-leak ("too small to matter" within a day) below a
    2 GB limit, but reaches it in about 34 h: `--max-time-to-limit 48h` passed it with "no forecast" while a
    1.5 GB limit failed it. The diagnosis forecasts over the gate's horizon; a limit beyond it passes and says so."""
    path = tmp_path / "slow.csv"
    start, rate = 1024 * 1024**2, 0.5 * 1024**2 / 60  # bytes, bytes/s
    # A deterministic +-1 MiB wobble (period 7 samples) so that the floor has noise to measure.
    path.write_text("timestamp,rss_bytes\n" + "".join(
        f"{1.7e9 + 5 * i},{int(start + rate * 5 * i + ((i * 3) % 7 - 3) * 350_000)}\n" for i in range(360)))
    analyze = _cli("analyze", str(path), "--limit", "2GB", "--json")
    assert analyze["verdict"] == "no-leak" and analyze["time_to_limit_s"] is None, analyze["evidence"]
    gate = _cli("gate", "--trace", str(path), "--limit", "2GB", "--max-time-to-limit", "48h", "--json")
    assert gate["diagnosis"]["verdict"] == "no-leak" and "time-to-limit" in gate["failures"], gate["checks"]
    assert 24 * 3600 < gate["diagnosis"]["time_to_limit_s"] < 48 * 3600
    # The leak report `--diagnose` writes for the failing gate forecasts over the gate's horizon too: it read
    # "no forecast" beside the gate's "limit reached in 34h" (a before-stop re-read).
    diagnosed = _cli("gate", "--trace", str(path), "--limit", "2GB", "--max-time-to-limit", "48h", "--diagnose",
                     "--json")
    report = json.loads(Path(diagnosed["report"]["json"]).read_text())
    assert report["diagnosis"]["time_to_limit_s"] == gate["diagnosis"]["time_to_limit_s"]
    far = _cli("gate", "--trace", str(path), "--limit", "3GB", "--max-time-to-limit", "48h", "--json")
    assert far["passed"], far["checks"]
    message = next(c for c in far["checks"] if c["name"] == "time-to-limit")["message"]
    assert "not reached within 2d00h even at the fast end" in message, message


def test_an_input_with_several_series_is_judged_on_the_same_series_everywhere() -> None:
    """Issue 20: on an input with several series (a Prometheus range of three containers) the gate judged the
    worst and compare, report and caps the first, silently: "neither leaks" beside a failed gate. Each now judges
    the gate's series and names it."""
    path = str(ROOT / "tests" / "data" / "importers" / "fleet.prometheus.json")
    gate = _cli("gate", "--trace", path, "--json")
    verdict = gate["diagnosis"]["verdict"]
    assert verdict == "leak" and not gate["passed"]
    compared = _cli("compare", path, path, "--json")
    assert compared["before"]["verdict"] == compared["after"]["verdict"] == verdict
    assert any("judged the worst one, shop/cart-7d9f-0/app" in e for e in compared["evidence"])
    report = _cli("report", path, "--format", "json")
    assert report["diagnosis"]["verdict"] == verdict
    assert any("judged the worst one, shop/cart-7d9f-0/app" in e for e in report["diagnosis"]["evidence"])
    assert _cli("caps", "--trace", path, "--limit", "1GiB", "--json")["diagnosis"]["verdict"] == verdict
    # The others' failures name their failed checks ("FAIL (no-leak)" named none; an end-to-end review).
    capped = _cli("gate", "--trace", path, "--max-rss", "300MB", "--json")
    assert any("shop/api-5c8b-0/app: FAIL (no-leak; failed: max-rss)" in n for n in capped["notes"]), capped["notes"]


def test_the_gate_names_the_other_memory_series_of_its_input_with_analyzes_verdicts() -> None:
    """A Node memoryUsage() log holds four memory series: `analyze` shows a row for each (worst first: arrayBuffers
    "inconclusive" on a healthy run), and `gate --trace` judged rss alone and passed "no-leak", silent on the others,
    as it was on the other series of an input before issue 20. It still judges --metric's series, and names the
    others with the verdicts analyze gives them."""
    path = str(ROOT / "tests" / "data" / "importers" / "healthy.node-memory.jsonl")
    rows = {r["name"].rsplit(" ", 1)[1]: r["verdict"] for r in _cli("analyze", path, "--json")["series"]}
    assert len(rows) == 4 and len(set(rows.values())) > 1, rows
    gate = _cli("gate", "--trace", path, "--json")
    assert gate["diagnosis"]["verdict"] == rows["rss"]
    note = next(n for n in gate["notes"] if "memory series" in n)
    for name, verdict in rows.items():
        if name != "rss":
            assert f"{name}: {verdict}" in note, note
    heap = _cli("gate", "--trace", path, "--metric", "heap", "--json")
    assert heap["diagnosis"]["verdict"] == rows["heapUsed"]
    assert "rss: " + rows["rss"] in next(n for n in heap["notes"] if "memory series" in n)


@pytest.mark.parametrize("path", TRACES, ids=[str(p.relative_to(ROOT)) for p in TRACES])
def test_caps_and_report_give_one_concurrency(path: Path) -> None:
    """One computation of a trace's concurrency (analysis.caps.concurrency_from_trace), whichever command prints
    it: `caps --trace` took one from any rise after the start-up (node_map_leak, a leak: 6; the healthy Node
    server's GC ramps: 27), `report` only for the "step" pattern (the worker-pool incident: none; caps: 11), and
    doctor by a third rule. `doctor` builds its report with `report`'s code, so it is covered here too."""
    p = str(path)
    caps = _cli("caps", "--trace", p, "--limit", "512MB", "--json")
    report = _cli("report", p, "--limit", "512MB", "--format", "json")
    assert caps["concurrency"] == report["caps"].get("concurrency")
    if caps["concurrency"] is not None:
        assert caps["explain"]["concurrency"] == report["caps"]["explain"]["concurrency"]


# A growth interval as the text prints it: "(LOW UNIT/PERIOD to HIGH UNIT/PERIOD)".
_INTERVAL = re.compile(r"\((?:\d+% CI )?(-?[\d.]+ \w+/(s|min|h)) to (-?[\d.]+ \w+/(s|min|h))\)")
# A duration the evidence asks to watch or run longer: "run the gate >= 60s longer", "watch about 3m18s more".
_LONGER = re.compile(r">= \d[\w.]* longer|about \d[\w.]* more to decide")
# The classifier's trend line: "floor rose 3.1 MiB over 58s (29 points, Mann-Kendall p = 0.009, ...)".
_TREND_P = re.compile(r"^(floor|troughs) (rose|fell) .*Mann-Kendall (p < 0\.001|p = 0\.00\d)")


@pytest.mark.parametrize("warmup", ["0s", "30s"])
@pytest.mark.parametrize("path", TRACES, ids=[str(p.relative_to(ROOT)) for p in TRACES])
def test_one_output_never_says_two_things(path: Path, warmup: str) -> None:
    """Inside one output, no line contradicts the answer or another line: found by an adversarial review of
    every bundled trace with and without --warmup 30s (2026-12-05), each rule failing on 700b04a."""
    p = str(path)
    analyze = _cli("analyze", p, "--warmup", warmup, "--json")
    evidence = analyze["evidence"]
    if analyze["verdict"] == "leak":
        # "leak" above the classifier's "then held flat ...: warm-up or cache fill, not a leak"
        # (node_server_leak_20ms), or above its "no significant growth" (rw_node_session_memorystore).
        assert not any("not a leak" in line for line in evidence), evidence
        assert not any(line.startswith("no significant growth") for line in evidence), evidence
        assert not any("more to decide" in line for line in evidence), evidence
        # "leak, floor growth 0 B/min (-4.8 MiB/min to 4.8 MiB/min)": a leak's growth is one that rules out none.
        assert (analyze["growth_interval_bytes_per_s"] or [analyze["growth_bytes_per_s"]])[0] > 0, evidence
    # "inconclusive" above the classifier's "then held flat: warm-up or cache fill, not a leak" (py_lru_server_first_
    # 13s), and its growth "0 B/h" beside "floor test: the floor rises 8.5 MiB/min" (py_prefork_pss_plateau_9s).
    if analyze["verdict"] != "no-leak":
        assert not any("not a leak" in line for line in evidence), evidence
    if (analyze.get("floor_test") or {}).get("state") == "rising":
        assert (analyze["growth_interval_bytes_per_s"] or [analyze["growth_bytes_per_s"]])[0] > 0, evidence
    # "no significant growth" beside the same trend's "Mann-Kendall p = 0.009" (py_one_spike --warmup 30s).
    if any(line.startswith("no significant growth") for line in evidence):
        assert not any(_TREND_P.match(line) for line in evidence), evidence
    # "run the gate >= 60s longer to tell" beside "watch_more_s": null (node_healthy_server). (Beside a leak the
    # floor test's advice is for its own test: the leak is decided.)
    if analyze["verdict"] != "leak" and any(_LONGER.search(line) for line in evidence):
        assert analyze["watch_more_s"] is not None, evidence
    # compare's growth column printed each bound in its own unit ("(90% CI -3.1 KiB/min to 1.7 MiB/s)"): the
    # column's text for this trace's growth and interval, as compare renders it.
    from memdoctor.commands.compare import _ci_text

    compared = _cli("compare", p, p, "--warmup", warmup, "--json")
    for side in ("before", "after"):
        cell = _ci_text(compared[side]["floor_slope"])
        for match in _INTERVAL.finditer(cell):
            assert match.group(2) == match.group(4), cell


def test_a_precise_flat_floor_is_not_undecided_by_a_rough_one() -> None:
    """A Python pool's 126 troughs rose 10.8 KiB in 58 s (0 to 18.7 KiB/min), while the floor test, one point per
    cycle, measured 3.8 +/- 9.5 MiB/min: the diagnosis was undecided and `--max-growth 5MB/min` "cannot judge"
    an interval far under its budget. The more precise measurement stands."""
    path = str(ROOT / "tests" / "data" / "gate" / "py_pool_batches_90s.jsonl")
    gate = _cli("gate", "--trace", path, "--warmup", "30s", "--max-growth", "5MB/min", "--json")
    assert gate["diagnosis"]["verdict"] == "no-leak" and gate["passed"], gate["checks"]


def test_a_time_to_the_limit_that_may_never_come_says_never_everywhere(tmp_path: Path) -> None:
    """The table read "range 15s to n/a" beside the evidence's "(15s to never)" (on node_worker_pool_doctor_19s,
    whose floor test no longer takes a busy plateau for a floor: a 20 s sawtooth of 100 MiB ramps over troughs
    scattered by 6 MiB, whose growth band includes none, stands in for it)."""
    import numpy as np

    rng = np.random.default_rng(0)
    t = np.arange(0, 20, 0.2)
    troughs = rng.normal(80, 6, size=10) * 2**20
    mem = troughs[(t // 3.0).astype(int)] + (t % 3.0) / 3.0 * 100 * 2**20 + rng.normal(0, 0.3 * 2**20, len(t))
    path = tmp_path / "sawtooth.csv"
    rows = "".join(f"{1.7e9 + x:.1f},{int(m)}\n" for x, m in zip(t, mem, strict=True))
    path.write_text("timestamp,rss_bytes\n" + rows)
    d = _cli("analyze", str(path), "--limit", "512MiB", "--json")
    assert d["time_to_limit_range_s"][1] is None or d["time_to_limit_range_s"][1] > 1e12, d
    text = runner.invoke(app, ["analyze", str(path), "--limit", "512MiB"], catch_exceptions=False).stdout
    flat = " ".join(text.split())
    assert "to n/a" not in flat, text
    assert re.search(r"range \S+ to never", flat) and re.search(r"\(\S+ to never\)", flat), text


def test_a_short_fill_read_no_leak_is_not_also_told_apart_from_a_leak_only_later() -> None:
    """A 2 MiB fill in 60 s: "no-leak (plateau)" beside the classifier's "growth is decelerating: warm-up or cache
    fill cannot be told from a leak until it levels off; watch about 33s more", where the floor test found the floor
    flat in the short window and decided (an adversarial scan, 2026-12-05; fails on f26ca18)."""
    import numpy as np

    from memdoctor.analysis import diagnose

    rng = np.random.default_rng(2)
    t = np.arange(0, 60, 0.2)
    d = diagnose(t, 50 * 2**20 + 2 * 2**20 * (1 - np.exp(-t / 18.0)) + rng.normal(0, 0.01 * 2**20, t.size))
    assert d.verdict == "no-leak", d.evidence
    assert not any("cannot be told from a leak" in line or "more" in line.split(":")[-1] for line in d.evidence), \
        d.evidence


@pytest.mark.parametrize("span_s", [60, 120, 300])
def test_a_fill_still_rising_at_a_leaks_rate_is_not_a_plateau(span_s: int) -> None:
    """A saturating fill (60 MiB, time constant 0.4 of the window) read "inconclusive (plateau)" beside the floor
    test's "slower at the end (10.4 MiB/min ..., still above the 2.5 MiB/min a leak must exceed)": a plateau is a
    floor that stopped. Undecided, with the rise's shape (an adversarial review, 2026-12-05)."""
    import numpy as np

    from memdoctor.analysis import diagnose

    rng = np.random.default_rng(1)
    t = np.arange(0, span_s, 0.2)
    mem = 50 * 2**20 + 60 * 2**20 * (1 - np.exp(-t / (0.4 * span_s))) + rng.normal(0, 0.1 * 2**20, t.size)
    d = diagnose(t, mem)
    assert d.verdict == "inconclusive", d.evidence
    assert any("still above" in line for line in d.evidence), d.evidence
    assert d.pattern != "plateau", d.evidence


def test_a_leak_shows_the_growth_that_decided_it_not_a_floor_test_too_short_to_measure() -> None:
    """`gate --metric pss` of a prefork's PSS (9 s) read "leak (linear), floor growth 3.9 MiB/min" live and "leak
    (linear), floor growth 0 B/min (-4.8 MiB/min to 4.8 MiB/min)" from `gate --trace` of its own recording: the
    floor test had 2 equal floor points ("at least 3 are needed"), whose slope came out -8e-21 from the live times
    and +6e-21 from the trace's (rounded to microseconds), and a positive one replaced the growth that decided the
    leak (a CI flake of tests/test_metric_option.py, reproduced under load). Fails on 9bc7266."""
    import numpy as np

    from memdoctor.analysis import diagnose
    from memdoctor.traces import read_trace

    trace = read_trace(str(ROOT / "tests" / "data" / "gate" / "py_prefork_pss_9s.jsonl"))
    has = ~np.isnan(trace.series["pss"])
    t, pss = trace.t[has], trace.series["pss"][has]
    # The PSS rises 615 KiB in its first 2 s after the warm-up, then holds (the target is healthy: its PSS "moves
    # only a few hundred KiB", tests/test_metric_option.py): since the fill test (classify._levelled_fill) it reads
    # an undecided fill, no longer a leak; the growth shown must still be one measurement whatever the clock's
    # rounding, and a leak's band above zero.
    growths, verdicts = [], set()
    for shift in (0.0, 4e-7, -4e-7):  # the times as the trace holds them, and as a live clock had them
        d = diagnose(t + shift * np.sin(np.arange(t.size)), pss, warmup_s=2.0)
        verdicts.add(d.verdict)
        assert d.growth_bytes_per_s is not None, d.evidence
        if d.verdict == "leak":
            assert d.growth_low_bytes_per_s is not None and d.growth_low_bytes_per_s > 0, (d.growth_bytes_per_s,
                                                                                            d.evidence)
        growths.append(d.growth_bytes_per_s)
    assert len(verdicts) == 1, verdicts
    assert max(growths) - min(growths) <= 0.01 * max(abs(g) for g in growths), growths


@pytest.mark.parametrize("swing_mib", [2.0, 5.0, 10.0])
def test_a_steady_rise_under_small_cycles_is_not_called_a_sawtooth(swing_mib: float) -> None:
    """A 165 MiB process keeping 417 KiB/min for 7 minutes under cycles every 30 s: with 10 MiB cycles the classifier
    reads "leak (linear)"; with 2 or 5 MiB ones the floor test's steady rise decided it and called it a "sawtooth"
    for its 3+ cycles alone, where a sawtooth swings SAWTOOTH_AMPLITUDE (15 %) of its level (the rule of the floor
    test's other two shapes, engine._cyclic; an adversarial review, 2026-12-05). Fails on cd165d0."""
    import numpy as np

    from memdoctor.analysis import diagnose

    rng = np.random.default_rng(0)
    t = np.arange(0, 420, 0.5)
    cycles = swing_mib * 2**20 * ((t % 30) / 30)
    d = diagnose(t, 165 * 2**20 + (417 * 1024 / 60) * t + cycles + rng.normal(0, 0.05 * 2**20, t.size))
    assert (d.verdict, d.pattern) == ("leak", "linear"), d.evidence


def test_an_undecided_rise_shows_the_rise_not_the_flat_tail() -> None:
    """A prefork's PSS (7 s after a 2 s warm-up) rose 682 KiB, then held flat for 4 s: undecided between a fill and a
    leak, it read "inconclusive (plateau), floor growth 0 B/h" beside "floor test: the floor rises 8.5 MiB/min", and
    the classifier's "warm-up or cache fill, not a leak" above it. The growth shown is the rise in question, so that
    a time to the limit can warn (issue 20: never 0 B/h beside a rising floor). Fails on e1acf1d."""
    path = str(ROOT / "tests" / "data" / "gate" / "py_prefork_pss_plateau_9s.jsonl")
    d = _cli("analyze", path, "--metric", "pss", "--warmup", "2s", "--json")
    assert (d["verdict"], d["pattern"]) == ("inconclusive", "plateau"), d["evidence"]
    assert d["floor_test"]["state"] == "rising", d["evidence"]
    assert d["growth_bytes_per_s"] == pytest.approx(d["floor_test"]["floor_growth_bytes_per_s"]), d["evidence"]
    assert not any("not a leak" in line for line in d["evidence"]), d["evidence"]
    gate = _cli("gate", "--trace", path, "--metric", "pss", "--warmup", "2s", "--json")
    assert "floor growth 8.5 MiB/min" in gate["checks"][0]["message"], gate["checks"]


def test_gate_trace_reads_an_input_without_timestamps_at_the_given_interval() -> None:
    """`gate --trace docker-stats.jsonl -i 5s` ignored -i and judged the file at the reader's default spacing:
    a growth 250x the one `analyze --interval 5s` gave for the same file and option, and the limit in 24 s instead
    of 1h38m (an end-to-end review, 2026-12-06). With --trace, a given --interval is the input's, as analyze's."""
    path = str(ROOT / "tests" / "data" / "importers" / "docker-stats-cli.jsonl")
    analyze = _cli("analyze", path, "--interval", "5s", "--json")
    analyze = analyze["series"][0] if "series" in analyze else analyze
    gate = _cli("gate", "--trace", path, "-i", "5s", "--json")["diagnosis"]
    assert gate["duration_s"] == analyze["duration_s"] == 400.0
    assert gate["growth_bytes_per_s"] == analyze["growth_bytes_per_s"]
    assert gate["time_to_limit_s"] == analyze["time_to_limit_s"]


def test_gate_trace_interval_reaches_its_baseline_and_its_diagnose_report(tmp_path: Path) -> None:
    """With -i read as the input's interval, the baseline trace and --diagnose's report still read the file at the
    reader's default spacing: the file as its own baseline read "4.8 MiB/min vs baseline 23.7 MiB/min" (a branch's
    leak 5x main's would pass), and the report beside it gave another diagnosis (a review, 2026-12-06)."""
    import shutil

    path = tmp_path / "ds.jsonl"
    shutil.copy(ROOT / "tests" / "data" / "importers" / "docker-stats-cli.jsonl", path)
    out = _cli("gate", "--trace", str(path), "-i", "5s", "--baseline", str(path), "--diagnose", "--json")
    growth = next(c for c in out["checks"] if c["name"] == "baseline-growth")
    assert growth["message"].startswith("floor growth 4.8 MiB/min vs baseline 4.8 MiB/min"), growth["message"]
    report = json.loads((tmp_path / "ds.report.json").read_text())["diagnosis"]
    assert report["growth_bytes_per_s"] == out["diagnosis"]["growth_bytes_per_s"]
    assert report["duration_s"] == out["diagnosis"]["duration_s"] == 400.0


def test_a_short_series_still_warns_of_a_near_limit() -> None:
    """`gate --trace python_leaky_list.jsonl --metric pss --limit 512MB --max-time-to-limit 24h` PASSED: PSS is a
    detail series (every 5 s, 12 samples in 56 s), below the 20 a trend test needs, and a reading that short had no
    time to the limit, though its samples climbed 3.9 MiB/s at 227 MiB, 73 s from the limit. As on a longer trace,
    an undecided reading whose growth reaches the limit within a day gives the time; analyze prints the same."""
    path = str(ROOT / "sample_traces" / "python_leaky_list.jsonl")
    gate = _cli("gate", "--trace", path, "--metric", "pss", "--limit", "512MB", "--max-time-to-limit", "24h", "--json")
    assert not gate["passed"] and "time-to-limit" in gate["failures"], gate["failures"]
    analyze = _cli("analyze", path, "--metric", "pss", "--limit", "512MB", "--json")
    assert analyze["verdict"] == gate["diagnosis"]["verdict"] == "inconclusive"
    assert 60 < analyze["time_to_limit_s"] == gate["diagnosis"]["time_to_limit_s"] < 90
    # The shape of samples whose band rises is a rise: "stable" stood beside a 3.9 MiB/s growth.
    assert analyze["pattern"] == gate["diagnosis"]["pattern"] == "linear"


def test_a_short_series_of_noise_gets_no_time_to_the_limit() -> None:
    """The short reading's time to the limit is for samples whose band shows a rise: 12 samples of flat noise
    (50 MB +- 1 MB, 5 s apart) have a band from -0.8 to 1.6 MiB/min, whose fast end reaches a 100 MB limit within a
    day, and they failed `--max-time-to-limit 24h` with "limit reached in 1h33m" (a review, 2026-12-06)."""
    import numpy as np

    from memdoctor.analysis import diagnose

    t = np.arange(12) * 5.0
    noise = np.random.default_rng(3).uniform(-1e6, 1e6, size=12)
    d = diagnose(t, 50e6 + noise, limit_bytes=100 * 10**6)
    assert d.verdict == "inconclusive" and d.growth_low_bytes_per_s is not None and d.growth_low_bytes_per_s < 0
    assert d.time_to_limit_s is None, d.evidence
    assert d.pattern == "stable"
