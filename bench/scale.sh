#!/usr/bin/env bash
# bench/scale.sh: the scale part of `make bench` (BENCH_PARTS=scale): build and serve
# BENCH_SCALE_N (default 10,000,000) x 128 the way a user would, and say what it cost.
#
#   data     bench/annbench/annbench.py gen: 1,000 gaussian clusters, each spread over a random
#            16-dimensional subspace plus a little noise (like real embeddings, not uniform
#            noise), seed 1234, 1,000 queries from the same distribution; then the exact 10
#            nearest neighbours of every query by bench/scale-gt.c (a full scan in double-checked
#            float). Both are kept under build/bench/data and made again only when missing.
#   build    `vz create c --dim 128 --metric euclidean` (M 16, ef_construction 200) and
#            `vz insert c BASE.fvecs --bulk --threads 2`: seconds and peak RSS (/usr/bin/time),
#            RSS every 10 s into build/bench/scale-N-rss.txt, bytes on disk. The collection
#            and these figures are kept (build/bench/scale-N/), so that a second run measures
#            serving only: remove the folder to build again.
#   serve    recall@10 against the exact neighbours at ef 64 and 128; QPS of one
#            `vz query --batch` process over the 1,000 queries, single thread (and --threads 2
#            where the command has it), the whole process timed (mapping, search, output),
#            median of BENCH_SCALE_ROUNDS (3) after one warm-up, and its peak RSS; the median
#            of BENCH_ONESHOT (50) one-shot `vz query --vector` processes, warm page cache.
#
# Environment: BENCH_SCALE_N, BENCH_SCALE_ROUNDS, BENCH_ONESHOT, VZ (binary). Prints its lines on
# stdout; lines starting "ratio:" are for the ratio table of bench/run.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VZ=${VZ:-$ROOT/vz}
N=${BENCH_SCALE_N:-10000000}
ROUNDS=${BENCH_SCALE_ROUNDS:-3}
RUNS=${BENCH_ONESHOT:-50}
NQ=1000
PY=/usr/bin/python3
OUT=$ROOT/build/bench
DATA=$OUT/data
SYN=$DATA/synth$N # the same name and generator as bench/run.sh's synthetic set, so shared with it
GT=${SYN}_gt10.ivecs
DD=$OUT/scale-$N
mkdir -p "$DATA"
median() { sort -g | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
ms_now() { local t=${EPOCHREALTIME/[.,]/}; echo $((t / 1000)).$(printf %03d $((t % 1000))); }
calc() { awk "BEGIN { printf \"%.${2:-2}f\\n\", $1 }"; }
load() { cut -d' ' -f1-3 /proc/loadavg; }

echo "# scale: $N x 128, $NQ queries; load at start $(load); $(free -g | awk '/^Mem:/ {print $2 " GiB memory, " $7 " GiB available"}')"

# data
if [ ! -f "${SYN}_base.fvecs" ] || [ ! -f "${SYN}_query.fvecs" ] ||
	[ "$(stat -c %s "${SYN}_base.fvecs")" != $((N * 129 * 4)) ]; then
	t0=$(ms_now)
	"$PY" bench/annbench/annbench.py gen --n "$N" --d 128 --nq "$NQ" --out "$SYN" >/dev/null
	rm -f "$GT"
	echo "data: generated $N x 128 in $(calc "($(ms_now) - $t0) / 1000" 1) s"
fi
# build, once; its figures are kept beside the collection
if ! [ -f "$DD/build.txt" ] || ! VZ_DATA_DIR=$DD/data "$VZ" info c >/dev/null 2>&1; then
	rm -rf "$DD" && mkdir -p "$DD"
	VZ_DATA_DIR=$DD/data "$VZ" create c --dim 128 --metric euclidean -q
	l0=$(load)
	/usr/bin/time -f "%M %e %U %S" -o "$DD/time.txt" env VZ_DATA_DIR="$DD/data" \
		"$VZ" insert c "${SYN}_base.fvecs" --bulk --threads 2 -q &
	tp=$!
	# RSS over time: where the memory goes (input mapping, vectors, graph)
	: >"$OUT/scale-$N-rss.txt"
	t0=$(ms_now)
	while kill -0 "$tp" 2>/dev/null; do
		p=$(pgrep -P "$tp" || true)
		[ -n "$p" ] && echo "$(calc "($(ms_now) - $t0) / 1000" 0) s $(awk '/^VmRSS/ {print int($2 / 1024)}' "/proc/$p/status" 2>/dev/null) MiB" >>"$OUT/scale-$N-rss.txt"
		sleep 10
	done
	wait "$tp"
	read -r kb s us ss <"$DD/time.txt"
	bytes=$(du -sb "$DD/data/dynamic/c" | cut -f1)
	echo "build: vz insert --bulk --threads 2 of $N x 128 (M 16, ef_construction 200): $s s ($us s user, $ss s system), peak RSS $((kb / 1024)) MiB, $(calc "$bytes / 1073741824") GiB on disk ($(calc "$bytes / $N" 0) bytes a vector); load $l0 at start, $(load) at end" >"$DD/build.txt"
fi
cat "$DD/build.txt"
read -r kb s _ <"$DD/time.txt"
echo "ratio: scale: build of $N x 128 (2 threads): $s s, peak RSS $((kb / 1024)) MiB = $(calc "$kb * 1024 / $N" 0) bytes a vector (no peer at this size)"

# exact ground truth (after the build: a build that cannot finish makes it moot)
if [ ! -f "$GT" ]; then
	cc -std=gnu11 -O2 -D_GNU_SOURCE -o "$OUT/scale-gt" bench/scale-gt.c build/libvz.a \
		-Wl,-Bstatic -lyaml -lxxhash -ljansson -lz -Wl,-Bdynamic -lzstd -ldl -lm -pthread
	t0=$(ms_now)
	"$OUT/scale-gt" "${SYN}_base.fvecs" "${SYN}_query.fvecs" 10 2 "$GT.tmp"
	mv "$GT.tmp" "$GT"
	echo "ground truth: exact 10 nearest of $NQ queries in $(calc "($(ms_now) - $t0) / 1000" 1) s (2 threads)"
fi

# serving: recall@10 against the exact neighbours, then QPS of the whole process
recall() { # results (--json: one object a query) ground-truth.ivecs
	"$PY" - "$1" "$2" <<'PY'
import json, struct, sys
gt = []
with open(sys.argv[2], "rb") as f:
    while (h := f.read(4)):
        k = struct.unpack("<i", h)[0]
        gt.append(set(struct.unpack(f"<{k}i", f.read(4 * k))))
hit = n = 0
for line in open(sys.argv[1]):
    r = json.loads(line)
    hit += len({int(x["id"]) for x in r["results"][:10]} & gt[r["query"]]); n += 1
assert n == len(gt), f"{n} result lines for {len(gt)} queries"
print(f"{hit / (10 * n):.4f}")
PY
}
q() { VZ_DATA_DIR=$DD/data "$VZ" query c --batch "${SYN}_query.fvecs" -k 10 "$@"; }
threads_opt=
"$VZ" query --help 2>&1 | grep -q -- '--threads' && threads_opt=1
for ef in 64 128; do
	q --ef "$ef" --json >"$DD/res-$ef.jsonl" # also the warm-up
	r=$(recall "$DD/res-$ef.jsonl" "$GT")
	for th in 1 ${threads_opt:+2}; do
		topt=()
		[ -n "$threads_opt" ] && topt=(--threads "$th")
		l0=$(load)
		for ((i = 0; i < ROUNDS; i++)); do
			t0=$(ms_now); q --ef "$ef" "${topt[@]}" >/dev/null; t1=$(ms_now)
			calc "$t1 - $t0" 3
		done | median >"$DD/qps.txt"
		ms=$(cat "$DD/qps.txt")
		/usr/bin/time -f "%M" -o "$DD/rss.txt" env VZ_DATA_DIR="$DD/data" "$VZ" query c --batch "${SYN}_query.fvecs" -k 10 --ef "$ef" "${topt[@]}" >/dev/null
		echo "serve: ef $ef, $th thread(s): recall@10 $r; one vz query --batch process over $NQ queries: $ms ms = $(calc "$NQ * 1000 / $ms" 0) QPS (median of $ROUNDS, load $l0), peak RSS $(($(cat "$DD/rss.txt") / 1024)) MiB"
		echo "ratio: scale: $N x 128, ef $ef, $th thread(s): recall@10 $r, $(calc "$NQ * 1000 / $ms" 0) QPS (whole process)"
	done
done

# one-shot: a fresh process answers one query (warm page cache)
Q=$("$PY" -c "import sys; sys.path.insert(0, 'bench/annbench'); import annbench; print([float(x) for x in annbench.read_vecs('${SYN}_query.fvecs', limit=1)[0]])")
VZ_DATA_DIR=$DD/data "$VZ" query c --vector "$Q" -k 10 >/dev/null
l0=$(load)
for ((i = 0; i < RUNS; i++)); do
	t0=$(ms_now); VZ_DATA_DIR=$DD/data "$VZ" query c --vector "$Q" -k 10 >/dev/null; t1=$(ms_now)
	calc "$t1 - $t0" 3
done | median >"$DD/oneshot.txt"
for ((i = 0; i < RUNS; i++)); do
	t0=$(ms_now); /bin/true; t1=$(ms_now)
	calc "$t1 - $t0" 3
done | median >"$DD/true.txt"
echo "one-shot: vz query --vector on $N x 128 (default ef 64), median of $RUNS: $(cat "$DD/oneshot.txt") ms; /bin/true $(cat "$DD/true.txt") ms; load $l0"
echo "ratio: scale: one-shot vz query on $N x 128: $(cat "$DD/oneshot.txt") ms (goal: under 2.5 ms)"
echo "# scale: load at end $(load)"

# ---- sq8 at scale (BENCH_SCALE_SQ8=1): a block of its own, after the N x 128 part above ----
# BENCH_SCALE_SQ8_N (default 1,000,000) x 768 with sq8 codes, built and served under 2 GiB:
# the same generator (seed 1234, 1,000 clustered queries), exact 10 nearest neighbours by
# bench/scale-gt.c, `vz create c --dim 768 --metric euclidean --quantization sq8` and
# `vz insert c BASE.fvecs --bulk --threads 2` (seconds, peak RSS), recall@10 at ef 64 and 128
# of one `vz query --batch` process over the 1,000 queries (its seconds and peak RSS). The
# data (3 GiB), the ground truth and the collection are removed at the end.
if [ "${BENCH_SCALE_SQ8:-0}" = 1 ]; then
	SN=${BENCH_SCALE_SQ8_N:-1000000}
	S8=$DATA/synth768-$SN
	GT8=${S8}_gt10.ivecs
	SD=$OUT/scale-sq8-$SN
	echo "# scale sq8: $SN x 768, $NQ queries; load at start $(load)"
	if [ ! -f "${S8}_base.fvecs" ] || [ "$(stat -c %s "${S8}_base.fvecs")" != $((SN * 769 * 4)) ]; then
		t0=$(ms_now)
		"$PY" bench/annbench/annbench.py gen --n "$SN" --d 768 --nq "$NQ" --out "$S8" >/dev/null
		rm -f "$GT8"
		echo "data: generated $SN x 768 in $(calc "($(ms_now) - $t0) / 1000" 1) s"
	fi
	rm -rf "$SD" && mkdir -p "$SD"
	VZ_DATA_DIR=$SD/data "$VZ" create c --dim 768 --metric euclidean --quantization sq8 -q
	l0=$(load)
	/usr/bin/time -f "%M %e %U %S" -o "$SD/time.txt" env VZ_DATA_DIR="$SD/data" \
		"$VZ" insert c "${S8}_base.fvecs" --bulk --threads 2 -q
	read -r kb s us ss <"$SD/time.txt"
	bytes=$(du -sb "$SD/data/dynamic/c" | cut -f1)
	echo "sq8 build: vz insert --bulk --threads 2 of $SN x 768 (M 16, ef_construction 200): $s s ($us s user, $ss s system), peak RSS $((kb / 1024)) MiB, $(calc "$bytes / 1073741824") GiB on disk; load $l0 at start, $(load) at end"
	echo "ratio: scale sq8: peak RSS of building $SN x 768 / 2 GiB: $((kb / 1024)) / 2048 MiB = $(calc "$kb / 2097152") (bar: under 1; build $s s, 2 threads)"
	if [ ! -f "$GT8" ]; then
		[ -x "$OUT/scale-gt" ] || cc -std=gnu11 -O2 -D_GNU_SOURCE -o "$OUT/scale-gt" bench/scale-gt.c build/libvz.a \
			-Wl,-Bstatic -lyaml -lxxhash -ljansson -lz -Wl,-Bdynamic -lzstd -ldl -lm -pthread
		t0=$(ms_now)
		"$OUT/scale-gt" "${S8}_base.fvecs" "${S8}_query.fvecs" 10 2 "$GT8.tmp"
		mv "$GT8.tmp" "$GT8"
		echo "ground truth: exact 10 nearest of $NQ queries in $(calc "($(ms_now) - $t0) / 1000" 1) s (2 threads)"
	fi
	for ef in 64 128; do
		l0=$(load)
		/usr/bin/time -f "%M %e" -o "$SD/serve.txt" env VZ_DATA_DIR="$SD/data" \
			"$VZ" query c --batch "${S8}_query.fvecs" -k 10 --ef "$ef" --json >"$SD/res-$ef.jsonl"
		r=$(recall "$SD/res-$ef.jsonl" "$GT8")
		read -r sk ss <"$SD/serve.txt"
		echo "sq8 serve: ef $ef: recall@10 $r; one vz query --batch process over $NQ queries: $ss s, peak RSS $((sk / 1024)) MiB (load $l0)"
		echo "ratio: scale sq8: $SN x 768, ef $ef: recall@10 $r; peak RSS of serving $NQ queries / 2 GiB: $((sk / 1024)) / 2048 MiB = $(calc "$sk / 2097152") (bar: under 1)"
	done
	rm -rf "$SD" "${S8}_base.fvecs" "${S8}_query.fvecs" "$GT8"
	echo "# scale sq8: load at end $(load)"
fi
