# artifact-store import / export with real clients: an image and an index of two images copied by
# skopeo into an oci: layout import with their digests and bytes unchanged; exported back to a layout,
# the blobs are byte-identical to skopeo's, and skopeo copy oci:… and oras cp --from-oci-layout (a
# directory and a .tar) push them on with the same digests; a layout written by oras cp
# --to-oci-layout imports too, and the ref policy decides what happens to a tag already set.
source "$ROOT/test/clients/lib.sh"
URL=http://$REG
cli() { node "$ROOT/dist/cli.js" "$@"; }
SRC_TLS=--src-tls-verify=false
DEST_TLS=--dest-tls-verify=false
ie=$REG/e2e/ie

step "push an image and an index of two images with crane"
image=$(make_image e2e/ie/src:v1 8192)
amd=$(make_image e2e/ie/src:amd 4096)
arm=$(make_image e2e/ie/src:arm 4096)
# By hand, with platforms (skopeo 1.9 rewrites an index whose descriptors carry artifactType, as
# crane index append writes them, and then cannot preserve its digest).
entries=()
for pair in "amd64 $amd" "arm64 $arm"; do
  read -r arch d <<<"$pair"
  size=$(crane manifest "${CRANE[@]}" "$ie/src@$d" | wc -c)
  entries+=("$(jq -nc --arg d "$d" --argjson s "$size" --arg a "$arch" \
    '{mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $d, size: $s,
      platform: {architecture: $a, os: "linux"}}')")
done
printf '%s\n' "${entries[@]}" | jq -sc '{schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json",
  manifests: ., annotations: {"org.example.made-by": "import-export e2e"}}' >multi.json
multi=$(digest_of multi.json)
status=$(curl -sS -o /dev/null -w '%{http_code}' -X PUT -H 'Content-Type: application/vnd.oci.image.index.v1+json' \
  --data-binary @multi.json "$URL/v2/e2e/ie/src/manifests/multi")
assert_eq "$status" 201 "push of the index"

step "skopeo copy both into one oci: layout"
skopeo "${SKOPEO[@]}" copy --preserve-digests "$SRC_TLS" "docker://$ie/src:v1" oci:skopeo-layout:v1
skopeo "${SKOPEO[@]}" copy --all --preserve-digests "$SRC_TLS" "docker://$ie/src:multi" oci:skopeo-layout:multi
assert_json skopeo-layout/index.json '[.manifests[] | .annotations["org.opencontainers.image.ref.name"]] | sort == ["multi", "v1"]'

step "artifact-store import the skopeo layout into a new repository"
cli import skopeo-layout e2e/ie/imported --url "$URL" >import.log
cat import.log
assert_grep import.log "^inserted +v1 +$image"
assert_grep import.log "^inserted +multi +$multi"
assert_eq "$(crane digest "${CRANE[@]}" "$ie/imported:v1")" "$image" "digest of the imported image"
assert_eq "$(crane digest "${CRANE[@]}" "$ie/imported:multi")" "$multi" "digest of the imported index"
for d in "$image" "$multi" "$amd" "$arm"; do
  crane manifest "${CRANE[@]}" "$ie/imported@$d" >served.json
  assert_same "skopeo-layout/blobs/sha256/${d#sha256:}" served.json
done

step "importing it again changes nothing"
cli import skopeo-layout e2e/ie/imported --url "$URL" >again.log
assert_grep again.log "^unchanged +v1 +$image"
assert_grep again.log "^unchanged +multi +$multi"

step "artifact-store export into a layout: blobs byte-identical to skopeo's"
cli export e2e/ie/imported:v1 exported --url "$URL"
cli export e2e/ie/imported:multi exported --url "$URL"
diff -r skopeo-layout/blobs exported/blobs || fail "the exported blobs differ from the layout skopeo wrote"
for f in exported/blobs/sha256/*; do assert_eq "$(sha256_hex "$f")" "$(basename "$f")" "blob $f hashes to its name"; done

step "skopeo copy oci:exported → registry keeps the digests"
skopeo "${SKOPEO[@]}" copy --preserve-digests "$DEST_TLS" oci:exported:v1 "docker://$ie/by-skopeo:v1"
skopeo "${SKOPEO[@]}" copy --all --preserve-digests "$DEST_TLS" oci:exported:multi "docker://$ie/by-skopeo:multi"
assert_eq "$(crane digest "${CRANE[@]}" "$ie/by-skopeo:v1")" "$image" "digest after skopeo copy from the export"
assert_eq "$(crane digest "${CRANE[@]}" "$ie/by-skopeo:multi")" "$multi" "index digest after skopeo copy"

step "oras cp --from-oci-layout: from the exported directory and from an exported .tar"
oras cp --to-plain-http --from-oci-layout exported:v1 "$ie/by-oras:v1" >oras-cp.log
assert_eq "$(oras resolve "${ORAS[@]}" "$ie/by-oras:v1")" "$image" "digest after oras cp from the export"
cli export e2e/ie/imported:multi exported.tar --url "$URL"
oras cp --to-plain-http -r --from-oci-layout exported.tar:multi "$ie/by-oras-tar:multi" >oras-cp-tar.log
assert_eq "$(oras resolve "${ORAS[@]}" "$ie/by-oras-tar:multi")" "$multi" "index digest after oras cp from the tar"
skopeo "${SKOPEO[@]}" copy --all --preserve-digests "$DEST_TLS" oci-archive:exported.tar:multi "docker://$ie/by-archive:multi"
assert_eq "$(crane digest "${CRANE[@]}" "$ie/by-archive:multi")" "$multi" "index digest after skopeo copy oci-archive:"

step "oras cp --to-oci-layout writes a layout that imports"
mkdir in
random_file in/payload.bin 70000
(cd in && oras push "${ORAS[@]}" "$ie/art:v1" --artifact-type application/vnd.example.e2e payload.bin) >push.log
artifact=$(oras resolve "${ORAS[@]}" "$ie/art:v1")
oras cp --from-plain-http --to-oci-layout "$ie/art:v1" oras-layout:v1 >oras-to-layout.log
cli import oras-layout e2e/ie/art-copy --url "$URL" >art.log
assert_grep art.log "^inserted +v1 +$artifact"
oras manifest fetch "${ORAS[@]}" "$ie/art:v1" >art-src.json
oras manifest fetch "${ORAS[@]}" "$ie/art-copy:v1" >art-dst.json
assert_same art-src.json art-dst.json
mkdir out
oras pull "${ORAS[@]}" -o out "$ie/art-copy:v1" >/dev/null
assert_same in/payload.bin out/payload.bin

step "the ref policy: keep-existing leaves v1 where it is (conflicted), replace moves it"
cli import oras-layout e2e/ie/imported --url "$URL" >kept.log
assert_grep kept.log "^conflicted +v1 +$artifact"
assert_eq "$(crane digest "${CRANE[@]}" "$ie/imported:v1")" "$image" "v1 after keep-existing"
cli import oras-layout e2e/ie/imported --ref-policy replace --url "$URL" >replaced.log
assert_grep replaced.log "^replaced +v1 +$artifact"
assert_eq "$(crane digest "${CRANE[@]}" "$ie/imported:v1")" "$artifact" "v1 after replace"

step "a layout with a damaged blob imports nothing"
cp -r skopeo-layout damaged
layer=$(jq -r '.layers[0].digest' "damaged/blobs/sha256/${image#sha256:}")
chmod u+w "damaged/blobs/sha256/${layer#sha256:}"
# one byte changed in the middle: the size is right, the digest is not
printf 'x' | dd of="damaged/blobs/sha256/${layer#sha256:}" bs=1 seek=1000 conv=notrunc status=none
expect_failure damaged.log cli import damaged e2e/ie/damaged --url "$URL"
assert_grep damaged.log "blob $layer does not match its digest"
assert_grep damaged.log 'nothing was imported'
assert_eq "$(http_status HEAD "/v2/e2e/ie/damaged/manifests/v1")" 404 "v1 after the failed import"
assert_eq "$(http_status HEAD "/v2/e2e/ie/damaged/manifests/$multi")" 404 "the index after the failed import"
