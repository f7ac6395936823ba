# cosign v3 over HTTPS with credentials: `cosign login` as alice; key-pair signing (new bundle format,
# no signing config, no transparency log) stores the bundle as a referrer of the image; verify
# succeeds; the image copied (crane) to another of alice's repositories is unsigned there; alice
# cannot sign bob's image, and does not see his referrers.
source "$ROOT/test/clients/auth-lib.sh"
repo=$REG/a/cosign3/app
export COSIGN_PASSWORD=
BUNDLE=application/vnd.dev.sigstore.bundle.v0.3+json
VERIFY=(cosign3 verify "${COSIGN[@]}" --insecure-ignore-tlog=true)
SIGN=(cosign3 sign "${COSIGN[@]}" --key cosign.key --use-signing-config=false --tlog-upload=false -y)

step "cosign login as alice (--password-stdin)"
password alice | cosign3 login "$REG" -u alice --password-stdin >login.log 2>&1 ||
  fail "cosign login" "$(cat login.log)"

step "push an image and a throw-away key pair"
a=$(make_image a/cosign3/app:v1 5000 docker)
cosign3 generate-key-pair >/dev/null

step "sign by digest: the bundle is a referrer of the image"
"${SIGN[@]}" "$repo@$a"
assert_eq "$(request alice GET "/v2/a/cosign3/app/referrers/$a" referrers.json)" 200 "referrers status"
assert_json referrers.json '[.manifests[].artifactType] == [$t]' --arg t "$BUNDLE"

step "verify by digest and by tag"
"${VERIFY[@]}" --key cosign.pub "$repo@$a" >verified.json
assert_json verified.json '.[0].critical.image["docker-manifest-digest"] == $a' --arg a "$a"
"${VERIFY[@]}" --key cosign.pub "$repo:v1" >/dev/null

step "the image copied to a/cosign3/copy is there unsigned"
crane copy "${CRANE[@]}" "$repo:v1" "$REG/a/cosign3/copy:v1"
assert_eq "$(crane digest "${CRANE[@]}" "$REG/a/cosign3/copy:v1")" "$a" "digest of the copy"
expect_failure copy-unsigned.log "${VERIFY[@]}" --key cosign.pub "$REG/a/cosign3/copy@$a"
assert_grep copy-unsigned.log 'no signatures found'

step "refused: alice signs bob's image; bob's referrers are not hers to list"
bob=$(as_user bob make_image b/cosign3/app:v1 6000 docker)
expect_failure sign-bob.log "${SIGN[@]}" "$REG/b/cosign3/app@$bob"
assert_eq "$(request admin GET "/v2/b/cosign3/app/referrers/$bob" bob-referrers.json)" 200 "referrers of bob's image as admin"
assert_json bob-referrers.json '.manifests == []'
expect_status_in "referrers of bob's image as alice" "$(request alice GET "/v2/b/cosign3/app/referrers/$bob" alice-referrers.json)" 403
