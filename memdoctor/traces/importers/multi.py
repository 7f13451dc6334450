"""Several series: naming them, and the rows `analyze` makes of a list of Traces.

An input gives one Trace or several (Prometheus series, Docker containers, mprof processes);
a Trace may also hold several memory series of one process that are worth a row each (Node's
rss, heapUsed, external, arrayBuffers, listed in `header["metrics"]`). `rows()` flattens both
into (name, trace, metric) triples, in input order; ranking them is the caller's job.
"""

from __future__ import annotations

from dataclasses import dataclass

from memdoctor.traces.model import Trace


@dataclass(frozen=True)
class Row:
    name: str
    trace: Trace
    metric: str


def rows(inputs: list[tuple[str, list[Trace]]], metric: str | None = None) -> list[Row]:
    """One row per series (and per listed metric unless `metric` picks one).

    Names: the input's path for a single series; the series' own name for several series of
    one input; both ("path: name") when there are several inputs.
    """
    several_inputs = len(inputs) > 1
    out: list[Row] = []
    for path, traces in inputs:
        for trace in traces:
            own = trace.header.get("name")
            base = path if not own else (f"{path}: {own}" if several_inputs else str(own))
            metrics = [metric] if metric else list(trace.header.get("metrics") or ["rss"])
            names = trace.header.get("metric_names") or {}
            for m in metrics:
                if len(metrics) == 1:
                    out.append(Row(base, trace, m))
                else:
                    out.append(Row(f"{base} {names.get(m, m)}", trace, m))
    return out
