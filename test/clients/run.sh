#!/usr/bin/env bash
# Real-client end-to-end suite: builds the registry, starts one fresh server on a free port in
# 5100-5199 with a throw-away DATA_DIR, and drives it with oras, crane, cosign (v2 and v3), skopeo and
# regctl (test/clients/scenarios/*.sh; 09-readme.sh runs the client examples in README.md as written).
# Prints PASS/FAIL per scenario and "N passed, M failed".
#
#   bash test/clients/run.sh            # every scenario
#   bash test/clients/run.sh cosign     # only scenarios whose file name contains "cosign"
#   KEEP_WORK=1 bash test/clients/run.sh   # keep the temp dir (server log, scenario logs, files)
#
# Needs the pinned Go clients in .tools/bin (scripts/install-go-tools.sh builds them) and skopeo, jq
# and curl on PATH.
#
# SERVE is the command that starts the registry (default `node dist/cli.js serve`; it gets PORT, HOST
# and DATA_DIR from the environment; split on spaces, no quoting), e.g. two nodes behind a round-robin
# proxy, sharing a PostgreSQL and an S3 bucket:
#   node scripts/with-postgres.mjs node scripts/with-s3.mjs \
#     env SERVE="node scripts/serve-nodes.mjs 2" bash test/clients/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
HERE=$ROOT/test/clients
BIN=$ROOT/.tools/bin
read -r -a SERVE_CMD <<<"${SERVE:-node dist/cli.js serve}"

for tool in oras crane regctl cosign2 cosign3; do
  if [ ! -x "$BIN/$tool" ]; then
    echo "installing the pinned Go clients (scripts/install-go-tools.sh)"
    ONLY="oras crane regctl cosign2 cosign3" bash scripts/install-go-tools.sh
    break
  fi
done
for tool in skopeo jq curl; do
  command -v "$tool" >/dev/null || {
    echo "error: $tool is not on PATH (Debian: apt-get install -y $tool; .ci/run installs it)" >&2
    exit 2
  }
done

npx tsc -p tsconfig.build.json

WORK=$(mktemp -d /tmp/artifact-store-clients.XXXXXX)
# The embedded PostgreSQL runs as an unprivileged user when we are root: it must be able to enter.
chmod 755 "$WORK"
SERVER_PID=
cleanup() {
  if [ -n "$SERVER_PID" ]; then
    kill "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  [ "${KEEP_WORK:-}" = 1 ] || rm -rf "$WORK"
}
trap cleanup EXIT
trap "exit 130" INT TERM

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Starts the server on the first free port (from a random offset, so parallel runs rarely collide).
start_server() {
  local first=$((RANDOM % 100)) i port
  for i in $(seq 0 99); do
    port=$((5100 + (first + i) % 100))
    port_in_use "$port" && continue
    HOST=127.0.0.1 PORT=$port DATA_DIR="$WORK/data" "${SERVE_CMD[@]}" >"$WORK/server.log" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 120); do
      if curl -sf "http://127.0.0.1:$port/v2/" >/dev/null 2>&1 && grep -q 'listening on' "$WORK/server.log"; then
        REG=127.0.0.1:$port
        return 0
      fi
      kill -0 "$SERVER_PID" 2>/dev/null || break
      sleep 0.5
    done
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=
    grep -q 'is in use on' "$WORK/server.log" && continue # lost a race for the port: try the next
    echo "error: the server did not start:" >&2
    cat "$WORK/server.log" >&2
    return 1
  done
  echo "error: no free port in 5100-5199" >&2
  return 1
}
start_server
echo "registry at http://$REG; work dir $WORK$([ "${KEEP_WORK:-}" = 1 ] && echo ' (kept)')"
clients=
for t in oras crane regctl cosign2 cosign3; do
  v=$(cat "$BIN/$t.version" 2>/dev/null || echo '?')
  clients+="$t ${v##*@}, "
done
echo "clients: $clients$(skopeo --version)"

# A private client environment: no user config, credentials or caches leak in or out.
export REG ROOT
export HOME=$WORK/home
export DOCKER_CONFIG=$HOME/.docker REGCTL_CONFIG=$HOME/.regctl/config.json TUF_ROOT=$HOME/.sigstore/root
export REGISTRY_AUTH_FILE=$HOME/containers-auth.json XDG_CONFIG_HOME=$HOME/.config XDG_CACHE_HOME=$HOME/.cache
export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost
mkdir -p "$DOCKER_CONFIG" "$(dirname "$REGCTL_CONFIG")"
"$BIN/regctl" registry set "$REG" --tls disabled

passed=0
failed=0
# record <ok: 0|1> <label> <log>: counts one result; a failure shows the end of its log.
record() {
  if [ "$1" = 0 ]; then
    passed=$((passed + 1))
    echo "PASS $2"
  else
    failed=$((failed + 1))
    echo "FAIL $2 -- last lines of $3:"
    tail -25 "$3" | sed 's/^/    /'
  fi
}

for script in "$HERE"/scenarios/*.sh; do
  name=$(basename "$script" .sh)
  if [ $# -gt 0 ]; then
    match=0
    for want in "$@"; do [[ $name == *"$want"* ]] && match=1; done
    [ $match = 1 ] || continue
  fi
  dir=$WORK/scenarios/$name
  mkdir -p "$dir"
  start=$SECONDS
  ok=0
  (cd "$dir" && timeout --kill-after=10 300 bash "$script") >"$dir.log" 2>&1 || ok=1
  record $ok "$name ($((SECONDS - start))s)" "$dir.log"
done

# The server must have survived every scenario.
ok=0
kill -0 "$SERVER_PID" 2>/dev/null && curl -sf "http://$REG/v2/" >/dev/null || ok=1
record $ok server-alive "$WORK/server.log"
if grep -q 'request failed' "$WORK/server.log"; then
  echo "note: the server logged internal errors:"
  grep -A5 'request failed' "$WORK/server.log" | head -40 | sed 's/^/    /'
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
