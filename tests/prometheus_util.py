"""A real Prometheus server for tests and benchmarks, filled with generated container memory series.

- `require_prometheus()` finds `prometheus` and `promtool` (installed before pytest by
  `bash tests/system_packages.sh`, never by a test) and skips (fails under CI) when they are missing.
- `fleet_dataset()` generates a small fleet: a leaking container (its GC sawtooth's troughs
  climb), a healthy sawtooth, a cache that fills then plateaus, a container OOM-killed and
  restarted at its limit (a new cAdvisor series after each restart), and a leak whose limit is
  known only to kube-state-metrics; with their limits.
- `backfill()` writes them as OpenMetrics and runs `promtool tsdb create-blocks-from openmetrics`;
  `PrometheusServer` starts the server on 127.0.0.1 with a free port and that storage, waits
  until it is ready, and stops it.

`python3 -m tests.prometheus_util --save-sample FILE` saves a real query_range response of the
fleet dataset (used as tests/data/importers/fleet.prometheus.json).
"""

from __future__ import annotations

import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .system_tools import missing, require

MIB = 1024**2
WORKING_SET = "container_memory_working_set_bytes"
CADVISOR_LIMIT = "container_spec_memory_limit_bytes"
KSM_LIMIT = "kube_pod_container_resource_limits"


@dataclass
class Series:
    labels: dict[str, str]
    t: np.ndarray  # unix seconds
    v: np.ndarray  # bytes


@dataclass
class Fleet:
    families: dict[str, list[Series]] = field(default_factory=dict)
    expected: dict[str, str] = field(default_factory=dict)  # "namespace/pod/container" -> verdict
    end: float = 0.0
    start: float = 0.0

    def add(self, family: str, series: Series) -> None:
        self.families.setdefault(family, []).append(series)


# -- tools --------------------------------------------------------------------------------------
def prometheus_missing() -> str | None:
    """None when prometheus and promtool are on PATH, else why not."""
    return missing("prometheus", "prometheus", "promtool")


def require_prometheus() -> None:
    """Skip (fail under CI) unless prometheus and promtool are on PATH."""
    require("prometheus", "prometheus", "promtool")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- generated series ---------------------------------------------------------------------------
def _grid(end: float, hours: float, step: float) -> np.ndarray:
    end = end - (end % step)
    n = int(hours * 3600 / step)
    return end - step * np.arange(n - 1, -1, -1, dtype=float)


def leak(t: np.ndarray, rng: np.random.Generator, *, base: float, rate_per_h: float, saw: float,
         period_s: float) -> np.ndarray:
    """A GC sawtooth whose troughs climb by rate_per_h."""
    rel = t - t[0]
    phase = (rel % period_s) / period_s
    return base + rate_per_h * rel / 3600 + saw * phase + rng.normal(0, 0.5 * MIB, len(t))


def sawtooth(t: np.ndarray, rng: np.random.Generator, *, base: float, saw: float, period_s: float) -> np.ndarray:
    rel = t - t[0]
    return base + saw * ((rel % period_s) / period_s) + rng.normal(0, 0.5 * MIB, len(t))


def plateau(t: np.ndarray, rng: np.random.Generator, *, base: float, rise: float, tau_s: float) -> np.ndarray:
    rel = t - t[0]
    return base + rise * (1 - np.exp(-rel / tau_s)) + rng.normal(0, 0.5 * MIB, len(t))


def stable(t: np.ndarray, rng: np.random.Generator, *, base: float) -> np.ndarray:
    return base + rng.normal(0, 1 * MIB, len(t))


def oom_restarts(t: np.ndarray, *, base: float, rate_per_h: float, limit: float) -> list[tuple[np.ndarray, np.ndarray]]:
    """A climb from `base` to the limit, then a restart (down one minute): (t, v) of each instance."""
    out = []
    start = 0
    while start < len(t):
        values = base + rate_per_h * (t[start:] - t[start]) / 3600
        over = np.nonzero(values >= 0.97 * limit)[0]
        stop = start + (int(over[0]) + 1 if len(over) else len(values))
        out.append((t[start:stop], values[:stop - start]))
        start = stop + 2
    return out


def _container(ns: str, pod: str, container: str = "app", **extra: str) -> dict[str, str]:
    return {"namespace": ns, "pod": pod, "container": container, **extra}


def fleet_dataset(end: float | None = None, hours: float = 6.0, step: float = 30.0, seed: int = 7) -> Fleet:
    """The small test fleet, ending at `end` (default: a minute ago)."""
    rng = np.random.default_rng(seed)
    end = end if end is not None else time.time() - 60
    t = _grid(end, hours, step)
    fleet = Fleet(end=float(t[-1]), start=float(t[0]))

    def container(ns: str, pod: str, values: np.ndarray, verdict: str, limit: float | None, *, ksm: bool = False,
                  cid: str = "1") -> None:
        labels = _container(ns, pod, id=f"/kubepods/{pod}/{cid}", image="registry.local/app:1")
        fleet.add(WORKING_SET, Series(labels, t, np.maximum(values, 0)))
        fleet.expected[f"{ns}/{pod}/app"] = verdict
        if limit is None:
            return
        if ksm:
            ksm_labels = {**_container(ns, pod), "resource": "memory", "unit": "byte", "node": "n1"}
            fleet.add(KSM_LIMIT, Series(ksm_labels, t, np.full(len(t), float(limit))))
        else:
            fleet.add(CADVISOR_LIMIT, Series(labels, t, np.full(len(t), float(limit))))

    container("shop", "cart-7d9f-0", leak(t, rng, base=180 * MIB, rate_per_h=25 * MIB, saw=60 * MIB, period_s=600),
              "leak", 512 * MIB)
    container("shop", "api-5c8b-0", sawtooth(t, rng, base=300 * MIB, saw=90 * MIB, period_s=300), "no-leak",
              1024 * MIB)
    container("shop", "cache-6f4d-0", plateau(t, rng, base=100 * MIB, rise=300 * MIB, tau_s=1200), "no-leak",
              1024 * MIB)
    container("auth", "sessions-0", leak(t, rng, base=150 * MIB, rate_per_h=12 * MIB, saw=20 * MIB, period_s=900),
              "leak", 768 * MIB, ksm=True)
    container("auth", "idle-0", stable(t, rng, base=80 * MIB), "no-leak", 256 * MIB)
    # A worker OOM-killed at its 256 MiB limit every ~1.5 h: one cAdvisor series per restart.
    limit = 256 * MIB
    for i, (piece_t, piece_v) in enumerate(oom_restarts(t, base=60 * MIB, rate_per_h=130 * MIB, limit=limit)):
        labels = _container("jobs", "worker-0", id=f"/kubepods/worker-0/{i}", image="registry.local/worker:1")
        noisy = piece_v + rng.normal(0, 0.5 * MIB, len(piece_t))
        fleet.add(WORKING_SET, Series(labels, piece_t, np.minimum(noisy, limit)))
        fleet.add(CADVISOR_LIMIT, Series(labels, piece_t, np.full(len(piece_t), float(limit))))
    fleet.expected["jobs/worker-0/app"] = "leak"
    return fleet


def big_fleet(n: int, end: float, hours: float = 24.0, step: float = 30.0, seed: int = 11) -> Fleet:
    """`n` containers for the benchmark: 10% leaking, 40% healthy sawtooth, 25% plateau, 25% stable."""
    rng = np.random.default_rng(seed)
    t = _grid(end, hours, step)
    fleet = Fleet(end=float(t[-1]), start=float(t[0]))
    for i in range(n):
        kind = ("leak", "sawtooth", "sawtooth", "sawtooth", "sawtooth", "plateau", "plateau", "stable",
                "stable", "plateau")[i % 10]
        base = float(rng.uniform(80, 400)) * MIB
        if kind == "leak":
            values = leak(t, rng, base=base, rate_per_h=float(rng.uniform(2, 20)) * MIB, saw=40 * MIB,
                          period_s=float(rng.uniform(300, 1200)))
        elif kind == "sawtooth":
            values = sawtooth(t, rng, base=base, saw=float(rng.uniform(20, 120)) * MIB,
                              period_s=float(rng.uniform(120, 1800)))
        elif kind == "plateau":
            values = plateau(t, rng, base=base, rise=float(rng.uniform(50, 300)) * MIB,
                             tau_s=float(rng.uniform(600, 7200)))
        else:
            values = stable(t, rng, base=base)
        labels = _container(f"ns{i % 20:02d}", f"{kind}-{i:04d}", id=f"/kubepods/{i}")
        fleet.add(WORKING_SET, Series(labels, t, np.maximum(values, 0)))
        fleet.add(CADVISOR_LIMIT, Series(labels, t[-10:], np.full(10, 2048.0 * MIB)))
        fleet.expected[f"ns{i % 20:02d}/{kind}-{i:04d}/app"] = "leak" if kind == "leak" else "no-leak"
    return fleet


# -- OpenMetrics and the TSDB -------------------------------------------------------------------
def _label_text(labels: dict[str, str]) -> str:
    def esc(v: str) -> str:
        return v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")

    return ",".join(f'{k}="{esc(v)}"' for k, v in labels.items())


def write_openmetrics(path: Path, families: dict[str, list[Series]]) -> int:
    """Write the series as an OpenMetrics text file (families contiguous, times ascending)."""
    count = 0
    with open(path, "w", encoding="utf-8") as out:
        for family, series_list in families.items():
            out.write(f"# TYPE {family} gauge\n")
            for series in series_list:
                prefix = f"{family}{{{_label_text(series.labels)}}} "
                values = np.round(series.v).astype(np.int64).astype(str)
                stamps = np.char.mod("%.3f", series.t)
                out.write("\n".join(prefix + v + " " + s for v, s in zip(values, stamps, strict=True)))
                out.write("\n")
                count += len(series.t)
        out.write("# EOF\n")
    return count


def backfill(families: dict[str, list[Series]], tsdb: Path, workdir: Path) -> None:
    source = workdir / "series.om.txt"
    write_openmetrics(source, families)
    tsdb.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(["promtool", "tsdb", "create-blocks-from", "openmetrics", "-q", str(source), str(tsdb)],
                          capture_output=True, text=True, timeout=1200)
    if proc.returncode != 0:
        raise RuntimeError(f"promtool backfill failed: {proc.stderr.strip()[-500:]}")
    source.unlink()


class PrometheusServer:
    """`prometheus` on 127.0.0.1:<free port> serving `tsdb`; a context manager."""

    def __init__(self, tsdb: Path, workdir: Path) -> None:
        self.tsdb = tsdb
        self.workdir = workdir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self.log = workdir / "prometheus.log"

    def start(self, timeout: float = 60.0) -> PrometheusServer:
        config = self.workdir / "prometheus.yml"
        config.write_text("global:\n  scrape_interval: 1h\n  evaluation_interval: 1h\nscrape_configs: []\n")
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                ["prometheus", f"--config.file={config}", f"--storage.tsdb.path={self.tsdb}",
                 f"--web.listen-address=127.0.0.1:{self.port}", "--storage.tsdb.retention.time=3650d",
                 "--query.max-samples=200000000", "--web.enable-lifecycle"],
                stdout=log, stderr=subprocess.STDOUT, cwd=self.workdir)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"prometheus exited: {self.log.read_text()[-800:]}")
            try:
                with urllib.request.urlopen(self.url + "/-/ready", timeout=2) as resp:
                    if resp.status == 200:
                        return self
            except OSError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("prometheus did not become ready in time")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc = None

    def __enter__(self) -> PrometheusServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def get(self, path: str, params: Iterable[tuple[str, str]]) -> bytes:
        url = f"{self.url}{path}?{urllib.parse.urlencode(list(params))}"
        with urllib.request.urlopen(url, timeout=120) as resp:
            return resp.read()


def serve_fleet(fleet: Fleet, workdir: Path) -> PrometheusServer:
    tsdb = workdir / "tsdb"
    backfill(fleet.families, tsdb, workdir)
    return PrometheusServer(tsdb, workdir).start()


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] != "--save-sample":
        print("usage: python3 -m tests.prometheus_util --save-sample FILE", file=sys.stderr)
        return 2
    reason = prometheus_missing()
    if reason:
        print(reason, file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        fleet = fleet_dataset(hours=2)
        server = serve_fleet(fleet, Path(tmp))
        try:
            body = server.get("/api/v1/query_range", [
                ("query", 'container_memory_working_set_bytes{namespace="shop"}'),
                ("start", f"{fleet.start:.3f}"), ("end", f"{fleet.end:.3f}"), ("step", "60")])
        finally:
            server.stop()
    Path(argv[1]).write_bytes(body)
    print(f"saved {len(body)} bytes to {argv[1]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
