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

for tool in skopeo jq curl; do
  command -v "$tool" >/dev/null || {
    echo "error: $tool is not on PATH (Debian: apt-get install -y $tool; .ci/run installs it)" >&2
    exit 2
  }
done

# shellcheck source=server.sh
source "$HERE/server.sh"
prepare_suite artifact-store-clients

# Garbage collection frees what became unreferenced 5 s ago (13-gc.sh); 24 h would keep everything.
export GC_DELAY=${GC_DELAY:-5s}
start_server "$WORK/data" "$WORK/server.log"
# The blob store's folder, where 13-gc.sh measures what gc freed (none when SERVE puts it elsewhere).
STORE_DIR=
[ -z "${SERVE:-}" ] && STORE_DIR=$WORK/data/blobs
export STORE_DIR
REG=127.0.0.1:$SERVER_PORT
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


run_scenarios "$HERE/scenarios" "$WORK/scenarios" "" "$@"

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
