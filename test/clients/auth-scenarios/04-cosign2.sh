# cosign v2 over HTTPS with credentials: `cosign login` as alice (stored in the Docker config, which
# crane then uses too); a throw-away key pair signs an image by digest (.sig tag) and verify succeeds;
# cosign copy to another of alice's repositories carries the signature (verified there); cosign
# clean deletes it there; alice cannot sign bob's image.
source "$ROOT/test/clients/auth-lib.sh"
repo=$REG/a/cosign2/app
copy=$REG/a/cosign2/copy
export COSIGN_PASSWORD=
VERIFY=(cosign2 verify "${COSIGN[@]}" --insecure-ignore-tlog=true)

step "cosign login as alice (--password-stdin)"
password alice | cosign2 login "$REG" -u alice --password-stdin >login.log 2>&1 ||
  fail "cosign login" "$(cat login.log)"
assert_json "$DOCKER_CONFIG/config.json" '.auths | has($r)' --arg r "$REG"

step "push an image (crane, with cosign's login) and a throw-away key pair"
a=$(make_image a/cosign2/app:v1 5000)
cosign2 generate-key-pair >/dev/null

step "sign by digest; the signature tag is there"
cosign2 sign "${COSIGN[@]}" --key cosign.key --tlog-upload=false -y "$repo@$a"
sig_tag="sha256-${a#sha256:}.sig"
crane ls "${CRANE[@]}" "$repo" >tags.txt
assert_grep tags.txt "^$sig_tag\$"
crane manifest "${CRANE[@]}" "$repo:$sig_tag" >sig-manifest.json
crane blob "${CRANE[@]}" "$repo@$(jq -r '.layers[0].digest' sig-manifest.json)" >payload.json
assert_json payload.json '.critical.image["docker-manifest-digest"] == $a' --arg a "$a"

step "verify"
"${VERIFY[@]}" --key cosign.pub "$repo@$a" >verified.json
assert_json verified.json '.[0].critical.image["docker-manifest-digest"] == $a' --arg a "$a"

step "cosign copy to a/cosign2/copy carries the signature"
cosign2 copy "${COSIGN[@]}" -f "$repo@$a" "$copy" >copy.log 2>&1 || fail "cosign copy" "$(tail -20 copy.log)"
assert_eq "$(crane digest "${CRANE[@]}" "$copy@$a")" "$a" "the image in the copy"
crane manifest "${CRANE[@]}" "$repo@$a" >image.json
mapfile -t layers < <(jq -r '.layers[].digest' image.json)
soft assert_mounted a/cosign2/copy "${layers[@]}"
"${VERIFY[@]}" --key cosign.pub "$copy@$a" >/dev/null
cosign2 tree "${COSIGN[@]}" "$copy@$a" >tree.txt 2>&1
assert_grep tree.txt 'Signatures'

step "cosign clean deletes the copy's signature"
cosign2 clean "${COSIGN[@]}" --type signature -f "$copy@$a" >clean.log 2>&1 || fail "cosign clean" "$(cat clean.log)"
expect_failure unsigned.log "${VERIFY[@]}" --key cosign.pub "$copy@$a"
assert_grep unsigned.log 'no signatures found'
"${VERIFY[@]}" --key cosign.pub "$repo@$a" >/dev/null

step "refused: alice signs bob's image"
bob=$(as_user bob make_image b/cosign2/app:v1 6000)
expect_failure sign-bob.log cosign2 sign "${COSIGN[@]}" --key cosign.key --tlog-upload=false -y "$REG/b/cosign2/app@$bob"
tags_of admin b/cosign2/app bob-tags.json >/dev/null
assert_json bob-tags.json '.tags == ["v1"]'
