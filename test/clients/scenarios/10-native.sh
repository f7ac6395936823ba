# The native namespace with real clients: a package published with `artifact-store push` (three files,
# typed metadata) is pulled with `oras pull` byte for byte under its paths, and its address is the
# BLAKE3 of the canonical CBOR the native API serves; an `oras push` is listed natively with both
# digests of every file; `oras attach` to the native package is a referrer the native API finds; the
# event stream shows all of it; `artifact-store pull` gets the files back.
source "$ROOT/test/clients/lib.sh"
URL=http://$REG
cli() { node "$ROOT/dist/cli.js" "$@"; }
blake3_of() { node -e 'const {Blake3Hasher}=require(process.argv[2]);process.stdout.write("blake3:"+new Blake3Hasher().update(require("fs").readFileSync(process.argv[1])).digest("hex"))' "$1" "$ROOT/node_modules/@napi-rs/blake-hash"; }

step "register a metadata schema"
cat >schema.json <<'JSON'
{"type":"object","properties":{"status":{"enum":["passed","failed"]},"tests":{"type":"integer"}},"required":["status"]}
JSON
curl -sf -X PUT -H 'Content-Type: application/json' --data-binary @schema.json "$URL/api/v1/schemas/e2e.report.v1" >/dev/null

step "artifact-store push: three files (one in a subfolder, one of 3 MiB) with typed metadata"
mkdir -p in/docs
echo "native hello" >in/hello.txt
random_file in/big.bin $((3 * 1024 * 1024))
printf '# docs\n' >in/docs/readme.md
echo '{"status":"passed","tests":42}' >metadata.json
(cd in && cli push e2e/native:v1 hello.txt big.bin docs/readme.md --metadata ../metadata.json \
  --schema e2e.report.v1 --artifact-type application/vnd.example.report --url "$URL") >push.json
assert_json push.json '.tag.outcome == "inserted"'
address=$(jq -r .address push.json)

step "a publish whose metadata fails its schema is refused with the server's reason"
echo '{"status":"maybe"}' >bad.json
expect_failure refused.log cli push e2e/native:bad in/hello.txt --metadata bad.json --schema e2e.report.v1 --url "$URL"
assert_grep refused.log 'metadata-invalid'
assert_grep refused.log '/metadata/status'

step "oras pull into an empty folder: identical bytes and paths"
mkdir out
oras pull "${ORAS[@]}" -o out "$REG/e2e/native:v1" >pull.log
for f in hello.txt big.bin docs/readme.md; do assert_same "in/$f" "out/$f"; done
assert_eq "$(find out -type f | wc -l)" 3 "number of pulled files"

step "the address is the BLAKE3 of the canonical CBOR served with Accept: application/cbor"
curl -sf -H 'Accept: application/cbor' "$URL/api/v1/repositories/e2e/native/packages/v1" -o package.cbor
assert_eq "$(blake3_of package.cbor)" "$address" "blake3 of the CBOR"
curl -sf "$URL/api/v1/repositories/e2e/native/packages/v1" -o package.json
assert_json package.json '.metadata.status == "passed" and .metadata.schema == "e2e.report.v1"'

step "artifact-store pull gets the same files"
cli pull "e2e/native:$address" -o back --url "$URL" >/dev/null
for f in hello.txt big.bin docs/readme.md; do assert_same "in/$f" "back/$f"; done

step "oras push of files is listed natively with both digests of every file"
mkdir opush
echo "pushed by oras" >opush/a.txt
random_file opush/b.bin 100000
(cd opush && oras push "${ORAS[@]}" "$REG/e2e/native/oras:v1" a.txt b.bin --format json) >opush.json
curl -sf "$URL/api/v1/repositories/e2e/native/oras/packages" -o listed.json
assert_json listed.json '.packages | length == 1'
assert_json listed.json '.packages[0].kind == "oci" and .packages[0].digest == $d' --arg d "$(jq -r .digest opush.json)"
for f in a.txt b.bin; do
  assert_json listed.json '.packages[0].files[] | select(.path == $f) | .sha256 == $s and .blake3 == $b' \
    --arg f "$f" --arg s "$(digest_of "opush/$f")" --arg b "$(blake3_of "opush/$f")"
done

step "oras attach to the native package; oras discover and the native API see the referrer"
echo '{"signed":true}' >sig.json
oras attach "${ORAS[@]}" --artifact-type application/vnd.example.signature "$REG/e2e/native:v1" \
  sig.json --format json >attach.json
oras discover "${ORAS[@]}" --format json "$REG/e2e/native:v1" >discover.json
assert_json discover.json '[.. | objects | select(.artifactType? == "application/vnd.example.signature")] | length == 1'
curl -sf "$URL/api/v1/repositories/e2e/native/packages?subject=$address" -o referrers.json
assert_json referrers.json '(.packages | length == 1) and .packages[0].artifact_type == "application/vnd.example.signature"'
assert_json referrers.json '.packages[0].digest == $d' --arg d "$(jq -r .digest attach.json)"

step "the event stream shows both, and resumes after Last-Event-ID"
curl -sfN --max-time 3 "$URL/api/v1/events/stream?after=0&heartbeat=1" -o stream.txt || true
assert_grep stream.txt '^event: package.published$'
assert_grep stream.txt '"repository":"e2e/native/oras"'
last=$(grep '^id: ' stream.txt | tail -1 | cut -d' ' -f2)
mid=$(grep '^id: ' stream.txt | sed -n 3p | cut -d' ' -f2)
curl -sfN --max-time 2 -H "Last-Event-ID: $mid" "$URL/api/v1/events/stream" -o resumed.txt || true
assert_eq "$(grep '^id: ' resumed.txt | head -1 | cut -d' ' -f2)" "$((mid + 1))" "first id after Last-Event-ID"
assert_eq "$(grep '^id: ' resumed.txt | tail -1 | cut -d' ' -f2)" "$last" "last id"
