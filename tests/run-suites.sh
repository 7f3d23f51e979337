#!/usr/bin/env bash
# Runs every test suite (C unit tests, bats CLI tests, fuzz corpus replay) and ends with one line
# "N passed, N failed" summing them all; exits non-zero when anything failed.
# Environment: VZ_BIN (the vz binary under test), BUILD (object directory), SUITE (run only the
# suites whose name contains it).
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

echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ] && [ "$total_pass" -gt 0 ]
