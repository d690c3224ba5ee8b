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
# Workspace E: kvmdbg's small Linux (scripts/build-linux.mjs, its directory in
# KVMDBG_SMALL_LINUX), an initramfs that loads kvmdbg_mod.ko, and a
# launch.json with modulePaths: a module breakpoint, the Modules, Tasks and
# Kernel Log views. It needs a KVM that runs unmodified Linux: where this
# host's cannot (PVM), scenario E alone runs with code-server in the sandbox.
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
# (A workspace without the small Linux holds no bzImage: scenario E then fails at its first check, saying so.)
linux_workspace() { # dir
  local dir=$1 k=${KVMDBG_SMALL_LINUX:-} root
  mkdir -p "$dir/.vscode"
  [[ -n $k && -e $k/bzImage && -e $k/kvmdbg_mod.ko ]] || { e2e_log "E: no small Linux in '$k' (node scripts/build-linux.mjs builds it)"; return 0; }
  cp "$k/bzImage" "$dir/"
  root=$(mktemp -d "${TMPDIR:-/tmp}/kvmdbg-e2e-initramfs-XXXX")
  mkdir -p "$root"/{bin,proc,sys,dev,tmp}
  cp /bin/busybox "$root/bin/"; cp "$k/kvmdbg_mod.ko" "$root/"
  cat > "$root/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc; mount -t sysfs sysfs /sys; mount -t devtmpfs devtmpfs /dev
echo KVMDBG-INIT-UP > /dev/kmsg
insmod /kvmdbg_mod.ko
while true; do sleep 10; done
INIT
  chmod +x "$root/init"
  (cd "$root" && find . | cpio -o -H newc 2>/dev/null) > "$dir/initramfs.cpio"
  rm -rf "$root"
  cat > "$dir/.vscode/launch.json" <<JSON
{
  "version": "0.2.0",
  "configurations": [
    { "type": "kvm", "request": "launch", "name": "Boot the small Linux (KVM)",
      "kernel": "\${workspaceFolder}/bzImage", "symbols": "$k/vmlinux", "initrd": "\${workspaceFolder}/initramfs.cpio",
      "cmdline": "console=ttyS0 panic=-1", "memory": "256M", "modulePaths": ["$k"], "stopOnEntry": false }
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
  linux_workspace "$run/ws-linux"
}

ui_test() { # url run-dir (its workspaces: make_workspaces) [log name]
  set +e
  E2E_LINUX_MODULE_SOURCE=${KVMDBG_SMALL_LINUX:-}/module/kvmdbg_mod.c \
    e2e_node "$ROOT/test/e2e/ui-test.js" "$1" "$OUT" "main=$2/ws" "f5=$2/ws-f5" "cdata=$2/ws-c" "screen=$2/ws-screen" "linux=$2/ws-linux" 2>&1 | tee "$OUT/${3:-ui-test}.log"
  local rc=${PIPESTATUS[0]}; set -e; return "$rc"
}

# Whether this host's KVM boots an unmodified Linux (the probe `kvmdbg doctor` prints).
linux_here() {
  node -e "require('./out/vmm/machine/host-probe.js').probeHost().then((r) => process.exit(r.capabilities.some((c) => c.id === 'linux' && c.works) ? 0 : 1), () => process.exit(1))"
}

# code-server (its extension host, the adapter, the VM) inside the sandbox, the browser here through a forwarded port.
split_run() { # log name
  e2e_log "code-server runs inside the KVM sandbox, the browser here (port $PORT forwarded)"
  if curl -s -m 2 -o /dev/null "http://127.0.0.1:$PORT/"; then echo "kvmdbg e2e: port $PORT is in use here: set PORT" >&2; return 1; fi
  rm -f "$OUT/server.env" "$OUT/stop"
  test/sandbox/run -m 4096 -c 2 -p "$PORT" -t 2700 -- env TMPDIR=/tmp TOOLS="$TOOLS" PORT="$PORT" E2E_INNER=server bash "$0" \
    > "$OUT/sandbox.log" 2>&1 &
  SBX=$!
  stop_sandbox() { touch "$OUT/stop"; wait "$SBX" 2>/dev/null || true; }
  trap stop_sandbox EXIT
  # The sandbox writes server.env (the workspace paths inside it) once code-server answers there.
  while [[ ! -s $OUT/server.env ]] && kill -0 "$SBX" 2>/dev/null; do sleep 2; done
  if [[ ! -s $OUT/server.env ]]; then cat "$OUT/sandbox.log" >&2; echo "kvmdbg e2e: code-server did not come up in the sandbox" >&2; return 1; fi
  source "$OUT/server.env"
  e2e_log "code-server answers inside the sandbox after $(( $(date +%s) - start )) s; running the UI test here"
  local rc=0; E2E_EXTHOST_READY_S=${E2E_EXTHOST_READY_S:-600} E2E_BUDGET_S=${E2E_BUDGET_S:-1500} ui_test "http://127.0.0.1:$PORT" "$RUN_DIR" "$1" || rc=$?
  stop_sandbox; trap - EXIT
  grep -v '^c$' "$OUT/sandbox.log" | sed 's/^/[sandbox] /' | tail -20
  return $rc
}

case ${E2E_INNER:-} in
'')
  # ---- outside the sandbox: tools, the .vsix, then run (here or split with the sandbox)
  start=$(date +%s)
  e2e_tools
  e2e_stage_vsix
  rm -rf "$OUT"; mkdir -p "$OUT"
  export KVMDBG_SMALL_LINUX=${KVMDBG_SMALL_LINUX:-$(node scripts/build-linux.mjs --print-dir)}
  if [[ -n ${E2E_DIRECT:-} ]]; then E2E_INNER=all exec bash "$0"; fi
  kvm_device=${KVMDBG_KVM_DEVICE:-/dev/kvm}
  if [[ -z ${E2E_SPLIT:-} && -e $kvm_device && -r $kvm_device && -w $kvm_device ]]; then
    if linux_here; then E2E_INNER=all exec bash "$0"; fi
    # This host's KVM runs no unmodified Linux (PVM): the Linux scenario goes to the sandbox, the rest runs here.
    wanted=${E2E_SCENARIOS:-main,cdata,screen,linux,f5}
    here=$(tr ',' '\n' <<< "$wanted" | { grep -vx linux || true; } | paste -sd, -)
    rc=0
    if [[ -n $here ]]; then E2E_SCENARIOS=$here E2E_INNER=all bash "$0" || rc=$?; fi
    if grep -qx linux <<< "$(tr ',' '\n' <<< "$wanted")"; then
      e2e_log "this host's KVM boots no unmodified Linux: scenario E (Linux) runs with code-server in the sandbox"
      E2E_SCENARIOS=linux split_run ui-test-linux || rc=$?
    fi
    e2e_log "done rc=$rc in $(( $(date +%s) - start )) s"; exit $rc
  fi
  if [[ -n ${E2E_WHOLE_SANDBOX:-} ]]; then
    e2e_log "no usable /dev/kvm here: running the whole E2E (browser too) inside the KVM sandbox (emulated, slow)"
    rc=0; test/sandbox/run -m 6144 -c 2 -t 1500 -- env TMPDIR=/tmp TOOLS="$TOOLS" PORT="$PORT" E2E_INNER=all bash "$0" || rc=$?
    e2e_log "sandbox run finished: rc=$rc in $(( $(date +%s) - start )) s"; exit $rc
  fi
  rc=0; split_run ui-test || rc=$?
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
