#!/usr/bin/env bash
# Runs sluice-load for 1 s against a fresh mock upstream, closed loop then open loop, plain and
# streamed, and checks each JSON result has requests > 0 and errors == 0.
set -euo pipefail
load=$1 mock=$2
dir=$(mktemp -d)
mock_pid=
cleanup() { [ -n "$mock_pid" ] && kill "$mock_pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT

"$mock" --listen 127.0.0.1:0 --chunks 10 2>"$dir/mock.log" &
mock_pid=$!
port=
for _ in $(seq 100); do
  port=$(sed -n 's/.*"event":"listening".*"port":\([0-9]*\).*/\1/p' "$dir/mock.log" | head -1)
  [ -n "$port" ] && break
  sleep 0.05
done
[ -n "$port" ] || { echo "mock upstream did not start:"; cat "$dir/mock.log"; exit 1; }

body='{"model":"m","messages":[{"role":"user","content":"hi"}]}'
stream_body='{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}'
check() {
  local what=$1; shift
  local out
  out=$("$load" --url "http://127.0.0.1:$port/v1/chat/completions" --duration 0.5 --json "$@")
  echo "$what: $out"
  local requests errors
  requests=$(sed -n 's/.*"requests":\([0-9]*\).*/\1/p' <<<"$out")
  errors=$(sed -n 's/.*"errors":\([0-9]*\).*/\1/p' <<<"$out")
  [ "${requests:-0}" -gt 0 ] || { echo "FAIL $what: no requests"; exit 1; }
  [ "${errors:-1}" -eq 0 ] || { echo "FAIL $what: $errors errors"; exit 1; }
}
check "closed loop" --body-json "$body" --concurrency 4 --warmup 0.1
check "open loop" --body-json "$body" --rate 200 --warmup 0.1
check "closed loop, streamed" --body-json "$stream_body" --concurrency 2 --stream
echo "ok"
