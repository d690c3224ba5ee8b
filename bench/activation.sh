#!/usr/bin/env bash
# Benchmark: kvmdbg's activation time in a real VS Code (code-server's
# extension host), against VS Code's built-in JavaScript debugger measured in
# the same window (bench/activation.js says how). Each repetition is a fresh
# code-server with a fresh profile, so both activations are cold.
# Activation needs no /dev/kvm: this runs here, natively.
#   bash bench/activation.sh [REPS]     (default 3; E2E_SKIP_PACKAGE=1 reuses the .vsix)
set -euo pipefail
source "$(dirname "$0")/../test/e2e/lib.sh"
REPS=${1:-3}
[[ $REPS =~ ^[1-9][0-9]*$ ]] || { echo "usage: bench/activation.sh [REPS]" >&2; exit 2; }
PORT=${PORT:-18125}
OUT=$E2E_ROOT/test-output/bench-activation
cd "$E2E_ROOT"
e2e_tools
e2e_stage_vsix
rm -rf "$OUT"; mkdir -p "$OUT"
if curl -s -m 2 -o /dev/null "http://127.0.0.1:$PORT/"; then echo "kvmdbg bench: port $PORT is in use: set PORT" >&2; exit 1; fi
for ((rep = 1; rep <= REPS; rep++)); do
  RUN=$(mktemp -d "${TMPDIR:-/tmp}/kvmdbg-act-XXXX")
  e2e_profile "$RUN"
  mkdir -p "$RUN/ws"; cp test/guests/build/pvh64.elf "$RUN/ws/"
  e2e_start_server "$RUN" "127.0.0.1:$PORT" "$OUT/code-server-$rep.log"
  trap 'e2e_stop_server "$RUN" ""; rm -rf "$RUN"' EXIT
  e2e_wait_healthy "http://127.0.0.1:$PORT" 120 || { echo "kvmdbg bench: code-server did not answer" >&2; exit 1; }
  e2e_log "window $rep/$REPS"
  e2e_node bench/activation.js measure "http://127.0.0.1:$PORT" "$RUN/ws" "$OUT/results.jsonl"
  e2e_stop_server "$RUN" ""; rm -rf "$RUN"; trap - EXIT
  sleep 1
done
e2e_node bench/activation.js report "$OUT/results.jsonl" | tee "$OUT/report.txt"
