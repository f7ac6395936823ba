# podman over HTTPS with credentials (the CA by SSL_CERT_FILE; storage in this directory, vfs): an
# anonymous push is refused; `podman login` as alice; an imported image is pushed, removed and pulled
# back (same digest, same files); pushed to another of alice's repositories (the blobs mounted); tags
# and the catalog searched; alice cannot push to b/… nor pull bob's image; logout.
source "$ROOT/test/clients/auth-lib.sh"
# podman refuses a runroot path longer than 50 characters: that one lives in /tmp.
runroot=$(mktemp -d /tmp/podman-run.XXXXXX)
REMOVE_AT_EXIT+=("$runroot")
PODMAN=(podman --storage-driver=vfs --root "$PWD/storage" --runroot "$runroot"
  --cgroup-manager=cgroupfs --events-backend=none)
repo=$REG/a/podman/app
copy=$REG/a/podman/copy

step "import an image from a tarball"
mkdir -p rootfs/etc
echo "hello podman" >rootfs/etc/greeting
random_file rootfs/etc/random.bin 120000
make_tar rootfs layer.tar
"${PODMAN[@]}" import layer.tar localhost/auth-test:v1 >/dev/null

step "anonymous podman push is refused and stores nothing"
expect_failure anon.log "${PODMAN[@]}" push localhost/auth-test:v1 "docker://$repo:v1"
assert_grep anon.log 'authentication required|unauthorized|401'
stored_nothing a/podman/app

step "podman login as alice (--password-stdin)"
password alice | "${PODMAN[@]}" login -u alice --password-stdin "$REG" >login.log 2>&1 ||
  fail "podman login" "$(cat login.log)"
assert_grep login.log 'Login Succeeded'
assert_json "$REGISTRY_AUTH_FILE" '.auths | has($r)' --arg r "$REG"

step "push"
"${PODMAN[@]}" push --digestfile pushed.digest localhost/auth-test:v1 "docker://$repo:v1"
digest=$(cat pushed.digest)
assert_eq "$(request alice GET "/v2/a/podman/app/manifests/v1" manifest.json \
  -H 'Accept: application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json')" \
  200 "GET the pushed manifest"
assert_eq "$(digest_of manifest.json)" "$digest" "digest of the pushed manifest"

step "remove the local image, pull it back: same digest, same files"
"${PODMAN[@]}" rmi localhost/auth-test:v1 >/dev/null
"${PODMAN[@]}" pull "$repo:v1" >/dev/null
assert_eq "$("${PODMAN[@]}" image inspect --format '{{.Digest}}' "$repo:v1")" "$digest" "digest of the pulled image"
"${PODMAN[@]}" save --format oci-dir -o saved "$repo:v1" >/dev/null
mkdir files
for l in $(jq -r '.manifests[0].digest' saved/index.json | xargs -I{} sh -c 'jq -r ".layers[].digest" "saved/blobs/sha256/$(echo {} | cut -d: -f2)"'); do
  tar -C files -xf "saved/blobs/sha256/${l#sha256:}"
done
diff -r rootfs files || fail "the pulled image's files differ"

step "push to a/podman/copy: the layer is mounted, the manifest is the same"
"${PODMAN[@]}" push --digestfile copy.digest "$repo:v1" "docker://$copy:v1" >copy.log 2>&1 ||
  fail "podman push to the copy" "$(cat copy.log)"
assert_eq "$(cat copy.digest)" "$digest" "digest of the copy"
assert_mounted a/podman/copy "$(jq -r '.layers[0].digest' manifest.json)"

step "tags and catalog"
"${PODMAN[@]}" search --list-tags "$copy" >tags.txt
assert_eq "$(tail -n +2 tags.txt | awk '{print $1, $2}')" "$copy v1" "tags of the copy"
"${PODMAN[@]}" search --limit 1000 --format '{{.Name}}' "$REG/" >catalog.txt
soft assert_grep catalog.txt "^$REG/a/podman/app\$"
soft assert_grep catalog.txt "^$REG/a/podman/copy\$"
assert_no_grep catalog.txt "^$REG/b/"

step "refused: alice pushes to b/podman/stolen"
expect_failure stolen.log "${PODMAN[@]}" push "$repo:v1" "docker://$REG/b/podman/stolen:v1"
stored_nothing b/podman/stolen

step "refused: alice pulls bob's image"
as_user bob make_image b/podman/bob:v1 5000 >/dev/null
expect_failure bob-pull.log "${PODMAN[@]}" pull "$REG/b/podman/bob:v1"

step "podman logout: anonymous again"
"${PODMAN[@]}" logout "$REG" >/dev/null
expect_failure after-logout.log "${PODMAN[@]}" pull "$repo:v1"
