# oras over HTTPS with credentials (the acceptance test of issue 8): an anonymous push is refused and
# stores nothing; alice logs in (--password-stdin) and pushes to a/x; the pull is byte-equal; copy,
# catalog and delete work; bob pushes b/y; alice's push to b/y is refused; and access scoped to a/x
# (token mode: a token asked for a/x pull,push and b/y pull; basic mode: alice's credentials) cannot
# read b/y, list its tags, mount from it (202, a plain upload) or see it in the catalog.
source "$ROOT/test/clients/auth-lib.sh"
A=a/x
B=b/y
BOB=(--registry-config "$PWD/bob-config.json")

mkdir in
random_file in/payload.bin $((300 * 1024 + 17))
echo "readme" >in/README.md
push_in() { (cd in && oras push "${ORAS[@]}" "$@" --format json --artifact-type application/vnd.example.auth \
  payload.bin README.md); }

step "anonymous oras push to $A is refused and stores nothing"
expect_failure anon-push.log push_in "$REG/$A:v1"
assert_grep anon-push.log '401|[Uu]nauthorized|authentication required|credential not found'
stored_nothing "$A"

step "oras login with a wrong password fails"
expect_failure bad-login.log bash -c 'echo wrong | oras login "$@" -u alice --password-stdin "$REG"' _ "${ORAS[@]}"

step "oras login -u alice --password-stdin"
password alice | oras login "${ORAS[@]}" -u alice --password-stdin "$REG" >login.log 2>&1 ||
  fail "oras login as alice" "$(cat login.log)"
assert_grep login.log 'Login Succeeded'

step "alice pushes to $A"
push_in "$REG/$A:v1" >push.json
digest=$(jq -r .digest push.json)
assert_eq "$(oras resolve "${ORAS[@]}" "$REG/$A:v1")" "$digest" "digest of $A:v1"

step "the pull gives identical bytes"
mkdir out
oras pull "${ORAS[@]}" -o out "$REG/$A:v1" >/dev/null
assert_same in/payload.bin out/payload.bin
assert_same in/README.md out/README.md
oras manifest fetch "${ORAS[@]}" "$REG/$A:v1" >manifest.json
assert_eq "$(digest_of manifest.json)" "$digest" "digest of the fetched manifest bytes"

step "oras cp to a/x-copy (a repository alice may push)"
oras cp --from-plain-http=false --to-plain-http=false "$REG/$A:v1" "$REG/a/x-copy:v1" >cp.log
assert_eq "$(oras resolve "${ORAS[@]}" "$REG/a/x-copy:v1")" "$digest" "digest of the copy"
soft assert_mounted a/x-copy "$(digest_of in/payload.bin)" "$(digest_of in/README.md)"
mkdir out-copy
oras pull "${ORAS[@]}" -o out-copy "$REG/a/x-copy:v1" >/dev/null
assert_same in/payload.bin out-copy/payload.bin

step "bob pushes $B (his own registry config)"
password bob | oras login "${ORAS[@]}" "${BOB[@]}" -u bob --password-stdin "$REG" >/dev/null
random_file secret.bin 70000
oras push "${ORAS[@]}" "${BOB[@]}" --format json "$REG/$B:v1" secret.bin >bob-push.json
b_manifest=$(jq -r .digest bob-push.json)
b_layer=$(digest_of secret.bin)
assert_eq "$(oras resolve "${ORAS[@]}" "${BOB[@]}" "$REG/$B:v1")" "$b_manifest" "digest of $B:v1 for bob"

step "alice cannot push to $B, read it or copy from it with oras"
expect_failure alice-push-b.log push_in "$REG/$B:alice"
expect_failure alice-pull-b.log oras manifest fetch "${ORAS[@]}" "$REG/$B:v1"
expect_failure alice-cp-b.log oras cp --from-plain-http=false --to-plain-http=false "$REG/$B:v1" "$REG/a/stolen:v1"
stored_nothing a/stolen
tags_of admin "$B" b-tags.json >/dev/null
assert_json b-tags.json '.tags == ["v1"]'

step "oras repo ls (the catalog) shows alice a/x and a/x-copy, not $B"
oras repo ls "${ORAS[@]}" "$REG" >repos.txt
soft assert_grep repos.txt "^a/x\$"
soft assert_grep repos.txt "^a/x-copy\$"
assert_no_grep repos.txt '^b/'
oras repo tags "${ORAS[@]}" "$REG/$A" >tags.txt
assert_eq "$(cat tags.txt)" v1 "tags of $A"

step "oras manifest delete of the copy"
oras manifest delete "${ORAS[@]}" --force "$REG/a/x-copy:v1" >/dev/null
expect_failure gone.log oras resolve "${ORAS[@]}" "$REG/a/x-copy:v1"
assert_eq "$(oras resolve "${ORAS[@]}" "$REG/$A:v1")" "$digest" "$A is untouched"

step "access scoped to $A"
if [ "$AUTH_MODE" = token ]; then
  status=$(get_token alice token.json "repository:$A:pull,push" "repository:$B:pull")
  assert_eq "$status" 200 "token request"
  assert_json token.json '(.token | length > 0) and .access_token == .token and .expires_in > 0 and (.issued_at | type == "string")'
  token=$(jq -r .token token.json)
  jwt_claims "$token" >claims.json
  assert_json claims.json '[.access[] | select(.type == "repository" and .name == $a) | .actions[]] | sort == ["pull", "push"]' --arg a "$A"
  assert_json claims.json '[.access[] | select(.name == $b) | .actions[]] == []' --arg b "$B"
  assert_json claims.json '.sub == "alice" and .aud == "artifact-store"'
  who=bearer:$token

  step "the token works on $A"
  assert_eq "$(request "$who" GET "/v2/$A/manifests/v1" a-manifest.json -H 'Accept: application/vnd.oci.image.manifest.v1+json')" 200 "GET $A manifest with the token"
  assert_same manifest.json a-manifest.json

  step "no credentials: 401 with a Bearer challenge naming the scope"
  assert_eq "$(request anonymous GET "/v2/$A/tags/list" anon-tags.json)" 401 "anonymous GET $A tags"
  challenge=$(header_value anon-tags.json.headers WWW-Authenticate)
  [[ $challenge == "Bearer realm=\"https://$REG/auth/token\",service=\"artifact-store\",scope=\"repository:$A:pull\""* ]] ||
    fail "challenge: $challenge"

  step "an anonymous token grants nothing on $A; a wrong password gets none"
  assert_eq "$(get_token anonymous anon-token.json "repository:$A:pull,push")" 200 "anonymous token request"
  jwt_claims "$(jq -r .token anon-token.json)" >anon-claims.json
  assert_json anon-claims.json '[.access[]? | select(.name == $a) | .actions[]] == []' --arg a "$A"
  assert_eq "$(PASSWORD_ALICE=wrong get_token alice bad-token.json "repository:$A:pull")" 401 "token request with a wrong password"
else
  step "no credentials or a wrong password: 401 with a Basic challenge"
  assert_eq "$(request anonymous GET "/v2/$A/tags/list" anon-tags.json)" 401 "anonymous GET $A tags"
  challenge=$(header_value anon-tags.json.headers WWW-Authenticate)
  [[ $challenge == 'Basic realm="artifact-store"'* ]] || fail "challenge: $challenge"
  assert_json anon-tags.json '.errors[0].code == "UNAUTHORIZED"'
  assert_eq "$(PASSWORD_ALICE=wrong request alice GET "/v2/$A/tags/list" bad-tags.json)" 401 "GET $A tags with a wrong password"
  who=alice
fi

step "$B's manifest and layer cannot be read with it"
status=$(request "$who" GET "/v2/$B/manifests/$b_manifest" b-manifest.json -H 'Accept: application/vnd.oci.image.manifest.v1+json')
expect_status_in "GET $B manifest" "$status" 403
assert_json b-manifest.json '.errors[0].code == "DENIED"'
expect_status_in "HEAD $B manifest" "$(request "$who" HEAD "/v2/$B/manifests/v1" b-head.out)" 403
expect_status_in "GET $B layer" "$(request "$who" GET "/v2/$B/blobs/$b_layer" b-layer.out)" 403
if cmp -s b-layer.out secret.bin; then fail "the layer of $B was served"; fi

step "$B's tags cannot be listed with it"
expect_status_in "GET $B tags" "$(tags_of "$who" "$B" b-tags-alice.json)" 403
assert_no_grep b-tags-alice.json '"v1"'

step "pushing to $B with it is refused"
expect_status_in "POST $B upload" "$(request "$who" POST "/v2/$B/blobs/uploads/" b-upload.out)" 403

step "a mount from $B into $A is a plain upload (202), and the blob is not in $A"
status=$(request "$who" POST "/v2/$A/blobs/uploads/?mount=$b_layer&from=$B" mount.out)
assert_eq "$status" 202 "POST mount from $B"
location=$(header_value mount.out.headers Location)
[ -n "$location" ] || fail "no Location on the 202"
assert_eq "$(header_value mount.out.headers Docker-Content-Digest)" "" "Docker-Content-Digest of a plain upload"
assert_eq "$(request "$who" GET "/v2/$A/blobs/$b_layer" mounted.out)" 404 "GET the would-be-mounted blob in $A"
assert_eq "$(request admin HEAD "/v2/$A/blobs/$b_layer" mounted-admin.out)" 404 "HEAD the blob in $A as admin"
[[ $location == http* ]] || location=https://$REG$location
cancel=$(request "$who" DELETE "${location#https://"$REG"}" cancel.out)
expect_status_in "cancel the upload" "$cancel" 204

step "the catalog does not list $B"
if [ "$AUTH_MODE" = token ]; then
  assert_eq "$(get_token alice catalog-token.json 'registry:catalog:*')" 200 "catalog token request"
  catalog_who=bearer:$(jq -r .token catalog-token.json)
else
  catalog_who=alice
fi
catalog_of "$catalog_who" catalog-alice.txt
assert_grep catalog-alice.txt "^$A\$"
assert_no_grep catalog-alice.txt '^b/'
catalog_of admin catalog-admin.txt
assert_grep catalog-admin.txt "^$B\$"
assert_grep catalog-admin.txt "^$A\$"
catalog_of bob catalog-bob.txt
assert_grep catalog-bob.txt "^$B\$"
assert_no_grep catalog-bob.txt '^a/'
