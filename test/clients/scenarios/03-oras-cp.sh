# oras cp (with -r: referrers too) between two repositories: the manifest digest and bytes are
# identical in both, the content pulls back byte-equal, the referrer came along.
source "$ROOT/test/clients/lib.sh"
src=$REG/e2e/oras/cp-src
dst=$REG/e2e/oras/cp-dst

step "push the source artifact and a referrer"
mkdir in
random_file in/payload.bin $((1024 * 1024 + 17))
echo "readme" >in/README.md
(cd in && oras push "${ORAS[@]}" "$src:v1" --format json --artifact-type application/vnd.example.cp \
  payload.bin README.md) >push.json
digest=$(jq -r .digest push.json)
echo "note" >note.txt
oras attach "${ORAS[@]}" --format json --artifact-type application/vnd.example.note "$src:v1" note.txt >note.json
note=$(jq -r .digest note.json)

step "oras cp -r"
oras cp --from-plain-http --to-plain-http -r "$src:v1" "$dst:copied" >cp.log

step "manifest digests and bytes identical"
assert_eq "$(oras resolve "${ORAS[@]}" "$dst:copied")" "$digest" "destination digest"
oras manifest fetch "${ORAS[@]}" "$src:v1" >src-manifest.json
oras manifest fetch "${ORAS[@]}" "$dst:copied" >dst-manifest.json
assert_same src-manifest.json dst-manifest.json

step "content pulled from the destination is equal"
mkdir out
oras pull "${ORAS[@]}" -o out "$dst:copied" >/dev/null
assert_same in/payload.bin out/payload.bin
assert_same in/README.md out/README.md

step "the referrer was copied with the same digest"
oras discover "${ORAS[@]}" --format json "$dst:copied" >dst-referrers.json
assert_json dst-referrers.json '[.referrers[].digest] == [$n]' --arg n "$note"
assert_eq "$(oras repo tags "${ORAS[@]}" "$dst")" copied "destination tags"
