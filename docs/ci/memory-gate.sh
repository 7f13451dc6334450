#!/usr/bin/env bash
# The memory gate as a CI step: the GitHub Actions workflow and the GitLab CI job in this folder
# both run this script. Replace the command after `--` with your service (and --load with your
# load script); keep the thresholds that fit it.
#
#   OUT_DIR        where the JUnit XML and the trace go (default: memdoctor-out)
#   MEMDOCTOR      how to call memdoctor (default: memdoctor)
#   GATE_DURATION  how long to sample (default: 60s)
set -euo pipefail
out="${OUT_DIR:-memdoctor-out}"
memdoctor="${MEMDOCTOR:-memdoctor}"
mkdir -p "$out"

# Fails the job (exit 1) on a leak verdict or a floor growth above 5 MB/min; the GC sawtooth of
# a healthy service passes. GITHUB_STEP_SUMMARY, when set, receives a Markdown summary.
$memdoctor gate \
  --duration "${GATE_DURATION:-60s}" --warmup 10s \
  --max-growth 5MB/min --fail-on leak \
  --junit "$out/memory-gate.xml" -o "$out/memory-trace.jsonl" \
  -- python3 examples/python/healthy_worker.py --rate-kb 400 --every 0.02
