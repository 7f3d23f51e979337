#!/usr/bin/env bash
# bench/qps.sh LABEL WORKDIR JSON ROUNDS: single-thread QPS of vz and hnswlib -march=native in
# interleaved rounds, over the indexes annbench.py built in WORKDIR. One timing per ef (what the
# harness does) swings by a third on a shared VM; ROUNDS alternating runs of each, compared by
# their medians, hold. The ef compared is, for each side, the smallest whose recall@10 in the
# harness's JSON reaches 0.95. Prints one line per ef and the ratio line last.
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
# each round answers the query set QPS_REPEAT (5) times over: a run of a fraction of a second
# is at the mercy of one hiccup of the VM
repeat=${QPS_REPEAT:-5}
queries=$wd/query-x$repeat.fvecs
[ -f "$queries" ] || for ((i = 0; i < repeat; i++)); do cat "$wd/query.fvecs"; done >"$queries"
for ef in $(printf '%s\n' "$ef_vz" "$ef_h" | sort -un); do
	: >"$wd/rounds-vz-$ef" && : >"$wd/rounds-h-$ef"
	run_vz() {
		"$OUT/vz-ann" query --index "$wd/index.vz" --query "$queries" --k 10 --ef "$ef" --out /dev/null |
			sed 's/.*qps=//' >>"$wd/rounds-vz-$ef"
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
	echo "$label: ef=$ef: median single-thread QPS of $rounds interleaved rounds of $repeat x the queries: vz $(median <"$wd/rounds-vz-$ef"), hnswlib -march=native $(median <"$wd/rounds-h-$ef"); geometric mean of the rounds' ratios $paired"
done
v=$(median <"$wd/rounds-vz-$ef_vz") h=$(median <"$wd/rounds-h-$ef_h")
echo "$label: vz / native_hnswlib_avx512: single-thread QPS at recall@10 >= 0.95, median of $rounds interleaved rounds (vz ef=$ef_vz, hnswlib ef=$ef_h): $v / $h = $(awk "BEGIN { printf \"%.2f\", $v / $h }") (higher is better)"
