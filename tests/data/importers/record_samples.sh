#!/usr/bin/env bash
# Re-record the importer samples in tests/data/importers/ with the real tools, each on its own run
# of the same example programs (8 s, 100 ms between samples), and memdoctor's own recording of them.
# Needs: pip install memory_profiler psrecord memray; node. Usage: tests/data/importers/record_samples.sh
set -euo pipefail
cd "$(dirname "$0")/../../.."
out=tests/data/importers
secs=8
leak=(examples/python/leaky_list.py --seconds "$secs" --rate-kb 200)
healthy=(examples/python/healthy_worker.py --seconds "$secs" --rate-kb 200)

for kind in leak healthy; do
  if [ "$kind" = leak ]; then prog=("${leak[@]}"); else prog=("${healthy[@]}"); fi
  python3 -m memdoctor run --interval 100ms --duration "$((secs + 1))s" -o "$out/$kind.memdoctor.jsonl" --json \
    -- python3 "${prog[@]}" > /dev/null
  mprof run --interval 0.1 -o "$out/$kind.mprof.dat" python3 "${prog[@]}" > /dev/null
  psrecord "python3 ${prog[*]}" --interval 0.1 --include-children --log "$out/$kind.psrecord.txt" > /dev/null
  psrecord "python3 ${prog[*]}" --interval 0.1 --include-children --log-format csv \
    --log "$out/$kind.psrecord.csv" > /dev/null
  memray run --quiet --force --aggregate -o "$out/$kind.memray.bin" "${prog[@]}" > /dev/null
done
mprof run --multiprocess --interval 0.1 -o "$out/children.mprof.dat" python3 "$out/leaky_children.py" \
  --seconds "$secs" > /dev/null

# Node: process.memoryUsage() lines logged from inside the real programs, and memdoctor's recording.
python3 -m memdoctor run --interval 100ms --duration "$((secs + 1))s" -o "$out/leak.node.memdoctor.jsonl" --json \
  -- node examples/node/map_leak.js 100 20 "$secs" > /dev/null
MEMDOCTOR_NODE_LOG="$out/leak.node-memory.jsonl" node -r "./$out/node_memory_logger.js" \
  examples/node/map_leak.js 100 20 "$secs"
# The healthy server's GC cycles are ~1.5 s apart: 15 s gives the trend test enough of them.
python3 -m memdoctor run --interval 100ms --duration 16s -o "$out/healthy.node.memdoctor.jsonl" --json \
  -- node examples/node/healthy_server.js 400 20 15 > /dev/null
MEMDOCTOR_NODE_LOG="$out/healthy.node-memory.jsonl" node -r "./$out/node_memory_logger.js" \
  examples/node/healthy_server.js 400 20 15

# Docker stats (both shapes) from memdoctor's recordings, written in docker's documented formats.
python3 - <<'PY'
import sys
sys.path.insert(0, ".")
from tests.test_importers import write_docker_samples
write_docker_samples("tests/data/importers")
PY
# The Prometheus query_range response is saved from a real server by tests/prometheus_util.py:
python3 -m tests.prometheus_util --save-sample "$out/fleet.prometheus.json"
ls -la "$out"
