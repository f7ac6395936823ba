# skopeo: a hand-made OCI layout (an index of two platform images) copied with --all and
# --preserve-digests into the registry, then back out into a second layout: the index digest is
# unchanged end to end and every blob comes back byte-equal.
source "$ROOT/test/clients/lib.sh"
repo=$REG/e2e/skopeo/app
SRC_TLS=--src-tls-verify=false
DEST_TLS=--dest-tls-verify=false

# add_blob <file>: stores the file in layout1 and prints its descriptor fields "digest size".
add_blob() {
  local digest
  digest=$(digest_of "$1")
  cp "$1" "layout1/blobs/sha256/${digest#sha256:}"
  echo "$digest $(stat -c %s "$1")"
}

step "build layout1 by hand"
mkdir -p layout1/blobs/sha256
echo '{"imageLayoutVersion":"1.0.0"}' >layout1/oci-layout
entries=()
for arch in amd64 arm64; do
  mkdir -p "root-$arch"
  echo "built for $arch" >"root-$arch/arch.txt"
  random_file "root-$arch/blob.bin" 150000
  make_tar "root-$arch" "layer-$arch.tar"
  gzip -n -c "layer-$arch.tar" >"layer-$arch.tar.gz"
  read -r layer layer_size < <(add_blob "layer-$arch.tar.gz")
  jq -nc --arg a "$arch" --arg diff "$(digest_of "layer-$arch.tar")" \
    '{architecture: $a, os: "linux", config: {Cmd: ["/bin/true"]}, rootfs: {type: "layers", diff_ids: [$diff]}}' \
    >"config-$arch.json"
  read -r config config_size < <(add_blob "config-$arch.json")
  jq -nc --arg c "$config" --argjson cs "$config_size" --arg l "$layer" --argjson ls "$layer_size" \
    '{schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: {mediaType: "application/vnd.oci.image.config.v1+json", digest: $c, size: $cs},
      layers: [{mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: $l, size: $ls}]}' \
    >"manifest-$arch.json"
  read -r manifest manifest_size < <(add_blob "manifest-$arch.json")
  entries+=("$(jq -nc --arg d "$manifest" --argjson s "$manifest_size" --arg a "$arch" \
    '{mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $d, size: $s,
      platform: {architecture: $a, os: "linux"}}')")
done
printf '%s\n' "${entries[@]}" | jq -sc \
  '{schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json", manifests: .,
    annotations: {"org.example.built-by": "client e2e"}}' >index.json
read -r index index_size < <(add_blob index.json)
jq -nc --arg d "$index" --argjson s "$index_size" \
  '{schemaVersion: 2, manifests: [{mediaType: "application/vnd.oci.image.index.v1+json", digest: $d, size: $s,
    annotations: {"org.opencontainers.image.ref.name": "v1"}}]}' >layout1/index.json

step "skopeo copy --all layout1 -> registry"
skopeo "${SKOPEO[@]}" copy --all --preserve-digests "$DEST_TLS" oci:layout1:v1 "docker://$repo:v1"
assert_eq "$(crane digest "${CRANE[@]}" "$repo:v1")" "$index" "index digest in the registry"
crane manifest "${CRANE[@]}" "$repo:v1" >registry-index.json
assert_same index.json registry-index.json
skopeo inspect --tls-verify=false --raw "docker://$repo@$(jq -r '.manifests[1].digest' index.json)" >arm64.json
assert_same manifest-arm64.json arm64.json

step "skopeo copy --all registry -> layout2"
skopeo "${SKOPEO[@]}" copy --all --preserve-digests "$SRC_TLS" "docker://$repo:v1" oci:layout2:v1
assert_json layout2/index.json '[.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == "v1")
  | .digest] == [$d]' --arg d "$index"
diff -r layout1/blobs layout2/blobs || fail "the blobs of the two layouts differ"
assert_eq "$(find layout2/blobs/sha256 -type f | wc -l)" 7 "blobs in layout2 (index, 2 manifests, 2 configs, 2 layers)"
for f in layout2/blobs/sha256/*; do assert_eq "$(sha256_hex "$f")" "$(basename "$f")" "blob $f hashes to its name"; done

step "skopeo copy of one platform between repositories"
skopeo "${SKOPEO[@]}" copy --override-arch arm64 --override-os linux "$SRC_TLS" "$DEST_TLS" \
  "docker://$repo:v1" "docker://$REG/e2e/skopeo/arm64-only:v1"
assert_eq "$(crane digest "${CRANE[@]}" "$REG/e2e/skopeo/arm64-only:v1")" "$(digest_of manifest-arm64.json)" \
  "digest of the single-platform copy"
