#!/usr/bin/env bash
# Real clients with authentication over HTTPS (ADR-0010, Decision 8): per mode (basic: htpasswd on
# every request; token: the Docker token flow), one fresh server with a throw-away test CA, an
# htpasswd file and a policy (test/clients/auth-fixture.sh), driven by oras, crane, regctl, cosign 2
# and 3, skopeo and podman (test/clients/auth-scenarios/*.sh; 99-events.sh last checks that every
# event names its actor). Every client trusts the CA through SSL_CERT_FILE and has a private HOME,
# DOCKER_CONFIG, REGCTL_CONFIG and REGISTRY_AUTH_FILE. Prints PASS/FAIL per scenario and
# "N passed, M failed". Exit 0: all passed; 1: one failed; 3: NOT RUN (a prerequisite could not be
# installed).
#
#   bash test/clients/auth.sh                 # both modes
#   bash test/clients/auth.sh token           # one mode
#   bash test/clients/auth.sh basic oras      # only scenarios whose file name contains "oras"
#   KEEP_WORK=1 bash test/clients/auth.sh     # keep the temp dir (server logs, scenario logs, files)
#
# Needs the pinned Go clients in .tools/bin (installed by scripts/install-go-tools.sh when missing),
# skopeo, podman, jq, curl and openssl (installed with apt-get when missing and we are root), node.
# SERVE as in run.sh (the command must pass AUTH_CONFIG, TLS_CERT and TLS_KEY on to the registry).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
HERE=$ROOT/test/clients
BIN=$ROOT/.tools/bin
read -r -a SERVE_CMD <<<"${SERVE:-node dist/cli.js serve}"

modes=(basic token)
case "${1:-}" in
  basic | token) modes=("$1"); shift ;;
  both) shift ;;
esac

not_run() { echo "NOT RUN: $*" >&2; exit 3; }

packages=()
for tool in skopeo podman jq curl openssl; do command -v "$tool" >/dev/null || packages+=("$tool"); done
if [ ${#packages[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing: ${packages[*]}"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${packages[@]}"; } ||
      not_run "apt-get install ${packages[*]} failed"
  else
    not_run "missing ${packages[*]} (Debian: apt-get install -y ${packages[*]})"
  fi
fi
# shellcheck source=server.sh
source "$HERE/server.sh"
prepare_suite artifact-store-auth || not_run "the pinned Go clients or the build could not be made"

clients=
for t in oras crane regctl cosign2 cosign3; do
  v=$(cat "$BIN/$t.version" 2>/dev/null || echo '?')
  clients+="$t ${v##*@}, "
done
echo "clients: $clients$(skopeo --version), $(podman --version)"
echo "work dir $WORK$([ "${KEEP_WORK:-}" = 1 ] && echo ' (kept)')"


export ROOT NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost
for mode in "${modes[@]}"; do
  dir=$WORK/$mode
  mkdir -p "$dir"
  chmod 755 "$dir"
  # AUTH_MODE, AUTH_CONFIG, TLS_CERT, TLS_KEY (the server reads them), TEST_CA, PASSWORD_<USER>.
  fixture=$(bash "$HERE/auth-fixture.sh" "$dir/fixture" "$mode")
  set -a
  eval "$fixture"
  set +a
  SERVER_SCHEME=https SERVER_CA=$TEST_CA
  start_server "$dir/data" "$dir/server.log"
  export REG=localhost:$SERVER_PORT
  echo "== mode $mode: registry at https://$REG"

  # A private client environment: no user config, credentials or caches leak in or out (each
  # scenario narrows it to its own directory, auth-lib.sh).
  export HOME=$dir/home SSL_CERT_FILE=$TEST_CA CURL_CA_BUNDLE=$TEST_CA
  export DOCKER_CONFIG=$HOME/.docker REGCTL_CONFIG=$HOME/.regctl/config.json TUF_ROOT=$HOME/.sigstore/root
  export REGISTRY_AUTH_FILE=$HOME/containers-auth.json XDG_CONFIG_HOME=$HOME/.config XDG_CACHE_HOME=$HOME/.cache
  mkdir -p "$DOCKER_CONFIG" "$(dirname "$REGCTL_CONFIG")"

  run_scenarios "$HERE/auth-scenarios" "$dir/scenarios" "$mode/" "$@"

  # The server must have survived every scenario.
  ok=0
  kill -0 "$SERVER_PID" 2>/dev/null && curl -s -o /dev/null "https://$REG/v2/" || ok=1
  record $ok "$mode/server-alive" "$dir/server.log"
  if grep -q 'request failed' "$dir/server.log"; then
    echo "note: the server logged internal errors ($dir/server.log):"
    grep -A5 'request failed' "$dir/server.log" | head -40 | sed 's/^/    /'
  fi
  stop_server
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
