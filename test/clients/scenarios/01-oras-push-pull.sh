# oras push of several files (one of 4 MiB random data, one empty) with an artifact type and
# manifest/file annotations; oras pull into an empty folder gives every file back byte for byte.
source "$ROOT/test/clients/lib.sh"
ref=$REG/e2e/oras/files:v1

step "prepare files"
mkdir in
echo "hello from artifact-store" >in/hello.txt
printf '{"name":"e2e","n":[1,2,3]}' >in/data.json
random_file in/big.bin $((4 * 1024 * 1024))
: >in/empty.txt
cat >annotations.json <<'EOF'
{
  "$manifest": { "org.example.release": "1.0", "org.opencontainers.image.description": "client e2e" },
  "hello.txt": { "org.example.lang": "en" }
}
EOF

step "oras push"
(cd in && oras push "${ORAS[@]}" "$ref" --format json \
  --artifact-type application/vnd.example.bundle.v1 --annotation-file ../annotations.json \
  hello.txt:text/plain data.json:application/json big.bin empty.txt) >push.json
digest=$(jq -r .digest push.json)

step "oras manifest fetch: bytes hash to the pushed digest, artifactType and annotations present"
oras manifest fetch "${ORAS[@]}" "$ref" >manifest.json
assert_eq "$(digest_of manifest.json)" "$digest" "digest of the fetched manifest bytes"
assert_json manifest.json '.mediaType == "application/vnd.oci.image.manifest.v1+json"'
assert_json manifest.json '.artifactType == "application/vnd.example.bundle.v1"'
assert_json manifest.json '.annotations["org.example.release"] == "1.0"'
assert_json manifest.json '.annotations["org.opencontainers.image.description"] == "client e2e"'
assert_json manifest.json '.layers | length == 4'
assert_json manifest.json '.layers[] | select(.annotations["org.opencontainers.image.title"] == "hello.txt")
  | .mediaType == "text/plain" and .annotations["org.example.lang"] == "en"'
for f in hello.txt data.json big.bin empty.txt; do
  assert_json manifest.json '.layers[] | select(.annotations["org.opencontainers.image.title"] == $f)
    | .digest == $d and .size == $s' --arg f "$f" --arg d "$(digest_of "in/$f")" --argjson s "$(stat -c %s "in/$f")"
done
oras manifest fetch "${ORAS[@]}" --descriptor "$ref" >descriptor.json
assert_json descriptor.json '.digest == $d and .size == $s' --arg d "$digest" --argjson s "$(stat -c %s manifest.json)"

step "oras pull into an empty folder"
mkdir out
oras pull "${ORAS[@]}" -o out "$ref" >pull.log
for f in hello.txt data.json big.bin empty.txt; do assert_same "in/$f" "out/$f"; done
assert_eq "$(find out -type f | wc -l)" 4 "number of pulled files"

step "oras blob fetch of the big layer by digest"
oras blob fetch "${ORAS[@]}" --output big.fetched "$REG/e2e/oras/files@$(digest_of in/big.bin)"
assert_same in/big.bin big.fetched

step "oras repo tags"
assert_eq "$(oras repo tags "${ORAS[@]}" "$REG/e2e/oras/files")" v1 "tags"
