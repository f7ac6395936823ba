#!/usr/bin/env bash
# Runs the official OCI distribution-spec conformance suites against a freshly started registry:
#   v1.1.1   the v1.1.1 suite (ginkgo, `go test -c`), all four workflows;
#   current  the current suite (main, pinned pseudo-version) with OCI_VERSION=1.1 and every optional API
#            we implement switched on.
# Usage: bash conformance/run.sh [current|v1.1.1|all]   (default all)
#        AUTH=basic|token bash conformance/run.sh current   (with authentication, see below)
# Reports go to results/conformance/<suite>/ (git-ignored). Exit status: 0 when every suite asked for
# ran and passed; 1 when one failed; 3 when none failed but one could not run (never read that as a pass).
#
# The v1.1.1 suite cannot come from the Go module proxy (it refuses the suite's pseudo-version); set
# CONFORMANCE_V111 to a binary built by hand with `go test -c` from the distribution-spec repository
# at tag v1.1.1 (its conformance/ directory). Without it the v1.1.1 suite is reported NOT RUN.
#
# AUTH=basic or AUTH=token runs the suites with credentials over HTTPS: the server gets the fixture of
# test/clients/auth-fixture.sh (a throw-away test CA, an htpasswd file, AUTH_CONFIG in that mode, in
# which the user `conformance` may pull, push and delete everything), the suites get
# OCI_USERNAME=conformance, OCI_PASSWORD, the registry as https://localhost:<port> and the CA through
# SSL_CERT_FILE; reports go to results/conformance/<suite>-auth-<mode>/.
#
# SERVE is the command that starts the registry (default `node dist/cli.js serve`; it gets PORT, HOST
# and DATA_DIR from the environment; split on spaces, no quoting), e.g. two nodes behind a round-robin
# proxy, sharing a PostgreSQL and an S3 bucket:
#   node scripts/with-postgres.mjs node scripts/with-s3.mjs \
#     env SERVE="node scripts/serve-nodes.mjs 2" bash conformance/run.sh current
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
WHICH=${1:-all}
case "$WHICH" in current | v1.1.1 | all) ;; *) echo "usage: $0 [current|v1.1.1|all]" >&2; exit 2 ;; esac
want() { [ "$WHICH" = all ] || [ "$WHICH" = "$1" ]; }
AUTH=${AUTH:-}
case "$AUTH" in '' | basic | token) ;; *) echo "AUTH must be basic or token, got '$AUTH'" >&2; exit 2 ;; esac
read -r -a SERVE_CMD <<<"${SERVE:-node dist/cli.js serve}"

want current && { ONLY=conformance bash scripts/install-go-tools.sh >/dev/null; }
node scripts/build-if-stale.mjs

RESULTS="$ROOT/results/conformance"
mkdir -p "$RESULTS"
WORK=$(mktemp -d)
# The embedded PostgreSQL runs as an unprivileged user when we are root: it must be able to enter.
chmod 755 "$WORK"
SERVER_PID=
# shellcheck disable=SC2317 # invoked by the EXIT trap
cleanup() { [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT

# With AUTH: the server's settings, the suites' credentials and CA, and where the reports go.
SERVER_ENV=()
SUITE_AUTH=()
CURL_TLS=()
SUFFIX=
DESCRIBED=
if [ -n "$AUTH" ]; then
  command -v openssl >/dev/null || { echo "NOT RUN: AUTH needs openssl (apt-get install openssl)"; exit 3; }
  # AUTH_CONFIG, TLS_CERT, TLS_KEY, TEST_CA, PASSWORD_CONFORMANCE (and the other users' passwords).
  fixture=$(bash "$ROOT/test/clients/auth-fixture.sh" "$WORK/fixture" "$AUTH")
  eval "$fixture"
  SERVER_ENV=(AUTH_CONFIG="$AUTH_CONFIG" TLS_CERT="$TLS_CERT" TLS_KEY="$TLS_KEY")
  SUITE_AUTH=(OCI_USERNAME=conformance OCI_PASSWORD="$PASSWORD_CONFORMANCE" SSL_CERT_FILE="$TEST_CA")
  CURL_TLS=(--cacert "$TEST_CA")
  SUFFIX=-auth-$AUTH
  DESCRIBED=", auth $AUTH over HTTPS"
fi

start_server() {
  local data="$WORK/data-$1" log="$RESULTS/server-$1$SUFFIX.log" code
  [ -n "$SERVER_PID" ] && { kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; }
  env "${SERVER_ENV[@]}" PORT=0 HOST=127.0.0.1 DATA_DIR="$data" "${SERVE_CMD[@]}" > "$log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 120); do
    URL=$(grep -o 'https\?://127.0.0.1:[0-9]*' "$log" | head -1 || true)
    if [ -n "$URL" ]; then
      # 401: it wants credentials (AUTH).
      code=$(curl -s -o /dev/null -w '%{http_code}' "${CURL_TLS[@]}" "$URL/v2/" || true)
      if [ "$code" = 200 ] || { [ -n "$AUTH" ] && [ "$code" = 401 ]; }; then
        # The test CA's leaf names localhost (and 127.0.0.1); clients are told the name.
        [ -z "$AUTH" ] || URL=${URL/127.0.0.1/localhost}
        return 0
      fi
    fi
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$log"; return 1; }
    sleep 0.5
  done
  echo "server did not start"; return 1
}

failed=0
not_run=0
summary=()

if want v1.1.1; then
  V111="${CONFORMANCE_V111:-$ROOT/.tools/bin/conformance-v1.1.1.test}"
  out="$RESULTS/v1.1.1$SUFFIX"; rm -rf "$out"; mkdir -p "$out"
  if [ -x "$V111" ]; then
    start_server v1.1.1
    set +e
    (cd "$out" && env "${SUITE_AUTH[@]}" OCI_ROOT_URL="$URL" OCI_NAMESPACE=conformance/repo OCI_CROSSMOUNT_NAMESPACE=conformance/other \
      OCI_TEST_PULL=1 OCI_TEST_PUSH=1 OCI_TEST_CONTENT_DISCOVERY=1 OCI_TEST_CONTENT_MANAGEMENT=1 \
      OCI_AUTOMATIC_CROSSMOUNT=1 OCI_HIDE_SKIPPED_WORKFLOWS=0 OCI_DEBUG=0 OCI_REPORT_DIR="$out" "$V111" -ginkgo.no-color > "$out/output.txt" 2>&1)
    rc=$?
    set -e
    line=$(grep -E 'Passed \| .* Failed' "$out/output.txt" | tail -1 || true)
    if [ $rc -eq 0 ]; then summary+=("conformance v1.1.1$DESCRIBED: PASSED — ${line:-no summary} ($V111)")
    else summary+=("conformance v1.1.1$DESCRIBED: FAILED — ${line:-no summary} (exit $rc)"); failed=1; tail -60 "$out/output.txt"; fi
  else
    summary+=("conformance v1.1.1$DESCRIBED: NOT RUN — no suite binary at $V111 (the Go module proxy refuses the suite's pseudo-version; set CONFORMANCE_V111)")
    not_run=1
  fi
fi

if want current; then
  start_server current
  out="$RESULTS/current$SUFFIX"; rm -rf "$out"; mkdir -p "$out"
  host=${URL#*://}
  tls=disabled
  [ -z "$AUTH" ] || tls=enabled
  set +e
  (cd "$out" && env "${SUITE_AUTH[@]}" OCI_REGISTRY="$host" OCI_TLS=$tls OCI_REPO1=conformance/repo1 OCI_REPO2=conformance/repo2 \
    OCI_VERSION=1.1 OCI_RESULTS_DIR="$out" OCI_LOG=warn \
    OCI_API_BLOBS_UPLOAD_CANCEL=true OCI_API_BLOBS_DIGEST_HEADER=true OCI_API_MANIFESTS_DIGEST_HEADER=true \
    OCI_API_MANIFESTS_TAG_PARAM=true \
    "$ROOT/.tools/bin/conformance" > "$out/output.txt" 2>&1)
  rc=$?
  set -e
  counts=$(grep -o 'tests="[0-9]*" failures="[0-9]*" errors="[0-9]*"\( skipped="[0-9]*"\)\?' "$out/junit.xml" 2>/dev/null | head -1 || true)
  if [ $rc -eq 0 ]; then summary+=("conformance current (OCI_VERSION=1.1$DESCRIBED): PASSED — ${counts:-no junit.xml}")
  else summary+=("conformance current (OCI_VERSION=1.1$DESCRIBED): FAILED — ${counts:-no junit.xml} (exit $rc)"); failed=1; grep -E ': Fail' "$out/output.txt" | head -40; fi
fi

printf '%s\n' "${summary[@]}"
echo "reports: $RESULTS"
[ $failed -eq 0 ] || exit 1
[ $not_run -eq 0 ] || exit 3
exit 0
