#!/bin/sh
# The Debian packages vz needs, in three groups: build (compile and install vz and libvz), test
# (make check: the suites' tools) and bench (make bench: the peers and their data).
#   install-deps.sh --check build    lists what is missing and exits 1 with the apt-get line to
#                                    run; installs nothing (plain `make`, `make install`: a
#                                    packager building without root never meets apt-get)
#   install-deps.sh build test ...   installs what is missing of those groups (`make check`,
#                                    `make demo`, `make bench`); needs root or sudo for apt-get
# Safe to run again: present packages are skipped.
set -eu
BUILD="gcc make pkg-config libyaml-dev libzstd-dev libxxhash-dev libjansson-dev libarchive-dev"
TEST="xxhash zstd time tar util-linux bats bats-assert bats-support bats-file mandoc python3 clang llvm libclang-rt-14-dev valgrind bash-completion zsh fish"
BENCH="sqlite3 bc xxhash g++ libhnswlib-dev python3-hnswlib python3-faiss python3-numpy dataset-fashion-mnist"
check=0
want=""
for a in "$@"; do
	case $a in
	--check) check=1 ;;
	build) want="$want $BUILD" ;;
	test) want="$want $TEST" ;;
	bench) want="$want $BENCH" ;;
	*) echo "install-deps: unknown argument '$a' (give --check, build, test or bench)" >&2; exit 64 ;;
	esac
done
[ -n "$want" ] || want=$BUILD
missing=""
for p in $want; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
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
