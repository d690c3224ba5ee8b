# Shared by test/e2e/e2e.sh and bench/activation.sh (source it): the cached
# tools (code-server + playwright-core), the .vsix installed into a staging
# extensions dir, a fresh code-server profile, and the server itself.
# Nothing is downloaded at test time except the one-time npm install of the
# tools into $TOOLS (cached between runs).
E2E_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
TOOLS=${TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/kvmdbg-e2e}
CS_VERSION=4.100.3          # newest code-server whose install accepts Node 20 (VS Code 1.100.3)
PW_VERSION=1.65.1
RG_PKG_VERSION=1.15.11; RG_ASSET=ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz
CS=$TOOLS/node_modules/.bin/code-server
# The extension installed once, natively, by e2e_stage_vsix; every run copies it.
E2E_STAGE=$E2E_ROOT/test-output/e2e-ext
e2e_log() { echo "[e2e $(date +%T)] $*"; }

e2e_tools() {
  local need=() p
  for p in chromium ripgrep libkrb5-dev; do dpkg -s "$p" >/dev/null 2>&1 || need+=("$p"); done
  if ((${#need[@]})); then echo "kvmdbg e2e: missing apt packages ${need[*]}: run sudo .ci/install-apt" >&2; return 1; fi
  [[ -x $CS && -d $TOOLS/node_modules/playwright-core ]] && return 0
  e2e_log "installing code-server@$CS_VERSION + playwright-core@$PW_VERSION into $TOOLS (once, ~2-6 min)"
  mkdir -p "$TOOLS/tmp/vscode-ripgrep-cache-$RG_PKG_VERSION"
  # @vscode/ripgrep's postinstall downloads rg from GitHub: pre-seed its cache with Debian's rg.
  tar czf "$TOOLS/tmp/vscode-ripgrep-cache-$RG_PKG_VERSION/$RG_ASSET" -C /usr/bin rg
  ( cd "$TOOLS" && { [[ -f package.json ]] || echo '{"private":true}' > package.json; }
    TMPDIR="$TOOLS/tmp" npm_config_nodedir=/usr npm_config_yes=true \
      npm install --no-audit --no-fund --unsafe-perm "code-server@$CS_VERSION" "playwright-core@$PW_VERSION" )
}

# Packages the .vsix (unless E2E_SKIP_PACKAGE) and installs it into $E2E_STAGE,
# natively: inside the emulated sandbox the install step alone takes minutes.
e2e_stage_vsix() {
  if [[ -z ${E2E_SKIP_PACKAGE:-} ]]; then e2e_log "packaging the .vsix"; (cd "$E2E_ROOT" && node scripts/package.mjs | grep -v '^ *[│├└]'); fi
  local vsix; vsix=$(ls -t "$E2E_ROOT"/kvmdbg-*-linux-x64.vsix | head -1)
  rm -rf "$E2E_STAGE" "$E2E_ROOT/test-output/e2e-xdg"; mkdir -p "$E2E_STAGE"
  e2e_log "installing $(basename "$vsix") into code-server's extension dir"
  XDG_CONFIG_HOME="$E2E_ROOT/test-output/e2e-xdg" "$CS" --user-data-dir "$E2E_ROOT/test-output/e2e-xdg/ud" \
    --extensions-dir "$E2E_STAGE" --install-extension "$vsix" 2>&1 | tail -1
  rm -rf "$E2E_ROOT/test-output/e2e-xdg"
}

# A fresh profile in $1: settings that keep the workbench quiet (no tours, no
# git scan, no update or telemetry traffic) and the staged extension.
e2e_profile() {
  local run=$1
  mkdir -p "$run/ud/User" "$run/ext"
  cat > "$run/ud/User/settings.json" <<'JSON'
{ "workbench.startupEditor": "none", "extensions.autoCheckUpdates": false, "extensions.autoUpdate": false,
  "telemetry.telemetryLevel": "off", "update.mode": "none", "security.workspace.trust.enabled": false,
  "terminal.integrated.gpuAcceleration": "off", "workbench.tips.enabled": false,
  "debug.openDebug": "openOnDebugBreak", "debug.internalConsoleOptions": "neverOpen", "files.simpleDialog.enable": true,
  "git.enabled": false, "git.openRepositoryInParentFolders": "never", "editor.minimap.enabled": false,
  "extensions.ignoreRecommendations": true, "workbench.enableExperiments": false, "npm.autoDetect": "off",
  "typescript.tsc.autoDetect": "off", "task.autoDetect": "off", "search.followSymlinks": false }
JSON
  [[ -f $E2E_STAGE/extensions.json ]] || { echo "kvmdbg e2e: no extension staged in $E2E_STAGE (e2e_stage_vsix)" >&2; return 1; }
  cp -r "$E2E_STAGE/." "$run/ext/"
  sed -i "s#$E2E_STAGE#$run/ext#g" "$run/ext/extensions.json"
}

# Starts code-server on $2 (host:port) with the profile in $1, output to $3;
# sets CS_PID (a process group leader: stop it with e2e_stop_server).
# VSCODE_CLI=1: the server takes this environment as the user's and skips
# resolving a login shell's (bash -ilc, 10 s timeout, twice: extension host and
# terminal host), as it does when started from a terminal. E2E_SERVER_NODE_FLAGS:
# V8 flags for the server and the extension host it forks (they inherit its
# execArgv; the debug adapter does not).
e2e_start_server() {
  local run=$1 bind=$2 log=$3
  # shellcheck disable=SC2086
  VSCODE_CLI=1 XDG_CONFIG_HOME="$run/xdg" TOOLS=$TOOLS setsid node ${E2E_SERVER_NODE_FLAGS:-} "$E2E_ROOT/test/e2e/start-code-server.js" --bind-addr "$bind" --auth none \
    --user-data-dir "$run/ud" --extensions-dir "$run/ext" --disable-telemetry --disable-update-check \
    --disable-workspace-trust --disable-getting-started-override > "$log" 2>&1 < /dev/null &
  CS_PID=$!
}

# The whole group: server, extension host, debug adapter, file watcher. Keeps the extension host logs in $2.
e2e_stop_server() {
  local run=$1 keep=$2
  [[ -n ${CS_PID:-} ]] && kill -- -"$CS_PID" 2>/dev/null || true
  [[ -n $keep ]] && find "$run/ud/logs" -name '*.log' \( -path '*exthost*' -o -name 'remoteagent.log' \) -exec cp {} "$keep/" \; 2>/dev/null || true
}

# Waits up to $2 s for code-server at $1 to answer; non-zero if it never did.
e2e_wait_healthy() {
  local url=$1 secs=$2 i
  for ((i = 0; i < secs; i++)); do curl -sf -m 5 -o /dev/null "$url/healthz" && return 0; sleep 1; done
  return 1
}

# Runs playwright-core scripts with the cached tools.
e2e_node() { NODE_PATH="$TOOLS/node_modules" node "$@"; }
