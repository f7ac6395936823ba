# cosign v3: key-pair signing (new bundle format, no signing config, no transparency log) stores a
# Sigstore bundle as an OCI referrer of the image and no .sig tag; verify succeeds; an unsigned image,
# a bundle replayed onto another image, or another key fail.
source "$ROOT/test/clients/lib.sh"
repo=$REG/e2e/cosign3/app
export COSIGN_PASSWORD=
BUNDLE=application/vnd.dev.sigstore.bundle.v0.3+json
VERIFY=(cosign3 verify "${COSIGN[@]}" --insecure-ignore-tlog=true)

step "two images, one key pair (and a stranger's)"
a=$(make_image e2e/cosign3/app:v1 5000 docker) # Docker media types: the bundle is OCI, its subject is not
b=$(make_image e2e/cosign3/app:unsigned 6000)
cosign3 generate-key-pair >/dev/null
mkdir stranger && (cd stranger && cosign3 generate-key-pair >/dev/null)

step "sign image A by digest"
cosign3 sign "${COSIGN[@]}" --key cosign.key --use-signing-config=false --tlog-upload=false -y "$repo@$a"

step "no .sig tag; the bundle is a referrer of A"
assert_eq "$(crane ls "${CRANE[@]}" "$repo" | sort | tr '\n' ' ')" "unsigned v1 " "tags"
status=$(http_get "/v2/e2e/cosign3/app/referrers/$a" referrers.json headers.txt)
assert_eq "$status" 200 "referrers status"
assert_eq "$(header_value headers.txt Content-Type)" application/vnd.oci.image.index.v1+json "Content-Type"
assert_json referrers.json '[.manifests[] | select(.artifactType == $t)] | length == 1' --arg t "$BUNDLE"
status=$(http_get "/v2/e2e/cosign3/app/referrers/$a?artifactType=$(urlencode "$BUNDLE")" filtered.json fheaders.txt)
assert_eq "$(header_value fheaders.txt OCI-Filters-Applied)" artifactType "OCI-Filters-Applied"
assert_json filtered.json '.manifests | length == 1 and .[0].artifactType == $t' --arg t "$BUNDLE"
bundle_manifest=$(jq -r '.manifests[0].digest' filtered.json)

step "the bundle manifest's subject is A; its DSSE statement names A"
crane manifest "${CRANE[@]}" "$repo@$bundle_manifest" >bundle-manifest.json
assert_eq "$(digest_of bundle-manifest.json)" "$bundle_manifest" "bundle manifest digest"
assert_json bundle-manifest.json '.subject.digest == $a and .artifactType == $t' --arg a "$a" --arg t "$BUNDLE"
assert_json bundle-manifest.json '[.layers[].mediaType] == [$t]' --arg t "$BUNDLE"
crane blob "${CRANE[@]}" "$repo@$(jq -r '.layers[0].digest' bundle-manifest.json)" >bundle.json
assert_json bundle.json '.mediaType == $t' --arg t "$BUNDLE"
jq -r .dsseEnvelope.payload bundle.json | base64 -d >statement.json
assert_json statement.json '.subject[0].digest.sha256 == $h' --arg h "${a#sha256:}"

step "verify by digest and by tag"
"${VERIFY[@]}" --key cosign.pub "$repo@$a" >verified.json
assert_json verified.json '.[0].critical.image["docker-manifest-digest"] == $a' --arg a "$a"
"${VERIFY[@]}" --key cosign.pub "$repo:v1" >/dev/null

step "tamper: an unsigned image does not verify"
expect_failure unsigned.log "${VERIFY[@]}" --key cosign.pub "$repo@$b"
assert_grep unsigned.log 'no signatures found'

step "tamper: another key does not verify"
expect_failure wrong-key.log "${VERIFY[@]}" --key stranger/cosign.pub "$repo@$a"

step "tamper: A's bundle replayed as a referrer of B"
oras attach "${ORAS[@]}" --distribution-spec v1.1-referrers-api --artifact-type "$BUNDLE" \
  --annotation dev.sigstore.bundle.content=dsse-envelope \
  --annotation dev.sigstore.bundle.predicateType=https://sigstore.dev/cosign/sign/v1 \
  "$repo@$b" "bundle.json:$BUNDLE" >/dev/null
expect_failure replayed.log "${VERIFY[@]}" --key cosign.pub "$repo@$b"
assert_grep replayed.log 'digest does not match'
