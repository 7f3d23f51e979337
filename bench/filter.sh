#!/usr/bin/env bash
# bench/filter.sh: filtered queries (`vz query --where`), part "filter" of `make bench`. On N x 64
# random vectors whose payload {"g": 0..999} is drawn independently of the vector, for no filter,
# 'g < 500' (50% of the rows), 'g < 10' (1%) and 'g < 1' (0.1%): vz's recall@10 against the
# exact 10 nearest matching rows (bench/filter.py), its milliseconds per query in a batch of NQ
# (the whole process, start and loading included, divided by NQ), one-shot latency (median of
# RUNS processes) and the plan it chose (-v), beside faiss's IndexHNSWFlat filtered with an
# IDSelectorBitmap (same M and efConstruction, one search thread, in-process time).
#
# Environment: BENCH_FILTER_N (default 100000), BENCH_FILTER_NQ (1000), BENCH_ONESHOT (runs,
# default 50), BENCH_EF (64), VZ (binary).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VZ=${VZ:-$ROOT/vz}
N=${BENCH_FILTER_N:-100000}
NQ=${BENCH_FILTER_NQ:-1000}
RUNS=${BENCH_ONESHOT:-50}
EF=${BENCH_EF:-64}
D=64
PY=/usr/bin/python3 # Debian's interpreter: python3-numpy and python3-faiss (install-deps.sh bench)
OUT=$ROOT/build/bench/filter-$N
mkdir -p "$OUT"
export VZ_DATA_DIR=$OUT/data
median() { sort -g | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
ms_now() { local t=${EPOCHREALTIME/[.,]/}; echo $((t / 1000)).$(printf %03d $((t % 1000))); }
calc() { awk "BEGIN { printf \"%.${2:-3}f\\n\", $1 }"; }

if [ ! -f "$OUT/base.jsonl" ]; then
	"$PY" bench/filter.py gen "$OUT" "$N" "$D" "$NQ"
fi
if [ ! -d "$VZ_DATA_DIR/dynamic/f" ]; then
	"$VZ" create f --dim "$D" --metric euclidean --m 16 --ef-construction 200 -q
	"$VZ" insert f "$OUT/base.jsonl" --bulk --threads 2 -q
fi
q1=$("$PY" -c "import numpy as np, sys; a = np.fromfile(sys.argv[1], dtype=np.int32); print('[' + ','.join('%.9g' % x for x in a[1:1 + a[0]].view(np.float32)) + ']')" "$OUT/query.fvecs")

echo "# filter: $N x $D, k 10, ef $EF, $NQ queries; load at start: $(cut -d' ' -f1-3 /proc/loadavg)"
EXPRS=("" "g < 500" "g < 10" "g < 1")
mapfile -t PEER < <("$PY" bench/filter.py faiss "$OUT" 10 "$EF" "${EXPRS[@]}")
n=0
for expr in "${EXPRS[@]}"; do
	where=()
	[ -n "$expr" ] && where=(--where "$expr")
	t0=$(ms_now)
	"$VZ" query f --batch "$OUT/query.fvecs" -k 10 --ef "$EF" --json "${where[@]}" >"$OUT/res.jsonl" 2>/dev/null
	t1=$(ms_now)
	recall=$("$PY" bench/filter.py recall "$OUT" 10 "$expr" "$OUT/res.jsonl")
	plan=graph
	if [ -n "$expr" ]; then
		plan=$("$VZ" query f --vector "$q1" -k 10 --ef "$EF" -v "${where[@]}" 2>&1 >/dev/null | sed -n 's/.*--where: \([a-z]* [a-z]*\):.*/\1/p')
	fi
	one=$(for _ in $(seq "$RUNS"); do
		a=$(ms_now)
		"$VZ" query f --vector "$q1" -k 10 --ef "$EF" "${where[@]}" >/dev/null
		b=$(ms_now)
		calc "$b - $a"
	done | median)
	peer=${PEER[n]}
	n=$((n + 1))
	label=${expr:-none}
	echo "filter '$label': vz recall@10 $recall, $(calc "($t1 - $t0) / $NQ") ms/query in a batch ($plan), one-shot $one ms;" \
		"faiss HNSW + IDSelectorBitmap recall@10 ${peer% *}, ${peer#* } ms/query in-process"
done
