# regctl: a 3 MiB blob pushed from stdin in chunked PATCH uploads reads back byte-equal; image copy
# between repositories keeps the digest and bytes; artifact put --subject is listed as a referrer
# (and filtered by artifact type); artifact get returns the bytes.
# (run.sh already ran `regctl registry set <registry> --tls disabled` into a private REGCTL_CONFIG.)
source "$ROOT/test/clients/lib.sh"
REPORT=application/vnd.example.report.v1

step "regctl blob put from stdin: chunked upload"
random_file big.bin $((3 * 1024 * 1024 + 123))
regctl -v trace blob put "$REG/e2e/regctl/blobs" <big.bin >put.out 2>put.trace
assert_eq "$(cat put.out)" "$(digest_of big.bin)" "digest printed by blob put"
grep -oE 'req-method=PATCH .*Content-Range:\[[0-9]+-[0-9]+\]' put.trace |
  grep -oE 'Content-Range:\[[0-9]+-[0-9]+\]' >chunks.txt || true
assert_eq "$(wc -l <chunks.txt)" 4 "PATCH requests with a Content-Range"
assert_eq "$(head -1 chunks.txt)" 'Content-Range:[0-1048575]' "first chunk"
assert_eq "$(tail -1 chunks.txt)" "Content-Range:[3145728-$((3 * 1024 * 1024 + 122))]" "last chunk"
regctl blob get "$REG/e2e/regctl/blobs" "$(digest_of big.bin)" >big.out
assert_same big.bin big.out

step "regctl image copy between repositories"
src_digest=$(make_image e2e/regctl/src:v1 200000)
regctl image copy "$REG/e2e/regctl/src:v1" "$REG/e2e/regctl/dst:v1"
assert_eq "$(regctl image digest "$REG/e2e/regctl/dst:v1")" "$src_digest" "digest of the copy"
regctl manifest get --format raw-body "$REG/e2e/regctl/src:v1" >src-manifest.json
regctl manifest get --format raw-body "$REG/e2e/regctl/dst:v1" >dst-manifest.json
assert_same src-manifest.json dst-manifest.json
layer=$(jq -r '.layers[0].digest' dst-manifest.json)
regctl blob get "$REG/e2e/regctl/src" "$layer" >src-layer
regctl blob get "$REG/e2e/regctl/dst" "$layer" >dst-layer
assert_same src-layer dst-layer
assert_eq "$(digest_of dst-layer)" "$layer" "layer digest"

step "regctl artifact put --subject"
random_file report.bin $((2 * 1024 * 1024))
regctl artifact put --subject "$REG/e2e/regctl/dst:v1" --artifact-type "$REPORT" \
  -f report.bin -m application/octet-stream --annotation org.example.kind=report

step "regctl artifact list shows it (and filters by type)"
regctl artifact list --format '{{json .}}' "$REG/e2e/regctl/dst:v1" >list.json
assert_json list.json '.subject.Digest == $d' --arg d "$src_digest"
assert_json list.json '.descriptors | length == 1'
assert_json list.json '.descriptors[0] | .artifactType == $t and .annotations["org.example.kind"] == "report"' \
  --arg t "$REPORT"
referrer=$(jq -r '.descriptors[0].digest' list.json)
regctl artifact list --format '{{json .}}' --filter-artifact-type application/vnd.example.other \
  "$REG/e2e/regctl/dst:v1" >none.json
assert_json none.json '(.descriptors // []) | length == 0'

step "regctl artifact get returns the bytes"
regctl artifact get "$REG/e2e/regctl/dst@$referrer" >got.bin
assert_same report.bin got.bin
regctl artifact get --subject "$REG/e2e/regctl/dst:v1" --filter-artifact-type "$REPORT" >got-by-subject.bin
assert_same report.bin got-by-subject.bin
regctl manifest get --format raw-body "$REG/e2e/regctl/dst@$referrer" >referrer.json
assert_json referrer.json '.subject.digest == $d and .layers[0].digest == $l' \
  --arg d "$src_digest" --arg l "$(digest_of report.bin)"
