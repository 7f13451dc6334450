"""Caps: the incident numbers, recomputed with their arithmetic shown (analysis/caps.py, `memdoctor caps`)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from memdoctor.analysis import caps

from .conftest import ROOT, assert_one_line_error, memdoctor

MB = 1024 * 1024


def test_concurrency_of_the_incident_is_five() -> None:
    cap = caps.concurrency(512 * MB, 50 * MB, 85 * MB)
    assert cap.value == 5
    assert cap.explain["formula"] == "floor((limit - baseline) * (1 - margin) / per_job)"
    assert cap.explain["inputs"] == {"limit_bytes": 512 * MB, "baseline_bytes": 50 * MB,
                                     "per_job_bytes": 85 * MB, "margin": caps.DEFAULT_MARGIN}
    assert cap.explain["exact"] == pytest.approx(462 * 0.95 / 85, abs=1e-3)
    # The margin matters: 20% leaves room for 4 jobs only; 50 jobs (the incident's old setting) never fit.
    assert caps.concurrency(512 * MB, 50 * MB, 85 * MB, margin=0.2).value == 4
    assert caps.concurrency(512 * MB, 50 * MB, 85 * MB).value < 50


def test_concurrency_never_below_one_and_says_why() -> None:
    cap = caps.concurrency(512 * MB, 50 * MB, 600 * MB)
    assert cap.value == 1 and "does not fit" in cap.explain["note"]
    with pytest.raises(ValueError):
        caps.concurrency(512 * MB, 600 * MB, 85 * MB)


def test_max_old_space_size_for_a_512mb_box() -> None:
    cap = caps.max_old_space_size_mb(512 * MB)
    assert cap.value == 450
    assert cap.explain["flag"] == "node --max-old-space-size=450"
    measured = caps.max_old_space_size_mb(512 * MB, non_heap_bytes=80 * MB)
    assert measured.value == 432 and measured.explain["inputs"]["non_heap_bytes"] == 80 * MB


def test_map_cap_from_bytes_per_entry() -> None:
    # The record array of the incidents: 7500 records of ~16 KB in a quarter of a 512/50 MB headroom.
    budget = caps.collection_budget(512 * MB, 50 * MB, 0.25)
    assert budget.value == int(462 * MB * 0.25)
    cap = caps.max_entries(budget.value, 16 * 1024)
    assert cap.value == math.floor(462 * MB * 0.25 / (16 * 1024)) == 7392
    assert caps.python_bounds(cap.value)["deque"] == "collections.deque(maxlen=7392)"
    # A dead-letter queue of 2 MB messages in a 100 MB budget: 50, the number the incident guessed.
    assert caps.max_entries(100 * MB, 2 * MB).value == 50


def test_ttl_from_littles_law() -> None:
    # SSE clients: 0.2 new per second, 100 KB each, 115.5 MB budget.
    cap = caps.ttl(int(115.5 * MB), 0.2, 100 * 1024)
    assert cap.value == pytest.approx(115.5 * MB / (0.2 * 100 * 1024), rel=1e-6)  # 5913.6 s
    # Little's law back: rate x TTL x size is the budget.
    assert 0.2 * cap.value * 100 * 1024 == pytest.approx(115.5 * MB, rel=1e-6)
    # Ten minutes, the incident's max age, is what a 12 MB budget allows at that rate.
    assert caps.ttl(12 * MB, 0.2, 100 * 1024).value == pytest.approx(614.4)


def test_step_heights_are_per_job_peaks() -> None:
    rng = np.random.default_rng(1)
    t = np.arange(400) * 0.5
    mem = np.full(400, 50.0 * MB) + rng.normal(0, 0.3 * MB, 400)
    for start, height in ((40, 60), (140, 85), (260, 70)):
        mem[start:start + 50] += height * MB
    cap = caps.step_heights(t, mem)
    assert cap.value == pytest.approx(85 * MB, rel=0.03)
    assert cap.explain["steps"] == 3
    assert cap.explain["baseline_bytes"] == pytest.approx(50 * MB, rel=0.02)


def test_growth_outside_the_heap() -> None:
    t = np.arange(100.0)
    rss = 100 * MB + t * 1 * MB
    heap = np.full(100, 30.0 * MB)
    fds = 10 + t
    out = caps.growth_outside_heap(t, rss, heap, fds)
    assert out["outside_heap"] is True and "heap cap will not" in out["advice"]
    assert out["fds_growing"] is True and out["fds_last"] == 109
    inside = caps.growth_outside_heap(t, rss, heap + t * 1 * MB)
    assert inside["outside_heap"] is False


def test_caps_command_json_contract() -> None:
    proc = memdoctor("caps", "--limit", "512MB", "--baseline", "50MB", "--per-job", "85MB", "--json", check_code=0)
    out = json.loads(proc.stdout)
    assert out["concurrency"] == 5
    assert out["explain"]["concurrency"]["formula"].startswith("floor((limit - baseline)")
    proc = memdoctor("caps", "--limit", "512MB", "--baseline", "50MB", "--node", "--bytes-per-entry", "16KB",
                     "--arrival-rate", "120/min", "--json", check_code=0)
    out = json.loads(proc.stdout)
    assert out["max_old_space_size_mb"] == 450 and out["max_entries"] == 7392
    assert out["ttl_s"] == pytest.approx(462 * MB * 0.25 / (2 * 16 * 1024), rel=1e-6)
    assert set(out["explain"]) == {"max_old_space_size_mb", "max_entries", "ttl_s"}
    text = memdoctor("caps", "--limit", "512MB", "--baseline", "50MB", "--per-job", "85MB", check_code=0).stdout
    assert "concurrency: 5" in text and "floor((limit - baseline)" in text


def test_caps_from_a_job_trace(tmp_path) -> None:
    """Two steps, 85 and 40 MB, are 2.1 and 1 jobs of 40 MB by chance as much as by design: no evidence of
    one job's size (caps.MIN_WHOLE_STEPS), so the largest step is the per-job peak."""
    lines = [json.dumps({"memdoctor_trace": 1, "limit_bytes": 512 * MB, "interval_s": 0.5})]
    for i in range(300):
        rss = 50 * MB + (85 * MB if 100 <= i < 160 else 0) + (40 * MB if 200 <= i < 230 else 0)
        lines.append(json.dumps({"t": i * 0.5, "rss": rss}))
    path = tmp_path / "jobs.jsonl"
    path.write_text("\n".join(lines) + "\n")
    out = json.loads(memdoctor("caps", "--trace", str(path), "--json", check_code=0).stdout)
    assert out["concurrency"] == 5 and out["baseline_bytes"] == 50 * MB
    assert out["explain"]["concurrency"]["inputs"]["per_job_bytes"] == 85 * MB


def test_a_per_job_given_is_never_replaced_by_the_traces_one_job_step() -> None:
    pool = str(ROOT / "sample_traces" / "incidents" / "worker_pool.jsonl")
    from_trace = json.loads(memdoctor("caps", "--trace", pool, "--json", check_code=0).stdout)
    assert from_trace["explain"]["concurrency"]["inputs"]["per_job_bytes"] < 45 * MB  # one job's step, ~40 MiB
    given = json.loads(memdoctor("caps", "--trace", pool, "--per-job", "85MB", "--json", check_code=0).stdout)
    assert given["explain"]["concurrency"]["inputs"]["per_job_bytes"] == 85 * MB
    assert "if_the_largest_step_is_one_job" not in given["explain"]["concurrency"]


@pytest.mark.parametrize("name", ["python_healthy_worker.jsonl", "python_forking_tree.jsonl"])
def test_a_trace_without_job_steps_still_gives_its_verdict_and_says_what_the_concurrency_needs(name: str) -> None:
    """A server's recording has no job steps (these two hold level). caps --trace exited 2, "nothing to
    compute", without the verdict it had judged: it prints it as analyze does, the caps the trace allows,
    and that the concurrency needs job steps and how to record them; exit 0."""
    trace = str(ROOT / "sample_traces" / name)
    analyze = json.loads(memdoctor("analyze", trace, "--json", check_code=0).stdout)
    out = json.loads(memdoctor("caps", "--trace", trace, "--json", check_code=0).stdout)
    assert {k: out["diagnosis"][k] for k in ("verdict", "pattern", "growth_bytes_per_s", "time_to_limit_s")} == \
        {k: analyze[k] for k in ("verdict", "pattern", "growth_bytes_per_s", "time_to_limit_s")}
    assert out["concurrency"] is None and out["limit_bytes"] == analyze["limit_bytes"]
    need = out["explain"]["concurrency"]
    assert need["missing"] == "per_job_bytes" and "needs job steps" in need["note"]
    assert "memdoctor run" in need["note"] and "--per-job" in need["note"]
    assert need["inputs"]["baseline_bytes"] == out["baseline_bytes"] > 0

    from memdoctor.report.report_text import verdict_text

    text = memdoctor("caps", "--trace", trace, check_code=0).stdout
    assert text.splitlines()[0] == f"trace: {verdict_text(analyze)}"
    assert "concurrency: not computed: needs job steps" in " ".join(text.split())
    # What the trace does allow is still computed beside it; a --per-job given needs no steps.
    entries = json.loads(memdoctor("caps", "--trace", trace, "--bytes-per-entry", "24KB", "--json",
                                   check_code=0).stdout)
    assert entries["max_entries"] > 0 and entries["concurrency"] is None
    given = json.loads(memdoctor("caps", "--trace", trace, "--per-job", "85MB", "--json", check_code=0).stdout)
    assert given["concurrency"] >= 1 and "missing" not in given["explain"]["concurrency"]


def test_caps_judges_the_trace_at_the_limit_given_as_analyze_does() -> None:
    """--limit is the diagnosis' limit too: the healthy Node server's memory is above 40 MB, which analyze
    --limit 40MB judges as reached (time to the limit 0); caps --limit 40MB judged it without a limit."""
    trace = str(ROOT / "sample_traces" / "node_healthy_server.jsonl")
    analyze = json.loads(memdoctor("analyze", trace, "--limit", "40MB", "--json", check_code=0).stdout)
    out = json.loads(memdoctor("caps", "--trace", trace, "--limit", "40MB", "--per-job", "1MB", "--baseline", "1MB",
                               "--json", check_code=0).stdout)
    assert analyze["time_to_limit_s"] == 0
    for key in ("verdict", "pattern", "growth_bytes_per_s", "time_to_limit_s"):
        assert out["diagnosis"][key] == analyze[key], key


@pytest.mark.parametrize("args", [("--limit", "512MB"), ("--per-job", "85MB"), ("--limit", "abc", "--node"),
                                  ("--limit", "512MB", "--baseline", "600MB", "--per-job", "85MB"),
                                  ("--limit", "512MB", "--arrival-rate", "2/s")])
def test_caps_bad_input_is_one_line_exit_2(args) -> None:
    assert_one_line_error(memdoctor("caps", *args, check_code=2))


def test_steps_of_whole_jobs_give_the_one_job_concurrency():
    """Issue 21 item 3: the worker-pool incident runs 40 MB jobs in waves of 1-3; the steps are 1, 2 and 3
    jobs. A concurrency counts jobs, so the cap divides by one job's step: the incident's own arithmetic,
    11 (it divided by the largest step, 3 jobs started together, and proposed 3). The largest step as one
    job stays in the explanation, the cautious figure for jobs of different sizes."""
    import numpy as np

    from memdoctor.analysis import caps

    mb = 1024 * 1024
    job = 40 * mb
    mem = [14 * mb]
    for jobs in [1, 2, 3] * 8:
        mem += [14 * mb + jobs * job] * 3 + [14 * mb] * 3
    t = np.arange(len(mem), dtype=float)
    steps = caps.step_heights(t, np.asarray(mem, dtype=float))
    assert steps.value == 3 * job and steps.explain["job_quantum_bytes"] == job
    assert steps.explain["jobs_per_step"] == [1, 2, 3]
    cap = caps.concurrency(512 * mb, steps.explain["baseline_bytes"], steps.value,
                           job_quantum_bytes=steps.explain["job_quantum_bytes"])
    assert cap.value == int((512 - 14) * 0.95 / 40)  # 11
    assert cap.explain["inputs"]["per_job_bytes"] == job
    assert cap.explain["if_the_largest_step_is_one_job"]["concurrency"] == 3
    # Jobs of different sizes (10 and 35 MB): not whole multiples of one job, so only the safe cap.
    mem = [14 * mb]
    for size in [10, 35] * 8:
        mem += [14 * mb + size * mb] * 3 + [14 * mb] * 3
    mixed = caps.step_heights(t[:len(mem)] if len(mem) <= len(t) else np.arange(len(mem), dtype=float),
                              np.asarray(mem, dtype=float))
    assert "job_quantum_bytes" not in mixed.explain


def test_most_steps_whole_jobs_name_one_job_and_the_incidents_concurrency():
    """The Node worker-pool incident under `doctor` (2026-12-04): rises of 24.2 (start-up), 85.0 (two jobs),
    41.3, 43.2, 42.0, 42.0 MB (one job each) and 51.1, 54.9 MB (a job's start merged with other memory). Five of
    eight are whole multiples of 42.0 MB, one of them two jobs: that is one job, and the concurrency the
    incident's own arithmetic gives, floor((512 MiB - 45.3 MB) x 0.95 / 40 MiB) = 11, is the cap, the
    cautious 5 (the largest rise as one job) beside it. Before, every step had to be a multiple of the
    smallest, 24.2 MB."""
    import numpy as np

    from memdoctor.analysis import caps

    heights = [24240128, 85000192, 41304064, 43237376, 41996288, 51134464, 41967616, 54857728]
    baseline = 45256704
    mem = [float(baseline)]
    for h in heights:
        mem += [baseline + h] * 3 + [float(baseline)] * 3
    steps = caps.step_heights(np.arange(len(mem), dtype=float), np.asarray(mem))
    assert steps.explain["heights_bytes"] == heights
    assert abs(steps.explain["job_quantum_bytes"] - 40 * 2**20) < 0.01 * 40 * 2**20
    assert steps.explain["jobs_per_step"] == [1, 2] and steps.explain["whole_job_steps"] == "5 of 8"
    cap = caps.concurrency(512 * 2**20, baseline, steps.value, job_quantum_bytes=steps.explain["job_quantum_bytes"])
    assert cap.value == 11
    assert cap.explain["if_the_largest_step_is_one_job"]["concurrency"] == 5
    # Half the steps whole is not most of them: 10 MB and 35 MB jobs, eight of each, name no job.
    mixed = [10 * 2**20, 35 * 2**20] * 8
    mem = [float(baseline)]
    for h in mixed:
        mem += [baseline + h] * 3 + [float(baseline)] * 3
    assert "job_quantum_bytes" not in caps.step_heights(np.arange(len(mem), dtype=float), np.asarray(mem)).explain


def test_a_gc_sawtooth_gets_no_concurrency_but_waves_of_jobs_do():
    """Every GC ramp is a rise: doctor gave the bundled healthy Node server (ramps of ~28 MB) "concurrency 11".
    A concurrency is added only for steps the diagnosis saw, or rises that are whole multiples of one job's."""
    import numpy as np

    from memdoctor.report.report_data import add_concurrency

    mb = 2**20
    ramps = []
    for _ in range(20):
        ramps += [*np.linspace(46 * mb, 74 * mb, 12), 46 * mb]
    gc = {"limit_bytes": 512 * mb, "diagnosis": {"pattern": "sawtooth", "verdict": "no-leak"}}
    add_concurrency(gc, np.arange(len(ramps), dtype=float), np.asarray(ramps), diffed=False)
    assert "concurrency" not in gc.get("caps", {})
    waves = [45 * mb]
    for jobs in [1, 2, 1, 1, 2, 1, 1, 1] * 3:
        waves += [45 * mb + jobs * 40 * mb] * 3 + [45 * mb] * 3
    pool = {"limit_bytes": 512 * mb, "diagnosis": {"pattern": "sawtooth", "verdict": "no-leak"}}
    add_concurrency(pool, np.arange(len(waves), dtype=float), np.asarray(waves, dtype=float), diffed=False)
    assert pool["caps"]["concurrency"] == 11
    assert pool["caps"]["explain"]["concurrency"]["if_the_largest_step_is_one_job"]["concurrency"] == 5


def _caps_json(*args: str) -> dict:
    return json.loads(memdoctor("caps", *args, "--json", check_code=0).stdout)


def test_a_leaks_rises_are_no_jobs_to_count() -> None:
    """caps --trace took "concurrency 6" from the bundled Node Map leak's climb (report gave none): memory a
    leak keeps is no job that ends. It says so, with the trace's verdict."""
    out = _caps_json("--trace", str(ROOT / "sample_traces" / "node_map_leak.jsonl"), "--limit", "512MB")
    assert out["diagnosis"]["verdict"] == "leak" and out["concurrency"] is None
    why = out["explain"]["concurrency"]
    assert why["why"] == "leak" and "leaks" in why["note"] and "if_the_rises_are_jobs" not in why


@pytest.mark.parametrize("trace", ["sample_traces/node_healthy_server.jsonl",
                                   "tests/data/dev_traces/node_healthy_requests.csv"])
def test_gc_ramps_and_allocator_pages_are_no_jobs(trace: str) -> None:
    """A healthy Node server's GC ramps (caps --trace: 27) and its RSS rising in V8's pages of 1.25, 2.3 and
    3.6 MiB ("1, 2, 3 jobs": 340) are no jobs: none of them holds its memory as a job does while it runs.
    What they would give were they jobs is printed beside the reason."""
    out = _caps_json("--trace", str(ROOT / trace), "--limit", "512MB")
    assert out["concurrency"] is None
    why = out["explain"]["concurrency"]
    assert why["why"] == "not_jobs" and why["if_the_rises_are_jobs"] >= 1
    assert why["per_job"]["held_steps"] < caps.MIN_HELD_SHARE * why["per_job"]["steps"]
    text = " ".join(memdoctor("caps", "--trace", str(ROOT / trace), "--limit", "512MB", check_code=0).stdout.split())
    assert "concurrency: not computed" in text and f"the cap would be {why['if_the_rises_are_jobs']}" in text


def test_a_trace_without_a_limit_gives_its_verdict_and_what_the_caps_need() -> None:
    """caps --trace on a trace that records no limit exited 2 ("give --limit") without the verdict it had
    judged: it prints the verdict as analyze does, and that every cap needs a limit; exit 0."""
    trace = str(ROOT / "tests" / "data" / "dev_traces" / "node_map_leak.csv")
    analyze = json.loads(memdoctor("analyze", trace, "--json", check_code=0).stdout)
    assert analyze["limit_bytes"] is None
    proc = memdoctor("caps", "--trace", trace, "--per-job", "80MB", check_code=0)
    from memdoctor.report.report_text import verdict_text

    lines = proc.stdout.splitlines()
    assert lines[0] == f"trace: {verdict_text(analyze)}"
    assert "caps: not computed" in lines[1] and "--limit" in " ".join(lines[1:])
    out = _caps_json("--trace", trace)
    assert out["limit_bytes"] is None and out["concurrency"] is None
    assert out["explain"]["concurrency"]["missing"] == "limit_bytes"
    assert out["diagnosis"]["verdict"] == analyze["verdict"]


def test_rises_under_a_page_are_no_jobs() -> None:
    """RSS moves in pages: a fuzzed trace's rises of 2 and 4 bytes gave "concurrency 255013678"."""
    mem = np.array([10, 14, 14, 14, 12, 14, 14, 14, 10] * 6, dtype=float)
    got = caps.concurrency_from_trace(np.arange(len(mem), dtype=float), mem, 512 * MB, verdict="no-leak",
                                      pattern="step")
    assert got.value is None and got.explain["why"] == "no_steps"


@pytest.mark.parametrize("name", ["rw_py_ttlcache", "rw_node_lru_long_fill"])
def test_a_cache_fill_is_no_job(name: str) -> None:
    """A cache that fills and stays full holds its one rise (a TTL cache: "concurrency 48"), and a fill under
    a V8 sawtooth sampled at 200 ms holds about half its GC ramps' tops by chance (12 of 23: "concurrency
    17"): neither is jobs. Real recordings of the labelled benchmark (healthy services, no job runner)."""
    out = _caps_json("--trace", str(ROOT / "benchmarks" / "classifier" / "recordings" / f"{name}.jsonl"),
                     "--limit", "512MB")
    assert out["concurrency"] is None and out["explain"]["concurrency"]["why"] == "not_jobs"


def _jobs_trace(path, levels: list[float], interval_s: float = 0.1, limit: int = 512 * MB) -> str:
    lines = [json.dumps({"memdoctor_trace": 1, "limit_bytes": limit, "interval_s": interval_s})]
    lines += [json.dumps({"t": round(i * interval_s, 3), "rss": int(level)}) for i, level in enumerate(levels)]
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def test_a_baseline_above_the_limit_is_said_not_a_crash(tmp_path) -> None:
    """From a review: a trace whose idle memory is above --limit made report, doctor and caps --trace end in
    "internal error: ValueError: baseline ... must be below the limit" (the report was not written)."""
    levels = [14 * MB] * 5
    for _ in range(6):
        levels += [54 * MB] * 15 + [14 * MB] * 8
    trace = _jobs_trace(tmp_path / "pool.jsonl", levels)
    report = json.loads(memdoctor("report", trace, "--limit", "12MB", "--format", "json", check_code=0).stdout)
    assert "concurrency" not in report["caps"]
    assert any("at or above the limit" in note for note in report["notes"])
    out = _caps_json("--trace", trace, "--limit", "12MB")
    assert out["concurrency"] is None and out["explain"]["concurrency"]["why"] == "no_headroom"
    assert_one_line_error(memdoctor("caps", "--trace", trace, "--limit", "12MB", "--per-job", "40MB"))


def test_a_cache_filling_in_steps_is_held_but_never_freed(tmp_path) -> None:
    """From a review: an OrderedDict of at most 5 entries of 20 MB, one added every 2 s, then full: every
    rise was counted held (the next rise ended its hold), "concurrency 23". A job's memory comes back."""
    levels = [14 * MB] * 5
    for k in range(1, 6):
        levels += [14 * MB + k * 20 * MB] * 20
    levels += [114 * MB] * 60
    out = _caps_json("--trace", _jobs_trace(tmp_path / "fill.jsonl", levels), "--limit", "512MB")
    assert out["concurrency"] is None and out["explain"]["concurrency"]["why"] in ("not_jobs", "no_steps")


def test_a_job_still_running_when_the_trace_ends_does_not_count_against_jobs(tmp_path) -> None:
    """From a review: the last job, still holding its memory when --duration stopped the recording, counted
    as not held, and 3 of 6 held read "not jobs". A rise still up at the end is left out of the count."""
    levels = [14 * MB] * 5
    for _ in range(2):
        levels += [54 * MB] * 15 + [14 * MB] * 8
    levels += [54 * MB] * 15  # the third job, running at the end
    out = _caps_json("--trace", _jobs_trace(tmp_path / "end.jsonl", levels), "--limit", "512MB")
    assert out["concurrency"] is not None
    per_job = out["explain"]["concurrency"]["per_job"]
    assert (per_job["held_steps"], per_job["decided_steps"], per_job["steps"]) == (2, 2, 3)


def test_what_the_rises_would_give_names_its_per_job_size() -> None:
    """From a review: "were each rise one job (largest 120.0 MiB), the cap would be 11" computed 11 from one
    job's 40 MiB step, not from 120 MiB. The size used is named, in the text and the JSON."""
    trace = str(ROOT / "sample_traces" / "node_healthy_server.jsonl")
    out = _caps_json("--trace", trace, "--limit", "512MB")
    info = out["explain"]["concurrency"]
    from memdoctor.units import format_bytes

    text = " ".join(memdoctor("caps", "--trace", trace, "--limit", "512MB", check_code=0).stdout.split())
    assert (f"({format_bytes(info['if_the_rises_are_jobs_per_job_bytes'])} per job), the cap would be "
            f"{info['if_the_rises_are_jobs']}") in text


@pytest.mark.parametrize("samples", [1, 2])
def test_a_trace_too_short_for_a_step_still_gives_its_verdict(tmp_path, samples: int) -> None:
    """From an end-to-end review: `caps --trace` on a 2-sample trace ended "a trace for caps needs at least 3
    samples", exit 2, where analyze reads the same file "inconclusive". It is valid input: the verdict is printed
    and the concurrency is not computed, saying why."""
    trace = _jobs_trace(tmp_path / "short.jsonl", [14 * MB, 15 * MB][:samples])
    verdict = json.loads(memdoctor("analyze", trace, "--json", check_code=0).stdout)["verdict"]
    out = _caps_json("--trace", trace)
    assert out["diagnosis"]["verdict"] == verdict == "inconclusive"
    assert out["concurrency"] is None and out["explain"]["concurrency"]["why"] == "too_few_samples"
    text = memdoctor("caps", "--trace", trace, check_code=0).stdout
    assert text.startswith("trace: inconclusive") and f"has {samples} samples" in text
    # Without a limit, the limit is what it names first (a review: "needs job steps" alone on such a trace).
    no_limit = _jobs_trace(tmp_path / "short_no_limit.jsonl", [14 * MB, 15 * MB][:samples], limit=0)
    out = _caps_json("--trace", no_limit)
    assert out["explain"]["concurrency"]["why"] == "no_limit" and "--limit" in out["explain"]["concurrency"]["note"]


def test_an_emitters_listeners_get_their_fix_not_a_cache_bound() -> None:
    """An express app adding a listener per request (V8's `_events > config (Array of listeners)`): the report
    recommended "new LRUCache({ max: 4295443 })", "if (map.size >= ...) map.delete(...)" and a Little's-law max age
    of 11h59m (a helper's review, 2026-12-08). Listeners are removed, not evicted."""
    from memdoctor.report.report_text import caps_text

    found = caps.container_caps(512 * MB, 100 * MB, 1400, arrival_rate_per_s=100.0, runtime="node", listeners=True)
    assert set(found["node"]) == {"listeners"} and "ttl_s" not in found, found
    lines = caps_text(found)
    assert any("emitter.off(event, handler)" in line for line in lines), lines
    assert not any("LRUCache" in line or "max age" in line for line in lines), lines
    # A Map is still bounded as before.
    plain = caps.container_caps(512 * MB, 100 * MB, 1400, arrival_rate_per_s=100.0, runtime="node")
    assert "lru-cache" in plain["node"] and "ttl_s" in plain
