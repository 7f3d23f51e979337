#!/usr/bin/env bash
# bench/build-rounds.sh LABEL WORKDIR BASE ROUNDS THREADS: wall-clock build time of vz (create,
# then insert --bulk) and of hnswlib -march=native (hnsw_native build) at M=16,
# ef_construction=200, in ROUNDS interleaved rounds, compared by their medians. The harness
# builds each side once, and one build's time swings by a fifth on a shared VM. Each side's
# index is written to a scratch directory in WORKDIR and removed after each round. Peak RSS of
# each build process (GNU time) beside, and its CPU seconds (user + system: on a loaded machine
# the wall time is mostly waiting for a core). Prints one line per side the CPU ratio, then the two ratio lines last.
set -euo pipefail
label=$1 wd=$2 base=$3 rounds=${4:-5} threads=${5:-2}
here=$(cd "$(dirname "$0")/.." && pwd)
OUT=$here/build/bench
NATIVE=$OUT/annbench/native/hnsw_native
VZ=$here/vz
dim=$(od -An -t d4 -N 4 "$base" | tr -d ' ')
median() { sort -g | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
now() { local t=${EPOCHREALTIME/[.,]/}; echo "$t"; } # microseconds
scratch=$wd/build-rounds
trap 'rm -rf "$scratch"' EXIT
: >"$wd/build-vz" && : >"$wd/build-h" && : >"$wd/rss-vz" && : >"$wd/rss-h" && : >"$wd/cpu-vz" && : >"$wd/cpu-h"
build_vz() {
	local t0 t1
	t0=$(now)
	VZ_DATA_DIR=$scratch/vz "$VZ" create c --dim "$dim" --metric euclidean --m 16 --ef-construction 200 -q
	/usr/bin/time -f "%M %U %S" -o "$scratch/rss" env VZ_DATA_DIR="$scratch/vz" "$VZ" insert c "$base" --bulk --threads "$threads" -q
	t1=$(now)
	cut -d' ' -f1 "$scratch/rss" >>"$wd/rss-vz"
	awk '{ printf "%.2f\n", $2 + $3 }' "$scratch/rss" >>"$wd/cpu-vz"
	awk "BEGIN { printf \"%.2f\n\", ($t1 - $t0) / 1e6 }" >>"$wd/build-vz"
}
build_h() {
	local t0 t1
	t0=$(now)
	/usr/bin/time -f "%M %U %S" -o "$scratch/rss" "$NATIVE" build --base "$base" --index "$scratch/native" --M 16 --efc 200 --threads "$threads" >/dev/null
	t1=$(now)
	cut -d' ' -f1 "$scratch/rss" >>"$wd/rss-h"
	awk '{ printf "%.2f\n", $2 + $3 }' "$scratch/rss" >>"$wd/cpu-h"
	awk "BEGIN { printf \"%.2f\n\", ($t1 - $t0) / 1e6 }" >>"$wd/build-h"
}
for ((i = 0; i < rounds; i++)); do
	rm -rf "$scratch" && mkdir -p "$scratch"
	# who goes first alternates, as in bench/qps.sh
	if ((i % 2)); then build_h && build_vz; else build_vz && build_h; fi
done
v=$(median <"$wd/cpu-vz") h=$(median <"$wd/cpu-h")
echo "$label: vz / native_hnswlib_avx512: build CPU seconds (user + system, $threads threads), median of $rounds interleaved rounds: $v / $h = $(awk "BEGIN { printf \"%.2f\", $v / $h }") (lower is better)"
v=$(median <"$wd/build-vz") h=$(median <"$wd/build-h")
echo "$label: build seconds ($threads threads), each of $rounds interleaved rounds: vz $(paste -sd' ' "$wd/build-vz"), hnswlib -march=native $(paste -sd' ' "$wd/build-h")"
echo "$label: vz / native_hnswlib_avx512: build seconds ($threads threads), median of $rounds interleaved rounds (load $(cut -d' ' -f1 /proc/loadavg)): $v / $h = $(awk "BEGIN { printf \"%.2f\", $v / $h }") (lower is better; bar 0.70)"
v=$(median <"$wd/rss-vz") h=$(median <"$wd/rss-h")
echo "$label: vz / native_hnswlib_avx512: peak RSS of the build process (MiB), median of $rounds rounds: $((v / 1024)) / $((h / 1024)) = $(awk "BEGIN { printf \"%.2f\", $v / $h }") (lower is better; bar 0.70)"
