#!/usr/bin/env bash
# kvmdbg's end-to-end test in a real VS Code: code-server (VS Code 1.100.3's
# server + web workbench, real extension host) opened in headless Debian
# chromium driven by playwright-core. Installs the built .vsix, opens a
# workspace holding a test kernel, presses F9 and F5 through the UI and checks
# what a person sees (test/e2e/ui-test.js). Adapted from shared/vscode-e2e.
#
# Where /dev/kvm works, everything runs here. Where it does not, code-server
# (its extension host, the debug adapter and the VM) runs inside the KVM
# sandbox, and the browser runs here, connected through a forwarded port: the
# shape of VS Code over Remote-SSH (the UI local, the extension where the
# kernel and /dev/kvm are). The browser is most of the CPU work, and
# emulated it took ~10 min just to render the workbench. E2E_WHOLE_SANDBOX=1
# runs the browser inside the sandbox too.
#   npm run test:e2e   (E2E_KEEP=1 keeps the run directory; E2E_DIRECT=1 runs here without KVM,
#                       for working on the UI part; E2E_SPLIT=1 uses the sandbox split even
#                       where /dev/kvm works, to try the CI shape; PORT=n picks the port)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
ROOT=$E2E_ROOT
PORT=${PORT:-18123}
OUT=$ROOT/test-output/e2e
cd "$ROOT"

# Workspace A (the main scenario): the test kernel and a launch.json for it. Its
# DWARF names its sources by absolute path (/work/main/test/guests/...), which
# exist here and inside the sandbox; the UI test opens main.c from there.
# Workspace B: only the kernel, no launch.json (F5 must find it and say so).
# Workspace C: the C-data kernel (test/guests/kernel/cdata.c, gcc -O0) and a
# launch.json: Variables, hover, Watch and Break on Value Change on C data.
# Workspace D: the screen kernel (test/guests/kernel/screen.c) and a
# launch.json: the Guest Screen view at a breakpoint, and typing into it.
# A workspace holding a kernel and, unless no_launch, a launch.json that boots it.
workspace() { # dir kernel [no_launch]
  local dir=$1 kernel=$2
  mkdir -p "$dir"
  cp "test/guests/build/$kernel" "$dir/"
  [[ -n ${3:-} ]] && return 0
  mkdir -p "$dir/.vscode"
  cat > "$dir/.vscode/launch.json" <<JSON
{
  "version": "0.2.0",
  "configurations": [
    { "type": "kvm", "request": "launch", "name": "Boot $kernel (KVM)",
      "kernel": "\${workspaceFolder}/$kernel", "memory": "64M", "stopOnEntry": false }
  ]
}
JSON
}
make_workspaces() {
  local run=$1
  workspace "$run/ws" pvh64.elf
  workspace "$run/ws-f5" pvh64.elf no_launch
  workspace "$run/ws-c" cdata-gcc-O0.elf
  workspace "$run/ws-screen" screen64.elf
}

ui_test() { # url run-dir (its workspaces: make_workspaces)
  set +e
  e2e_node "$ROOT/test/e2e/ui-test.js" "$1" "$OUT" "main=$2/ws" "f5=$2/ws-f5" "cdata=$2/ws-c" "screen=$2/ws-screen" 2>&1 | tee "$OUT/ui-test.log"
  local rc=${PIPESTATUS[0]}; set -e; return "$rc"
}

case ${E2E_INNER:-} in
'')
  # ---- outside the sandbox: tools, the .vsix, then run (here or split with the sandbox)
  start=$(date +%s)
  e2e_tools
  e2e_stage_vsix
  rm -rf "$OUT"; mkdir -p "$OUT"
  if [[ -n ${E2E_DIRECT:-} || ( -z ${E2E_SPLIT:-} && -e /dev/kvm && -r /dev/kvm && -w /dev/kvm ) ]]; then
    E2E_INNER=all exec bash "$0"
  fi
  if [[ -n ${E2E_WHOLE_SANDBOX:-} ]]; then
    e2e_log "no usable /dev/kvm here: running the whole E2E (browser too) inside the KVM sandbox (emulated, slow)"
    rc=0; test/sandbox/run -m 6144 -c 2 -t 1500 -- env TMPDIR=/tmp TOOLS="$TOOLS" PORT="$PORT" E2E_INNER=all bash "$0" || rc=$?
    e2e_log "sandbox run finished: rc=$rc in $(( $(date +%s) - start )) s"; exit $rc
  fi
  e2e_log "no usable /dev/kvm here: code-server runs inside the KVM sandbox, the browser here (port $PORT forwarded)"
  if curl -s -m 2 -o /dev/null "http://127.0.0.1:$PORT/"; then echo "kvmdbg e2e: port $PORT is in use here: set PORT" >&2; exit 1; fi
  test/sandbox/run -m 4096 -c 2 -p "$PORT" -t 2100 -- env TMPDIR=/tmp TOOLS="$TOOLS" PORT="$PORT" E2E_INNER=server bash "$0" \
    > "$OUT/sandbox.log" 2>&1 &
  SBX=$!
  stop_sandbox() { touch "$OUT/stop"; wait "$SBX" 2>/dev/null || true; }
  trap stop_sandbox EXIT
  # The sandbox writes server.env (the workspace paths inside it) once code-server answers there.
  while [[ ! -s $OUT/server.env ]] && kill -0 "$SBX" 2>/dev/null; do sleep 2; done
  if [[ ! -s $OUT/server.env ]]; then cat "$OUT/sandbox.log" >&2; echo "kvmdbg e2e: code-server did not come up in the sandbox" >&2; exit 1; fi
  source "$OUT/server.env"
  e2e_log "code-server answers inside the sandbox after $(( $(date +%s) - start )) s; running the UI test here"
  rc=0; E2E_EXTHOST_READY_S=${E2E_EXTHOST_READY_S:-600} E2E_BUDGET_S=${E2E_BUDGET_S:-900} ui_test "http://127.0.0.1:$PORT" "$RUN_DIR" || rc=$?
  stop_sandbox; trap - EXIT
  grep -v '^c$' "$OUT/sandbox.log" | sed 's/^/[sandbox] /' | tail -20
  e2e_log "done rc=$rc in $(( $(date +%s) - start )) s"; exit $rc
  ;;
all|server)
  # ---- where /dev/kvm works: code-server (+ the browser and the UI test for "all")
  RUN=$(mktemp -d "${TMPDIR:-/tmp}/kvmdbg-e2e-XXXX")
  # Inside the sandbox every instruction is emulated (QEMU TCG), and code that
  # V8's compilers emit is translated a second time by QEMU: the extension host
  # loads its 1.5 MB bundle ~40% faster on V8's interpreter alone (14-15 s vs
  # 23-34 s measured there), and the workbench gives it 60 s to say it is ready.
  [[ -n ${KVM_SANDBOX:-} ]] && export E2E_SERVER_NODE_FLAGS=${E2E_SERVER_NODE_FLAGS---no-opt --no-maglev --no-sparkplug}
  mkdir -p "$OUT"
  e2e_profile "$RUN"
  make_workspaces "$RUN"
  bind=127.0.0.1:$PORT; [[ $E2E_INNER == server ]] && bind=0.0.0.0:$PORT   # reached through the sandbox's port forward
  e2e_log "starting code-server on $bind"
  t0=$(date +%s)
  e2e_start_server "$RUN" "$bind" "$OUT/code-server.log"
  cleanup() { e2e_stop_server "$RUN" "$OUT"; [[ -n ${E2E_KEEP:-} ]] || rm -rf "$RUN"; }
  trap cleanup EXIT
  e2e_wait_healthy "http://127.0.0.1:$PORT" 300 || { cat "$OUT/code-server.log"; echo "kvmdbg e2e: code-server did not answer in 300 s" >&2; exit 1; }
  e2e_log "code-server answers after $(( $(date +%s) - t0 )) s"
  if [[ $E2E_INNER == server ]]; then
    # (fsync first: the work tree is a 9p mount with a page cache inside the sandbox)
    printf 'RUN_DIR=%q\n' "$RUN" > "$OUT/server.env.tmp" && sync "$OUT/server.env.tmp" && mv "$OUT/server.env.tmp" "$OUT/server.env"
    deadline=$(( $(date +%s) + ${E2E_SERVE_S:-1800} ))
    while [[ ! -e $OUT/stop ]] && (( $(date +%s) < deadline )); do sleep 1; done
    e2e_log "told to stop$([[ -e $OUT/stop ]] || echo ' (no: the serving deadline passed)')"; exit 0
  fi
  e2e_log "running the UI test"
  [[ -n ${KVM_SANDBOX:-} ]] && export E2E_EXTHOST_READY_S=${E2E_EXTHOST_READY_S:-600}
  rc=0; ui_test "http://127.0.0.1:$PORT" "$RUN" || rc=$?
  e2e_log "done rc=$rc"; exit $rc
  ;;
*) echo "kvmdbg e2e: unknown E2E_INNER=$E2E_INNER" >&2; exit 2 ;;
esac
