#!/bin/sh
# Installs the Debian packages vz needs to build, test and benchmark, skipping what is present.
# Called by the Makefile (target deps); safe to run again. Needs root or sudo for apt-get.
set -eu
BUILD="gcc make pkg-config libyaml-dev libzstd-dev libxxhash-dev xxhash libjansson-dev libarchive-dev zstd"
TEST="time strace tar util-linux bats bats-assert bats-support bats-file mandoc python3 clang llvm libclang-rt-14-dev valgrind bash-completion zsh fish"
BENCH="sqlite3 bc xxhash libhnswlib-dev python3-hnswlib python3-faiss python3-numpy dataset-fashion-mnist"
want="$BUILD $TEST"
[ "${1:-}" = "--bench" ] && want="$want $BENCH"
missing=""
for p in $want; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
# The LanceDB interop test (tests/cli/interop.bats) runs on Node.js: Debian's, unless a node
# and npm are already on the PATH (e.g. from NodeSource, whose nodejs bundles npm).
command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || missing="$missing nodejs npm"
if [ -n "$missing" ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "install-deps: installing:$missing" >&2
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq >&2
  $SUDO apt-get install -y -qq --no-install-recommends $missing >&2
fi
# @lancedb/lancedb at the exact version of tests/interop/package-lock.json, into
# tests/interop/node_modules (ignored by git). Building vz does not need it: a failure (no
# network) is reported, and tests/cli/interop.bats then fails saying what is missing.
interop="$(dirname "$0")/../tests/interop"
if [ ! -d "$interop/node_modules/@lancedb/lancedb" ]; then
  echo "install-deps: npm ci in tests/interop (@lancedb/lancedb)" >&2
  (cd "$interop" && npm ci --no-audit --no-fund --loglevel=error) >&2 ||
    echo "install-deps: npm ci in tests/interop failed: the LanceDB interop test will fail" >&2
fi
