# crane over HTTPS with credentials: an anonymous push is refused; `crane auth login` as alice; append
# (push) and blob/export (pull) byte-equal; copy to another of alice's repositories mounts the blobs;
# catalog and ls; delete; alice cannot copy into b/… nor read bob's image.
source "$ROOT/test/clients/auth-lib.sh"
repo=$REG/a/crane/app
copy=$REG/a/crane/copy

step "build the layer"
mkdir -p rootfs/etc
echo "hello crane" >rootfs/etc/greeting
random_file rootfs/etc/random.bin 200000
make_tar rootfs layer.tar
gzip -n -9 -c layer.tar >layer.tar.gz

step "anonymous crane append is refused and stores nothing"
expect_failure anon.log crane append "${CRANE[@]}" -f layer.tar.gz -t "$repo:v1"
assert_grep anon.log 'UNAUTHORIZED|401'
stored_nothing a/crane/app

step "crane auth login as alice"
password alice | crane auth login "$REG" -u alice --password-stdin >login.log 2>&1 ||
  fail "crane auth login" "$(cat login.log)"
assert_json "$DOCKER_CONFIG/config.json" '.auths | has($r)' --arg r "$REG"

step "push (crane append) and pull (blob, export) byte-equal"
crane append "${CRANE[@]}" -f layer.tar.gz -t "$repo:v1" >/dev/null
crane manifest "${CRANE[@]}" "$repo:v1" >manifest.json
assert_json manifest.json '.layers[0].digest == $d' --arg d "$(digest_of layer.tar.gz)"
crane blob "${CRANE[@]}" "$repo@$(digest_of layer.tar.gz)" >pulled.tar.gz
assert_same layer.tar.gz pulled.tar.gz
mkdir exported
crane export "${CRANE[@]}" "$repo:v1" - | tar -C exported -xf -
diff -r rootfs exported || fail "crane export differs from the layer's files"
digest=$(crane digest "${CRANE[@]}" "$repo:v1")
assert_eq "$digest" "$(digest_of manifest.json)" "digest of the manifest bytes"

step "crane copy to a/crane/copy mounts the blobs (no upload)"
crane copy "${CRANE[@]}" -v "$repo:v1" "$copy:v1" >copy.log 2>&1 || fail "crane copy" "$(tail -20 copy.log)"
for d in $(jq -r '.config.digest, .layers[].digest' manifest.json); do
  assert_grep copy.log "<-- 201 https://$REG/v2/a/crane/copy/blobs/uploads/\?.*from=a%2Fcrane%2Fapp.*mount=sha256%3A${d#sha256:}"
  assert_grep copy.log "mounted blob: $d"
done
assert_no_grep copy.log '--> (PATCH|PUT) .*/blobs/uploads/'
mapfile -t blobs < <(jq -r '.config.digest, .layers[].digest' manifest.json)
assert_mounted a/crane/copy "${blobs[@]}"
assert_eq "$(crane digest "${CRANE[@]}" "$copy:v1")" "$digest" "digest of the copy"

step "catalog and ls"
crane catalog "${CRANE[@]}" "$REG" >catalog.txt
soft assert_grep catalog.txt '^a/crane/app$'
soft assert_grep catalog.txt '^a/crane/copy$'
assert_no_grep catalog.txt '^b/'
assert_eq "$(crane ls "${CRANE[@]}" "$copy")" v1 "tags of the copy"

step "crane delete"
crane delete "${CRANE[@]}" "$copy@$digest"
expect_failure gone.log crane manifest "${CRANE[@]}" "$copy@$digest"
assert_grep gone.log 'MANIFEST_UNKNOWN'
assert_eq "$(crane digest "${CRANE[@]}" "$repo:v1")" "$digest" "the source is untouched"

step "refused: alice copies into b/crane/stolen"
expect_failure stolen.log crane copy "${CRANE[@]}" "$repo:v1" "$REG/b/crane/stolen:v1"
assert_grep stolen.log 'DENIED|UNAUTHORIZED|40[13]'
stored_nothing b/crane/stolen

step "refused: alice reads or copies bob's image"
bob_digest=$(as_user bob make_image b/crane/bob:v1 5000)
expect_failure bob-manifest.log crane manifest "${CRANE[@]}" "$REG/b/crane/bob:v1"
assert_grep bob-manifest.log 'DENIED|UNAUTHORIZED|40[13]'
expect_failure bob-copy.log crane copy "${CRANE[@]}" "$REG/b/crane/bob@$bob_digest" "$REG/a/crane/from-bob:v1"
stored_nothing a/crane/from-bob
as_user bob crane digest "$REG/b/crane/bob:v1" >bob-still.txt
assert_eq "$(cat bob-still.txt)" "$bob_digest" "bob reads his own image"
