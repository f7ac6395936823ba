# Helpers of the authenticated client scenarios (sourced by every test/clients/auth-scenarios/*.sh):
# lib.sh's assertions, with the clients switched to HTTPS and credentials.
# auth.sh exports: REG (localhost:<port>, HTTPS), ROOT, AUTH_MODE (basic|token), PASSWORD_<USER> for
# admin, alice, bob and conformance, SSL_CERT_FILE (the test CA; every client trusts it through that).
# The policy (test/clients/auth-fixture.sh): alice may pull/push/delete a/**, bob b/**, admin
# everything; anonymous only pulls public/**.
# shellcheck source=lib.sh
source "$ROOT/test/clients/lib.sh"
: "${AUTH_MODE:?run auth scenarios through test/clients/auth.sh}"

# HTTPS everywhere. oras talks plain HTTP to localhost unless told not to (ADR-0010 §1).
ORAS=(--plain-http=false)
CRANE=()
COSIGN=()
SKOPEO=(--insecure-policy)

# Each scenario has its own client configuration (logins do not leak from one scenario to another).
export HOME=$PWD/home
export DOCKER_CONFIG=$HOME/.docker REGCTL_CONFIG=$HOME/.regctl/config.json TUF_ROOT=$HOME/.sigstore/root
export REGISTRY_AUTH_FILE=$HOME/containers-auth.json XDG_CONFIG_HOME=$HOME/.config XDG_CACHE_HOME=$HOME/.cache
export CURL_CA_BUNDLE=$SSL_CERT_FILE
mkdir -p "$DOCKER_CONFIG" "$(dirname "$REGCTL_CONFIG")" "$XDG_CONFIG_HOME" "$XDG_CACHE_HOME"
echo '{"auths": {}}' >"$REGISTRY_AUTH_FILE" # podman refuses a REGISTRY_AUTH_FILE that does not exist

password() { # user -> the fixture's password
  local var="PASSWORD_${1^^}"
  [ -n "${!var:-}" ] || fail "no password for user $1"
  printf '%s' "${!var}"
}

# lib.sh's anonymous HTTP helpers, over HTTPS.
http_get() {
  local path=$1 body=$2 headers=$3
  shift 3
  curl -sS -o "$body" -D "$headers" -w '%{http_code}' "$@" "https://$REG$path"
}
http_status() {
  local how=(-X "$1")
  [ "$1" = HEAD ] && how=(--head)
  curl -sS -o /dev/null -w '%{http_code}' "${how[@]}" "https://$REG$2"
}

# request <who> <method> <path> <out> [curl args...]: prints the status; the body goes to <out>, the
# headers to <out>.headers. who: anonymous, a user name (Basic with the fixture's password — accepted
# on /v2/ in both modes), or bearer:<jwt>.
request() {
  local who=$1 method=$2 path=$3 out=$4 auth=() how=(-X "$2")
  shift 4
  case $who in
    anonymous) ;;
    bearer:*) auth=(-H "Authorization: Bearer ${who#bearer:}") ;;
    *) auth=(-u "$who:$(password "$who")") ;;
  esac
  [ "$method" = HEAD ] && how=(--head)
  curl -sS -o "$out" -D "$out.headers" -w '%{http_code}' "${how[@]}" "${auth[@]}" "$@" "https://$REG$path"
}

# get_token <who> <out.json> [scope...]: GET /auth/token (token mode) as who (anonymous or a user);
# prints the status; the answer goes to <out.json>.
get_token() {
  local who=$1 out=$2 query=service=artifact-store scope
  shift 2
  for scope in "$@"; do query+="&scope=$(urlencode "$scope")"; done
  request "$who" GET "/auth/token?$query" "$out"
}

# jwt_claims <jwt>: the payload as JSON.
jwt_claims() {
  local p
  p=$(cut -d. -f2 <<<"$1" | tr '_-' '/+')
  while [ $((${#p} % 4)) -ne 0 ]; do p+='='; done
  base64 -d <<<"$p"
}

# expect_status_in <what> <status> [allowed statuses...]: the status must be one of the allowed (default
# 401 403).
expect_status_in() {
  local what=$1 status=$2
  shift 2
  local allowed=("$@") s
  [ ${#allowed[@]} -gt 0 ] || allowed=(401 403)
  for s in "${allowed[@]}"; do [ "$status" = "$s" ] && return 0; done
  fail "$what: expected status ${allowed[*]}, got $status"
}

# as_user <user> <cmd...>: runs cmd with a separate Docker config in which crane logged in as user
# (to put content where the scenario's own user may not: bob's repositories, say).
as_user() {
  local user=$1
  shift
  (
    export DOCKER_CONFIG=$PWD/.config-$user
    if [ ! -f "$DOCKER_CONFIG/config.json" ]; then
      mkdir -p "$DOCKER_CONFIG"
      password "$user" | crane auth login "$REG" -u "$user" --password-stdin >/dev/null 2>&1 ||
        fail "crane auth login as $user"
    fi
    "$@"
  )
}

# tags_of <who> <repo> <out>: the status of GET /v2/<repo>/tags/list as who; the answer in <out>.
tags_of() { request "$1" GET "/v2/$2/tags/list" "$3"; }

# stored_nothing <repo>: admin sees no such repository (404 NAME_UNKNOWN).
stored_nothing() {
  local status
  status=$(tags_of admin "$1" "nothing-$(tr / _ <<<"$1").json")
  assert_eq "$status" 404 "GET /v2/$1/tags/list as admin"
  assert_json "nothing-$(tr / _ <<<"$1").json" '.errors[0].code == "NAME_UNKNOWN"'
}

# catalog_of <who> <out>: every repository name the catalog shows who (pages followed), one a line.
catalog_of() {
  local who=$1 out=$2 path="/v2/_catalog?n=1000" status
  : >"$out"
  while [ -n "$path" ]; do
    status=$(request "$who" GET "$path" catalog.page)
    assert_eq "$status" 200 "GET $path as $who"
    jq -r '.repositories[]' catalog.page >>"$out"
    path=$(header_value catalog.page.headers Link | sed -n 's/^<\([^>]*\)>.*/\1/p')
  done
}

# soft <cmd...>: runs an assertion (or any step) in a subshell; if it fails the scenario goes on but
# fails at the end — so one failing step does not hide what the later ones would show.
SOFT_FAILURES=()
soft() {
  if ! ("$@"); then
    SOFT_FAILURES+=("$*")
    echo "(continuing after the failure of: $*)" >&2
  fi
}
# Paths removed when the scenario ends (for what cannot live in its directory).
REMOVE_AT_EXIT=()
soft_exit() {
  local rc=$?
  [ ${#REMOVE_AT_EXIT[@]} -eq 0 ] || rm -rf "${REMOVE_AT_EXIT[@]}"
  if [ "$rc" = 0 ] && [ ${#SOFT_FAILURES[@]} -gt 0 ]; then
    printf 'FAILED STEP: %s\n' "${SOFT_FAILURES[@]}" >&2
    exit 1
  fi
}
trap soft_exit EXIT

# assert_mounted <repo> <digest...>: each blob came into repo by a cross-repository mount (its
# blob.linked event says via "mount"), not by an upload.
assert_mounted() {
  local repo=$1 out status d
  shift
  out=linked-$(tr / _ <<<"$repo").json
  status=$(request admin GET "/api/v1/events?type=blob.linked&repository=$(urlencode "$repo")&limit=1000" "$out")
  assert_eq "$status" 200 "blob.linked events of $repo"
  for d in "$@"; do
    assert_json "$out" '[.events[] | select(.payload.sha256 == $h) | .payload.via] == ["mount"]' --arg h "${d#sha256:}"
  done
}
