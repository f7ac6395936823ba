# cosign v2: key-pair signing by digest (no transparency log) stores a sha256-<hex>.sig tag whose
# payload names the image; verify succeeds; a moved tag, a swapped signature or another key fail.
source "$ROOT/test/clients/lib.sh"
repo=$REG/e2e/cosign2/app
export COSIGN_PASSWORD=
VERIFY=(cosign2 verify "${COSIGN[@]}" --insecure-ignore-tlog=true)

step "two images, one key pair (and a stranger's)"
a=$(make_image e2e/cosign2/app:v1 5000)
b=$(make_image e2e/cosign2/app:other 6000)
cosign2 generate-key-pair >/dev/null
mkdir stranger && (cd stranger && cosign2 generate-key-pair >/dev/null)

step "sign image A by digest"
cosign2 sign "${COSIGN[@]}" --key cosign.key --tlog-upload=false -y "$repo@$a"
sig_tag="sha256-${a#sha256:}.sig"
crane ls "${CRANE[@]}" "$repo" >tags.txt
assert_grep tags.txt "^$sig_tag\$"

step "the signature manifest's payload names image A"
crane manifest "${CRANE[@]}" "$repo:$sig_tag" >sig-manifest.json
assert_json sig-manifest.json '.layers | length == 1'
assert_json sig-manifest.json '.layers[0].mediaType == "application/vnd.dev.cosign.simplesigning.v1+json"'
assert_json sig-manifest.json '.layers[0].annotations["dev.cosignproject.cosign/signature"] | length > 0'
crane blob "${CRANE[@]}" "$repo@$(jq -r '.layers[0].digest' sig-manifest.json)" >payload.json
assert_eq "$(digest_of payload.json)" "$(jq -r '.layers[0].digest' sig-manifest.json)" "payload digest"
assert_json payload.json '.critical.image["docker-manifest-digest"] == $a' --arg a "$a"

step "verify by digest and by tag"
"${VERIFY[@]}" --key cosign.pub "$repo@$a" >verified.json
assert_json verified.json '.[0].critical.image["docker-manifest-digest"] == $a' --arg a "$a"
"${VERIFY[@]}" --key cosign.pub "$repo:v1" >/dev/null

step "tamper: another key does not verify"
expect_failure wrong-key.log "${VERIFY[@]}" --key stranger/cosign.pub "$repo@$a"
assert_grep wrong-key.log 'no matching signatures'

step "tamper: the tag moved to an unsigned image"
crane tag "${CRANE[@]}" "$repo@$b" v1
assert_eq "$(crane digest "${CRANE[@]}" "$repo:v1")" "$b" "v1 now names B"
expect_failure moved.log "${VERIFY[@]}" --key cosign.pub "$repo:v1"
assert_grep moved.log 'no signatures found'

step "tamper: B's valid signature copied onto A's signature tag"
cosign2 sign "${COSIGN[@]}" --key cosign.key --tlog-upload=false -y "$repo@$b"
"${VERIFY[@]}" --key cosign.pub "$repo@$b" >/dev/null
crane copy "${CRANE[@]}" "$repo:sha256-${b#sha256:}.sig" "$repo:$sig_tag"
expect_failure swapped.log "${VERIFY[@]}" --key cosign.pub "$repo@$a"
assert_grep swapped.log 'invalid or missing digest in claim'
