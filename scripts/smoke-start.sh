#!/usr/bin/env bash
# Starts the service the way the README's first command does (`npm start`, on whatever Node is
# first on PATH), makes one call over HTTP and stops it with SIGTERM. CI runs it with the
# machine's own Node to prove that a new user's first command works; it fails if any step does.
set -euo pipefail
cd "$(dirname "$0")/.."

dir="$(mktemp -d)"
port="$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")"
log="$dir/start.log"
cleanup() { [ -n "${pid:-}" ] && kill -KILL -- "-$pid" 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT
trap 'cat "$log" >&2' ERR

LEDGER_PORT="$port" LEDGER_DB="$dir/ledger.db" setsid npm start >"$log" 2>&1 &
pid=$!
for _ in $(seq 1 240); do
  if curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$pid" 2>/dev/null; then cat "$log" >&2; echo "npm start exited before serving" >&2; exit 1; fi
  sleep 0.5
done
curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null || { cat "$log" >&2; echo "npm start did not serve in 120 s" >&2; exit 1; }
answer="$(curl -fsS -H 'content-type: application/json' \
  -d '{"userId":"smoke","amount":"1000","currency":"USD","idempotencyKey":"smoke-1"}' \
  "http://127.0.0.1:$port/ledger.v1.LedgerService/Load")"
echo "Load answered: $answer"
case "$answer" in *'"balanceAfter":"1000"'*) ;; *) echo "unexpected answer" >&2; exit 1 ;; esac
# SIGTERM to the service itself, as a supervisor would send it; npm then exits with its status.
pkill -TERM -g "$pid" -f "^node dist/src/main[.]js"
wait "$pid" || { status=$?; cat "$log" >&2; echo "npm start exited with $status after SIGTERM" >&2; exit 1; }
pid=""
grep -q "shut down cleanly" "$log" || { cat "$log" >&2; echo "no clean shutdown logged" >&2; exit 1; }
node_version="$(grep -o '"node":"v[0-9.]*"' "$log" | head -n 1 || true)"
echo "service ran on ${node_version:-an unlogged Node}"
echo "npm start served, answered and shut down cleanly"
