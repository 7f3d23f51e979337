#!/usr/bin/env bash
# Runs every test suite (C unit tests, bats CLI tests, fuzz corpus replay) and ends with one line
# "N passed, N failed" summing them all; exits non-zero when anything failed.
# Environment: VZ_BIN (the vz binary under test), BUILD (object directory), SUITE (run only the
# suites whose name contains it), EXAMPLE_LDFLAGS (extra flags for linking the examples).
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
export VZ_BIN=${VZ_BIN:-$PWD/vz}
export VZ_ROOT=$PWD
total_pass=0; total_fail=0
log=$(mktemp -d)
trap 'rm -rf "$log"' EXIT

want() { [ -z "${SUITE:-}" ] || [[ $1 == *"$SUITE"* ]]; }

if want unit; then
	echo "== unit tests ($BUILD/unit-tests)"
	"$BUILD/unit-tests" 2>&1 | tee "$log/unit"
	p=$(grep -c '^ok ' "$log/unit"); f=$(grep -c '^not ok ' "$log/unit")
	grep -q '^unit: ' "$log/unit" || { echo "unit runner did not finish"; f=$((f + 1)); }
	total_pass=$((total_pass + p)); total_fail=$((total_fail + f))
fi

if want cli; then
	echo "== CLI tests (bats)"
	bats --tap tests/cli 2>&1 | tee "$log/cli"
	p=$(grep -c '^ok ' "$log/cli"); f=$(grep -c '^not ok ' "$log/cli")
	plan=$(sed -n 's/^1\.\.\([0-9]*\)$/\1/p' "$log/cli" | head -n 1)
	[ -n "$plan" ] && [ $((p + f)) -lt "$plan" ] && f=$((f + plan - p - f))
	total_pass=$((total_pass + p)); total_fail=$((total_fail + f))
fi

if want fuzz && [ -d tests/fuzz ]; then
	echo "== fuzz corpus replay"
	for bin in "$BUILD"/fuzz-replay/fuzz_*; do
		[ -x "$bin" ] || continue
		name=${bin##*/}; corpus=tests/fuzz/corpus/${name#fuzz_}
		if [ ! -d "$corpus" ]; then echo "not ok $name: no corpus at $corpus"; total_fail=$((total_fail + 1)); continue; fi
		if out=$("$bin" "$corpus" 2>&1); then
			echo "ok $name: $out"; total_pass=$((total_pass + 1))
		else
			echo "not ok $name: $out" | tail -n 5; total_fail=$((total_fail + 1))
		fi
	done
fi

# The library as a user meets it: make install into a scratch DESTDIR, each examples/*.c built
# with pkg-config against that tree (PKG_CONFIG_SYSROOT_DIR) and run, its output compared with
# examples/NAME.expected; then make uninstall must leave no file behind.
if want examples; then
	echo "== examples against the installed tree (make install DESTDIR=...)"
	dest=$log/root
	if ${MAKE:-make} -s --no-print-directory install DESTDIR="$dest" PREFIX=/usr/local BUILD="$BUILD" >"$log/install" 2>&1; then
		pcdir=$(dirname "$(find "$dest" -name vz.pc | head -n 1)")
		for src in examples/*.c; do
			name=$(basename "$src" .c)
			flags=$(PKG_CONFIG_SYSROOT_DIR=$dest PKG_CONFIG_PATH=$pcdir pkg-config --cflags --libs vz) &&
				cc -std=gnu11 -Wall -Wextra -Werror -o "$log/$name" "$src" $flags ${EXAMPLE_LDFLAGS:-} >"$log/$name.cc" 2>&1 &&
				(cd "$log" && VZ_DATA_DIR="$log/data-$name" "./$name") >"$log/$name.out" 2>&1
			rc=$?
			if [ $rc -eq 0 ] && diff -u "examples/$name.expected" "$log/$name.out" >"$log/$name.diff"; then
				echo "ok example $name"; total_pass=$((total_pass + 1))
			else
				echo "not ok example $name (rc=$rc)"; cat "$log/$name.cc" "$log/$name.out" "$log/$name.diff" 2>/dev/null | head -n 20
				total_fail=$((total_fail + 1))
			fi
		done
		${MAKE:-make} -s --no-print-directory uninstall DESTDIR="$dest" PREFIX=/usr/local BUILD="$BUILD" >"$log/uninstall" 2>&1
		left=$(find "$dest" -type f -o -type l)
		if [ -z "$left" ] && [ -n "$pcdir" ]; then
			echo "ok make uninstall leaves no file of make install"; total_pass=$((total_pass + 1))
		else
			echo "not ok make uninstall left: $(echo "$left" | head -n 5 | tr '\n' ' ')"; total_fail=$((total_fail + 1))
		fi
	else
		echo "not ok make install DESTDIR=$dest: $(tail -n 3 "$log/install" | tr '\n' ' ')"; total_fail=$((total_fail + 1))
	fi
fi

echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ] && [ "$total_pass" -gt 0 ]
