"""Importers of other tools' memory recordings: one module per format.

Each reader streams its input (bounded memory: samples go through SampleAccumulator) and
returns a Trace, or a list of Traces when the input holds several series (one per Prometheus
series, per Docker container, per mprof process). A trace that belongs to a list carries its
name in `header["name"]` (and Prometheus labels in `header["labels"]`). Several memory series
of one process (Node's rss, heapUsed, external, arrayBuffers) stay in one Trace, listed in
`header["metrics"]`: see `memdoctor.traces.importers.multi`.

| format           | module               | what it reads                                              |
|------------------|----------------------|------------------------------------------------------------|
| mprof            | mprof.py             | memory_profiler `mprof run` .dat files (MEM, CHLD lines)   |
| mprof-children   | mprof.py             | the same, one series per process instead of the total      |
| psrecord         | psrecord.py          | psrecord --log files, plain text or --log-format csv       |
| memray           | memray_capture.py    | memray capture files (their RSS/heap samples over time)    |
| docker-stats     | docker_stats.py      | `docker stats --format '{{json .}}'` lines, Engine API stats stream |
| node-memory      | node_memory_usage.py | JSON lines of Node's process.memoryUsage()                 |
| prometheus       | prometheus_json.py   | a saved Prometheus /api/v1/query_range response (matrix)   |
"""
