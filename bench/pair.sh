#!/usr/bin/env bash
# bench/pair.sh ROUNDS 'COMMAND A' 'COMMAND B': whole-process wall time of A (vz) and B (its
# peer) in ROUNDS interleaved rounds, who goes first alternating, each command once first as a
# warm-up. Prints "MEDIAN_A_MS MEDIAN_B_MS RATIO": RATIO is the median of the rounds' own B/A,
# so above 1 means A was faster (the two runs of a round are a moment apart: a slow spell of
# this shared machine slows both). Each command runs in this shell (eval), its output discarded;
# a command that fails stops the script.
set -euo pipefail
rounds=$1 a=$2 b=$3
us_now() { echo "${EPOCHREALTIME/[.,]/}"; }
timed() { local t0 t1; t0=$(us_now); eval "$1" >/dev/null 2>&1 || { echo "pair.sh: failed: $1" >&2; exit 1; }; t1=$(us_now); echo $((t1 - t0)); }
median() { sort -g | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
timed "$a" >/dev/null && timed "$b" >/dev/null
ta=() tb=()
for ((i = 0; i < rounds; i++)); do
	if ((i % 2)); then y=$(timed "$b"); x=$(timed "$a"); else x=$(timed "$a"); y=$(timed "$b"); fi
	ta+=("$x") tb+=("$y")
done
ma=$(printf '%s\n' "${ta[@]}" | median) mb=$(printf '%s\n' "${tb[@]}" | median)
r=$(for ((i = 0; i < rounds; i++)); do awk "BEGIN { print ${tb[i]} / ${ta[i]} }"; done | median)
awk "BEGIN { printf \"%.1f %.1f %.2f\n\", $ma / 1000, $mb / 1000, $r }"
