#!/usr/bin/env bash
# run-fuzz.sh SECONDS [NAME...]: builds every target (or the named ones, e.g. fuzz_wal) with clang's
# libFuzzer (ASan + UBSan) and runs each for SECONDS on a copy of its corpus; new crashes are left
# in build/fuzz/crash-* and fail the run. Targets are independent: run several at once with e.g.
#   ls tests/fuzz/fuzz_*.c | xargs -n1 basename -s .c | xargs -P2 -n1 bash tests/fuzz/run-fuzz.sh 600
set -u
secs=${1:-60}
shift
cd "$(dirname "$0")/../.."
out=build/fuzz
mkdir -p "$out"
flags="-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -D_GNU_SOURCE -std=gnu11 $(pkg-config --cflags yaml-0.1 libzstd libxxhash jansson zlib libarchive)"
libs="$(pkg-config --libs yaml-0.1 libzstd libxxhash jansson zlib libarchive) -lm -pthread"
srcs=$(ls lib/*.c)
rc=0
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=($(ls tests/fuzz/fuzz_*.c | xargs -n1 basename -s .c))
for name in "${targets[@]}"; do
	t=tests/fuzz/$name.c
	corpus=tests/fuzz/corpus/${name#fuzz_}
	clang $flags -o "$out/$name" "$t" $srcs $libs || { echo "$name: build failed"; rc=1; continue; }
	work="$out/corpus-${name#fuzz_}"
	mkdir -p "$work" && cp -r "$corpus"/. "$work"/
	echo "== $name ($secs s)"
	nice -n 10 "$out/$name" -max_total_time="$secs" -artifact_prefix="$out/crash-$name-" -print_final_stats=1 "$work" 2>&1 |
		grep -E 'stat::number_of_executed_units|stat::average_exec_per_sec|cov:|ERROR|SUMMARY' | tail -n 4 || true
	ls "$out"/crash-"$name"-* >/dev/null 2>&1 && { echo "$name: CRASH found (see $out)"; rc=1; }
done
exit $rc
