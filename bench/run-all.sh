#!/usr/bin/env bash
# Runs every benchmark with its default size, one after the other (`make bench` calls this).
# Results go to bench/results/ (JSON + CSV each); bench/README.md explains them.
# About 30 minutes on the 2-core machine (hidden_return, a real Chromium on the built demo, is
# half of it: `make bench` builds the demo and installs chromium first). Pass names to run only some:
#   bash bench/run-all.sh latency capacity
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-.venv/bin/python}"
ALL=(requests_per_job latency storage_ops capacity start_throughput log_volume hidden_return)
NAMES=("$@")
[ ${#NAMES[@]} -eq 0 ] && NAMES=("${ALL[@]}")
for name in "${NAMES[@]}"; do
  echo "=== bench.$name ==="
  "$PY" -m "bench.$name"
done
