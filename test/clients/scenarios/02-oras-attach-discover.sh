# oras attach of two referrers with different artifact types; oras discover lists both, or exactly
# one with --artifact-type; the referrers API answered directly (Content-Type, OCI-Filters-Applied).
source "$ROOT/test/clients/lib.sh"
repo=$REG/e2e/oras/subject
SPEC=(--distribution-spec v1.1-referrers-api) # the referrers API, never the tag fallback
SBOM=application/vnd.example.sbom.v1+json
SIG=application/vnd.example.signature.v1

step "push the subject"
echo "subject payload" >subject.txt
oras push "${ORAS[@]}" "$repo:v1" --format json subject.txt >subject.json
subject=$(jq -r .digest subject.json)

step "attach two referrers"
printf '{"packages":["a","b"]}' >sbom.json
random_file signature.bin 256
oras attach "${ORAS[@]}" "${SPEC[@]}" --format json --artifact-type "$SBOM" "$repo:v1" sbom.json >sbom-ref.json
oras attach "${ORAS[@]}" "${SPEC[@]}" --format json --artifact-type "$SIG" \
  --annotation org.example.signer=e2e "$repo@$subject" signature.bin >sig-ref.json
sbom_ref=$(jq -r .digest sbom-ref.json)
sig_ref=$(jq -r .digest sig-ref.json)

step "oras discover without a filter lists both"
oras discover "${ORAS[@]}" "${SPEC[@]}" --format json "$repo:v1" >all.json
assert_json all.json '.digest == $s' --arg s "$subject"
assert_json all.json '[.referrers[] | {digest, artifactType}] | sort_by(.digest)
  == ([{digest: $a, artifactType: $at}, {digest: $b, artifactType: $bt}] | sort_by(.digest))' \
  --arg a "$sbom_ref" --arg at "$SBOM" --arg b "$sig_ref" --arg bt "$SIG"

step "oras discover --artifact-type lists exactly one"
oras discover "${ORAS[@]}" "${SPEC[@]}" --format json --artifact-type "$SIG" "$repo:v1" >sig.json
assert_json sig.json '.referrers | length == 1'
assert_json sig.json '.referrers[0] | .digest == $d and .artifactType == $t
  and .annotations["org.example.signer"] == "e2e"' --arg d "$sig_ref" --arg t "$SIG"

step "referrers API directly"
status=$(http_get "/v2/e2e/oras/subject/referrers/$subject" index.json headers.txt)
assert_eq "$status" 200 "status"
assert_eq "$(header_value headers.txt Content-Type)" application/vnd.oci.image.index.v1+json "Content-Type"
assert_eq "$(header_value headers.txt OCI-Filters-Applied)" "" "OCI-Filters-Applied without a filter"
assert_json index.json '.schemaVersion == 2 and .mediaType == "application/vnd.oci.image.index.v1+json"'
assert_json index.json '[.manifests[].digest] | sort == ([$a, $b] | sort)' --arg a "$sbom_ref" --arg b "$sig_ref"
assert_json index.json '.manifests[] | select(.digest == $d) | .artifactType == $t and .size == $s
  and .mediaType == "application/vnd.oci.image.manifest.v1+json"' \
  --arg d "$sbom_ref" --arg t "$SBOM" --argjson s "$(jq .size sbom-ref.json)"

status=$(http_get "/v2/e2e/oras/subject/referrers/$subject?artifactType=$(urlencode "$SBOM")" filtered.json fheaders.txt)
assert_eq "$status" 200 "status (filtered)"
assert_eq "$(header_value fheaders.txt Content-Type)" application/vnd.oci.image.index.v1+json "Content-Type (filtered)"
assert_eq "$(header_value fheaders.txt OCI-Filters-Applied)" artifactType "OCI-Filters-Applied"
assert_json filtered.json '[.manifests[].digest] == [$d]' --arg d "$sbom_ref"

step "referrer content pulls back; no fallback tag was created"
mkdir out
oras pull "${ORAS[@]}" -o out "$repo@$sbom_ref" >/dev/null
assert_same sbom.json out/sbom.json
assert_eq "$(oras repo tags "${ORAS[@]}" "$repo")" v1 "tags"
