"""Fleet ranking: many memory series (a Prometheus server, several trace files) analysed one by
one with the same classifier, ranked by "who runs out of memory first, and why".

- `prometheus.py`: a small HTTP API client (range queries, timeouts, retries, auth from the
  environment or a file; secrets never printed).
- `query.py`: the plan of a fleet query: series discovery, batches, limits joined by labels.
- `ranking.py`: the order (leaks first, soonest at the limit first) and the rows' JSON.
- `render.py`: the ranked table for the terminal and Markdown.
"""
