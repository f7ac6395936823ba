# Legal hold with real clients: a held manifest survives crane delete, oras manifest delete and
# regctl tag delete of its held tag; after the hold is released (with a reason), crane delete works.
source "$ROOT/test/clients/lib.sh"
repo=e2e/holds/app

step "push an image with crane, hold its manifest and its tag"
digest=$(make_image "$repo:v1")
hold() { # json-body -> hold id
  curl -sS -X POST -H 'Content-Type: application/json' -d "$1" "http://$REG/api/v1/holds" >hold.json
  assert_json hold.json '.id | type == "string"'
  jq -r .id hold.json
}
manifest_hold=$(hold "{\"repository\": \"$repo\", \"digest\": \"$digest\", \"reason\": \"litigation 17\"}")
tag_hold=$(hold "{\"repository\": \"$repo\", \"tag\": \"v1\", \"reason\": \"audit\"}")

step "crane delete, oras manifest delete and regctl tag delete are refused"
expect_failure crane-delete.out crane delete "${CRANE[@]}" "$REG/$repo@$digest"
assert_grep crane-delete.out 'DENIED|legal hold'
expect_failure oras-delete.out oras manifest delete "${ORAS[@]}" --force "$REG/$repo@$digest"
assert_grep oras-delete.out 'legal hold|403|denied'
regctl registry set "$REG" --tls disabled >/dev/null 2>&1
expect_failure regctl-delete.out regctl tag delete "$REG/$repo:v1"
assert_eq "$(crane digest "${CRANE[@]}" "$REG/$repo:v1")" "$digest" "the held tag still names the manifest"

step "released (with a reason), the same delete goes through"
for id in "$manifest_hold" "$tag_hold"; do
  status=$(curl -sS -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
    -d '{"reason": "case closed"}' "http://$REG/api/v1/holds/$id/release")
  assert_eq "$status" 200 "release of $id"
done
crane delete "${CRANE[@]}" "$REG/$repo@$digest"
assert_eq "$(http_status HEAD "/v2/$repo/manifests/$digest")" 404 "the manifest after crane delete"
