"""The fleet query: which series, in which batches, with which limits; then one diagnosis each.

How the load on Prometheus stays bounded:
- A query that is a plain selector (the default, `container_memory_working_set_bytes{...}`)
  is first listed with /api/v1/series; the series are then fetched `batch_size` at a time, by
  adding a regex matcher on the label that splits them best (normally `pod`) to the selector,
  with at most `concurrency` range queries in flight.
- Any other PromQL expression is sent as one range query whose answer is parsed one series at
  a time while it arrives.
- A range longer than Prometheus's 11,000 points per series is cut into time chunks.
memdoctor keeps only the current batch's samples and each series' diagnosis: memory is bounded
by the batch, whatever the fleet's size.

cAdvisor starts a new series (new `id`/`name` labels) when a container restarts. Series of one
container (same cluster/namespace/pod/container) are joined into one, and the points where a
new one starts are passed to the classifier as restarts: a container that is OOM-killed and
restarted is then seen as the leak it is, not as a harmless sawtooth.

Limits come from `container_spec_memory_limit_bytes` (cAdvisor), else kube-state-metrics
(`kube_pod_container_resource_limits{resource="memory"}`, or the v1 name
`kube_pod_container_resource_limits_memory_bytes`), or from --limit-query; they are joined to
memory series on the labels both have among cluster, namespace, pod and container.
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from memdoctor.analysis import Diagnosis
from memdoctor.fleet.prometheus import PrometheusClient, PrometheusError
from memdoctor.fleet.ranking import RankedSeries
from memdoctor.traces.importers.prometheus_json import series_name

DEFAULT_QUERY = 'container_memory_working_set_bytes{container!="",container!="POD"}'
DEFAULT_LIMIT_QUERIES = (
    'container_spec_memory_limit_bytes{container!="",container!="POD"}',
    'kube_pod_container_resource_limits{resource="memory"}',
    "kube_pod_container_resource_limits_memory_bytes",
)
IDENTITY = ("cluster", "namespace", "pod", "container")
# Labels that change when a container restarts (cAdvisor) or that describe where it was scraped.
UNSTABLE = ("id", "name", "image", "instance", "job", "endpoint", "service", "metrics_path", "node", "uid",
            "container_id", "pod_uid")
MAX_POINTS = 10_000  # Prometheus refuses more than 11,000 points per series in one range query
NO_LIMIT = 2.0**62

_SELECTOR = re.compile(r"^\s*(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)?\s*(?:\{(?P<matchers>.*)\})?\s*$", re.DOTALL)
_RE2_SPECIAL = set(r"\.+*?()|[]{}^$")

Analyse = Callable[[np.ndarray, np.ndarray, int | None, np.ndarray | None], Diagnosis]


@dataclass
class FleetPlan:
    query: str
    start: float
    end: float
    step: float
    limit_queries: tuple[str, ...] = DEFAULT_LIMIT_QUERIES
    custom_limit: bool = False
    batch_size: int = 200
    concurrency: int = 2


@dataclass
class FleetResult:
    rows: list[RankedSeries] = field(default_factory=list)
    series_read: int = 0  # series returned by Prometheus (before joining restarts)
    empty_series: int = 0
    limits_found: int = 0
    batches: int = 0
    warnings: list[str] = field(default_factory=list)
    query_s: float = 0.0
    analysis_s: float = 0.0
    wall_s: float = 0.0


# -- PromQL helpers -----------------------------------------------------------------------------
def parse_selector(query: str) -> tuple[str, str] | None:
    """(metric name, matchers) of a plain vector selector, or None for any other expression."""
    match = _SELECTOR.match(query)
    if not match or not (match.group("name") or match.group("matchers")):
        return None
    name = match.group("name") or ""
    if name in ("sum", "max", "min", "avg", "count", "rate", "by", "without", "on", "and", "or", "unless"):
        return None
    matchers = (match.group("matchers") or "").strip().rstrip(",")
    if "{" in matchers or "}" in matchers or "[" in query:
        return None
    return name, matchers


def _re2_escape(value: str) -> str:
    return "".join("\\" + ch if ch in _RE2_SPECIAL else ch for ch in value)


def _promql_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def with_matcher(query: str, label: str, values: list[str]) -> str:
    """The selector `query` restricted to series whose `label` is one of `values`."""
    parsed = parse_selector(query)
    if parsed is None:
        raise ValueError("not a selector")
    name, matchers = parsed
    regex = "|".join(_re2_escape(v) for v in sorted(values))
    extra = f"{label}=~{_promql_string(regex)}"
    inner = f"{matchers},{extra}" if matchers else extra
    return f"{name}{{{inner}}}"


def identity(labels: dict[str, str]) -> tuple[tuple[str, str], ...]:
    """What names one container across restarts (or the labels that stay, outside Kubernetes)."""
    if any(k in labels for k in ("pod", "container")):
        return tuple((k, labels[k]) for k in IDENTITY if k in labels)
    return tuple(sorted((k, v) for k, v in labels.items() if k not in UNSTABLE and k != "__name__"))


def plan_batches(series: list[dict[str, str]], batch_size: int) -> tuple[str | None, list[list[str]]]:
    """The label to split on and the batches of its values (each batch <= batch_size series,
    except a single value that has more). Series of one identity always share a batch."""
    if len(series) <= batch_size:
        return None, [[]]
    keys = set().union(*(s.keys() for s in series)) - {"__name__"}
    candidates = [k for k in ("pod", "container", "namespace") if k in keys and all(k in s for s in series)]
    if not candidates:
        candidates = sorted((k for k in keys if all(k in s for s in series)),
                            key=lambda k: -len({s[k] for s in series}))
    if not candidates:
        return None, [[]]
    label = max(candidates, key=lambda k: len({s[k] for s in series}))
    counts: dict[str, int] = defaultdict(int)
    for s in series:
        counts[s[label]] += 1
    batches: list[list[str]] = []
    current: list[str] = []
    size = 0
    for value in sorted(counts):
        if current and size + counts[value] > batch_size:
            batches.append(current)
            current, size = [], 0
        current.append(value)
        size += counts[value]
    if current:
        batches.append(current)
    return label, batches


def time_chunks(start: float, end: float, step: float) -> list[tuple[float, float]]:
    span = MAX_POINTS * step
    chunks = []
    t = start
    while t <= end:
        last = min(end, t + span - step)
        chunks.append((t, last))
        t = last + step
    return chunks


def join_pieces(pieces: list[tuple[np.ndarray, np.ndarray]], step: float) -> tuple[np.ndarray, np.ndarray,
                                                                                  np.ndarray]:
    """One series from the series of one container (one per restart): times sorted, the maximum
    where two overlap, and the times (since the first point) where a new one starts after the
    previous ones ended (restarts)."""
    if len(pieces) == 1:
        return pieces[0][0], pieces[0][1], np.empty(0)
    pieces = sorted(pieces, key=lambda p: float(p[0][0]))
    t0 = float(pieces[0][0][0])
    restarts = []
    ended = float(pieces[0][0][-1])
    for t, _ in pieces[1:]:
        if float(t[0]) > ended + 0.5 * step:
            restarts.append(float(t[0]) - t0)
        ended = max(ended, float(t[-1]))
    t = np.concatenate([p[0] for p in pieces])
    v = np.concatenate([p[1] for p in pieces])
    order = np.lexsort((-v, t))
    t, v = t[order], v[order]
    first = np.ones(len(t), dtype=bool)
    first[1:] = t[1:] != t[:-1]
    return t[first], v[first], np.asarray(restarts)


# -- limits -------------------------------------------------------------------------------------
class Limits:
    """Memory limits by container, joined on the identity labels both sides have."""

    def __init__(self) -> None:
        self._by_pod: dict[tuple[str, str], list[tuple[dict[str, str], float]]] = defaultdict(list)
        self._other: list[tuple[dict[str, str], float]] = []
        self.count = 0

    def add(self, labels: dict[str, str], value: float) -> None:
        if not (0 < value < NO_LIMIT) or not math.isfinite(value):
            return
        ident = dict(identity(labels))
        if self.lookup(labels) is not None and "container" in ident:
            return  # an earlier source already gave this container's limit
        if "pod" in ident:
            self._by_pod[(ident.get("namespace", ""), ident["pod"])].append((ident, value))
        else:
            self._other.append((ident, value))
        self.count += 1

    def lookup(self, labels: dict[str, str]) -> float | None:
        ident = dict(identity(labels))
        pod_key = (ident.get("namespace", ""), ident.get("pod", ""))
        candidates = self._by_pod.get(pod_key, []) if "pod" in ident else self._other
        found = []
        for other, value in candidates:
            shared = set(ident) & set(other)
            if shared and all(ident[k] == other[k] for k in shared) and (
                    "container" not in other or "container" in ident or "pod" in ident):
                found.append((other, value))
        if not found:
            return None
        exact = [v for o, v in found if "container" in o and o.get("container") == ident.get("container")]
        if exact:
            return min(exact)
        if "container" not in ident and all("container" in o for o, _ in found):
            # A pod-level series: its containers' limits add up.
            per_container = {o["container"]: v for o, v in found}
            return float(sum(per_container.values()))
        return min(v for _, v in found)


def fetch_limits(client: PrometheusClient, plan: FleetPlan) -> tuple[Limits, list[str]]:
    limits = Limits()
    notes: list[str] = []
    window = f"{max(1, int(plan.end - plan.start))}s"
    for query in plan.limit_queries:
        expression = f"last_over_time({query}[{window}])" if parse_selector(query) else query
        try:
            for labels, value in client.instant(expression, plan.end):
                limits.add(labels, value)
        except PrometheusError as exc:
            if plan.custom_limit:
                raise PrometheusError(f"--limit-query failed: {exc}") from None
            notes.append(f"limits from {query.split('{')[0]} unavailable")
    return limits, notes


# -- the run ------------------------------------------------------------------------------------
def run_fleet(client: PrometheusClient, plan: FleetPlan, analyse: Analyse,
              progress: Callable[[int, int, int], None] | None = None) -> FleetResult:
    """Query, analyse and collect every series of the plan (not yet ranked)."""
    started = time.perf_counter()
    result = FleetResult()
    limits, notes = fetch_limits(client, plan)
    result.limits_found = limits.count
    result.warnings.extend(notes)
    selector = parse_selector(plan.query) is not None
    label: str | None = None
    batches: list[list[str]] = [[]]
    if selector:
        listed = client.series(plan.query, plan.start, plan.end)
        if not listed:
            raise PrometheusError(f"the query returned no series between {_iso(plan.start)} and {_iso(plan.end)}: "
                                  f"{plan.query[:200]}")
        label, batches = plan_batches(listed, plan.batch_size)
    result.batches = len(batches)
    lock = threading.Lock()
    done = [0]

    chunks = time_chunks(plan.start, plan.end, plan.step)
    # Series of an expression (not a selector) in one chunk have nothing to join: each one is
    # analysed as soon as it is parsed, so the answer is never held whole.
    streaming = not selector and len(chunks) == 1

    def one_batch(values: list[str]) -> None:
        query = with_matcher(plan.query, label, values) if label else plan.query
        # identity -> full label set -> that series' pieces (one per time chunk)
        groups: dict[tuple, dict[tuple, list]] = defaultdict(lambda: defaultdict(list))
        shown: dict[tuple, dict[str, str]] = {}
        rows: list[RankedSeries] = []
        spent = [0.0]

        def diagnose_one(labels: dict[str, str], t: np.ndarray, v: np.ndarray, restarts: np.ndarray) -> None:
            t0 = time.perf_counter()
            diagnosis = analyse(t - t[0], v, _limit(limits, labels), restarts if len(restarts) else None)
            spent[0] += time.perf_counter() - t0
            rows.append(RankedSeries(series_name(labels), diagnosis, labels))

        t_query = time.perf_counter()
        read = empty = 0
        for chunk_start, chunk_end in chunks:
            for labels, t, v in client.query_range(query, chunk_start, chunk_end, plan.step):
                read += 1
                if len(t) == 0:
                    empty += 1
                    continue
                if streaming:
                    diagnose_one(labels, t, v, np.empty(0))
                    continue
                full = tuple(sorted(labels.items()))
                key = identity(labels) if selector else full
                groups[key][full].append((t, v))
                kept = shown.setdefault(key, dict(labels))
                for k in list(kept):
                    if kept[k] != labels.get(k):
                        del kept[k]  # labels that differ between restarts are not the container's
        query_s = time.perf_counter() - t_query - spent[0]
        for key, by_series in groups.items():
            pieces = [(np.concatenate([c[0] for c in parts]), np.concatenate([c[1] for c in parts]))
                      for parts in by_series.values()]
            t, v, restarts = join_pieces(pieces, plan.step)
            diagnose_one(shown[key], t, v, restarts)
        with lock:
            result.rows.extend(rows)
            result.series_read += read
            result.empty_series += empty
            result.query_s += query_s
            result.analysis_s += spent[0]
            done[0] += 1
            if progress is not None:
                progress(done[0], len(batches), len(result.rows))

    workers = max(1, min(plan.concurrency, len(batches)))
    if workers == 1:
        for values in batches:
            one_batch(values)
    else:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="memdoctor-fleet") as pool:
            for future in [pool.submit(one_batch, values) for values in batches]:
                future.result()
    if not result.rows:
        what = f"{result.empty_series} series without a usable point" if result.empty_series else "no series"
        raise PrometheusError(f"the query returned {what} between {_iso(plan.start)} and {_iso(plan.end)}")
    result.wall_s = time.perf_counter() - started
    return result


def _limit(limits: Limits, labels: dict[str, str]) -> int | None:
    value = limits.lookup(labels)
    return int(value) if value is not None else None


def _iso(seconds: float) -> str:
    from memdoctor.traces.importers.common import iso_utc

    return iso_utc(seconds)
