#!/usr/bin/env bash
# Re-record the bundled traces in sample_traces/ by running the example programs under memdoctor.
# Usage: examples/record_samples.sh [SECONDS]   (default 60 s per trace; needs python3 and node)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
MEMDOCTOR="${MEMDOCTOR:-python3 -m memdoctor}"
mkdir -p sample_traces

record() {  # name, then the command
  local name="$1"; shift
  echo "recording sample_traces/$name.jsonl ($seconds s): $*"
  $MEMDOCTOR run --interval 100ms --duration "${seconds}s" -o "sample_traces/$name.jsonl" --json -- "$@" > /dev/null
}

record python_leaky_list     python3 examples/python/leaky_list.py --rate-kb 200 --every 0.05
record python_healthy_worker python3 examples/python/healthy_worker.py --rate-kb 400 --every 0.02
record python_forking_tree   python3 examples/python/forking_parent.py --children 2 --mb 30 --seconds 600
record node_map_leak         node examples/node/map_leak.js 100 20
record node_healthy_server   node examples/node/healthy_server.js 400 20

for f in sample_traces/*.jsonl; do
  printf '%-42s ' "$f"
  $MEMDOCTOR analyze "$f" --json | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["verdict"], d["pattern"])'
done
