#!/usr/bin/env bash
# kvmdbg's end-to-end test in a real VS Code: code-server (VS Code 1.100.3's
# server + web workbench, real extension host) opened in headless Debian
# chromium driven by playwright-core. Installs the built .vsix, opens a
# workspace holding a test kernel, presses F5 through the UI and checks what a
# person sees. Adapted from shared/vscode-e2e. Nothing is downloaded at test
# time except the one-time npm install of the tools into $TOOLS (cached).
# Where /dev/kvm is missing, the whole test runs inside test/sandbox/run.
#   npm run test:e2e            (E2E_KEEP=1 keeps the run directory)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
TOOLS=${TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/kvmdbg-e2e}
CS_VERSION=4.100.3          # newest code-server whose install accepts Node 20 (VS Code 1.100.3)
PW_VERSION=1.65.1
RG_PKG_VERSION=1.15.11; RG_ASSET=ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz
PORT=${PORT:-18123}
OUT=$ROOT/test-output/e2e
t() { echo "[e2e $(date +%T)] $*"; }
cd "$ROOT"

if [[ -z ${E2E_INNER:-} ]]; then
  # ---- outside the sandbox: tools, the .vsix, then run (here or in the sandbox)
  need=(); for p in chromium ripgrep libkrb5-dev; do dpkg -s "$p" >/dev/null 2>&1 || need+=("$p"); done
  if ((${#need[@]})); then echo "kvmdbg e2e: missing apt packages ${need[*]}: run sudo .ci/install-apt" >&2; exit 1; fi
  if [[ ! -x $TOOLS/node_modules/.bin/code-server || ! -d $TOOLS/node_modules/playwright-core ]]; then
    t "installing code-server@$CS_VERSION + playwright-core@$PW_VERSION into $TOOLS (once, ~2-6 min)"
    mkdir -p "$TOOLS/tmp/vscode-ripgrep-cache-$RG_PKG_VERSION"
    # @vscode/ripgrep's postinstall downloads rg from GitHub: pre-seed its cache with Debian's rg.
    tar czf "$TOOLS/tmp/vscode-ripgrep-cache-$RG_PKG_VERSION/$RG_ASSET" -C /usr/bin rg
    ( cd "$TOOLS" && { [[ -f package.json ]] || echo '{"private":true}' > package.json; }
      TMPDIR="$TOOLS/tmp" npm_config_nodedir=/usr npm_config_yes=true \
        npm install --no-audit --no-fund --unsafe-perm "code-server@$CS_VERSION" "playwright-core@$PW_VERSION" )
  fi
  if [[ -z ${E2E_SKIP_PACKAGE:-} ]]; then t "packaging the .vsix"; node scripts/package.mjs; fi
  rm -rf "$OUT"; mkdir -p "$OUT"
  # Install the .vsix here, natively (inside the emulated sandbox this takes
  # a minute); the inner run copies the installed extension into its profile.
  VSIX=$(ls -t "$ROOT"/kvmdbg-*-linux-x64.vsix | head -1)
  STAGE=$ROOT/test-output/e2e-ext; rm -rf "$STAGE" "$ROOT/test-output/e2e-xdg"; mkdir -p "$STAGE"
  t "installing $(basename "$VSIX") into code-server's extension dir"
  XDG_CONFIG_HOME="$ROOT/test-output/e2e-xdg" "$TOOLS/node_modules/.bin/code-server" --user-data-dir "$ROOT/test-output/e2e-xdg/ud" \
    --extensions-dir "$STAGE" --install-extension "$VSIX" 2>&1 | tail -1
  rm -rf "$ROOT/test-output/e2e-xdg"
  if [[ -n ${E2E_DIRECT:-} || ( -e /dev/kvm && -r /dev/kvm && -w /dev/kvm ) ]]; then
    E2E_INNER=1 TOOLS=$TOOLS exec bash "$0"
  fi
  t "no usable /dev/kvm here: running the whole E2E inside the KVM sandbox (emulated, slow)"
  start=$(date +%s)
  rc=0; test/sandbox/run -m 6144 -c 2 -t 1500 -- env TMPDIR=/tmp TOOLS="$TOOLS" E2E_INNER=1 bash "$0" || rc=$?
  t "sandbox run finished: rc=$rc in $(( $(date +%s) - start )) s"
  exit $rc
fi

# ---- where /dev/kvm works: code-server + chromium + the UI test
VSIX=$(ls -t "$ROOT"/kvmdbg-*-linux-x64.vsix | head -1)
RUN=$(mktemp -d "${TMPDIR:-/tmp}/kvmdbg-e2e-XXXX")
mkdir -p "$RUN/ud/User" "$RUN/ext" "$RUN/ws/.vscode" "$RUN/ws-f5" "$OUT"
# Workspace A (the main scenario): the test kernel and a launch.json for it. Its
# DWARF names its sources by absolute path (/work/main/test/guests/...), which
# exist here and inside the sandbox; the UI test opens main.c from there.
cp test/guests/build/pvh64.elf "$RUN/ws/"
cat > "$RUN/ws/.vscode/launch.json" <<'JSON'
{
  "version": "0.2.0",
  "configurations": [
    { "type": "kvm", "request": "launch", "name": "Boot pvh64.elf (KVM)",
      "kernel": "${workspaceFolder}/pvh64.elf", "symbols": "${workspaceFolder}/pvh64.elf",
      "memory": "64M", "stopOnEntry": false }
  ]
}
JSON
# Workspace B: only the kernel, no launch.json (F5 must find it and say so).
cp test/guests/build/pvh64.elf "$RUN/ws-f5/"
cat > "$RUN/ud/User/settings.json" <<'JSON'
{ "workbench.startupEditor": "none", "extensions.autoCheckUpdates": false, "extensions.autoUpdate": false,
  "telemetry.telemetryLevel": "off", "update.mode": "none", "security.workspace.trust.enabled": false,
  "terminal.integrated.gpuAcceleration": "off", "workbench.tips.enabled": false,
  "debug.openDebug": "openOnDebugBreak", "debug.internalConsoleOptions": "neverOpen", "files.simpleDialog.enable": true }
JSON
CS=$TOOLS/node_modules/.bin/code-server
STAGE=$ROOT/test-output/e2e-ext
if [[ -f $STAGE/extensions.json ]]; then
  t "using the extension installed outside: $(ls "$STAGE" | grep kvmdbg)"
  cp -r "$STAGE/." "$RUN/ext/"
  sed -i "s#$STAGE#$RUN/ext#g" "$RUN/ext/extensions.json"
else
  t "installing $(basename "$VSIX") into code-server"
  XDG_CONFIG_HOME="$RUN/xdg" "$CS" --user-data-dir "$RUN/ud" --extensions-dir "$RUN/ext" --install-extension "$VSIX" 2>&1 | tail -2
fi
t "starting code-server on 127.0.0.1:$PORT"
XDG_CONFIG_HOME="$RUN/xdg" TOOLS=$TOOLS setsid node "$ROOT/test/e2e/start-code-server.js" --bind-addr "127.0.0.1:$PORT" --auth none \
  --user-data-dir "$RUN/ud" --extensions-dir "$RUN/ext" --disable-telemetry --disable-update-check \
  --disable-workspace-trust --disable-getting-started-override > "$OUT/code-server.log" 2>&1 < /dev/null &
CS_PID=$!
cleanup() {
  kill -- -"$CS_PID" 2>/dev/null || true   # the whole group: server, extension host, adapter, watcher
  find "$RUN/ud/logs" -name '*.log' -path '*exthost*' -exec cp {} "$OUT/" \; 2>/dev/null || true
  [[ -n ${E2E_KEEP:-} ]] || rm -rf "$RUN"
}
trap cleanup EXIT
for _ in $(seq 1 300); do curl -sf -m 5 -o /dev/null "http://127.0.0.1:$PORT/healthz" && break; sleep 1; done
t "code-server answers (or gave up waiting): $(curl -s -m 5 http://127.0.0.1:$PORT/healthz)"
t "running the UI test"
set +e
NODE_PATH="$TOOLS/node_modules" node "$ROOT/test/e2e/ui-test.js" "http://127.0.0.1:$PORT" "$OUT" "$RUN/ws" "$RUN/ws-f5" 2>&1 | tee "$OUT/ui-test.log"
rc=${PIPESTATUS[0]}; set -e
t "done rc=$rc"; exit $rc
