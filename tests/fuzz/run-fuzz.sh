#!/usr/bin/env bash
# run-fuzz.sh SECONDS: builds every target with clang's libFuzzer (ASan + UBSan) and runs each for
# SECONDS on a copy of its corpus; new crashes are left in build/fuzz/crash-* and fail the run.
set -u
secs=${1:-60}
cd "$(dirname "$0")/../.."
out=build/fuzz
mkdir -p "$out"
flags="-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -D_GNU_SOURCE -std=gnu11 $(pkg-config --cflags yaml-0.1 libzstd libxxhash jansson libarchive)"
libs="$(pkg-config --libs yaml-0.1 libzstd libxxhash jansson libarchive) -lm -pthread"
srcs=$(ls lib/*.c)
rc=0
for t in tests/fuzz/fuzz_*.c; do
	name=$(basename "$t" .c)
	corpus=tests/fuzz/corpus/${name#fuzz_}
	clang $flags -o "$out/$name" "$t" $srcs $libs || { echo "$name: build failed"; rc=1; continue; }
	work="$out/corpus-${name#fuzz_}"
	mkdir -p "$work" && cp -r "$corpus"/. "$work"/
	echo "== $name ($secs s)"
	"$out/$name" -max_total_time="$secs" -artifact_prefix="$out/crash-$name-" -print_final_stats=1 "$work" 2>&1 |
		grep -E 'stat::number_of_executed_units|stat::average_exec_per_sec|cov:|ERROR|SUMMARY' | tail -n 4 || true
	ls "$out"/crash-"$name"-* >/dev/null 2>&1 && { echo "$name: CRASH found (see $out)"; rc=1; }
done
exit $rc
