# The README's client examples, exactly as written: every ```sh block right after a line
# "<!-- example: NAME -->" in README.md runs with `bash -euo pipefail`, in README order, each in a
# fresh empty folder, with a fresh HOME (no client config from run.sh: e.g. the regctl block must set
# up plain HTTP itself) and a PATH on which the client names the README uses resolve to the pinned
# binaries: oras, crane, regctl -> .tools/bin; artifact-store -> this checkout's dist/cli.js;
# skopeo -> the system's; cosign -> .tools/bin/cosign2
# in the block "cosign-v2" and .tools/bin/cosign3 in "cosign-v3" (the README calls both majors
# `cosign`, and each cosign block says which one it needs). .tools/bin itself is not on that PATH.
# The one change made to the text: the README's registry, 127.0.0.1:5000 (`npm start`), becomes this
# run's $REG, because the test server listens on a free port. Fails, naming them, if any block fails
# or if the README's list of examples is not the expected one.
source "$ROOT/test/clients/lib.sh"
EXPECTED="tiering oras crane cosign-v2 cosign-v3 skopeo regctl import-export native-api native-cli"

step "extract the marked blocks from README.md"
mkdir blocks
awk -v dir=blocks '
  function die(msg) { print "README.md:" NR ": " msg > "/dev/stderr"; bad = 1; exit 1 }
  state == 0 && /^<!-- example: / {
    if ($0 !~ /^<!-- example: [a-z0-9-]+ -->$/) die("malformed marker: " $0)
    name = $3; state = 1; next
  }
  state == 1 {
    if ($0 != "```sh") die("the marker for " name " is not followed by a ```sh line")
    file = sprintf("%s/%02d-%s.sh", dir, ++n, name); printf "" > file; state = 2; next
  }
  state == 2 && /^```$/ { close(file); state = 0; next }
  state == 2 { print > file }
  END { if (!bad && state != 0) { print "README.md: the block for " name " is not closed" > "/dev/stderr"; exit 1 } }
' "$ROOT/README.md"
found=$(find blocks -name '*.sh' -printf '%f\n' | sort | sed 's/^[0-9]*-//; s/\.sh$//' | tr '\n' ' ')
assert_eq "$found" "$EXPECTED " "README examples, in order"

# The PATH the blocks see: a bin folder of their own, then this PATH without .tools/bin.
base_path=
IFS=: read -ra dirs <<<"$PATH"
for d in "${dirs[@]}"; do
  [ "$d" = "$ROOT/.tools/bin" ] || base_path+=${base_path:+:}$d
done
skopeo_bin=$(command -v skopeo)
home=$PWD/home
mkdir -p "$home"

failed=()
details=
for block in blocks/*.sh; do
  name=$(basename "$block" .sh)
  name=${name#*-}
  step "README example: $name"
  script=$PWD/$name.sh
  sed "s/127\.0\.0\.1:5000/$REG/g" "$block" >"$script"
  if grep -nE 'localhost|:5000\b' "$script"; then
    fail "README example $name names a registry other than 127.0.0.1:5000"
  fi
  bin=$PWD/bin-$name
  mkdir "$bin"
  for tool in oras crane regctl; do ln -s "$ROOT/.tools/bin/$tool" "$bin/$tool"; done
  ln -s "$skopeo_bin" "$bin/skopeo"
  # the CLI of this checkout, as `artifact-store` (an installed package's bin)
  printf '#!/bin/sh\nexec node "%s/dist/cli.js" "$@"\n' "$ROOT" >"$bin/artifact-store"
  chmod +x "$bin/artifact-store"
  case $name in
    cosign-v*) ln -s "$ROOT/.tools/bin/cosign${name#cosign-v}" "$bin/cosign" ;;
  esac
  mkdir "run-$name" # the empty folder the block starts in
  start=$SECONDS
  status=0
  (cd "run-$name" && env PATH="$bin:$base_path" HOME="$home" DOCKER_CONFIG="$home/.docker" \
    REGCTL_CONFIG="$home/.regctl/config.json" TUF_ROOT="$home/.sigstore/root" \
    REGISTRY_AUTH_FILE="$home/containers-auth.json" XDG_CONFIG_HOME="$home/.config" \
    XDG_CACHE_HOME="$home/.cache" timeout --kill-after=10 120 bash -euo pipefail "$script") \
    >"$name.log" 2>&1 || status=$?
  sed 's/^/    /' "$name.log"
  if [ "$status" = 0 ]; then
    echo "ok: $name ($((SECONDS - start))s)"
  else
    echo "FAILED: $name (exit $status after $((SECONDS - start))s)"
    failed+=("$name")
    details+="${details:+$'\n'}--- $name (exit $status), last lines:"$'\n'"$(tail -n 8 "$name.log")"
  fi
done
[ ${#failed[@]} = 0 ] || fail "README example(s) failed: ${failed[*]}" "$details"
