#!/usr/bin/env bash
# The Debian packages the integration tests need, installed once before pytest (tests never install
# anything): Prometheus and promtool (fleet, Prometheus importer), lldb (Python heap capture without
# gdb), Chromium (the HTML report in a real browser). Idempotent: installs only what is missing.
set -euo pipefail
need=()
{ command -v prometheus && command -v promtool; } >/dev/null 2>&1 || need+=(prometheus)
command -v lldb >/dev/null 2>&1 || need+=(lldb)
command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || need+=(chromium)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "tests/system_packages.sh: not root or no apt-get: the tests that need ${need[*]} will be skipped" >&2
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt=(apt-get -o DPkg::Lock::Timeout=300 -q)
"${apt[@]}" update >/dev/null
# Chromium with its recommended fonts: the report test reads rendered text.
"${apt[@]}" install -y chromium >/dev/null
"${apt[@]}" install -y --no-install-recommends prometheus lldb >/dev/null
