#!/usr/bin/env bash
# Runs schemathesis (property-based testing from the OpenAPI document) against the native API of a
# freshly started registry: every operation with generated valid and invalid requests (examples,
# coverage, fuzzing), then stateful sequences along the links schemathesis infers, with every check.
# Usage: bash scripts/schemathesis.sh [extra `st run` options…]
#   e.g. bash scripts/schemathesis.sh --header 'Authorization: Bearer …' --max-examples 200
# SCHEMATHESIS_URL=http://host:port tests a registry that is already running instead (its
# /api/v1/openapi.json; nothing is started or stopped). SCHEMATHESIS_SEED changes the seed,
# SCHEMATHESIS_MAX_EXAMPLES the number of cases per operation (75).
# schemathesis is installed from PyPI, pinned, in a venv under .tools/schemathesis (reused).
# Reports go to results/schemathesis/ (git-ignored): JUnit XML, an NDJSON event log, the console
# output, and the server's log. Exit status: 0 when no check failed; 1 when one did; 3 (NOT RUN) when
# Python 3, its venv module or pip is missing, or schemathesis could not be installed.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VERSION=4.32.5
VENV="$ROOT/.tools/schemathesis"
RESULTS="$ROOT/results/schemathesis"
ST="$VENV/bin/st"

not_run() { echo "schemathesis: NOT RUN — $*"; exit 3; }

if [ "$("$ST" --version 2>/dev/null)" != "st, version $VERSION" ]; then
  command -v python3 >/dev/null || not_run "no python3"
  python3 -c 'import venv, ensurepip' 2>/dev/null || not_run "python3 has no venv/ensurepip (Debian: apt-get install python3-venv)"
  rm -rf "$VENV"
  python3 -m venv "$VENV" || not_run "python3 -m venv failed"
  "$VENV/bin/python" -m pip --version >/dev/null 2>&1 || not_run "no pip in the venv"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "schemathesis==$VERSION" \
    || not_run "pip install schemathesis==$VERSION failed"
fi

mkdir -p "$RESULTS"
rm -f "$RESULTS"/*.xml "$RESULTS"/*.ndjson "$RESULTS"/output.txt
WORK=
SERVER_PID=
# shellcheck disable=SC2317 # invoked by the EXIT trap
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
  [ -n "$WORK" ] && rm -rf "$WORK"
  return 0
}
trap cleanup EXIT

if [ -n "${SCHEMATHESIS_URL:-}" ]; then
  URL=${SCHEMATHESIS_URL%/}
else
  node scripts/build-if-stale.mjs
  WORK=$(mktemp -d)
  # The embedded PostgreSQL runs as an unprivileged user when we are root: it must be able to enter.
  chmod 755 "$WORK"
  PORT=0 HOST=127.0.0.1 DATA_DIR="$WORK/data" node dist/cli.js serve > "$RESULTS/server.log" 2>&1 &
  SERVER_PID=$!
  URL=
  for _ in $(seq 120); do
    URL=$(grep -o 'listening on http://127.0.0.1:[0-9]*' "$RESULTS/server.log" | head -1 | sed 's/^listening on //' || true)
    [ -n "$URL" ] && curl -sf "$URL/v2/" >/dev/null && break
    URL=
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$RESULTS/server.log"; echo "schemathesis: the registry did not start"; exit 1; }
    sleep 0.5
  done
  [ -n "$URL" ] || { cat "$RESULTS/server.log"; echo "schemathesis: the registry did not start"; exit 1; }
fi

# What the command line cannot say per operation (schemathesis.toml, kept here with its reasons).
CONFIG=$(mktemp)
trap 'rm -f "$CONFIG"; cleanup' EXIT
cat > "$CONFIG" <<'TOML'
# Every check (`--checks all` on the command line would also switch the per-operation exceptions
# below back on: a check named there wins over the file), with the response time limit that
# `--checks all` sets.
[checks]
enabled = true
max_response_time = 10.0

# Failures kept for `st replay <id>` (relative to the repository root), out of the work tree.
[cache]
directory = "results/schemathesis/cache"

# Publishing a package: a manifest of the documented shape is still refused when its config or a
# file names a blob the repository does not have (400 manifest-references-unknown) or its metadata
# names a schema that is not registered (422 schema-unknown). That is server state, which no request
# schema can express, so positive_data_acceptance takes 400 and 422 here; every other check stays.
[[operations]]
include-operation-id = ["publishPackage", "publishPackageWithTag"]
checks.positive_data_acceptance.expected-statuses = ["2xx", "3xx", 400, 401, 403, 404, 409, 422, 429, "5xx"]

# A release's platform manifest must satisfy the registered schema it names (422 metadata-invalid,
# or schema-unknown when no such schema is registered): server state, as for a package's metadata.
[[operations]]
include-operation-id = "createRelease"
checks.positive_data_acceptance.expected-statuses = ["2xx", "3xx", 401, 403, 404, 409, 422, 429, "5xx"]

# Completing an upload checks the digests given against the bytes received: a well-formed digest of
# other bytes is 400 digest-mismatch (as at /v2/). Again server state, not request shape.
[[operations]]
include-operation-id = "completeUpload"
checks.positive_data_acceptance.expected-statuses = ["2xx", "3xx", 400, 401, 403, 404, 409, 429, "5xx"]

# An import's manifests must match the digests given and name blobs the repository has (400
# digest-mismatch, manifest-references-unknown), its tags must be free to move (409): server state
# and the bytes' own digests, which no request schema can express.
[[operations]]
include-operation-id = "importManifests"
checks.positive_data_acceptance.expected-statuses = ["2xx", "3xx", 400, 401, 403, 404, 409, 429, "5xx"]

# A completion ends its upload session, a failed one too (digest mismatch: nothing is kept, as at
# /v2/), so the session is then 404 for every operation; ensure_resource_availability counts only a
# DELETE as the end of a resource and would call that 404 a lost resource.
[[operations]]
include-operation-id = ["getUpload", "headUpload", "appendUpload", "completeUpload", "cancelUpload"]
checks.ensure_resource_availability.enabled = false

# The event stream never ends by itself: what it sends at once (the events after `after`) is read
# for a second at most, up to 5 events, then the request is cut, so that its many cases do not each
# wait the whole timeout. Its events are checked against the StreamEvent schema.
[[operations]]
include-operation-id = "streamEvents"
request-timeout = 1.0
max-stream-events = 5
TOML

set +e
START=$(date +%s)
# --max-examples bounds the generated cases per operation and phase (the whole run, server start
# included, takes about 3 minutes on 2 cores); a fixed seed makes the cases the same from run to run.
# One worker: the generators run ast.parse in each worker thread, which CPython 3.11 before 3.11.8
# can fail concurrently ("AST constructor recursion depth mismatch", gh-106905), and the generation is
# CPU-bound under one GIL anyway. Hypothesis keeps its caches under results/, not in the work tree.
HYPOTHESIS_STORAGE_DIRECTORY="$RESULTS/hypothesis" "$ST" --config-file "$CONFIG" --no-color \
  run "$URL/api/v1/openapi.json" \
  --phases examples,coverage,fuzzing,stateful \
  --max-examples "${SCHEMATHESIS_MAX_EXAMPLES:-75}" \
  --seed "${SCHEMATHESIS_SEED:-20260101}" \
  --generation-database none \
  --workers 1 \
  --request-timeout 5 \
  --report junit,ndjson --report-dir "$RESULTS" \
  "$@" 2>&1 | tee "$RESULTS/output.txt"
rc=${PIPESTATUS[0]}
set -e
echo "schemathesis $VERSION: exit $rc in $(( $(date +%s) - START ))s against $URL; reports: $RESULTS"
[ "$rc" -eq 0 ] && exit 0
exit 1
