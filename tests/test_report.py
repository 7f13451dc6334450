"""`memdoctor report`: the four formats on the bundled traces, real heap snapshots, plots, a real browser."""

from __future__ import annotations

import base64
import io
import json
import math
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from .conftest import ROOT, assert_one_line_error, memdoctor, node_example, wait_for
from .system_tools import missing, require

SAMPLES = ROOT / "sample_traces"
MB = 1024 * 1024
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SECRET_KEY = "alice.secret@example.com"
SECRET_VALUE = "TOKEN-s3cr3t-9f8e7d"

LEAKY_SESSIONS = textwrap.dedent(f"""
    import time
    _sessions = {{}}  # never pruned: the leak
    TOKEN = "{SECRET_VALUE}"
    i = 0
    while True:
        _sessions["{SECRET_KEY}" + str(i)] = {{"token": TOKEN + str(i), "buf": bytearray(200 * 1024)}}
        i += 1
        time.sleep(0.02)
""")


def _decode_png(png: bytes) -> tuple[int, int]:
    """Height and width of a PNG, decoded for real (matplotlib's reader)."""
    import matplotlib.image

    assert png.startswith(PNG_SIGNATURE)
    pixels = matplotlib.image.imread(io.BytesIO(png), format="png")
    assert pixels.ndim == 3 and pixels.std() > 0.01  # not a blank image
    return pixels.shape[0], pixels.shape[1]


@pytest.mark.parametrize("name", ["python_leaky_list", "node_map_leak"])
def test_four_formats_on_the_bundled_samples(tmp_path: Path, name: str) -> None:
    trace = str(SAMPLES / f"{name}.jsonl")
    analyzed = json.loads(memdoctor("analyze", trace, "--limit", "512MB", "--json", check_code=0).stdout)
    out = json.loads(memdoctor("report", trace, "--limit", "512MB", "--format", "json", check_code=0).stdout)
    assert out["diagnosis"]["verdict"] == analyzed["verdict"] and out["limit_bytes"] == 512 * MB
    assert out["diagnosis"]["time_to_limit_s"] == analyzed["time_to_limit_s"]
    if analyzed["verdict"] == "leak":
        assert any("no heap snapshots" in n for n in out["notes"])
    if name.startswith("node"):
        # Node's flag for a 512 MB box, with its arithmetic.
        assert out["caps"]["max_old_space_size_mb"] == 450
        assert out["caps"]["explain"]["max_old_space_size_mb"]["inputs"]["limit_bytes"] == 512 * MB

    md = memdoctor("report", trace, "--limit", "512MB", "--format", "markdown", check_code=0).stdout
    assert md.startswith("## memdoctor report") and f"**Verdict:** {analyzed['verdict']}" in md

    term = memdoctor("report", trace, "--limit", "512MB", extra_env={"COLUMNS": "160"}, check_code=0).stdout
    assert analyzed["verdict"] in term
    assert max(len(line) for line in term.splitlines()) <= 100

    html_path = tmp_path / "r.html"
    done = memdoctor("report", trace, "--limit", "512MB", "-o", str(html_path), check_code=0)
    assert f"report written to {html_path}" in done.stderr and not done.stdout  # says where (issue 21)
    html = html_path.read_text()
    assert oct(html_path.stat().st_mode & 0o777) == "0o600"
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    assert len(images) == 1  # the memory plot (no diff without snapshots)
    height, width = _decode_png(base64.b64decode(images[0]))
    # Zoomed on the data (400 px), with a forecast panel below (650 px in all) when the limit is far above
    # the data or the OOM lies beyond the trace (issue 21: one chart squashed the data into its bottom).
    assert width == 900 and height in (400, 650)
    assert "<script" not in html and "http://" not in html and "https://" not in html  # self-contained


@pytest.fixture(scope="module")
def leaking_run(tmp_path_factory) -> Path:
    """A real recording with three periodic heap snapshots of a dict of sessions keyed by emails."""
    root = tmp_path_factory.mktemp("report")
    script = root / "sessions.py"
    script.write_text(LEAKY_SESSIONS)
    trace = root / "t.jsonl"
    memdoctor("run", "--interval", "50ms", "--duration", "5s", "--heap-every", "1.5s", "--limit", "512MB",
              "-o", str(trace), "--json", "--", sys.executable, str(script), check_code=0, timeout=90)
    assert len(list(root.glob("t.jsonl.heap.*.snap"))) >= 2
    return trace


@pytest.mark.integration
def test_report_names_the_container_and_checks_its_caps(leaking_run: Path, tmp_path: Path) -> None:
    out = json.loads(memdoctor("report", str(leaking_run), "--format", "json", check_code=0).stdout)
    assert out["diagnosis"]["verdict"] == "leak" and len(out["heap"]["snapshots"]) in (2, 3)
    top = out["suspects"][0]
    assert top["rank"] == 1 and top["key"] == "__main__._sessions" and top["kind"] == "container"
    # Ranked by time to exhaust the headroom: soonest first, and consistent with the headroom and rate.
    times = [s["time_to_exhaust_s"] for s in out["suspects"] if s["time_to_exhaust_s"] is not None]
    assert times == sorted(times)
    assert top["time_to_exhaust_s"] == pytest.approx(out["headroom_bytes"] / top["growth_bytes_per_s"], rel=1e-6)
    # The cap's arithmetic: floor((limit - baseline) * 0.25 / bytes per entry), and Little's law for the TTL.
    caps = top["caps"]
    budget = int((out["limit_bytes"] - out["baseline_bytes"]) * 0.25)
    assert caps["max_entries"] == math.floor(budget / round(top["bytes_per_entry"]))  # whole bytes
    assert 200 * 1024 < top["bytes_per_entry"] < 260 * 1024 and 500 < caps["max_entries"] < 700
    assert caps["ttl_s"] == pytest.approx(budget / (top["entries_per_min"] / 60 * top["bytes_per_entry"]), rel=1e-3)
    assert caps["python"]["deque"] == f"collections.deque(maxlen={caps['max_entries']})"

    html_path, md_path = tmp_path / "r.html", tmp_path / "r.md"
    memdoctor("report", str(leaking_run), "-o", str(html_path), check_code=0)
    memdoctor("report", str(leaking_run), "-o", str(md_path), check_code=0)
    term = memdoctor("report", str(leaking_run), check_code=0).stdout
    json_text = memdoctor("report", str(leaking_run), "--format", "json", check_code=0).stdout
    html = html_path.read_text()
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    assert len(images) == 3  # memory over time, each suspect's growth across the snapshots, the diff bars
    for image in images:
        _decode_png(base64.b64decode(image))
    assert f"max entries {caps['max_entries']}" in term and "__main__._sessions" in md_path.read_text()
    assert max(len(line) for line in term.splitlines()) <= 100
    # Never a heap string value: neither the dict's keys (emails) nor the tokens it holds.
    for text in (html, md_path.read_text(), term, json_text):
        assert "alice" not in text and "s3cr3t" not in text


@pytest.mark.integration
def test_node_snapshots_name_the_map_with_caps_and_flag(spawn, tmp_path: Path) -> None:
    import psutil

    proc = spawn(node_example("map_leak.js", "100", "20"))
    target = psutil.Process(proc.pid)
    wait_for(lambda: target.memory_info().rss > 30 * MB, timeout=20, what="node started")
    snaps = []
    for i in range(2):
        path = tmp_path / f"n{i}.heapsnapshot"
        memdoctor("snapshot", str(proc.pid), "-o", str(path), "--json", check_code=0, timeout=90)
        snaps.append(str(path))
        rss = target.memory_info().rss
        if i == 0:
            wait_for(lambda rss=rss: target.memory_info().rss > rss + 10 * MB, timeout=20, what="the Map to grow")
    out = json.loads(memdoctor("report", *snaps, "--limit", "512MB", "--format", "json", check_code=0).stdout)
    top = out["suspects"][0]
    assert "ongoingDialogues" in top["key"] and top["kind"] == "container"
    assert 95 * 1024 < top["bytes_per_entry"] < 120 * 1024
    budget = int((512 * MB - out["baseline_bytes"]) * 0.25)
    assert top["caps"]["max_entries"] == math.floor(budget / round(top["bytes_per_entry"]))  # whole bytes
    # --max-old-space-size from the measured non-heap memory (RSS - heap_total in the snapshots' metadata).
    flag = out["caps"]["explain"]["max_old_space_size_mb"]
    non_heap = flag["inputs"]["non_heap_bytes"]
    assert out["caps"]["max_old_space_size_mb"] == (512 * MB - non_heap) // MB
    from memdoctor.report.report_markdown import render

    text = render(out)  # the Markdown renderer formats this same dict
    assert "ongoingDialogues" in text and "--max-old-space-size=" in text
    assert "dlg-" not in text and "dlg-" not in json.dumps(out)  # the Map's keys are values: never printed


def _chromium() -> str:
    if missing("chromium", "chromium") is not None and shutil.which("chromium-browser"):
        return shutil.which("chromium-browser")
    require("chromium", "chromium")
    return shutil.which("chromium")


@pytest.mark.integration
def test_html_report_renders_in_headless_chromium(leaking_run: Path, tmp_path: Path) -> None:
    chromium = _chromium()
    html_path = tmp_path / "report.html"
    memdoctor("report", str(leaking_run), "--format", "html", "-o", str(html_path), check_code=0)
    shot = tmp_path / "shot.png"
    profile = tmp_path / "profile"
    proc = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                           "--no-first-run", f"--user-data-dir={profile}", "--window-size=1100,1400",
                           f"--screenshot={shot}", html_path.as_uri()],
                          capture_output=True, text=True, timeout=120)
    assert shot.exists(), (proc.returncode, proc.stderr[-2000:])
    import matplotlib.image

    pixels = matplotlib.image.imread(str(shot))
    assert pixels.shape[0] >= 1000 and pixels.shape[1] >= 1000
    # Non-blank: many distinct colours (text, the red verdict box, plot lines), not a white page.
    flat = (pixels[..., :3] * 255).astype(int).reshape(-1, 3)
    distinct = len({tuple(p) for p in flat[:: max(1, len(flat) // 200_000)]})
    assert distinct > 50 and pixels[..., :3].std() > 0.05
    # What the browser made of the page: the verdict first, the top suspect named, every plot decoded
    # (an <img> whose data did not decode has naturalWidth 0; the script writes what it found).
    probe = tmp_path / "probe.html"
    probe.write_text(html_path.read_text() + "<script>document.body.setAttribute('data-images', "
                     "Array.from(document.images).map(i => i.naturalWidth > 0 ? i.alt : 'BROKEN').join('|'));"
                     "</script>")
    dom = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                          f"--user-data-dir={profile}", "--dump-dom", probe.as_uri()],
                         capture_output=True, text=True, timeout=120).stdout
    assert dom.index('class="verdict leak"') < dom.index("__main__._sessions"), dom[:2000]
    images = dom.split('data-images="', 1)[1].split('"', 1)[0].split("|")
    assert "BROKEN" not in images and len(images) >= 3, images
    assert any("each suspect" in alt for alt in images) and any("memory over time" in alt for alt in images)


def test_report_exit_codes(tmp_path: Path) -> None:
    healthy = str(SAMPLES / "python_healthy_worker.jsonl")
    assert memdoctor("report", healthy, "--format", "json", check_code=0).returncode == 0
    garbage = tmp_path / "garbage.jsonl"
    garbage.write_text("nothing here\n")
    assert_one_line_error(memdoctor("report", str(garbage), check_code=2))
    assert_one_line_error(memdoctor("report", str(tmp_path / "missing.jsonl"), check_code=2))
    assert_one_line_error(memdoctor("report", healthy, "--format", "pdf", check_code=2))
    assert_one_line_error(memdoctor("report", healthy, healthy, check_code=2))


# --------------------------------------------------------------------------- the incidents (examples/incidents)

INCIDENTS = {"dead_letter_queue": "__main__.DEAD_LETTERS", "sse_clients": "__main__.SseHub.clients",
             "subscriptions": "__main__.LISTENERS", "batch_writer": "__main__.BatchWriter.pending",
             "record_array": "__main__.RESOLVED"}
INCIDENT_DIR = ROOT / "examples" / "incidents"


def _check_incident(report: dict, container: str) -> None:
    assert report["diagnosis"]["verdict"] == "leak", report["diagnosis"]
    top = report["suspects"][0]
    assert top["key"] == container and top["kind"] == "container", [s["key"] for s in report["suspects"][:3]]
    # Each entry holds an 80 KiB buffer; the cap is floor((limit - baseline) * 0.25 / bytes per entry).
    assert 80 * 1024 <= top["bytes_per_entry"] < 100 * 1024
    caps = top["caps"]
    budget = int((report["limit_bytes"] - report["baseline_bytes"]) * 0.25)
    assert caps["max_entries"] == math.floor(budget / round(top["bytes_per_entry"]))  # whole bytes
    assert caps["explain"]["max_entries"]["budget"]["inputs"]["limit_bytes"] == 512 * MB == report["limit_bytes"]
    # Little's law: the TTL keeps arrival rate x TTL x entry size within the same budget.
    assert caps["ttl_s"] * top["entries_per_min"] / 60 * top["bytes_per_entry"] == pytest.approx(budget, rel=1e-3)


@pytest.mark.parametrize("kind", sorted(INCIDENTS))
def test_bundled_incident_traces(kind: str) -> None:
    from memdoctor.commands.report import _beside_trace, build

    trace = str(ROOT / "sample_traces" / "incidents" / f"{kind}.jsonl")
    snapshots = _beside_trace(trace)
    assert len(snapshots) == 3
    report, _plots = build(trace, snapshots, None)
    _check_incident(report, INCIDENTS[kind])


def _worker_pool_concurrency(trace: str) -> None:
    out = json.loads(memdoctor("caps", "--trace", trace, "--json", check_code=0).stdout)
    per_job = out["explain"]["concurrency"]["inputs"]["per_job_bytes"]
    steps = out["explain"]["concurrency"]["per_job"]
    # Jobs of 40 MiB in waves of 1-3: the median step is one job, and so is the cap's per-job peak (a
    # concurrency counts jobs: a step of 2 or 3 jobs started together is not one job's peak).
    assert 38 * MB < steps["median_step_bytes"] < 46 * MB
    assert abs(per_job - steps["median_step_bytes"]) <= 0.05 * steps["median_step_bytes"]
    assert out["limit_bytes"] == 512 * MB
    assert out["concurrency"] == math.floor((512 * MB - out["baseline_bytes"]) * 0.95 / per_job)


def test_bundled_worker_pool_trace_gives_a_concurrency() -> None:
    _worker_pool_concurrency(str(ROOT / "sample_traces" / "incidents" / "worker_pool.jsonl"))


@pytest.mark.integration
def test_incident_examples_run_live(tmp_path: Path) -> None:
    """Each incident example, run for real: the report names its container with a checked cap."""
    from .conftest import memdoctor_popen

    runs = {}
    for kind in [*sorted(INCIDENTS), "worker_pool"]:
        heap = [] if kind == "worker_pool" else ["--heap-every", "1.5s"]
        # The pool's waves of 1-3 jobs (0.6-1.2 s each) take ~6 s per round: 8 s holds more than one.
        duration = "8s" if kind == "worker_pool" else "5s"
        runs[kind] = memdoctor_popen("run", "--interval", "50ms", "--duration", duration, "--limit", "512MB", *heap,
                                     "-o", str(tmp_path / f"{kind}.jsonl"), "--json", "--", sys.executable,
                                     str(INCIDENT_DIR / "incidents.py"), kind)
    for kind, proc in runs.items():
        out, err = proc.communicate(timeout=90)
        assert proc.returncode == 0, (kind, err[-1000:])
    reports = {kind: memdoctor_popen("report", str(tmp_path / f"{kind}.jsonl"), "--format", "json")
               for kind in INCIDENTS}
    for kind, proc in reports.items():
        out, err = proc.communicate(timeout=90)
        assert proc.returncode == 0, (kind, err[-1000:])
        _check_incident(json.loads(out), INCIDENTS[kind])
    _worker_pool_concurrency(str(tmp_path / "worker_pool.jsonl"))


def test_a_trace_joined_with_another_processs_snapshots_is_said() -> None:
    """Issue 21: `report TRACE SNAPS...` joined a trace of one PID with snapshots of another without a word."""
    incidents = ROOT / "sample_traces" / "incidents"
    trace = str(incidents / "subscriptions.jsonl")  # PID 24131
    others = [str(incidents / f"dead_letter_queue.jsonl.heap.24124.00{i}.snap") for i in (1, 2)]
    out = json.loads(memdoctor("report", trace, *others, "--format", "json", check_code=0).stdout)
    assert any("the trace is of PID 24131, the snapshots of PID 24124" in note for note in out["notes"])
    own = [str(incidents / f"subscriptions.jsonl.heap.24131.00{i}.snap") for i in (1, 2)]
    out = json.loads(memdoctor("report", trace, *own, "--format", "json", check_code=0).stdout)
    assert not any("the trace is of PID" in note for note in out["notes"])


def test_report_and_caps_trace_take_one_baseline_for_a_containers_cap() -> None:
    """Issue 20: "the caps for a container come from one computation with its stated inputs, whichever command
    prints them". One trace, one container of 82,170 B entries: `report` divided the limit less the floor line's
    start (16.4 MiB: 1581 entries), `caps --trace` less the trace's 5th percentile after its start-up (19.6 MiB:
    1570), and report's own concurrency line took the latter (an end-to-end review, 2026-12-06)."""
    trace = str(ROOT / "sample_traces" / "incidents" / "dead_letter_queue.jsonl")
    report = json.loads(memdoctor("report", trace, "--format", "json", check_code=0).stdout)
    suspect = report["suspects"][0]
    per_entry = int(suspect["bytes_per_entry"])
    caps = json.loads(memdoctor("caps", "--trace", trace, "--bytes-per-entry", f"{per_entry}B", "--json",
                                check_code=0).stdout)
    assert report["baseline_bytes"] == caps["baseline_bytes"]
    assert suspect["caps"]["max_entries"] == caps["max_entries"]


def test_another_processs_snapshots_do_not_change_the_traces_verdict() -> None:
    """The note says the suspects' growth is "not measured on this trace", and yet that growth turned the trace's
    no-leak into "inconclusive ... the answer is not no-leak" (an end-to-end review, 2026-12-06): the verdict is the
    trace's own, as `analyze` gives it."""
    incidents = ROOT / "sample_traces" / "incidents"
    trace = str(incidents / "worker_pool.jsonl")  # PID 24125
    others = [str(incidents / f"dead_letter_queue.jsonl.heap.24124.00{i}.snap") for i in (1, 2, 3)]
    out = json.loads(memdoctor("report", trace, *others, "--format", "json", check_code=0).stdout)
    alone = json.loads(memdoctor("analyze", trace, "--json", check_code=0).stdout)
    assert any("the snapshots of PID 24124" in note for note in out["notes"])
    assert out["diagnosis"]["verdict"] == alone["verdict"] == "no-leak", out["diagnosis"]["evidence"]


def test_a_trace_on_standard_input_with_another_processs_snapshots_is_read_once() -> None:
    """`report - SNAPS...` with snapshots of another process than the trace's exited 2 with "- is empty": the
    trace was judged with the snapshots' growth, then judged again without it from standard input, already read."""
    incidents = ROOT / "sample_traces" / "incidents"
    trace = incidents / "worker_pool.jsonl"  # PID 24125
    others = [str(incidents / f"dead_letter_queue.jsonl.heap.24124.00{i}.snap") for i in (1, 2, 3)]
    out = json.loads(memdoctor("report", "-", *others, "--format", "json", input=trace.read_text(),
                               check_code=0).stdout)
    assert any("the snapshots of PID 24124" in note for note in out["notes"]), out["notes"]
    assert out["diagnosis"]["verdict"] == "no-leak", out["diagnosis"]["evidence"]


def test_a_memray_capture_alone_is_reported_as_the_trace_the_other_commands_read() -> None:
    """`report leak.memray.bin` exited 2 with "give at least two heap snapshots": a memray capture is told by its
    first bytes as a Python heap capture, while analyze, gate --trace, caps and compare read it as a trace (an
    end-to-end review, 2026-12-06). Alone, it is the trace, judged as analyze judges it."""
    path = str(ROOT / "tests" / "data" / "importers" / "leak.memray.bin")
    out = json.loads(memdoctor("report", path, "--format", "json", check_code=0).stdout)
    alone = json.loads(memdoctor("analyze", path, "--json", check_code=0).stdout)
    assert (out["diagnosis"]["verdict"], out["diagnosis"]["pattern"]) == (alone["verdict"], alone["pattern"])


def test_one_snapshot_beside_the_trace_is_said_not_refused(tmp_path: Path) -> None:
    """Issue 21: `report TRACE` refused the trace (exit 2) when one snapshot lay beside it."""
    import shutil

    incidents = ROOT / "sample_traces" / "incidents"
    shutil.copy(incidents / "subscriptions.jsonl", tmp_path)
    for suffix in ("", ".meta.json"):
        shutil.copy(incidents / f"subscriptions.jsonl.heap.24131.001.snap{suffix}", tmp_path)
    out = json.loads(memdoctor("report", str(tmp_path / "subscriptions.jsonl"), "--format", "json",
                               check_code=0).stdout)
    assert out["diagnosis"]["verdict"] and out["heap"] is None
    assert "one heap snapshot beside the trace (subscriptions.jsonl.heap.24131.001.snap)" in out["notes"][0]


def test_report_after_recording_never_raises(tmp_path: Path) -> None:
    """What `run --report FILE` / `watch --report FILE` call: a file in the format of its extension, or a message."""
    from memdoctor.commands.report import report_after_recording

    trace = str(ROOT / "sample_traces" / "incidents" / "record_array.jsonl")
    assert report_after_recording(trace, str(tmp_path / "r.md")) is None
    assert "`__main__.RESOLVED`" in (tmp_path / "r.md").read_text()
    assert oct((tmp_path / "r.md").stat().st_mode & 0o777) == "0o600"
    assert "-o TRACE" in report_after_recording(None, str(tmp_path / "x.md"))
    assert "no such file" in report_after_recording(str(tmp_path / "missing.jsonl"), str(tmp_path / "x.md"))
    assert not (tmp_path / "x.md").exists()


@pytest.mark.integration
def test_run_report_option_writes_the_report_after_recording(tmp_path):
    from .conftest import assert_one_line_error, memdoctor, python_example

    trace, report = tmp_path / "t.jsonl", tmp_path / "report.md"
    proc = memdoctor("run", "--interval", "0.1", "--duration", "4s", "-o", str(trace), "--report", str(report), "--",
                     *python_example("leaky_list.py", "--rate-kb", "200", "--every", "0.02"))
    assert proc.returncode == 0, proc.stderr[-1500:]
    assert f"memdoctor: report written to {report}" in proc.stderr  # says where (issue 21)
    text = report.read_text()
    assert "leak" in text.lower()
    assert_one_line_error(memdoctor("run", "--report", str(tmp_path / "r.md"), "--", "true"))
