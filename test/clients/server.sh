# Starting and stopping one registry for the shell suites (sourced by test/clients/run.sh and
# test/clients/auth.sh). The caller sets:
#   SERVE_CMD  the command as an array (default `node dist/cli.js serve`; it gets PORT, HOST and
#              DATA_DIR from the environment, and whatever else the caller exported: AUTH_CONFIG, TLS_*)
#   SERVER_SCHEME  http (default) or https; with https, SERVER_CA is the CA file that checks the probe
# start_server sets SERVER_PID and SERVER_PORT; stop_server ends that process (and only it);
# run_scenarios runs scenario files and counts them (passed, failed) with record.
SERVER_PID=
SERVER_PORT=
: "${SERVER_SCHEME:=http}"

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# server_answers <port>: the registry answers /v2/ (200, or 401 when it wants credentials).
server_answers() {
  local tls=() code
  [ "$SERVER_SCHEME" = https ] && tls=(--cacert "$SERVER_CA")
  code=$(curl -s -o /dev/null -w '%{http_code}' "${tls[@]}" "$SERVER_SCHEME://127.0.0.1:$1/v2/" 2>/dev/null) || true
  [ "$code" = 200 ] || [ "$code" = 401 ]
}

# start_server <data-dir> <log>: starts the server on the first free port in 5100-5199 (from a random
# offset, so parallel runs rarely collide) and waits until it answers.
start_server() {
  local data=$1 log=$2 first=$((RANDOM % 100)) i port
  for i in $(seq 0 99); do
    port=$((5100 + (first + i) % 100))
    port_in_use "$port" && continue
    HOST=127.0.0.1 PORT=$port DATA_DIR="$data" "${SERVE_CMD[@]}" >"$log" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 120); do
      if server_answers "$port" && grep -q 'listening on' "$log"; then
        SERVER_PORT=$port
        return 0
      fi
      kill -0 "$SERVER_PID" 2>/dev/null || break
      sleep 0.5
    done
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=
    grep -q 'is in use on' "$log" && continue # lost a race for the port: try the next
    echo "error: the server did not start:" >&2
    cat "$log" >&2
    return 1
  done
  echo "error: no free port in 5100-5199" >&2
  return 1
}

# stop_server: SIGTERM, up to 10 s, then SIGKILL.
stop_server() {
  [ -n "$SERVER_PID" ] || return 0
  kill "$SERVER_PID" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.2; done
  kill -9 "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=
}

# prepare_suite <name>: the pinned Go clients (installed when missing), dist/ built, and a work folder
# WORK (/tmp/<name>.XXXXXX; the embedded PostgreSQL may enter it), removed on exit unless KEEP_WORK=1,
# when the server is stopped too. Needs ROOT.
prepare_suite() {
  local tool
  for tool in oras crane regctl cosign2 cosign3; do
    if [ ! -x "$ROOT/.tools/bin/$tool" ]; then
      echo "installing the pinned Go clients (scripts/install-go-tools.sh)"
      ONLY="oras crane regctl cosign2 cosign3" bash "$ROOT/scripts/install-go-tools.sh" || return 1
      break
    fi
  done
  (cd "$ROOT" && npx tsc -p tsconfig.build.json) || return 1
  WORK=$(mktemp -d "/tmp/$1.XXXXXX")
  chmod 755 "$WORK"
  # shellcheck disable=SC2317 # invoked by the EXIT trap
  trap 'stop_server; [ "${KEEP_WORK:-}" = 1 ] || rm -rf "$WORK"' EXIT
  trap "exit 130" INT TERM
}

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

# run_scenarios <scenario-dir> <work-dir> <label-prefix> [name filters...]: runs each *.sh whose name
# contains one of the filters (all without filters) in an empty folder of its own, at most 5 minutes.
run_scenarios() {
  local from=$1 work=$2 prefix=$3 script name match want dir start ok
  shift 3
  for script in "$from"/*.sh; do
    name=$(basename "$script" .sh)
    if [ $# -gt 0 ]; then
      match=0
      for want in "$@"; do [[ $name == *"$want"* ]] && match=1; done
      [ $match = 1 ] || continue
    fi
    dir=$work/$name
    mkdir -p "$dir"
    start=$SECONDS
    ok=0
    (cd "$dir" && timeout --kill-after=10 300 bash "$script") >"$dir.log" 2>&1 || ok=1
    record $ok "$prefix$name ($((SECONDS - start))s)" "$dir.log"
  done
}
