# crane append with Docker media types (the default) and OCI types (--oci-empty-base) of a tarball
# made here; blobs and export byte-equal to it; crane copy mounts the blobs across repositories
# instead of uploading them; digest, ls, catalog; crane delete removes the manifest.
source "$ROOT/test/clients/lib.sh"
docker=$REG/e2e/crane/docker
oci=$REG/e2e/crane/oci
copy=$REG/e2e/crane/copy

step "build the layer"
mkdir -p rootfs/etc rootfs/opt/data
echo "hello crane" >rootfs/etc/greeting
random_file rootfs/opt/data/random.bin 300000
make_tar rootfs layer.tar
gzip -n -9 -c layer.tar >layer.tar.gz
diff_id=$(digest_of layer.tar)

step "crane append, Docker media types, layer already gzipped (kept as is)"
crane append "${CRANE[@]}" -f layer.tar.gz -t "$docker:v1" >/dev/null
crane manifest "${CRANE[@]}" "$docker:v1" >docker-manifest.json
assert_json docker-manifest.json '.mediaType == "application/vnd.docker.distribution.manifest.v2+json"'
assert_json docker-manifest.json '.config.mediaType == "application/vnd.docker.container.image.v1+json"'
assert_json docker-manifest.json '.layers == [{mediaType: "application/vnd.docker.image.rootfs.diff.tar.gzip",
  size: $s, digest: $d}]' --arg d "$(digest_of layer.tar.gz)" --argjson s "$(stat -c %s layer.tar.gz)"
crane blob "${CRANE[@]}" "$docker@$(digest_of layer.tar.gz)" >docker-layer.tar.gz
assert_same layer.tar.gz docker-layer.tar.gz
crane config "${CRANE[@]}" "$docker:v1" >docker-config.json
assert_json docker-config.json '.rootfs.diff_ids == [$d]' --arg d "$diff_id"

step "crane append --oci-empty-base, plain tarball (crane compresses it)"
crane append "${CRANE[@]}" --oci-empty-base -f layer.tar -t "$oci:v1" >/dev/null
crane manifest "${CRANE[@]}" "$oci:v1" >oci-manifest.json
assert_json oci-manifest.json '.mediaType == "application/vnd.oci.image.manifest.v1+json"'
assert_json oci-manifest.json '.config.mediaType == "application/vnd.oci.image.config.v1+json"'
assert_json oci-manifest.json '[.layers[].mediaType] == ["application/vnd.oci.image.layer.v1.tar+gzip"]'
oci_layer=$(jq -r '.layers[0].digest' oci-manifest.json)
crane blob "${CRANE[@]}" "$oci@$oci_layer" >oci-layer.tar.gz
assert_eq "$(digest_of oci-layer.tar.gz)" "$oci_layer" "digest of the fetched layer"
gunzip -c oci-layer.tar.gz >oci-layer.tar
assert_same layer.tar oci-layer.tar
crane config "${CRANE[@]}" "$oci:v1" >oci-config.json
assert_json oci-config.json '.rootfs.diff_ids == [$d]' --arg d "$diff_id"
mkdir exported
crane export "${CRANE[@]}" "$oci:v1" - | tar -C exported -xf -
diff -r rootfs exported || fail "crane export differs from the layer's files"

step "crane copy mounts the blobs (no upload)"
crane copy "${CRANE[@]}" -v "$docker:v1" "$copy:v1" >copy.log 2>&1
for d in $(jq -r '.config.digest, .layers[].digest' docker-manifest.json); do
  hex=${d#sha256:}
  assert_grep copy.log "<-- 201 http://$REG/v2/e2e/crane/copy/blobs/uploads/\?.*from=e2e%2Fcrane%2Fdocker.*mount=sha256%3A$hex"
  assert_grep copy.log "mounted blob: $d"
done
assert_no_grep copy.log '--> (PATCH|PUT) .*/blobs/uploads/'
assert_no_grep copy.log 'pushed blob'

step "digests, tags and catalog"
src_digest=$(crane digest "${CRANE[@]}" "$docker:v1")
assert_eq "$(crane digest "${CRANE[@]}" "$copy:v1")" "$src_digest" "digest of the copy"
assert_eq "$src_digest" "$(digest_of docker-manifest.json)" "digest of the manifest bytes"
assert_eq "$(crane ls "${CRANE[@]}" "$copy")" v1 "tags of the copy"
crane catalog "${CRANE[@]}" "$REG" >catalog.txt
for r in e2e/crane/docker e2e/crane/oci e2e/crane/copy; do assert_grep catalog.txt "^$r\$"; done

step "crane delete removes the manifest"
crane delete "${CRANE[@]}" "$copy@$src_digest"
expect_failure gone.log crane manifest "${CRANE[@]}" "$copy@$src_digest"
assert_grep gone.log 'MANIFEST_UNKNOWN'
assert_eq "$(http_status HEAD "/v2/e2e/crane/copy/manifests/$src_digest")" 404 "HEAD by digest after delete"
assert_eq "$(http_status HEAD /v2/e2e/crane/copy/manifests/v1)" 404 "HEAD by tag after delete"
assert_eq "$(crane ls "${CRANE[@]}" "$copy")" "" "tags after delete"
assert_eq "$(crane digest "${CRANE[@]}" "$docker:v1")" "$src_digest" "the source is untouched"
