# regctl over HTTPS with credentials: an anonymous push is refused; `regctl registry login` as alice;
# then the CA set with `regctl registry set --cacert` (SSL_CERT_FILE unset for regctl from there);
# artifact put/get and blob get byte-equal; image copy to another of alice's repositories (the blobs
# mounted); tag ls and repo ls (catalog); tag delete and manifest delete; alice cannot copy into b/…
# nor read bob's image (regctl retries a 403 upload with back-off: that step takes ~16 s).
source "$ROOT/test/clients/auth-lib.sh"
repo=$REG/a/regctl/app
copy=$REG/a/regctl/copy
TYPE=application/vnd.example.regctl

random_file payload.bin $((1024 * 1024 + 7))

step "anonymous regctl artifact put is refused and stores nothing"
expect_failure anon.log regctl artifact put --artifact-type "$TYPE" -f payload.bin "$repo:v1"
stored_nothing a/regctl/app

step "regctl registry login as alice (--pass-stdin)"
password alice | regctl registry login "$REG" -u alice --pass-stdin >login.log 2>&1 ||
  fail "regctl registry login" "$(cat login.log)"

step "regctl registry set --cacert; from here on regctl trusts the CA through its config alone"
# (set pings the registry: before the login that is a 401, and regctl exits 1 in basic mode)
# shellcheck disable=SC2218 # the binary: the function below is defined after this call
command regctl registry set "$REG" --cacert "$(cat "$SSL_CERT_FILE")"
assert_json "$REGCTL_CONFIG" '.hosts[$r].regcert | startswith("-----BEGIN CERTIFICATE-----")' --arg r "$REG"
# shellcheck disable=SC2032 # the rest of the scenario runs regctl without SSL_CERT_FILE
regctl() { env -u SSL_CERT_FILE "$ROOT/.tools/bin/regctl" "$@"; }

step "push (artifact put) and pull (artifact get, blob get) byte-equal"
regctl artifact put --artifact-type "$TYPE" -f payload.bin -m application/octet-stream "$repo:v1"
regctl artifact get "$repo:v1" >got.bin
assert_same payload.bin got.bin
regctl manifest get --format raw-body "$repo:v1" >manifest.json
layer=$(jq -r '.layers[0].digest' manifest.json)
assert_eq "$layer" "$(digest_of payload.bin)" "layer digest"
regctl blob get "$repo" "$layer" >blob.bin
assert_same payload.bin blob.bin
digest=$(regctl image digest "$repo:v1")
assert_eq "$digest" "$(digest_of manifest.json)" "manifest digest"

step "regctl image copy to a/regctl/copy mounts the blobs"
regctl -v debug image copy "$repo:v1" "$copy:v1" >copy.log 2>&1 || fail "regctl image copy" "$(tail -20 copy.log)"
assert_eq "$(regctl image digest "$copy:v1")" "$digest" "digest of the copy"
regctl blob get "$copy" "$layer" >copy-blob.bin
assert_same payload.bin copy-blob.bin
soft assert_mounted a/regctl/copy "$layer"

step "tag ls and repo ls (catalog)"
assert_eq "$(regctl tag ls "$copy")" v1 "tags of the copy"
regctl repo ls "$REG" >repos.txt
soft assert_grep repos.txt '^a/regctl/app$'
soft assert_grep repos.txt '^a/regctl/copy$'
assert_no_grep repos.txt '^b/'

step "tag delete, then manifest delete"
regctl tag delete "$copy:v1"
assert_eq "$(regctl tag ls "$copy")" "" "tags of the copy after tag delete"
regctl manifest delete "$copy@$digest"
expect_failure gone.log regctl manifest head "$copy@$digest"
assert_eq "$(regctl image digest "$repo:v1")" "$digest" "the source is untouched"

step "refused: alice copies into b/regctl/stolen"
expect_failure stolen.log regctl image copy "$repo:v1" "$REG/b/regctl/stolen:v1"
stored_nothing b/regctl/stolen

step "refused: alice reads bob's image"
bob_digest=$(as_user bob make_image b/regctl/bob:v1 5000)
expect_failure bob-manifest.log regctl manifest get "$REG/b/regctl/bob@$bob_digest"
expect_failure bob-tags.log regctl tag ls "$REG/b/regctl/bob"
