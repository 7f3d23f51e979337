#!/usr/bin/env bash
# bench/qps.sh LABEL WORKDIR JSON ROUNDS: single-thread QPS of vz and hnswlib -march=native in
# interleaved rounds, over the indexes annbench.py built in WORKDIR. vz is timed as a user runs
# it: the whole `vz query --batch --threads 1` process (start, mapping, loading, search, output
# to /dev/null), against hnswlib's in-process search (its load excluded). The in-process figure
# of the library (bench/vz-ann.c, load excluded too) and the `vz query --batch` process on every
# core (default --threads) are printed beside. One timing per ef (what the harness does) swings
# by a third on a shared VM; ROUNDS alternating runs of each, compared by their medians, hold.
# The ef compared is, for each side, the smallest whose recall@10 in the harness's JSON reaches
# 0.95; both sides are timed at both efs, so the ratio is also printed at equal ef. Prints one
# line per ef and the ratio lines last.
set -euo pipefail
label=$1 wd=$2 json=$3 rounds=${4:-7}
here=$(cd "$(dirname "$0")/.." && pwd)
OUT=$here/build/bench
NATIVE=$OUT/annbench/native/hnsw_native
PY=/usr/bin/python3
median() { sort -g | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }

# the smallest ef with recall >= 0.95, per side
read -r ef_vz ef_h < <("$PY" - "$json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
res = {r["algo"]: r for r in s["results"]}
def first(name):
    ok = sorted(x["ef"] for x in res[name]["runs"] if (x.get("recall_dist") or 0) >= 0.95 and x.get("ef"))
    return ok[0] if ok else 0
print(first("vz"), first("native_hnswlib_avx512"))
PY
)
[ "$ef_vz" != 0 ] && [ "$ef_h" != 0 ] || { echo "$label: no ef reaches recall 0.95"; exit 1; }
# each round answers at least QPS_QUERIES (10000) queries, the query set repeated as needed: a
# user's batch, long enough that one hiccup of the VM does not decide a round
one=$(( $(stat -L -c %s "$wd/query.fvecs") / ($(od -An -t d4 -N 4 "$wd/query.fvecs" | tr -d ' ') * 4 + 4) ))
repeat=$(( (${QPS_QUERIES:-10000} + one - 1) / one ))
queries=$wd/query-x$repeat.fvecs
[ -f "$queries" ] || for ((i = 0; i < repeat; i++)); do cat "$wd/query.fvecs"; done >"$queries"
VZ=$here/vz
nq=$(( $(stat -L -c %s "$queries") / ($(od -An -t d4 -N 4 "$queries" | tr -d ' ') * 4 + 4) ))
now() { local t=${EPOCHREALTIME/[.,]/}; echo "$t"; } # microseconds
for ef in $(printf '%s\n' "$ef_vz" "$ef_h" | sort -un); do
	: >"$wd/rounds-vz-$ef" && : >"$wd/rounds-h-$ef" && : >"$wd/rounds-lib-$ef" && : >"$wd/rounds-vzt-$ef"
	# the whole process, wall clock: QPS = queries / seconds from exec to exit
	vz_process() { # threads file
		local t0 t1
		t0=$(now)
		VZ_DATA_DIR=$wd/index.vz "$VZ" query c --batch "$queries" -k 10 --ef "$ef" --threads "$1" >/dev/null
		t1=$(now)
		awk "BEGIN { printf \"%.1f\\n\", $nq / (($t1 - $t0) / 1e6) }" >>"$2"
	}
	run_vz() {
		vz_process 1 "$wd/rounds-vz-$ef"
		"$OUT/vz-ann" query --index "$wd/index.vz" --query "$queries" --k 10 --ef "$ef" --out /dev/null |
			sed 's/.*qps=//' >>"$wd/rounds-lib-$ef"
		vz_process "$(nproc)" "$wd/rounds-vzt-$ef"
	}
	run_h() {
		"$NATIVE" query --index "$wd/index.native_hnswlib_avx512" --query "$queries" --k 10 --ef "$ef" --out /dev/null |
			tail -1 | sed 's/.*qps=//' >>"$wd/rounds-h-$ef"
	}
	# who goes first alternates: a run right after the other side's (which has just freed
	# hundreds of MiB) measured up to 7% apart from one after its own kind
	for ((i = 0; i < rounds; i++)); do
		if ((i % 2)); then run_h && run_vz; else run_vz && run_h; fi
	done
	# beside the medians, the geometric mean of each round's own ratio: the two runs of a round
	# are seconds apart, so a slow spell of the machine slows both
	paired=$(paste "$wd/rounds-vz-$ef" "$wd/rounds-h-$ef" | awk '{ s += log($1 / $2) } END { printf "%.3f", exp(s / NR) }')
	echo "$label: ef=$ef: median QPS of $rounds interleaved rounds of $nq queries: vz query --batch process, 1 thread $(median <"$wd/rounds-vz-$ef"); vz library in-process $(median <"$wd/rounds-lib-$ef"); vz query --batch process, $(nproc) threads $(median <"$wd/rounds-vzt-$ef"); hnswlib -march=native in-process $(median <"$wd/rounds-h-$ef"); geometric mean of the rounds' process/hnswlib ratios $paired"
done
h=$(median <"$wd/rounds-h-$ef_h")
ratio() { awk "BEGIN { printf \"%.2f\", $1 / $2 }"; }
# at equal ef (the same search effort; its recall per side from the harness)
for ef in $(printf '%s\n' "$ef_vz" "$ef_h" | sort -un); do
	rec=$("$PY" - "$json" "$ef" <<'PY'
import json, sys
s = json.load(open(sys.argv[1])); ef = int(sys.argv[2])
res = {r["algo"]: r for r in s["results"]}
def rec(name):
    r = [x for x in res[name]["runs"] if x.get("ef") == ef]
    return f"{r[0]['recall_dist']:.4f}" if r else "?"
print(f"recall@10 vz {rec('vz')}, hnswlib {rec('native_hnswlib_avx512')}")
PY
)
	v=$(median <"$wd/rounds-vz-$ef") h1=$(median <"$wd/rounds-h-$ef")
	echo "$label: vz query --batch process, 1 thread / native_hnswlib_avx512 in-process 1 thread: QPS at equal ef=$ef ($rec), median of $rounds interleaved rounds: $v / $h1 = $(ratio "$v" "$h1") (higher is better)"
done
for what in "vz query --batch process, 1 thread:vz" "vz library in-process, 1 thread:lib" "vz query --batch process, $(nproc) threads:vzt"; do
	v=$(median <"$wd/rounds-${what##*:}-$ef_vz")
	echo "$label: ${what%:*} / native_hnswlib_avx512 in-process 1 thread: QPS at recall@10 >= 0.95, median of $rounds interleaved rounds (vz ef=$ef_vz, hnswlib ef=$ef_h, $nq queries, load $(cut -d' ' -f1 /proc/loadavg)): $v / $h = $(ratio "$v" "$h") (higher is better)"
done
