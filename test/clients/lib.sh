# Helpers shared by the client scenarios (sourced by every test/clients/scenarios/*.sh).
# run.sh exports: REG (127.0.0.1:<port>), ROOT (the checkout), and a private HOME / DOCKER_CONFIG /
# REGCTL_CONFIG under the run's temp dir. Each scenario runs in its own empty working directory.
set -euo pipefail
shopt -s inherit_errexit
: "${REG:?run scenarios through test/clients/run.sh}"
export PATH="$ROOT/.tools/bin:$PATH"

# Plain-HTTP flags per client.
ORAS=(--plain-http)
CRANE=(--insecure)
COSIGN=(--allow-http-registry --allow-insecure-registry)
SKOPEO=(--insecure-policy)

step() { echo "--- $*"; }
fail() { # message [details]: details first, so the message is the log's last line
  [ -z "${2:-}" ] || printf '%s\n' "$2" | tail -c 1500 >&2
  echo "ASSERTION FAILED: $1" >&2
  exit 1
}

assert_eq() { # actual expected what
  [ "$1" == "$2" ] || fail "${3:-value}: expected '$2', got '$1'"
}

assert_same() { # file1 file2: byte-for-byte equality
  cmp "$1" "$2" || fail "$1 and $2 differ"
}

assert_json() { # file jq-filter [jq args...]: the filter must yield true
  local file=$1 filter=$2
  shift 2
  jq -e "$@" "$filter" "$file" >/dev/null || fail "$file: expected ($filter) to hold" "$(head -c 1500 "$file")"
}

assert_grep() { # file extended-regex
  grep -Eq -- "$2" "$1" || fail "$1 does not match /$2/" "$(tail -n 15 "$1")"
}

assert_no_grep() { # file extended-regex
  ! grep -Eq -- "$2" "$1" || fail "$1 unexpectedly matches /$2/" "$(grep -Em3 -- "$2" "$1")"
}

# expect_failure <out-file> <cmd...>: the command must exit non-zero; its output goes to out-file.
expect_failure() {
  local out=$1
  shift
  if "$@" >"$out" 2>&1; then fail "expected failure of: $*" "$(tail -n 10 "$out")"; fi
  echo "(failed as expected: $(grep -Ev '^WARNING' "$out" | tail -1))"
}

urlencode() { jq -rn --arg v "$1" '$v | @uri'; }
sha256_hex() { sha256sum "$1" | cut -d' ' -f1; }
digest_of() { echo "sha256:$(sha256_hex "$1")"; }
random_file() { head -c "$2" /dev/urandom >"$1"; } # path bytes

# HTTP against the registry: http_get <path> <body-out> <headers-out> [curl args] -> status code
http_get() {
  local path=$1 body=$2 headers=$3
  shift 3
  curl -sS -o "$body" -D "$headers" -w '%{http_code}' "$@" "http://$REG$path"
}
http_status() { # method path -> status code
  local how=(-X "$1")
  [ "$1" = HEAD ] && how=(--head)
  curl -sS -o /dev/null -w '%{http_code}' "${how[@]}" "http://$REG$2"
}
header_value() { # headers-file name -> value (last occurrence, CR stripped)
  { grep -i "^$2:" "$1" || true; } | tail -1 | cut -d: -f2- | sed 's/^ *//' | tr -d '\r'
}

# make_tar <dir> <out.tar>: a reproducible tarball of dir's contents.
make_tar() {
  tar -C "$1" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf "$2" .
}

# make_image <repo:tag> [bytes] [oci|docker]: pushes a one-layer image with random content via crane;
# prints its manifest digest.
make_image() {
  local ref=$1 bytes=${2:-4096} kind=${3:-oci} dir
  dir=$(mktemp -d "$PWD/img.XXXX")
  mkdir "$dir/root"
  random_file "$dir/root/data.bin" "$bytes"
  make_tar "$dir/root" "$dir/layer.tar"
  local flags=()
  [ "$kind" = oci ] && flags+=(--oci-empty-base)
  crane append "${CRANE[@]}" "${flags[@]}" -f "$dir/layer.tar" -t "$REG/$ref" >/dev/null 2>"$dir/append.log" ||
    fail "crane append $ref" "$(cat "$dir/append.log")"
  crane digest "${CRANE[@]}" "$REG/$ref"
}
