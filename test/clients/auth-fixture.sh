#!/usr/bin/env bash
# The fixture of the suites that run with authentication (test/clients/auth.sh, conformance/run.sh
# with AUTH=…): in <dir>, a throw-away test CA and a leaf for localhost and 127.0.0.1
# (scripts/test-ca.mjs), an htpasswd file with the users admin, alice, bob and conformance (random
# passwords, bcrypt cost 10) and the AUTH_CONFIG YAML for <mode> (basic or token):
#   **          admin, conformance: pull, push, delete
#   a/**        alice: pull, push, delete
#   b/**        bob:   pull, push, delete
#   public/**   anonymous: pull
#   admin: admin
# Prints shell assignments (values quoted with %q) for the caller to evaluate:
#   AUTH_MODE AUTH_CONFIG TLS_CERT TLS_KEY TEST_CA PASSWORD_ADMIN PASSWORD_ALICE PASSWORD_BOB
#   PASSWORD_CONFORMANCE
#   fixture=$(bash test/clients/auth-fixture.sh "$dir" token); set -a; eval "$fixture"; set +a
# Needs openssl and node; uses `htpasswd` (apache2-utils) when it is installed, else @node-rs/bcrypt.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
if [ $# -ne 2 ] || { [ "$2" != basic ] && [ "$2" != token ]; }; then
  echo "usage: $0 <dir> <basic|token>" >&2
  exit 2
fi
dir=$(mkdir -p "$1" && cd "$1" && pwd)
mode=$2

tls=$(node "$ROOT/scripts/test-ca.mjs" "$dir/tls")

users=(admin alice bob conformance)
declare -A password
: >"$dir/htpasswd"
for user in "${users[@]}"; do
  password[$user]=$user-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
  if command -v htpasswd >/dev/null; then
    htpasswd -nbB -C 10 "$user" "${password[$user]}" | sed '/^$/d' >>"$dir/htpasswd"
  else
    (cd "$ROOT" && node --input-type=module -e "
      import { hash } from '@node-rs/bcrypt';
      process.stdout.write(process.argv[1] + ':' + (await hash(process.argv[2], { cost: 10 })) + '\n');
    " "$user" "${password[$user]}") >>"$dir/htpasswd"
  fi
done
chmod 644 "$dir/htpasswd"

cat >"$dir/auth.yaml" <<EOF
mode: $mode
service: artifact-store
htpasswd: htpasswd
token: { ttl: 5m }
groups: { team: [alice] }
repositories:
  - match: ["**"]
    allow: [{ users: [admin, conformance], actions: [pull, push, delete] }]
  - match: ["a/**"]
    allow: [{ users: [alice], actions: [pull, push, delete] }]
  - match: ["b/**"]
    allow: [{ users: [bob], actions: [pull, push, delete] }]
  - match: ["public/**"]
    allow: [{ anonymous: true, actions: [pull] }]
admin: { users: [admin] }
EOF

assign() { printf '%s=%q\n' "$1" "$2"; }
assign AUTH_MODE "$mode"
assign AUTH_CONFIG "$dir/auth.yaml"
assign TLS_CERT "$(jq -r .cert <<<"$tls")"
assign TLS_KEY "$(jq -r .key <<<"$tls")"
assign TEST_CA "$(jq -r .caCert <<<"$tls")"
for user in "${users[@]}"; do assign "PASSWORD_${user^^}" "${password[$user]}"; done
