# Last: every event in the log (the server's data dir is fresh for each mode, so these are all the
# events of this run) names its actor (payload.actor with a kind); pushes by alice name alice, bob's
# name bob; nothing in a/… was written by bob or anonymously.
source "$ROOT/test/clients/auth-lib.sh"

step "page through GET /api/v1/events as admin"
after=0
: >events.jsonl
while :; do
  status=$(request admin GET "/api/v1/events?limit=1000&after=$after" page.json)
  assert_eq "$status" 200 "GET /api/v1/events?after=$after"
  n=$(jq '.events | length' page.json)
  [ "$n" -gt 0 ] || break
  jq -c '.events[]' page.json >>events.jsonl
  after=$(jq '.next_after' page.json)
done
jq -s . events.jsonl >events.json
echo "$(jq length events.json) events"
assert_json events.json 'length > 50'

step "every event has payload.actor with a kind"
jq -c '[.[] | select((.payload.actor | type) != "object" or (.payload.actor.kind | type) != "string"
  or .payload.actor.kind == "")] | .[:5]' events.json >missing.json
assert_json missing.json '. == []'
jq -c 'group_by(.payload.actor.kind) | map({kind: .[0].payload.actor.kind, n: length})' events.json

step "alice's pushes name alice, bob's bob"
assert_json events.json '[.[] | select(.type == "manifest.stored" and (.repository | startswith("a/"))) | .payload.actor.name] | unique == ["alice"]'
assert_json events.json '[.[] | select(.type == "tag.set" and .repository == "a/x") | .payload.actor] | length > 0 and all(.kind == "user" and .name == "alice")'
assert_json events.json '[.[] | select(.type == "manifest.stored" and (.repository | startswith("b/"))) | .payload.actor.name] | unique == ["bob"]'
assert_json events.json '[.[] | select(.repository != null and (.repository | startswith("a/"))) | .payload.actor | select(.kind == "anonymous" or .name == "bob")] == []'
assert_json events.json '[.[] | select(.payload.actor.kind == "user") | .payload.actor.via] | all(. == "basic" or . == "bearer")'
