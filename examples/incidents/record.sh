#!/bin/sh
# Re-record the incident traces (and the heap snapshots beside them) in sample_traces/incidents/.
# Usage: examples/incidents/record.sh [SECONDS]   (from the repository root; default 20)
set -e
seconds="${1:-20}"
out="sample_traces/incidents"
mkdir -p "$out"
for kind in dead_letter_queue sse_clients subscriptions batch_writer record_array worker_pool; do
  rm -f "$out/$kind.jsonl" "$out/$kind.jsonl".heap.*
  heap=""
  [ "$kind" = worker_pool ] || heap="--heap-every $((seconds / 3))s"
  # shellcheck disable=SC2086
  python3 -m memdoctor run --interval 100ms --duration "${seconds}s" --limit 512MB $heap \
    -o "$out/$kind.jsonl" --json -- python3 examples/incidents/incidents.py "$kind" > /dev/null &
done
wait
ls -l "$out"
