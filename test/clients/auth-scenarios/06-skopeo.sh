# skopeo over HTTPS with credentials (--creds, --src-creds, --dest-creds; the CA by SSL_CERT_FILE): an
# anonymous copy is refused; a hand-made OCI layout is copied into the registry as alice with its
# digest kept, out again into a dir: byte-equal; a copy to another of alice's repositories; inspect
# and list-tags; delete; alice cannot copy into b/… nor list bob's tags.
source "$ROOT/test/clients/auth-lib.sh"
repo=$REG/a/skopeo/app
copy=$REG/a/skopeo/copy
ALICE=alice:$(password alice)

step "build an OCI layout by hand"
mkdir -p layout/blobs/sha256 rootfs
echo '{"imageLayoutVersion":"1.0.0"}' >layout/oci-layout
echo "skopeo with credentials" >rootfs/hello.txt
random_file rootfs/blob.bin 150000
make_tar rootfs layer.tar
gzip -n -c layer.tar >layer.tar.gz
add_blob() { # file -> "digest size"
  local d
  d=$(digest_of "$1")
  cp "$1" "layout/blobs/sha256/${d#sha256:}"
  echo "$d $(stat -c %s "$1")"
}
read -r layer layer_size < <(add_blob layer.tar.gz)
jq -nc --arg diff "$(digest_of layer.tar)" \
  '{architecture: "amd64", os: "linux", rootfs: {type: "layers", diff_ids: [$diff]}}' >config.json
read -r config config_size < <(add_blob config.json)
jq -nc --arg c "$config" --argjson cs "$config_size" --arg l "$layer" --argjson ls "$layer_size" \
  '{schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json",
    config: {mediaType: "application/vnd.oci.image.config.v1+json", digest: $c, size: $cs},
    layers: [{mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: $l, size: $ls}]}' >manifest.json
read -r manifest manifest_size < <(add_blob manifest.json)
jq -nc --arg d "$manifest" --argjson s "$manifest_size" \
  '{schemaVersion: 2, manifests: [{mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $d, size: $s,
    annotations: {"org.opencontainers.image.ref.name": "v1"}}]}' >layout/index.json

step "anonymous skopeo copy is refused and stores nothing"
expect_failure anon.log skopeo "${SKOPEO[@]}" copy --preserve-digests oci:layout:v1 "docker://$repo:v1"
stored_nothing a/skopeo/app

step "skopeo copy oci layout -> registry (--dest-creds alice)"
skopeo "${SKOPEO[@]}" copy --preserve-digests --dest-creds "$ALICE" oci:layout:v1 "docker://$repo:v1"
skopeo inspect --creds "$ALICE" --raw "docker://$repo:v1" >registry-manifest.json
assert_same manifest.json registry-manifest.json
skopeo inspect --creds "$ALICE" "docker://$repo:v1" >inspect.json
assert_json inspect.json '.Digest == $d' --arg d "$manifest"

step "skopeo copy registry -> dir (--src-creds alice): byte-equal"
skopeo "${SKOPEO[@]}" copy --src-creds "$ALICE" "docker://$repo:v1" dir:out
assert_same layer.tar.gz "out/${layer#sha256:}"
assert_same config.json "out/${config#sha256:}"
assert_same manifest.json out/manifest.json

step "skopeo copy to a/skopeo/copy (--creds for both ends: login file)"
password alice | skopeo login -u alice --password-stdin "$REG" >login.log 2>&1 || fail "skopeo login" "$(cat login.log)"
assert_json "$REGISTRY_AUTH_FILE" '.auths | has($r)' --arg r "$REG"
skopeo "${SKOPEO[@]}" copy --preserve-digests "docker://$repo:v1" "docker://$copy:v1"
skopeo inspect --raw "docker://$copy:v1" >copy-manifest.json
assert_same manifest.json copy-manifest.json
soft assert_mounted a/skopeo/copy "$layer"

step "list-tags"
skopeo list-tags "docker://$copy" >tags.json
assert_json tags.json '.Tags == ["v1"]'

step "skopeo delete"
skopeo delete "docker://$copy:v1"
expect_failure gone.log skopeo inspect --raw "docker://$copy:v1"
skopeo inspect --raw "docker://$repo:v1" >still.json
assert_same manifest.json still.json

step "refused: alice copies into b/skopeo/stolen"
expect_failure stolen.log skopeo "${SKOPEO[@]}" copy "docker://$repo:v1" "docker://$REG/b/skopeo/stolen:v1"
stored_nothing b/skopeo/stolen

step "refused: alice lists or copies bob's image"
as_user bob make_image b/skopeo/bob:v1 5000 >/dev/null
expect_failure bob-tags.log skopeo list-tags "docker://$REG/b/skopeo/bob"
expect_failure bob-copy.log skopeo "${SKOPEO[@]}" copy "docker://$REG/b/skopeo/bob:v1" dir:bob
skopeo list-tags --creds "bob:$(password bob)" "docker://$REG/b/skopeo/bob" >bob-tags.json
assert_json bob-tags.json '.Tags == ["v1"]'
