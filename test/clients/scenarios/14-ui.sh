# The web UI over the registry the scenarios before this one filled (issue 11): every repository's
# page, the package page of every tag on the first page of each, and the other pages answer 200 with
# what the API holds; the event stream of the UI delivers a push made while it is open; the forms
# (a release rollback, a retention dry run, the chain check) work with the page's own CSRF token, and
# the chain check is refused without it. (The browser suite, test/ui, drives the pages in Chromium.)
source "$ROOT/test/clients/lib.sh"
URL=http://$REG
page() { # path -> body in page.html; fails on any status but 200
  local status
  status=$(curl -sS -o page.html -w '%{http_code}' -b jar -c jar "$URL$1")
  [ "$status" = 200 ] || fail "GET $1: $status" "$(head -c 600 page.html)"
}

step "oras push and attach: one artifact of this scenario's own, beside the others'"
echo "ui" >ui.txt
oras push "${ORAS[@]}" "$REG/e2e/ui/app:v1" ui.txt >/dev/null
echo '{}' >sbom.json
oras attach "${ORAS[@]}" "$REG/e2e/ui/app:v1" --artifact-type application/spdx+json sbom.json >attach.log
sbom=$(grep -Eo 'sha256:[a-f0-9]{64}' attach.log | tail -1)

step "the repositories page and every repository's page"
curl -sf "$URL/api/v1/repositories?limit=1000" -o repos.json
count=$(jq '.repositories | length' repos.json)
page /ui/repositories
assert_grep page.html "<h1>Repositories</h1>"
pages=0
while read -r repo; do
  page "/ui/repo/$repo"
  assert_grep page.html "<h1>$repo</h1>"
  curl -sf "$URL/api/v1/repositories/$repo/tags?limit=20" -o tags.json
  while IFS=$'\t' read -r tag digest; do
    page "/ui/repo/$repo/-/package/$tag"
    assert_grep page.html "data-testid=\"digest\">$digest<"
    pages=$((pages + 1))
  done < <(jq -r '.tags[] | [.name, .digest] | @tsv' tags.json)
done < <(jq -r '.repositories[].name' repos.json)
echo "($count repositories, $pages package pages)"
page /ui/repo/e2e/ui/app/-/package/v1
assert_grep page.html "href=\"/ui/repo/e2e/ui/app/-/package/$sbom\""

step "two releases of an app, pinned to the image oras pushed"
digest=$(curl -sf "$URL/api/v1/repositories/e2e/ui/app/tags/v1" | jq -r .digest)
curl -sf -X PUT -H 'Content-Type: application/json' --data '{"type":"object"}' "$URL/api/v1/schemas/e2e.ui.platform.v1" >/dev/null
for port in 8080 8081; do
  curl -sf -X POST -H 'Content-Type: application/json' "$URL/api/v1/apps/e2e-ui/releases" \
    --data "{\"image\": \"e2e/ui/app@$digest\", \"platform\": {\"port\": $port}, \"platform_schema\": \"e2e.ui.platform.v1\"}" >/dev/null
done

step "events, schemas, releases, retention and GC pages"
for path in /ui/events /ui/schemas /ui/releases /ui/retention /ui/gc "/ui/events?type=tag.*"; do page "$path"; done
while read -r app; do page "/ui/releases/$app"; done < <(curl -sf "$URL/api/v1/apps" | jq -r '.apps[].name')

step "the UI's event stream delivers a push made while it is open"
curl -sN -b jar "$URL/ui/events/stream?type=tag.set" >stream.out &
streaming=$!
sleep 1
echo "live" >live.txt
oras push "${ORAS[@]}" "$REG/e2e/ui/live:now" live.txt >/dev/null
for _ in $(seq 1 100); do grep -q '"tag":"now"' stream.out && break; sleep 0.1; done
kill "$streaming" 2>/dev/null || true
assert_grep stream.out '"repository":"e2e/ui/live"'
assert_no_grep stream.out '^event:'

step "forms: a rollback and a retention dry run, each with the page's CSRF token"
page /ui/releases/e2e-ui
assert_grep page.html 'data-testid="current">#2<'
csrf=$(grep -o 'name="_csrf" value="[^"]*"' page.html | head -1 | sed 's/.*value="//; s/"$//')
status=$(curl -sS -o rolled.html -w '%{http_code}' -b jar -X POST --data-urlencode "_csrf=$csrf" \
  --data-urlencode release=1 --data-urlencode "reason=client suite" "$URL/ui/releases/e2e-ui/current")
assert_eq "$status" 200 "rollback"
assert_grep rolled.html 'data-testid="current">#1<'
assert_grep rolled.html '#1 \(was #2\) — client suite'
assert_eq "$(curl -sf "$URL/api/v1/apps/e2e-ui" | jq .current.number)" 1 "current release after the rollback"
status=$(curl -sS -o dry.html -w '%{http_code}' -b jar -X POST --data-urlencode "_csrf=$csrf" "$URL/ui/retention/dry-run")
assert_eq "$status" 200 "retention dry run"
assert_grep dry.html 'Nothing was changed'

step "verify the chain: with the page's CSRF token it runs, without it the form is refused"
page /ui/events
csrf=$(grep -o 'name="_csrf" value="[^"]*"' page.html | head -1 | sed 's/.*value="//; s/"$//')
[ -n "$csrf" ] || fail "no CSRF token on the events page"
assert_eq "$(curl -sS -o refused.html -w '%{http_code}' -b jar -X POST "$URL/ui/events/verify")" 403 "POST without a token"
status=$(curl -sS -o verified.html -w '%{http_code}' -b jar -X POST --data-urlencode "_csrf=$csrf" "$URL/ui/events/verify")
assert_eq "$status" 200 "POST with the page's token"
assert_grep verified.html 'Hash chain intact: [0-9]+ events checked'
