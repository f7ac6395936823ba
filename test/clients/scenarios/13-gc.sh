# Garbage collection with real clients (issue 9): images pushed and deleted with crane are freed by
# `artifact-store gc` — their manifests, layers and bytes (the store's size measured before and after,
# when it is a local directory) — while an oras push loop running at the same time loses nothing. A
# held untagged manifest survives every run until its hold is released; the next run frees it.
# The suite's server runs with GC_DELAY=5s (run.sh): what a push in flight uploaded is younger.
source "$ROOT/test/clients/lib.sh"
repo=e2e/gc/app
loop=e2e/gc/loop
cli() { node "$ROOT/dist/cli.js" "$@" --url "http://$REG"; }
store_bytes() { find "$STORE_DIR" -type f -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }'; }

step "push three images with crane (about 1 MiB of layers each), delete two of them"
keep=$(make_image "$repo:keep" 1000000)
gone=()
for tag in old1 old2; do gone+=("$(make_image "$repo:$tag" 1000000)"); done
layers=()
for digest in "${gone[@]}"; do
  crane manifest "${CRANE[@]}" "$REG/$repo@$digest" >m.json
  while read -r layer; do layers+=("$layer"); done < <(jq -r '.layers[].digest' m.json)
  crane delete "${CRANE[@]}" "$REG/$repo@$digest"
done
held=$(make_image "$repo:held" 1000)
assert_eq "$(http_status DELETE "/v2/$repo/manifests/held")" 202 "untagging the manifest to hold"
curl -sS -X POST -H 'Content-Type: application/json' "http://$REG/api/v1/holds" \
  -d "{\"repository\": \"$repo\", \"digest\": \"$held\", \"reason\": \"evidence 9\"}" >hold.json
hold_id=$(jq -r .id hold.json)
sleep 6 # past GC_DELAY

step "a dry run says what would go and frees nothing"
cli gc --dry-run >dry.out
cat dry.out
assert_grep dry.out 'would free'
assert_eq "$(http_status HEAD "/v2/$repo/blobs/${layers[0]}")" 200 "a layer of a deleted image after the dry run"
[ -n "${STORE_DIR:-}" ] && before=$(store_bytes)

step "gc runs while oras pushes ten artifacts in a loop"
mkdir -p pushed
(
  for i in $(seq 1 10); do
    random_file "pushed/f$i.bin" 200000
    (cd pushed && oras push "${ORAS[@]}" "$REG/$loop:v$i" "f$i.bin" >/dev/null 2>"../push-$i.err") ||
      echo "push $i failed: $(cat "push-$i.err")" >>loop-failures
  done
) &
pusher=$!
sleep 1
cli gc >gc1.out
cli gc >gc2.out
wait "$pusher"
cat gc1.out gc2.out
[ ! -s loop-failures ] || fail "pushes failed while gc ran" "$(cat loop-failures)"

step "everything the loop pushed pulls back byte for byte"
for i in $(seq 1 10); do
  rm -rf "pulled$i" && mkdir "pulled$i"
  oras pull "${ORAS[@]}" -o "pulled$i" "$REG/$loop:v$i" >/dev/null
  assert_same "pushed/f$i.bin" "pulled$i/f$i.bin"
done

step "the deleted images are gone, layers and bytes; the kept one is whole"
for digest in "${gone[@]}"; do
  assert_eq "$(http_status GET "/v2/$repo/manifests/$digest")" 404 "deleted manifest $digest"
done
for layer in "${layers[@]}"; do
  assert_eq "$(http_status HEAD "/v2/$repo/blobs/$layer")" 404 "layer $layer of a deleted image"
done
crane pull "${CRANE[@]}" --format oci "$REG/$repo:keep" kept >/dev/null
assert_eq "$(crane digest "${CRANE[@]}" "$REG/$repo:keep")" "$keep" "the kept image"
assert_eq "$(http_status GET "/v2/$repo/manifests/$held")" 200 "the held manifest after two runs"
status=$(curl -sS -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
  -d '{"reason": "released"}' "http://$REG/api/v1/holds/$hold_id/release")
assert_eq "$status" 200 "release of the hold"
cli gc >gc3.out
assert_eq "$(http_status GET "/v2/$repo/manifests/$held")" 404 "the manifest once its hold was released"
freed=$(cat gc1.out gc2.out | sed -n 's/.*freed [0-9.]* MiB (\([0-9]*\) bytes).*/\1/p' | awk '{ s += $1 } END { print s + 0 }')
[ "$freed" -ge 2000000 ] || fail "gc freed $freed bytes, expected the two images' 2 MB at least" "$(cat gc1.out gc2.out)"
if [ -n "${STORE_DIR:-}" ]; then
  after=$(store_bytes)
  echo "blob store: $before bytes before gc, $after after (the loop added 2000000 bytes of files)"
  # The loop's 2 MB came in and the two images' 2 MB went out: the store must not have grown.
  [ "$after" -le $((before + 50000)) ] || fail "the store grew from $before to $after bytes: gc freed too little"
fi
