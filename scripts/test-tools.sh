#!/usr/bin/env bash
# Brings what the test suite needs besides npm packages, on a fresh machine of this kind:
#  - Chromium from Debian's packages (the browser tests drive it with playwright-core), and cc;
#  - a kubo binary built from source with the Go toolchain, cached outside the repo.
# Idempotent and quiet when both are there. Fails loudly (non-zero) when either cannot be had:
# a missing tool must fail the run, never skip tests.
set -euo pipefail
# Debian's Go image puts the toolchain here; a non-login shell may not have it on PATH.
export PATH="$PATH:/usr/local/go/bin"

KUBO_VERSION="${PINERY_KUBO_VERSION:-v0.43.1}"
# v0.43 replaces go-libp2p with an unreleased fork the module proxy refuses (403); upstream go-libp2p v0.50.0
# builds it, and the kubo tests pass against it (23/23, 2026-11-30).
GO_LIBP2P_FOR_FORK="${PINERY_KUBO_GO_LIBP2P:-v0.50.0}"
CACHE="${PINERY_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pinery}"
KUBO_BIN="$CACHE/kubo-$KUBO_VERSION/ipfs"

# The power-cut, disk-full and clock tests compile small preload libraries with cc.
missing=()
[[ -x /usr/bin/chromium ]] || missing+=(chromium)
command -v cc >/dev/null || missing+=(gcc libc6-dev)
# util-linux: the O_DIRECT block-write test asks fincore which of a file's pages are in the page cache, the
# connection-flood test lowers the service's open-file limit with prlimit, and the inbound-rate test dials from
# many addresses in a network namespace of its own (unshare, and iproute2's ip to give its loopback addresses).
{ command -v fincore && command -v prlimit && command -v unshare; } >/dev/null || missing+=(util-linux)
command -v ip >/dev/null || missing+=(iproute2)
# e2fsprogs: the blockstore flags its directory with chattr +T (src/node/spread-dirs.ts); its test reads lsattr.
{ command -v chattr && command -v lsattr; } >/dev/null || missing+=(e2fsprogs)
if (( ${#missing[@]} )); then
  echo "test-tools: installing ${missing[*]} from Debian's packages" >&2
  if [[ $(id -u) -ne 0 ]]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >&2
fi

if [[ ! -x "$KUBO_BIN" ]]; then
  echo "test-tools: building kubo $KUBO_VERSION from source into $KUBO_BIN (a few minutes, once)" >&2
  command -v go >/dev/null || { echo "test-tools: no Go toolchain on PATH: cannot build kubo" >&2; exit 1; }
  mkdir -p "$(dirname "$KUBO_BIN")"
  # `go install …@version` refuses kubo: its go.mod has exclude (and from v0.43 replace) directives.
  # So: fetch the release module through the Go module proxy and build its cmd/ipfs as the main
  # module, from a writable copy. Where go.mod replaces go-libp2p with a fork, the copy drops that
  # replace and requires upstream go-libp2p instead (see GO_LIBP2P_FOR_FORK); nothing else changes.
  dir=$(cd /tmp && go mod download -json "github.com/ipfs/kubo@$KUBO_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [[ -n "$dir" ]] || { echo "test-tools: go mod download of kubo $KUBO_VERSION failed" >&2; exit 1; }
  src=$(mktemp -d /tmp/pinery-kubo-src.XXXXXX)
  trap 'rm -rf "$src"' EXIT
  cp -r "$dir/." "$src" && chmod -R u+w "$src"
  if grep -q '^replace github.com/libp2p/go-libp2p ' "$src/go.mod"; then
    echo "test-tools: kubo $KUBO_VERSION pins a go-libp2p fork; building with go-libp2p $GO_LIBP2P_FOR_FORK" >&2
    (cd "$src" && go mod edit -dropreplace github.com/libp2p/go-libp2p \
      -require "github.com/libp2p/go-libp2p@$GO_LIBP2P_FOR_FORK") >&2
  fi
  (cd "$src" && CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -o "$KUBO_BIN.tmp" ./cmd/ipfs) >&2
  mv "$KUBO_BIN.tmp" "$KUBO_BIN"
fi
"$KUBO_BIN" version >/dev/null
