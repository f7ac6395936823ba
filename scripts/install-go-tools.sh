#!/usr/bin/env bash
# Installs the pinned Go tools used by the conformance, client and benchmark suites into .tools/.
# Each binary is built once and cached (the folder is git-ignored); the Go module cache speeds up rebuilds.
set -euo pipefail
cd "$(dirname "$0")/.."
export GOTOOLCHAIN=local GOFLAGS=-mod=mod
TOOLS="$PWD/.tools"
mkdir -p "$TOOLS/bin"

# name | module@version | binary name
install() {
  local dest="$TOOLS/bin/$1" pkg="$2" bin="$3"
  if [ -x "$dest" ] && [ -f "$dest.version" ] && [ "$(cat "$dest.version")" = "$pkg" ]; then return; fi
  local tmp; tmp=$(mktemp -d)
  echo "go install $pkg"
  GOBIN="$tmp" go install "$pkg"
  mv "$tmp/$bin" "$dest"; echo "$pkg" > "$dest.version"; rm -rf "$tmp"
}

want() { [ -z "${ONLY:-}" ] || [[ " $ONLY " == *" $1 "* ]]; }

want oras      && install oras      oras.land/oras/cmd/oras@v1.3.3 oras
want crane     && install crane     github.com/google/go-containerregistry/cmd/crane@v0.22.1 crane
want regctl    && install regctl    github.com/regclient/regclient/cmd/regctl@v0.11.5 regctl
want cosign2   && install cosign2   github.com/sigstore/cosign/v2/cmd/cosign@v2.6.4 cosign
want cosign3   && install cosign3   github.com/sigstore/cosign/v3/cmd/cosign@v3.1.2 cosign
want registry  && install registry  github.com/distribution/distribution/v3/cmd/registry@v3.1.1 registry
want conformance && install conformance github.com/opencontainers/distribution-spec/conformance@v0.0.0-20260831232431-97274622c111 conformance

# The v1.1.1 suite is a ginkgo test package: it is compiled with `go test -c` inside a small wrapper
# module. The module proxy has refused this pseudo-version (403, "not available"); when it does,
# conformance/run.sh reports the suite as unavailable instead of failing the whole install.
if want conformance-v1.1.1; then
  V111=v0.0.0-20250123160558-a139cc423184
  dest="$TOOLS/bin/conformance-v1.1.1.test"
  if [ ! -x "$dest" ] || [ "$(cat "$dest.version" 2>/dev/null)" != "$V111" ]; then
    w="$TOOLS/conformance-v1.1.1-build"; rm -rf "$w"; mkdir -p "$w"
    if (cd "$w" && go mod init confrunner >/dev/null 2>&1 &&
        printf '//go:build tools\npackage tools\nimport _ "github.com/opencontainers/distribution-spec/conformance"\n' > tools.go &&
        go get "github.com/opencontainers/distribution-spec/conformance@$V111" &&
        go test -c -o "$dest" github.com/opencontainers/distribution-spec/conformance); then
      echo "$V111" > "$dest.version"
    else
      echo "note: conformance v1.1.1 ($V111) could not be built from the Go module proxy" >&2
    fi
    rm -rf "$w"
  fi
fi
echo "go tools ready in $TOOLS/bin"
