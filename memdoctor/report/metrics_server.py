"""`watch --serve-metrics 127.0.0.1:PORT`: the watched process's memory in the Prometheus text format.

A long `memdoctor watch` can then be scraped like any exporter. The numbers are read at scrape
time from the recorder's shared state (the latest sample and the slower details) and from the
live monitor's latest diagnosis (re-computed every couple of seconds); nothing is computed on
the sampling thread. The registry is private: memdoctor's own process metrics are not mixed
in. Labels carry the PID only: a command line may hold secrets and is never exposed.

Metrics (all gauges unless noted):
- memdoctor_memory_bytes{kind="rss"|"rss_root"|"pss"|"uss"|"swap"}: the latest sample (rss is
  the process tree's total) and details
- memdoctor_limit_bytes: the limit the process is judged against
- memdoctor_memory_floor_growth_bytes_per_second: growth of the memory floor (troughs)
- memdoctor_time_to_limit_seconds: time until the limit at that growth; +Inf when nothing grows
- memdoctor_leak: 1 when the live verdict is "leak", else 0: the verdict the live view shows and
  `--alert` acts on, held against new evidence (analysis/online.py), so an alerting rule on it does
  not flap with each analysis; memdoctor_live_verdict{verdict="watching"|"leak"|"no-leak"}: that
  verdict (a state set); memdoctor_leak_confidence: with a live leak, its calibrated confidence (how
  often such live leaks were leaks in the labelled benchmark)
- memdoctor_verdict{verdict=...}: the latest analysis of the data so far (a state set; it can flip
  from one analysis to the next); memdoctor_pattern_info{pattern=...}; memdoctor_confidence (the
  latest analysis')
- memdoctor_samples_total (counter), memdoctor_recording_seconds, memdoctor_processes,
  memdoctor_open_fds, memdoctor_threads
"""

from __future__ import annotations

import ipaddress
import math
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from memdoctor.analysis import Verdict
from memdoctor.analysis.online import OnlineState
from memdoctor.sampling.recorder import RecordingState
from memdoctor.units import UnitError

VERDICTS = tuple(v.value for v in Verdict)
LIVE_VERDICTS = ("watching", "leak", "no-leak")  # what OnlineState.shown takes


class MetricsServerError(UnitError):
    """The metrics address is unusable (bad syntax, port taken): one line, exit 2."""


def parse_listen_address(text: str) -> tuple[str, int]:
    """(host, port) from "127.0.0.1:9464", "[::1]:9464", "localhost:9464" or a bare port (loopback)."""
    raw = text.strip()
    if raw.isdigit():
        host, port_text = "127.0.0.1", raw
    elif raw.startswith("["):
        host, sep, port_text = raw[1:].partition("]:")
        if not sep:
            raise MetricsServerError(f"--serve-metrics {text!r}: expected [IPv6]:PORT")
    else:
        host, sep, port_text = raw.rpartition(":")
        if not sep or not host:
            raise MetricsServerError(f"--serve-metrics {text!r}: expected HOST:PORT, e.g. 127.0.0.1:9464")
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise MetricsServerError(f"--serve-metrics {text!r}: the port must be a number from 1 to 65535")
    if host != "localhost":
        try:
            ipaddress.ip_address(host)
        except ValueError:
            raise MetricsServerError(f"--serve-metrics {text!r}: the host must be an IP address or "
                                     "localhost") from None
    return host, int(port_text)


class WatchCollector:
    """A prometheus_client collector reading the recording's state at scrape time."""

    def __init__(self, state: RecordingState, online: Callable[[], OnlineState | None], *,
                 limit_bytes: int | None, pid: int | None) -> None:
        self.state = state
        self.online = online
        self.limit_bytes = limit_bytes
        self.pid = pid

    def _labels(self) -> tuple[list[str], list[str]]:
        return (["pid"], [str(self.pid)]) if self.pid is not None else ([], [])

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        names, values = self._labels()
        last = dict(self.state.last)
        details = dict(self.state.details)

        def gauge(name: str, doc: str, value: float | None, unit: str = "") -> Iterator[Any]:
            if value is None:
                return
            family = GaugeMetricFamily(name, doc, labels=names, unit=unit)
            family.add_metric(values, float(value))
            yield family

        memory = GaugeMetricFamily("memdoctor_memory_bytes", "Memory of the watched process (rss: the process "
                                   "tree's total; rss_root: the process alone; pss, uss, swap: tree totals).",
                                   labels=[*names, "kind"])
        for kind in ("rss", "rss_root", "pss", "uss", "swap"):
            value = last.get(kind, details.get(kind))
            if isinstance(value, (int, float)):
                memory.add_metric([*values, kind], float(value))
        yield memory
        yield from gauge("memdoctor_limit_bytes", "Memory limit the process is judged against.", self.limit_bytes)
        count = self.state.series.count
        samples = CounterMetricFamily("memdoctor_samples", "Samples recorded so far.", labels=names)
        samples.add_metric(values, float(count))
        yield samples
        elapsed = time.monotonic() - self.state.started_mono if self.state.started_mono else 0.0
        yield from gauge("memdoctor_recording_seconds", "Time since the recording started.", elapsed)
        yield from gauge("memdoctor_processes", "Processes in the watched tree.", _number(last.get("procs")))
        yield from gauge("memdoctor_open_fds", "Open file descriptors of the tree.", _number(details.get("fds")))
        yield from gauge("memdoctor_threads", "Threads of the tree.", _number(details.get("threads")))
        live = self.online()
        if live is None:
            return
        d = live.diagnosis
        growth = d.growth_bytes_per_s if math.isfinite(d.growth_bytes_per_s) else 0.0
        yield from gauge("memdoctor_memory_floor_growth_bytes_per_second",
                         "Growth of the memory floor (the troughs after garbage collection).", growth)
        ttl = d.time_to_limit_s if d.time_to_limit_s is not None else math.inf
        yield from gauge("memdoctor_time_to_limit_seconds", "Time until the limit at the floor's growth; +Inf "
                         "when nothing grows.", ttl)
        yield from gauge("memdoctor_leak", "1 when the live verdict (held against new evidence, what --alert acts "
                         "on) is leak, else 0.", 1.0 if live.shown == "leak" else 0.0)
        shown = GaugeMetricFamily("memdoctor_live_verdict", "1 for the live verdict, held against new evidence.",
                                  labels=[*names, "verdict"])
        for name in LIVE_VERDICTS:
            shown.add_metric([*values, name], 1.0 if live.shown == name else 0.0)
        yield shown
        yield from gauge("memdoctor_leak_confidence", "With a live leak: how often live leaks of its kind were "
                         "leaks in memdoctor's labelled benchmark (0 to 1).", live.confidence)
        verdict = GaugeMetricFamily("memdoctor_verdict", "1 for the verdict of the latest analysis (it can flip "
                                    "from one analysis to the next).", labels=[*names, "verdict"])
        for name in VERDICTS:
            verdict.add_metric([*values, name], 1.0 if d.verdict == name else 0.0)
        yield verdict
        pattern = GaugeMetricFamily("memdoctor_pattern_info", "Shape of the memory series.",
                                    labels=[*names, "pattern"])
        pattern.add_metric([*values, d.pattern], 1.0)
        yield pattern
        yield from gauge("memdoctor_confidence", "Confidence of the latest analysis' verdict (0 to 1).", d.confidence)


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


class MetricsServer:
    """The HTTP endpoint (/metrics) in a daemon thread; `close()` stops it."""

    def __init__(self, server: Any, thread: threading.Thread, host: str, port: int) -> None:
        self._server = server
        self._thread = thread
        self.host = host
        self.port = port

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/metrics"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def start_metrics_server(address: str, state: RecordingState, online: Callable[[], OnlineState | None], *,
                         limit_bytes: int | None = None, pid: int | None = None) -> MetricsServer:
    """Serve the watch's metrics on `address` (HOST:PORT); raises MetricsServerError if it cannot."""
    try:
        from prometheus_client import CollectorRegistry, start_http_server
    except ImportError:
        raise MetricsServerError("--serve-metrics needs the prometheus_client package "
                                 "(pip install prometheus_client)") from None
    host, port = parse_listen_address(address)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(WatchCollector(state, online, limit_bytes=limit_bytes, pid=pid))  # type: ignore[arg-type]
    try:
        server, thread = start_http_server(port, addr=host, registry=registry)
    except OSError as exc:
        raise MetricsServerError(f"--serve-metrics {address}: cannot listen there ({exc.strerror or exc})") from None
    return MetricsServer(server, thread, host, server.server_address[1])
