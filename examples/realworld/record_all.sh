#!/bin/bash
# Records every real-world example into benchmarks/classifier/recordings/ (the exact commands used).
# Three lanes ran at once on a 2-core machine (the A, B and C below); run one lane per shell:
#   examples/realworld/record_all.sh A    (or B, C; no argument: all, one after the other)
# Needs: pip install -r examples/realworld/requirements.txt; npm install in each Node example dir.
set -u
cd "$(dirname "$0")/../.."
R=benchmarks/classifier/recordings; E=examples/realworld
rec() { local name=$1 dur=$2 load=$3; shift 3
  echo "$(date +%T) $name"
  python3 $E/record.py -o $R/$name.jsonl --duration "$dur" --load "$load" "$@"; }
lane_a() {
 rec rw_node_session_memorystore 240 "--path /login/u{i} --rate 30 --threads 3" -- node $E/express_session/server.js memory
 # 10 min at 200 ms: V8 takes ~5 min to size its heap under this churn (a 4 min recording still climbs)
 rec rw_node_session_lru 600 "--path /login/u{i} --rate 30 --threads 3" --interval 200ms \
   -- node $E/express_session/server.js lru
 rec rw_node_emitter_listener_leak 240 "--path /work/{i} --rate 20 --threads 3" -- node $E/emitter_listeners/server.js keep
 rec rw_node_emitter_listener_removed 240 "--path /work/{i} --rate 20 --threads 3" -- node $E/emitter_listeners/server.js remove
 rec rw_node_sse_unpruned 240 "--mode sse --path /events/{i} --rate 10 --threads 2" -- node $E/sse_clients/server.js keep
 rec rw_node_sse_pruned 240 "--mode sse --path /events/{i} --rate 10 --threads 2" -- node $E/sse_clients/server.js prune
 # a long fill: 10 min at 200 ms (6000 samples at 100 ms would pass the 300 KB file budget)
 rec rw_node_lru_long_fill 600 "--path /item/k{i} --rate 100 --threads 4" --interval 200ms \
   -- node $E/lru_fill/server.js 20000
}
lane_b() {
 rec rw_py_dict_cache 240 "--path /item/k{i} --rate 40 --threads 4" -- python3 $E/flask_cache/app.py dict
 rec rw_py_ttlcache 240 "--path /item/k{i} --rate 40 --threads 4" -- python3 $E/flask_cache/app.py ttl
 rec rw_py_lru_bounded 240 "--path /quote/s{i} --rate 20 --threads 4" -- python3 $E/flask_lru/app.py bounded
 rec rw_py_batch_keep 300 "--mode post --path /job --rate 0.125 --threads 1" -- python3 $E/batch_jobs/app.py keep
 rec rw_py_batch_drop 300 "--mode post --path /job --rate 0.125 --threads 1" -- python3 $E/batch_jobs/app.py drop
 rec rw_py_lru_long_fill 400 "--path /item/k{i} --rate 50 --threads 4" -- python3 $E/flask_cache/app.py lru 12000
}
lane_c() {
 # one program, three recorders at once
 rec rw_py_lru_unbounded 240 "--path /quote/s{i} --rate 20 --threads 4" \
   --psrecord $R/rw_py_lru_unbounded.psrecord.txt --mprof $R/rw_py_lru_unbounded.mprof.dat \
   -- python3 $E/flask_lru/app.py unbounded
 rec rw_node_sawtooth_slow_leak 360 "--path /report/{i} --rate 10 --threads 40" -- node $E/node_sawtooth/server.js keep
 rec rw_py_sawtooth_slow_leak 360 "--mode post --path /ingest/r{i} --rate 15 --threads 3" \
   -- env MALLOC_MMAP_THRESHOLD_=65536 python3 $E/py_sawtooth/app.py keep
 rec rw_node_sawtooth_healthy 300 "--path /report/{i} --rate 10 --threads 40" -- node $E/node_sawtooth/server.js drop
 rec rw_py_sawtooth_healthy 300 "--mode post --path /ingest/r{i} --rate 15 --threads 3" \
   -- env MALLOC_MMAP_THRESHOLD_=65536 python3 $E/py_sawtooth/app.py drop
}
case "${1:-all}" in
 A) lane_a ;; B) lane_b ;; C) lane_c ;;
 all) lane_a; lane_b; lane_c ;;
 *) echo "usage: $0 [A|B|C]" >&2; exit 2 ;;
esac
