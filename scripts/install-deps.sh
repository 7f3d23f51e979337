#!/bin/sh
# The Debian packages vz needs, in three groups: build (compile and install vz and libvz), test
# (make check: the suites' tools) and bench (make bench: the peers and their data).
#   install-deps.sh --check build    lists what is missing and exits 1 with the apt-get line to
#                                    run; installs nothing (plain `make`, `make install`: a
#                                    packager building without root never meets apt-get)
#   install-deps.sh build test ...   installs what is missing of those groups (`make check`,
#                                    `make demo`, `make bench`); needs root or sudo for apt-get;
#                                    test also runs npm ci in tests/interop (LanceDB interop test)
# Safe to run again: present packages are skipped.
set -eu
BUILD="gcc make pkg-config libyaml-dev libzstd-dev libxxhash-dev libjansson-dev zlib1g-dev libarchive-dev"
TEST="xxhash zstd time strace tar util-linux procps bats bats-assert bats-support bats-file mandoc python3 clang llvm libclang-rt-14-dev valgrind bash-completion zsh fish"
BENCH="sqlite3 bc xxhash g++ libhnswlib-dev python3-hnswlib python3-faiss python3-numpy dataset-fashion-mnist"
check=0
test=0
want=""
for a in "$@"; do
	case $a in
	--check) check=1 ;;
	build) want="$want $BUILD" ;;
	test) want="$want $TEST"; test=1 ;;
	bench) want="$want $BENCH" ;;
	*) echo "install-deps: unknown argument '$a' (give --check, build, test or bench)" >&2; exit 64 ;;
	esac
done
[ -n "$want" ] || want=$BUILD
missing=""
for p in $want; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
# The LanceDB interop test (tests/cli/interop.bats) runs on Node.js: Debian's, unless a node
# and npm are already on the PATH (e.g. from NodeSource, whose nodejs bundles npm).
if [ "$test" = 1 ]; then
	command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || missing="$missing nodejs npm"
fi
if [ -n "$missing" ]; then
	if [ "$check" = 1 ]; then
		echo "missing Debian packages:$missing" >&2
		echo "install them with: apt-get install$missing" >&2
		exit 1
	fi
	SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
	echo "install-deps: installing:$missing" >&2
	export DEBIAN_FRONTEND=noninteractive
	$SUDO apt-get update -qq >&2
	$SUDO apt-get install -y -qq --no-install-recommends $missing >&2
fi
# @lancedb/lancedb at the exact version of tests/interop/package-lock.json, into
# tests/interop/node_modules (ignored by git), for the test group only. Building vz does not
# need it: a failure (no network) is reported, and tests/cli/interop.bats then fails saying
# what is missing.
interop="$(dirname "$0")/../tests/interop"
if [ "$test" = 1 ] && [ "$check" = 0 ] && [ ! -d "$interop/node_modules/@lancedb/lancedb" ]; then
	echo "install-deps: npm ci in tests/interop (@lancedb/lancedb)" >&2
	(cd "$interop" && npm ci --no-audit --no-fund --loglevel=error) >&2 ||
		echo "install-deps: npm ci in tests/interop failed: the LanceDB interop test will fail" >&2
fi
