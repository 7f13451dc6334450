"""`memdoctor fleet` against a real Prometheus server (backfilled with promtool), its faults,
and `watch --serve-metrics` (the Prometheus text format, scraped for real)."""

from __future__ import annotations

import base64
import json
import socket
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from .conftest import assert_one_line_error, memdoctor, wait_for
from .prometheus_util import fleet_dataset, free_port, require_prometheus, serve_fleet
from .test_recording import LEAK_400KB_EVERY_50MS

SECRET = "s3cr3t-t0ken-do-not-print"


@pytest.fixture(scope="module")
def prom(tmp_path_factory):
    require_prometheus()
    fleet = fleet_dataset()
    server = serve_fleet(fleet, tmp_path_factory.mktemp("prometheus"))
    yield server, fleet
    server.stop()


def fleet_cli(url: str, fleet, *args: str, check_code: int | None = 0, **kwargs):
    return memdoctor("fleet", "--prometheus", url, "--end", f"{fleet.end + 1:.3f}", "--since", "6h", *args,
                     check_code=check_code, **kwargs)


def _fleet_json(url: str, fleet, *args: str, **kwargs) -> dict:
    return json.loads(fleet_cli(url, fleet, "--json", *args, **kwargs).stdout)


# -- a proxy in front of the real server, to play the faults -------------------------------------
class Proxy:
    """An HTTP server on 127.0.0.1 forwarding to `upstream`, unless `behaviour` answers first."""

    def __init__(self, upstream: str, behaviour: Callable[[BaseHTTPRequestHandler, int], bool] | None = None):
        self.upstream = upstream
        self.behaviour = behaviour
        self.requests = 0
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def _handle(self) -> None:
                proxy.requests += 1
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                if proxy.behaviour is not None and proxy.behaviour(self, proxy.requests):
                    return
                request = urllib.request.Request(proxy.upstream + self.path, data=body, method=self.command,
                                                 headers={"Content-Type": self.headers.get("Content-Type") or
                                                          "application/x-www-form-urlencoded"})
                try:
                    with urllib.request.urlopen(request, timeout=30) as resp:
                        data, status = resp.read(), resp.status
                except urllib.error.HTTPError as exc:
                    data, status = exc.read(), exc.code
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = _handle
            do_POST = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Proxy:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


def reply(handler: BaseHTTPRequestHandler, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
    handler.send_response(status)
    for key, value in (headers or {}).items():
        handler.send_header(key, value)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


# -- the ranking --------------------------------------------------------------------------------
@pytest.mark.integration
def test_fleet_ranks_the_leaks_first_with_the_right_verdicts(prom):
    server, fleet = prom
    doc = _fleet_json(server.url, fleet)
    rows = doc["series"]
    by_name = {r["name"]: r for r in rows}
    assert set(by_name) == set(fleet.expected)
    for name, verdict in fleet.expected.items():
        assert by_name[name]["verdict"] == verdict, (name, by_name[name]["evidence"])
    verdicts = [r["verdict"] for r in rows]
    leaks = verdicts.count("leak")
    assert verdicts[:leaks] == ["leak"] * leaks and "leak" not in verdicts[leaks:]
    # Soonest at the limit first: the worker OOM-killed every ~1.5 h, then the cart leak, then the
    # slow sessions leak (768 MiB limit known only to kube-state-metrics).
    assert [r["name"] for r in rows[:3]] == ["jobs/worker-0/app", "shop/cart-7d9f-0/app", "auth/sessions-0/app"]
    ttl = [r["time_to_limit_s"] for r in rows[:3]]
    assert ttl == sorted(ttl)
    assert by_name["auth/sessions-0/app"]["limit_bytes"] == 768 * 1024**2
    assert by_name["shop/cart-7d9f-0/app"]["limit_bytes"] == 512 * 1024**2
    # The worker's cAdvisor series (one per restart) are joined, the restarts kept as evidence.
    worker = by_name["jobs/worker-0/app"]
    assert worker["restarts"] >= 2
    assert "id" not in worker["labels"] and worker["labels"]["pod"] == "worker-0"
    # The leak's growth: 25 MiB/h of climbing troughs (within 15 %).
    assert by_name["shop/cart-7d9f-0/app"]["growth_bytes_per_s"] == pytest.approx(25 * 1024**2 / 3600, rel=0.15)
    assert doc["series_analysed"] == 6 and doc["series_read"] > 6 and doc["summary"]["leak"] == 3


@pytest.mark.integration
def test_batches_and_concurrency_give_the_same_ranking(prom):
    server, fleet = prom
    whole = _fleet_json(server.url, fleet)
    with Proxy(server.url) as proxy:
        batched = _fleet_json(proxy.url, fleet, "--batch-size", "1", "--concurrency", "3")
    assert [(r["name"], r["verdict"]) for r in batched["series"]] == [(r["name"], r["verdict"]) for r in
                                                                      whole["series"]]
    assert batched["batches"] == 6 and whole["batches"] == 1
    # readiness + 3 limit queries + series listing + one range query per batch
    assert proxy.requests == 5 + 6


@pytest.mark.integration
def test_table_markdown_and_top(prom):
    server, fleet = prom
    table = fleet_cli(server.url, fleet).stdout
    assert table.index("jobs/worker-0/app") < table.index("shop/cart-7d9f-0/app") < table.index("auth/idle-0/app")
    assert "3 leak" in table
    md = fleet_cli(server.url, fleet, "--format", "markdown", "--top", "2").stdout
    rows = [ln for ln in md.splitlines() if ln.startswith("| ") and not ln.startswith("| #")]
    assert len(rows) == 2 and "`jobs/worker-0/app`" in rows[0] and "**leak**" in rows[0]
    assert "| # | series | verdict |" in md
    top = _fleet_json(server.url, fleet, "--top", "1")
    assert len(top["series"]) == 1 and top["series_analysed"] == 6


@pytest.mark.integration
def test_custom_query_and_limit_query(prom):
    server, fleet = prom
    doc = _fleet_json(server.url, fleet, "--query",
                      'max by (namespace, pod, container) (container_memory_working_set_bytes{namespace="shop"})',
                      "--limit-query", "max by (namespace, pod, container) (container_spec_memory_limit_bytes)")
    by_name = {r["name"]: r for r in doc["series"]}
    assert set(by_name) == {"shop/cart-7d9f-0/app", "shop/api-5c8b-0/app", "shop/cache-6f4d-0/app"}
    assert doc["series"][0]["name"] == "shop/cart-7d9f-0/app" and doc["series"][0]["verdict"] == "leak"
    assert by_name["shop/api-5c8b-0/app"]["limit_bytes"] == 1024**3


@pytest.mark.integration
def test_long_ranges_are_cut_into_chunks(prom):
    server, fleet = prom
    doc = _fleet_json(server.url, fleet, "--step", "2s", "--query",
                      'container_memory_working_set_bytes{namespace="shop"}')
    cart = next(r for r in doc["series"] if r["name"] == "shop/cart-7d9f-0/app")
    assert cart["samples"] > 10_500  # more points than memdoctor asks for in one query (10,000)...
    assert doc["requests"] == 5 + 2  # ...so the range came in two chunks, joined again


def test_selector_rewriting_batches_and_limit_join():
    from memdoctor.fleet.query import Limits, parse_selector, plan_batches, with_matcher

    assert parse_selector('m{a="1"}') == ("m", 'a="1"')
    assert parse_selector("sum(m)") is None and parse_selector("m[5m]") is None
    # The regex x\.1 (a literal dot), written inside a PromQL string: x\\.1
    assert with_matcher('m{a="1"}', "pod", ["x.1", 'q"uote']) == 'm{a="1",pod=~"q\\"uote|x\\\\.1"}'
    series = [{"pod": f"p{i // 2}", "container": f"c{i % 2}", "id": str(i)} for i in range(10)]
    label, batches = plan_batches(series, 4)
    assert label == "pod" and batches == [["p0", "p1"], ["p2", "p3"], ["p4"]]
    limits = Limits()
    limits.add({"namespace": "n", "pod": "p", "container": "a", "id": "x"}, 100.0)
    limits.add({"namespace": "n", "pod": "p", "container": "b", "node": "n1"}, 50.0)
    limits.add({"namespace": "n", "pod": "p", "container": "a"}, 999.0)  # a later source: ignored
    limits.add({"namespace": "n", "pod": "q", "container": "a"}, 0.0)  # 0: no limit
    assert limits.lookup({"namespace": "n", "pod": "p", "container": "a", "id": "other"}) == 100.0
    assert limits.lookup({"namespace": "n", "pod": "p"}) == 150.0  # a pod-level series: its containers add up
    assert limits.lookup({"namespace": "n", "pod": "q", "container": "a"}) is None


# -- faults: one line, exit 2, no secret --------------------------------------------------------
@pytest.mark.integration
def test_empty_result_and_bad_query(prom):
    server, fleet = prom
    proc = fleet_cli(server.url, fleet, "--query", "no_such_metric", check_code=None)
    assert_one_line_error(proc)
    assert "returned no series" in proc.stderr
    proc = fleet_cli(server.url, fleet, "--query", "sum(rate(", check_code=None)
    assert_one_line_error(proc)
    assert "bad_data" in proc.stderr and "HTTP 400" in proc.stderr


@pytest.mark.integration
def test_prometheus_down():
    port = free_port()
    proc = memdoctor("fleet", "--prometheus", f"http://127.0.0.1:{port}", "--retries", "1", check_code=None)
    assert_one_line_error(proc)
    assert "connection refused" in proc.stderr and "after 2 attempts" in proc.stderr


@pytest.mark.integration
def test_prometheus_slow_times_out():
    release = threading.Event()

    def stall(handler, _n):
        release.wait(10)
        return True

    with Proxy("http://127.0.0.1:9", stall) as proxy:
        proc = memdoctor("fleet", "--prometheus", proxy.url, "--timeout", "500ms", "--retries", "1",
                         check_code=None)
        release.set()
    assert_one_line_error(proc)
    # Both attempts gave up on their own 0.5 s timeout (the stalled proxy would answer after 10 s).
    assert "no answer within 0.5s" in proc.stderr and proxy.requests == 2


@pytest.mark.integration
def test_server_errors_are_retried_then_reported(prom):
    server, fleet = prom

    def flaky(handler, n):  # the first two requests fail, then the server recovers
        if n <= 2:
            reply(handler, 503, b"overloaded")
            return True
        return False

    with Proxy(server.url, flaky) as proxy:
        doc = _fleet_json(proxy.url, fleet, "--retries", "2")
    assert doc["series_analysed"] == 6

    def broken(handler, _n):
        reply(handler, 500, b'{"status":"error","errorType":"internal","error":"storage is on fire"}')
        return True

    with Proxy(server.url, broken) as proxy:
        proc = fleet_cli(proxy.url, fleet, "--retries", "1", check_code=None)
    assert_one_line_error(proc)
    assert "HTTP 500" in proc.stderr and "storage is on fire" in proc.stderr and "after 2 attempts" in proc.stderr


@pytest.mark.integration
def test_cut_off_answer(prom):
    server, fleet = prom

    def cut(handler, _n):
        if not handler.path.startswith("/api/v1/query_range"):
            return False
        reply(handler, 200, b'{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"pod":"a"},'
                            b'"values":[[1795460000,"1"],[17954')
        return True

    with Proxy(server.url, cut) as proxy:
        proc = fleet_cli(proxy.url, fleet, check_code=None)
    assert_one_line_error(proc)
    assert "cut off" in proc.stderr


def _auth_proxy(upstream: str, expected: str) -> Proxy:
    def guard(handler, _n):
        if handler.headers.get("Authorization") != expected:
            reply(handler, 401, b"Unauthorized")
            return True
        return False

    return Proxy(upstream, guard)


@pytest.mark.integration
def test_bearer_token_from_env_or_file_never_printed(prom, tmp_path):
    server, fleet = prom
    with _auth_proxy(server.url, f"Bearer {SECRET}") as proxy:
        proc = fleet_cli(proxy.url, fleet, check_code=None)
        assert_one_line_error(proc)
        assert "credentials are needed (HTTP 401)" in proc.stderr and "MEMDOCTOR_PROMETHEUS_TOKEN" in proc.stderr
        wrong = fleet_cli(proxy.url, fleet, "--json", check_code=None,
                          extra_env={"MEMDOCTOR_PROMETHEUS_TOKEN": "wrong-" + SECRET})
        assert_one_line_error(wrong)
        assert "credentials were refused" in wrong.stderr and SECRET not in wrong.stderr + wrong.stdout
        good = fleet_cli(proxy.url, fleet, "--json", extra_env={"MEMDOCTOR_PROMETHEUS_TOKEN": SECRET})
        assert json.loads(good.stdout)["series_analysed"] == 6 and SECRET not in good.stdout + good.stderr
        token_file = tmp_path / "token"
        token_file.write_text(SECRET + "\n")
        from_file = fleet_cli(proxy.url, fleet, "--json", "--token-file", str(token_file))
        assert SECRET not in from_file.stdout + from_file.stderr


@pytest.mark.integration
def test_basic_auth_from_file_and_no_credentials_in_the_url(prom, tmp_path):
    server, fleet = prom
    expected = "Basic " + base64.b64encode(f"alice:{SECRET}".encode()).decode()
    with _auth_proxy(server.url, expected) as proxy:
        creds = tmp_path / "basic"
        creds.write_text(f"alice:{SECRET}\n")
        doc = json.loads(fleet_cli(proxy.url, fleet, "--json", "--basic-auth-file", str(creds)).stdout)
        assert doc["series_analysed"] == 6
        env = fleet_cli(proxy.url, fleet, "--json", extra_env={"MEMDOCTOR_PROMETHEUS_USER": "alice",
                                                               "MEMDOCTOR_PROMETHEUS_PASSWORD": SECRET})
        assert json.loads(env.stdout)["series_analysed"] == 6
        in_url = proxy.url.replace("http://", f"http://alice:{SECRET}@")
        proc = memdoctor("fleet", "--prometheus", in_url, check_code=None)
        assert_one_line_error(proc)
        assert SECRET not in proc.stderr and "must not contain credentials" in proc.stderr


# -- watch --serve-metrics ------------------------------------------------------------------------
def _scrape(url: str) -> dict[tuple[str, tuple], float]:
    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(url, timeout=5) as resp:
        text = resp.read().decode()
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


@pytest.mark.integration
def test_metrics_server_exposes_the_recording_state():
    pytest.importorskip("prometheus_client")
    from memdoctor.analysis import diagnose
    from memdoctor.analysis.online import OnlineJudge
    from memdoctor.report.metrics_server import start_metrics_server
    from memdoctor.sampling.recorder import RecordingState

    state = RecordingState(started_mono=time.monotonic() - 60)
    t = np.arange(600) * 0.1
    rss = 50e6 + 1e6 * t  # 1 MB/s
    for a, b in zip(t, rss, strict=True):
        state.series.append(float(a), float(b))
    state.fields = ("rss_root", "procs")
    state.last_t, state.last_values = 59.9, (float(rss[-1]), 40e6, 2)
    state.details = {"pss": 90e6, "fds": 12, "threads": 3}
    online = [None]
    port = free_port()
    server = start_metrics_server(f"127.0.0.1:{port}", state, lambda: online[0], limit_bytes=512 * 1024**2,
                                  pid=4242)
    try:
        before = _scrape(server.url)
        assert before[("memdoctor_memory_bytes", (("kind", "rss"), ("pid", "4242")))] == rss[-1]
        assert before[("memdoctor_memory_bytes", (("kind", "pss"), ("pid", "4242")))] == 90e6
        assert before[("memdoctor_samples_total", (("pid", "4242"),))] == 600
        assert before[("memdoctor_open_fds", (("pid", "4242"),))] == 12
        assert not any(name == "memdoctor_leak" for name, _ in before)  # no verdict yet: no made-up numbers
        d = diagnose(t, rss, limit_bytes=512 * 1024**2)
        judge = OnlineJudge()
        online[0] = judge.update(d, 2.0)
        pid = (("pid", "4242"),)
        # One analysis that says leak is not the live verdict yet: memdoctor_leak (what an alerting rule reads)
        # waits for the leak to hold, as the live view and --alert do; the latest analysis is exported beside it.
        first = _scrape(server.url)
        assert first[("memdoctor_leak", pid)] == 0.0
        assert first[("memdoctor_live_verdict", (("pid", "4242"), ("verdict", "watching")))] == 1.0
        assert first[("memdoctor_verdict", (("pid", "4242"), ("verdict", "leak")))] == 1.0
        assert not any(name == "memdoctor_leak_confidence" for name, _ in first)
        for elapsed in range(4, 62, 2):
            online[0] = judge.update(d, float(elapsed))
        after = _scrape(server.url)
        assert after[("memdoctor_leak", pid)] == 1.0
        assert after[("memdoctor_live_verdict", (("pid", "4242"), ("verdict", "leak")))] == 1.0
        assert after[("memdoctor_leak_confidence", pid)] == online[0].confidence < 1.0
        assert after[("memdoctor_memory_floor_growth_bytes_per_second", pid)] == pytest.approx(1e6, rel=0.05)
        ttl = after[("memdoctor_time_to_limit_seconds", pid)]
        assert ttl == pytest.approx((512 * 1024**2 - rss[-1]) / 1e6, rel=0.1)
        assert after[("memdoctor_verdict", (("pid", "4242"), ("verdict", "leak")))] == 1.0
        assert after[("memdoctor_limit_bytes", pid)] == 512 * 1024**2
    finally:
        server.close()
    with pytest.raises(OSError):
        urllib.request.urlopen(server.url, timeout=2)


@pytest.mark.integration
def test_metrics_server_bad_addresses():
    pytest.importorskip("prometheus_client")
    from memdoctor.report.metrics_server import MetricsServerError, parse_listen_address, start_metrics_server
    from memdoctor.sampling.recorder import RecordingState

    assert parse_listen_address("127.0.0.1:9464") == ("127.0.0.1", 9464)
    assert parse_listen_address("[::1]:9464") == ("::1", 9464)
    assert parse_listen_address("9464") == ("127.0.0.1", 9464)
    for bad in ("127.0.0.1", "127.0.0.1:http", "127.0.0.1:70000", "example.com:80", ":9464"):
        with pytest.raises(MetricsServerError):
            parse_listen_address(bad)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(MetricsServerError, match="cannot listen"):
            start_metrics_server(f"127.0.0.1:{port}", RecordingState(), lambda: None)


@pytest.mark.integration
def test_watch_serve_metrics_end_to_end(spawn):
    pytest.importorskip("prometheus_client")
    if "--serve-metrics" not in memdoctor("watch", "--help", check_code=0).stdout:
        pytest.skip("watch has no --serve-metrics option yet (memdoctor/report/metrics_server.py is not wired)")
    # A leak on a fixed time grid: a rate that sags under a loaded CI reads, rightly, as growth slowing down,
    # which holds the live verdict back (see test_recording's --alert test).
    target = spawn([sys.executable, "-c", LEAK_400KB_EVERY_50MS])
    port = free_port()
    from .conftest import memdoctor_popen

    # memdoctor_leak is the live verdict: shown once the leak held for 30 s (thresholds.ONLINE_MIN_HOLD_S) and a
    # third of the watch, ~35-40 s in; the watch lasts longer than the wait below.
    watch = memdoctor_popen("watch", str(target.pid), "--interval", "50ms", "--duration", "120s",
                            "--serve-metrics", f"127.0.0.1:{port}", "--json")
    try:
        url = f"http://127.0.0.1:{port}/metrics"
        seen: dict = {}

        def leak_reported() -> bool:
            try:
                seen.update(_scrape(url))
            except OSError:
                return False
            return seen.get(("memdoctor_leak", (("pid", str(target.pid)),))) == 1.0

        wait_for(leak_reported, timeout=100, what="memdoctor_leak 1 on /metrics")
        pid = (("pid", str(target.pid)),)
        assert seen[("memdoctor_memory_bytes", (("kind", "rss"), *pid))] > 10e6
        assert seen[("memdoctor_memory_floor_growth_bytes_per_second", pid)] > 1e6
        assert 0 < seen[("memdoctor_time_to_limit_seconds", pid)] < float("inf")
    finally:
        watch.terminate()
        watch.communicate(timeout=20)
