#!/usr/bin/env bash
# Starts the whole system locally: Azurite (tables + queues), then the local host
# (HTTP API + queue worker + timers + demo) on http://localhost:7071.
# Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."

DATA=.local/azurite
mkdir -p "$DATA"
PORT="${PORT:-7071}"

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# wait_port PORT PID NAME [SECONDS]: until something listens on PORT; fails loudly if PID
# exits first or nothing listens in time (default 30 s).
wait_port() {
  local port=$1 pid=$2 name=$3 seconds=${4:-30}
  for _ in $(seq 1 $((seconds * 10))); do
    listening "$port" && return 0
    kill -0 "$pid" 2>/dev/null || { echo "$name exited before listening on port $port" >&2; exit 1; }
    sleep 0.1
  done
  echo "$name: nothing listens on port $port after $seconds s" >&2
  exit 1
}

for port in 10000 10001 10002 "$PORT"; do
  if listening "$port"; then
    echo "port $port is already in use: stop whatever holds it (another 'make run'?)" >&2
    exit 1
  fi
done

# AZURITE_DEBUG=1 make run: Azurite also writes a (large) debug log to $DATA/debug.log.
AZURITE_DEBUG_ARGS=()
if [ -n "${AZURITE_DEBUG:-}" ]; then
  AZURITE_DEBUG_ARGS=(--debug "$DATA/debug.log")
fi
node_modules/.bin/azurite --silent --skipApiVersionCheck --loose \
  --location "$DATA" "${AZURITE_DEBUG_ARGS[@]}" \
  --blobHost 127.0.0.1 --queueHost 127.0.0.1 --tableHost 127.0.0.1 &
AZURITE=$!
HOST=""

# SIGTERM, then SIGKILL if it is still there after 10 s (Azurite can hang on a second signal).
stop_process() {
  local pid=$1
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

stop() {
  trap - INT TERM EXIT
  echo
  echo "stopping..."
  [ -n "$HOST" ] && stop_process "$HOST"
  stop_process "$AZURITE"
  echo "stopped."
}
trap stop INT TERM EXIT

for port in 10000 10001 10002; do
  wait_port "$port" "$AZURITE" Azurite
done

.venv/bin/python -m local_host --port "$PORT" &
HOST=$!
wait_port "$PORT" "$HOST" "the local host" 60

cat <<MSG

  Job events is running (local development, auth off).
    demo       http://localhost:$PORT/
    API        http://localhost:$PORT/api/...   (OpenAPI: /api/openapi.json)
    health     http://localhost:$PORT/api/health
    metrics    http://localhost:$PORT/local/diagnostics
    Azurite    blob :10000  queue :10001  table :10002  (data in $DATA)

  Try it:
    curl -s -X POST localhost:$PORT/api/jobs/Sleep/start \\
         -H 'Content-Type: application/json' -d '{"seconds": 5}' | tee /tmp/job.json
    curl -N "localhost:$PORT\$(python3 -c 'import json; j=json.load(open("/tmp/job.json")); print(j["eventsUrl"] + "?access_token=" + j["token"])')"

  Ctrl-C stops everything.

MSG

wait "$HOST"
