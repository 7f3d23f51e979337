#!/usr/bin/env bash
# bench/run.sh: `make bench`. vz beside its peers in the same run, so that ratios hold on a noisy
# machine; ratios are printed last and everything is kept in build/bench/results.txt.
#
#   ann        ANN search and build beside hnswlib (Debian's libhnswlib-dev built with -O3
#              -march=native, and python3-hnswlib) on Fashion-MNIST-784 and synthetic
#              BENCH_ANN_N (100,000) x 128:
#              recall@10 and single-thread QPS per ef, build time (2 threads each), peak RSS, bytes
#              per vector; through bench/annbench/annbench.py, vz as its external tool; then
#              QPS again in BENCH_ROUNDS (15) interleaved rounds per side (bench/qps.sh), medians:
#              the whole `vz query --batch` process (1 thread, and every core) and the library
#              in-process beside hnswlib's in-process search, at least 10,000 queries a round;
#              build time and peak RSS again in interleaved rounds (bench/build-rounds.sh):
#              BENCH_BUILD_ROUNDS (5) on Fashion-MNIST, BENCH_BUILD_ROUNDS_LARGE (0: the
#              harness's one build) on N x 128.
#   ann-large  the same on synthetic N x 128 (default 1M) beside hnswlib -march=native only, the
#              exact neighbours by bench/scale-gt.c (numpy on Debian's reference BLAS: most of an
#              hour at 1M); one build each.
#   oneshot    one `vz query` process on the N x 128 collection (warm cache) beside one hnswlib
#              process loading its index and answering one query: median of BENCH_ONESHOT runs.
#   sq8        peak RSS of building (vz insert --bulk, 2 threads) and of serving BENCH_NQ queries
#              (vz query --batch) on synthetic BENCH_SQ8_N (1000000) x 768 with sq8; bar: 2 GiB.
#   scale      bench/scale.sh: build and serve BENCH_SCALE_N (10,000,000) x 128 (build time, peak
#              RSS, recall@10 at ef 64 and 128 against exact neighbours, QPS, one-shot latency),
#              then the sq8 part above. Not in the default parts: at 10M it takes hours.
#   recover    open and recover the N x 128 collection with 1000 operations in its WAL; verify
#              beside xxhsum -H3 over the same files in BENCH_ROUNDS interleaved rounds (bench/pair.sh).
#   durability bench/durability.sh (vz insert vs sqlite3, bulk and single row, both durable).
#   backup     bench/backup.sh: vz backup -o beside tar --zstd -cf && sync, vz verify beside
#              xxhsum -H3 (100k x 128, interleaved rounds), backup --verify and restore beside tar.
#   filter     bench/filter.sh: `vz query --where` at 50%, 1% and 0.1% selectivity beside the
#              unfiltered query, recall@10 against the filtered truth and latency, beside faiss's
#              HNSW with an IDSelectorBitmap (BENCH_FILTER_N rows, default 100000, x 64).
#   workspace  vz build MB/s of text with 1 and 2 threads, and an incremental build after one change
#              (wall and CPU seconds: the graph is extended, not built again; megabytes written).
#   text       text search: the top-3 hit rate of task questions over the section 1 man pages of
#              the base packages (tests/cli/lib/man-corpus.py, text-eval.py; the tuned and the
#              held-out questions) and over libc6-dev's C headers (header-corpus.py) beside SQLite FTS5's
#              bm25() on the same documents and questions; one-shot `vz query --text` latency on a
#              10,000-file collection (median of BENCH_ONESHOT runs); first and no-change build of
#              /usr/include (MB/s of source with 2 threads, milliseconds; CPU seconds beside wall).
#
# Environment: BENCH_N (synthetic rows, default 1000000), BENCH_PARTS (default: all of the above),
# BENCH_NQ (queries, default 1000), BENCH_ONESHOT (runs, default 50), BENCH_SQ8_N (rows of the sq8
# part, default 1000000), BENCH_SCALE_N and BENCH_SCALE_ROUNDS (see bench/scale.sh), VZ (binary).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VZ=${VZ:-$ROOT/vz}
N=${BENCH_N:-1000000}
NQ=${BENCH_NQ:-1000}
RUNS=${BENCH_ONESHOT:-50}
PARTS=${BENCH_PARTS:-ann ann-large oneshot sq8 recover durability backup filter workspace text}
OUT=$ROOT/build/bench
PY=/usr/bin/python3 # Debian's interpreter: it has python3-hnswlib and python3-numpy
mkdir -p "$OUT"
RESULTS=$OUT/results.txt
: >"$RESULTS"
say() { echo "$*" | tee -a "$RESULTS"; }
ratio() { echo "$*" >>"$OUT/ratios.txt"; }
: >"$OUT/ratios.txt"
rm -f "$OUT"/qps-*.txt
has() { [[ " $PARTS " == *" $1 "* ]]; }
median() { sort -g | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
# wall-clock milliseconds without forking (date would cost a process per reading)
ms_now() { local t=${EPOCHREALTIME/[.,]/}; echo $((t / 1000)).$(printf %03d $((t % 1000))); }
# runs "$@" (output dropped) and sets WRITTEN, the megabytes it wrote to the file system (its
# getrusage block outputs, 512 bytes each, as /usr/bin/time's %O counts them)
written() {
	/usr/bin/time -f %O -o "$OUT/written.txt" "$@" >/dev/null 2>&1 || true
	WRITTEN=$(awk '{printf "%.1f", $1 * 512 / 1048576}' "$OUT/written.txt")
}
calc() { awk "BEGIN { printf \"%.${2:-2}f\\n\", $1 }"; }
# runs "$@" (its standard output passes through, its errors are dropped) and sets WALL and CPU,
# the seconds it took and the CPU seconds (user + system) it used: on a loaded machine the
# second tells what the first cannot
timed() {
	local TIMEFORMAT='%R %U %S' t
	exec 4>&1
	t=$({ time "$@" 1>&4 2>/dev/null; } 2>&1)
	exec 4>&-
	WALL=$(awk '{print $1}' <<<"$t") CPU=$(awk '{printf "%.3f", $2 + $3}' <<<"$t")
}

say "# vz bench $(date -u +%FT%TZ) on $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
say "# load at start: $(cut -d' ' -f1-3 /proc/loadavg); N=$N, $NQ queries"

# The harness (bench/annbench) is copied so that its native tools are built under build/, not in
# the source tree.
AB=$OUT/annbench
if [ ! -x "$AB/native/hnsw_native" ]; then
	rm -rf "$AB" && cp -r "$ROOT/bench/annbench" "$AB"
	g++ -O3 -march=native -std=c++17 -o "$AB/native/hnsw_native" "$AB/native/hnsw_native.cpp" -lpthread
	cc -O2 -o "$AB/native/rsswrap" "$AB/native/rsswrap.c"
fi
cc -std=gnu11 -O2 -D_GNU_SOURCE -o "$OUT/vz-ann" bench/vz-ann.c build/libvz.a \
	-Wl,-Bstatic -lyaml -lxxhash -ljansson -lz -Wl,-Bdynamic -lzstd -ldl -lm -pthread
export ANNBENCH_DATA=$OUT/data
mkdir -p "$ANNBENCH_DATA"

SYN=$ANNBENCH_DATA/synth$N
synth() { [ -f "${SYN}_base.fvecs" ] || "$PY" "$AB/annbench.py" gen --n "$N" --d 128 --nq "$NQ" --out "$SYN" >/dev/null; }

# One data set through the harness: hnswlib (Debian's Python build; ANN_ALGOS= leaves it out),
# hnswlib -march=native, vz; ANN_GT: the exact neighbours (.ivecs), else the harness computes them.
ann() { # label base query build-rounds
	local label=$1 base=$2 query=$3 build_rounds=$4 wd=$OUT/work-$1
	mkdir -p "$wd"
	"$PY" "$AB/annbench.py" run --label "$label" --base "$base" --query "$query" --nq "$NQ" \
		--algos "${ANN_ALGOS-hnswlib}" --ext-config "$AB/${ANN_TOOLS:-tools_native.json}" ${ANN_GT:+--gt "$ANN_GT"} --build-threads 2 \
		--ext-name vz \
		--ext-build "rm -rf {index} && VZ_DATA_DIR={index} $VZ create c --dim {dim} --metric euclidean --m {M} --ef-construction {efc} -q && VZ_DATA_DIR={index} $VZ insert c {base} --bulk --threads {threads} -q" \
		--ext-query "$OUT/vz-ann query --index {index} --query {query} --k {k} --ef {ef} --out {out}" \
		--M 16 --efc 200 --efs 10,16,20,24,32,40,64,80,96,112,128,160 --k 10 --lat-queries 200 --bf-queries 100 \
		--workdir "$wd" --json "$OUT/ann-$label.json" >"$OUT/ann-$label.log" 2>&1
	"$PY" "$AB/summarize.py" "$OUT/ann-$label.json" | tee -a "$RESULTS"
	# the harness times each ef once; interleaved rounds give the QPS ratio that holds
	bash bench/qps.sh "$label" "$wd" "$OUT/ann-$label.json" "${BENCH_ROUNDS:-15}" | tee -a "$RESULTS" | grep -F "(higher is better)" >>"$OUT/qps-$label.txt"
	# and interleaved build rounds, where a build is short enough to repeat
	if ((build_rounds > 0)); then
		bash bench/build-rounds.sh "$label" "$wd" "$base" "$build_rounds" 2 | tee -a "$RESULTS" | tail -2 >>"$OUT/qps-$label.txt"
	fi
	# ratios: best single-thread QPS at recall >= 0.95, build seconds, peak RSS of build and search
	"$PY" - "$OUT/ann-$label.json" "$label" >>"$OUT/ratios.txt" <<'PY'
import json, sys
s = json.load(open(sys.argv[1])); label = sys.argv[2]
res = {r["algo"]: r for r in s["results"]}
def best(r, thr=0.95):
    ok = [x for x in r.get("runs", []) if (x.get("recall_dist") or 0) >= thr]
    return max((x.get("qps") or x.get("qps_wall") or 0) for x in ok) if ok else None
def per_vec(r):
    return r["index_bytes"] / s["n"] if r.get("index_bytes") else None
vz = res.get("vz", {})
for name in ("native_hnswlib_avx512", "hnswlib"):
    p = res.get(name)
    if not p: continue
    rows = [("single-thread QPS at recall@10 >= 0.95, the harness's one timing", best(vz), best(p), "higher is better; the interleaved rounds below are the measure"),
            ("build seconds (2 threads)", vz.get("build_s"), p.get("build_s"), "lower is better")]
    if name.startswith("native"): # the same harness path: a process of its own, RSS of its own
        rows += [("peak RSS of building (MiB)", vz.get("build_peak_rss_mib"), p.get("build_peak_rss_mib"), "lower is better"),
                 ("peak RSS of serving (MiB)", vz.get("query_peak_rss_mib"), p.get("query_peak_rss_mib"), "lower is better"),
                 ("bytes per vector on disk", per_vec(vz), per_vec(p), "vz: vectors.bin with ids + index.hnsw")]
    for what, v, q, note in rows:
        r = f"{v / q:.2f}" if v and q else "n/a"
        fv = lambda x: f"{x:.1f}" if isinstance(x, float) else str(x)
        print(f"{label}: vz / {name}: {what}: {fv(v)} / {fv(q)} = {r} ({note})")
PY
}

if has ann; then
	say "## ANN search and build (M=16, ef_construction=200, k=10, single-thread queries, 2 build threads)"
	"$PY" "$ROOT/bench/annbench/prep_data.py" >/dev/null # SIFT-5k from tests/fixtures
	ann fashion-mnist-784 "$ANNBENCH_DATA/fvecs/fashion-mnist-784_base.fvecs" "$ANNBENCH_DATA/fvecs/fashion-mnist-784_query.fvecs" "${BENCH_BUILD_ROUNDS:-5}"
	AN=${BENCH_ANN_N:-100000} AS=$ANNBENCH_DATA/synth${BENCH_ANN_N:-100000}
	[ -f "${AS}_base.fvecs" ] || "$PY" "$AB/annbench.py" gen --n "$AN" --d 128 --nq "$NQ" --out "$AS" >/dev/null
	ann "synthetic-$AN-128" "${AS}_base.fvecs" "${AS}_query.fvecs" "${BENCH_BUILD_ROUNDS_LARGE:-0}"
	cat "$OUT"/qps-*.txt >>"$OUT/ratios.txt" && rm -f "$OUT"/qps-*.txt
fi

if has ann-large; then
	say "## ANN search and build on synthetic $N x 128 beside hnswlib -march=native (one build each)"
	synth
	GT=$ANNBENCH_DATA/synth$N-gt10-q$NQ.ivecs
	if [ ! -f "$GT" ]; then
		cc -std=gnu11 -O2 -D_GNU_SOURCE -o "$OUT/scale-gt" bench/scale-gt.c build/libvz.a \
			-Wl,-Bstatic -lyaml -lxxhash -ljansson -lz -Wl,-Bdynamic -lzstd -ldl -lm -pthread
		"$OUT/scale-gt" "${SYN}_base.fvecs" "${SYN}_query.fvecs" 10 "$(nproc)" "$GT.tmp" && mv "$GT.tmp" "$GT"
	fi
	"$PY" -c "import json, sys; json.dump(json.load(open(sys.argv[1]))[:1], open(sys.argv[2], 'w'))" \
		"$AB/tools_native.json" "$AB/tools_native_hnsw.json" # hnswlib without the exact scan
	ANN_ALGOS= ANN_TOOLS=tools_native_hnsw.json ANN_GT=$GT ann "synthetic-$N-128" "${SYN}_base.fvecs" "${SYN}_query.fvecs" 0
	cat "$OUT"/qps-*.txt >>"$OUT/ratios.txt" && rm -f "$OUT"/qps-*.txt
fi

# A collection of the synthetic data for the one-shot and recovery parts (built once).
DD=$OUT/collection-$N # one per size: the parts below reuse it
collection() {
	synth
	if ! VZ_DATA_DIR=$DD "$VZ" info c >/dev/null 2>&1; then
		rm -rf "$DD"
		# no automatic checkpoint: the recovery part wants its 1000 operations to stay in the WAL
		VZ_DATA_DIR=$DD "$VZ" create c --dim 128 --metric euclidean --checkpoint-ops 1000000 -q
		VZ_DATA_DIR=$DD "$VZ" insert c "${SYN}_base.fvecs" --bulk -q
	fi
}

if has oneshot; then
	say "## One-shot query: a fresh process answers one query (warm page cache; median of $RUNS)"
	collection
	HI=$OUT/oneshot-hnswlib.bin
	[ -f "$HI" ] || "$AB/native/hnsw_native" build --base "${SYN}_base.fvecs" --index "$HI" --M 16 --efc 200 --threads 2 >/dev/null
	"$PY" -c "import sys; sys.path.insert(0, '$AB'); import annbench, numpy as np; q = np.asarray(annbench.read_vecs('${SYN}_query.fvecs'))[:1]; annbench.write_fvecs('$OUT/q1.fvecs', q); print([float(x) for x in q[0]])" >"$OUT/q1.json"
	Q=$(cat "$OUT/q1.json")
	VZ_DATA_DIR=$DD "$VZ" query c --vector "$Q" -k 10 >/dev/null # warm the cache
	for ((i = 0; i < RUNS; i++)); do
		t0=$(ms_now); VZ_DATA_DIR=$DD "$VZ" query c --vector "$Q" -k 10 >/dev/null; t1=$(ms_now)
		calc "$t1 - $t0" 3
	done | median >"$OUT/oneshot-vz.txt"
	"$AB/native/hnsw_native" query --index "$HI" --base "${SYN}_base.fvecs" --query "$OUT/q1.fvecs" --k 10 --ef 64 --out /dev/null >/dev/null
	for ((i = 0; i < 10; i++)); do
		t0=$(ms_now); "$AB/native/hnsw_native" query --index "$HI" --base "${SYN}_base.fvecs" --query "$OUT/q1.fvecs" --k 10 --ef 64 --out /dev/null >/dev/null; t1=$(ms_now)
		calc "$t1 - $t0" 3
	done | median >"$OUT/oneshot-hnswlib.txt"
	for ((i = 0; i < RUNS; i++)); do
		t0=$(ms_now); /bin/true; t1=$(ms_now)
		calc "$t1 - $t0" 3
	done | median >"$OUT/oneshot-true.txt"
	v=$(cat "$OUT/oneshot-vz.txt") h=$(cat "$OUT/oneshot-hnswlib.txt") t=$(cat "$OUT/oneshot-true.txt")
	say "vz query (one process, $N x 128): median $v ms; hnswlib -march=native loading its index and answering: median $h ms (10 runs); /bin/true: $t ms"
	ratio "oneshot: vz / hnswlib one-process query: $v / $h ms = $(calc "$v / $h") (lower is better; bar: vz under 5 ms)"
fi

if has scale; then
	say "## Scale: $(( ${BENCH_SCALE_N:-10000000} )) x 128 built and served on this machine (bench/scale.sh)"
	VZ=$VZ bash bench/scale.sh | tee -a "$RESULTS"
	sed -n 's/^ratio: //p' "$RESULTS" >>"$OUT/ratios.txt"
fi

if has sq8 || has scale; then
	SN=${BENCH_SQ8_N:-1000000}
	say "## sq8: $SN x 768, peak RSS of building and of serving $NQ queries (bar: under 2 GiB each)"
	S8=$ANNBENCH_DATA/synth768-$SN
	[ -f "${S8}_base.fvecs" ] || "$PY" "$AB/annbench.py" gen --n "$SN" --d 768 --nq "$NQ" --out "$S8" >/dev/null
	SD=$OUT/sq8-$SN
	rm -rf "$SD"
	VZ_DATA_DIR=$SD "$VZ" create c --dim 768 --metric euclidean --quantization sq8 -q
	/usr/bin/time -f "%M %e" -o "$OUT/sq8-build.txt" env VZ_DATA_DIR="$SD" "$VZ" insert c "${S8}_base.fvecs" --bulk --threads 2 -q
	/usr/bin/time -f "%M %e" -o "$OUT/sq8-serve.txt" env VZ_DATA_DIR="$SD" "$VZ" query c --batch "${S8}_query.fvecs" -k 10 --json >"$OUT/sq8-results.jsonl"
	read -r bk bs <"$OUT/sq8-build.txt"
	read -r sk ss <"$OUT/sq8-serve.txt"
	# recall@10 of the first 100 queries against their exact neighbours (numpy; Debian's
	# reference BLAS makes all 1000 take some 15 minutes)
	rec=$("$PY" - "${S8}_base.fvecs" "${S8}_query.fvecs" "$OUT/sq8-results.jsonl" <<'PY'
import json, sys
import numpy as np
def fvecs(p):
    a = np.fromfile(p, dtype=np.float32)
    return a.reshape(-1, a[:1].view(np.int32)[0] + 1)[:, 1:]
x, q = fvecs(sys.argv[1]), fvecs(sys.argv[2])[:100]
cand = []
for s in range(0, len(x), 100000):
    b = x[s:s + 100000]
    d = (b * b).sum(1)[None, :] - 2 * (q @ b.T)
    cand.append(np.argpartition(d, 30, 1)[:, :30] + s)
cand = np.concatenate(cand, 1)
exact = ((x[cand].astype(np.float64) - q[:, None, :]) ** 2).sum(-1)
gt = np.take_along_axis(cand, np.argsort(exact, 1)[:, :10], 1)
hit = 0
for line, want in zip(open(sys.argv[3]), gt):
    got = {int(r["id"]) for r in json.loads(line)["results"]}
    hit += len(got & set(want.tolist()))
print(f"{hit / (10 * len(gt)):.4f}")
PY
)
	say "sq8 $SN x 768: build $bs s, peak RSS $((bk / 1024)) MiB; serving $NQ queries: $ss s, peak RSS $((sk / 1024)) MiB; recall@10 $rec (first 100 queries, default ef)"
	ratio "sq8: peak RSS of building $SN x 768 / 2 GiB: $((bk / 1024)) / 2048 MiB = $(calc "$bk / 2097152") (bar: under 1)"
	ratio "sq8: peak RSS of serving $NQ queries on $SN x 768 / 2 GiB: $((sk / 1024)) / 2048 MiB = $(calc "$sk / 2097152") (bar: under 1)"
	rm -rf "$SD"
fi

if has recover; then
	say "## Open and recover $N x 128 with 1000 operations in the WAL; verify throughput"
	collection
	RD=$OUT/recover-data
	rm -rf "$RD" && cp -a "$DD" "$RD"
	"$PY" - "$OUT/ops.jsonl" <<'PY'
import json, random, sys
r = random.Random(3)
with open(sys.argv[1], "w") as f:
    for i in range(1000):
        f.write(json.dumps({"id": f"w{i}", "vector": [round(r.gauss(0, 1), 5) for _ in range(128)]}) + "\n")
PY
	VZ_DATA_DIR=$RD "$VZ" insert c "$OUT/ops.jsonl" --no-bulk -q
	ops=$(VZ_DATA_DIR=$RD "$VZ" info c --json | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["wal_ops"])')
	t0=$(ms_now); VZ_DATA_DIR=$RD "$VZ" info c >/dev/null; t1=$(ms_now)
	open_ms=$(calc "$t1 - $t0")
	t0=$(ms_now); VZ_DATA_DIR=$RD "$VZ" recover c -q >/dev/null; t1=$(ms_now)
	rec_ms=$(calc "$t1 - $t0")
	say "open (vz info, replaying $ops WAL operations): $open_ms ms; vz recover: $rec_ms ms"
	bytes=$(find "$RD/dynamic/c" -type f ! -name LOCK -printf '%s\n' | awk '{s += $1} END {print s}')
	files=$(find "$RD/dynamic/c" -type f ! -name LOCK | sort | tr '\n' ' ')
	read -r vms xms vratio < <(bash bench/pair.sh "${BENCH_ROUNDS:-15}" "VZ_DATA_DIR='$RD' '$VZ' verify c -q" "xxhsum -H3 $files")
	vmb=$(calc "$bytes / 1048576 / ($vms / 1000)" 1) xmb=$(calc "$bytes / 1048576 / ($xms / 1000)" 1)
	say "verify: $bytes bytes in $vms ms = $vmb MB/s; xxhsum -H3 over the same files: $xms ms = $xmb MB/s (medians of ${BENCH_ROUNDS:-15} interleaved rounds)"
	ratio "recover: verify speed vz / xxhsum -H3 at $N x 128: $vratio (median of the rounds' own ratios; higher is better; bar 0.8; verify also checks structure)"
fi

if has durability; then
	say "## Durable inserts beside sqlite3"
	VZ=$VZ bash bench/durability.sh 2>&1 | tee -a "$RESULTS" | sed -n '/^ratios/,$p' | sed 's/^/durability: /' >>"$OUT/ratios.txt" || true
fi

if has backup; then
	say "## Backup beside tar --zstd"
	VZ=$VZ bash bench/backup.sh 2>&1 | tee -a "$RESULTS" | sed -n '/^ratios/,$p' | sed 's/^/backup: /' >>"$OUT/ratios.txt" || true
fi

if has filter; then
	say "## Filtered queries (--where) beside the unfiltered query and faiss"
	VZ=$VZ bash bench/filter.sh 2>&1 | tee -a "$RESULTS" | sed -n 's/^filter /filter: /p' >>"$OUT/ratios.txt" || true
fi

if has workspace; then
	say "## Workspace build: text MB/s and an incremental build after one change"
	W=$OUT/ws
	if [ ! -d "$W/text" ]; then
		mkdir -p "$W/text"
		# real text this project did not write: the system's man pages, rendered
		n=0
		for f in /usr/share/man/man1/*.1.gz /usr/share/man/man8/*.8.gz; do
			zcat "$f" 2>/dev/null >"$W/text/$(basename "$f" .gz).txt" || true
			n=$((n + 1)); ((n < 4000)) || break
		done
	fi
	mb=$(du -sb "$W/text" | awk '{printf "%.1f", $1 / 1048576}')
	printf 'projects:\n  - name: b\n    path: text\n    collections:\n      - name: t\n        include_patterns: ["*.txt"]\n' >"$W/vectorize-workspace.yml"
	for th in 1 2; do
		rm -rf "$W/data"
		t0=$(ms_now); (cd "$W" && "$VZ" build --threads "$th" -q); t1=$(ms_now)
		s=$(calc "($t1 - $t0) / 1000")
		say "vz build, $th thread(s): $mb MB in $s s = $(calc "$mb / $s" 1) MB/s"
	done
	# the graph, which the build leaves to a detached checkpoint: an incremental build extends it
	(cd "$W" && "$VZ" checkpoint b/t --wait -q)
	f=$(find "$W/text" -name "*.txt" -print -quit)
	echo "one more line about lighthouses" >>"$f"
	(cd "$W" && "$VZ" build -v) | tee -a "$RESULTS"
	echo "and one more" >>"$f" # the same again, timed (timed sets WALL and CPU in this shell, not in a pipeline's)
	timed sh -c 'cd "$1" && exec "$2" build -q' _ "$W" "$VZ"
	say "incremental build after changing one file (its rows a segment beside the base): $WALL s, $CPU s CPU (goal: well under a second)"
	echo "and a third" >>"$f"
	written sh -c 'cd "$1" && exec "$2" build -q' _ "$W" "$VZ"
	say "incremental build after changing one file: $WRITTEN MB written, beside $(du -sb "$W/data" | awk '{printf "%.1f", $1 / 1048576}') MB of collection files ($(ls "$W/text" | wc -l) files)"
fi

if has text; then
	say "## Text search: hit rate beside SQLite FTS5, one-shot latency, builds of /usr/include"
	T=$OUT/text
	rm -rf "$T" && mkdir -p "$T"
	pages=$($PY tests/cli/lib/man-corpus.py "$T/corpus")
	printf 'projects:\n  - name: man\n    path: corpus\n    collections:\n      - name: pages\n' >"$T/vectorize-workspace.yml"
	(cd "$T" && "$VZ" build -q)
	(cd "$T" && $PY "$ROOT/tests/cli/lib/text-eval.py" corpus "$ROOT/tests/fixtures/textsearch/man-questions.tsv" --vz "$VZ" man/pages --fts5) >"$T/rates.txt"
	while read -r line; do say "$line ($pages man pages)"; done <"$T/rates.txt"
	ratio "text top-3 hit rate, vz / FTS5 bm25(): $(awk '/^vz /{v=$5} /^fts5-bm25 /{f=$5} END {printf "%.2f", v / f}' "$T/rates.txt")"
	# the same pages, 20 questions written before any ranking was looked at
	(cd "$T" && $PY "$ROOT/tests/cli/lib/text-eval.py" corpus "$ROOT/tests/fixtures/textsearch/man-questions-heldout.tsv" --vz "$VZ" man/pages --fts5) >"$T/rates-heldout.txt"
	while read -r line; do say "$line ($pages man pages, held-out questions)"; done <"$T/rates-heldout.txt"
	# a second corpus of another kind: libc6-dev's public C headers (tests/cli/lib/header-corpus.py)
	heads=$($PY tests/cli/lib/header-corpus.py "$T/hdr")
	printf 'projects:\n  - name: inc\n    path: hdr\n    collections:\n      - name: h\n' >>"$T/vectorize-workspace.yml"
	(cd "$T" && "$VZ" build -q)
	(cd "$T" && $PY "$ROOT/tests/cli/lib/text-eval.py" hdr "$ROOT/tests/fixtures/textsearch/header-questions.tsv" --want include/%s --vz "$VZ" inc/h --fts5) >"$T/rates-hdr.txt"
	while read -r line; do say "$line ($heads C headers)"; done <"$T/rates-hdr.txt"
	ratio "text top-3 hit rate on C headers, vz / FTS5 bm25(): $(awk '/^vz /{v=$5} /^fts5-bm25 /{f=$5} END {printf "%.2f", v / f}' "$T/rates-hdr.txt")"
	# 10,000 files: headers, then man pages as roff source, to make up the number
	mkdir -p "$T/many/src"
	{ find /usr/include -type f -name '*.h'; find /usr/share/man/man[1-8] -type f -name '*.gz'; } >"$T/many.list" || true
	head -n 10000 "$T/many.list" |
		awk '{printf "%s\t%06d\n", $0, NR}' | while IFS=$'\t' read -r f i; do
			case $f in *.gz) zcat "$f" >"$T/many/src/$i.txt" 2>/dev/null || true ;; *) cp "$f" "$T/many/src/$i.h" ;; esac
		done
	printf 'projects:\n  - name: m\n    path: src\n    collections:\n      - name: t\n' >"$T/many/vectorize-workspace.yml"
	(cd "$T/many" && "$VZ" build) | tee -a "$RESULTS"
	(cd "$T/many" && "$VZ" query m/t --text "compare two strings ignoring case" -k 10 >/dev/null)
	for _ in $(seq "$RUNS"); do
		timed sh -c 'cd "$1" && exec "$2" query m/t --text "compare two strings ignoring case" -k 10' _ "$T/many" "$VZ" >/dev/null
		echo "$(calc "$WALL * 1000" 0) $(calc "$CPU * 1000" 1)"
	done >"$T/oneshot.txt"
	say "one-shot vz query --text on $(ls "$T/many/src" | wc -l) files, median of $RUNS: $(awk '{print $1}' "$T/oneshot.txt" | median) ms, $(awk '{print $2}' "$T/oneshot.txt" | median) ms CPU (goal < 5)"
	# the peer: one sqlite3 process answering the same words with FTS5 bm25() over the same files
	if command -v sqlite3 >/dev/null; then
		$PY - "$T/many/src" "$T/many/fts5.db" <<'PYEOF'
import os, sqlite3, sys
src, out = sys.argv[1], sys.argv[2]
if os.path.exists(out):
    os.unlink(out)
db = sqlite3.connect(out)
db.execute("CREATE VIRTUAL TABLE d USING fts5(path UNINDEXED, body, tokenize='unicode61')")
db.executemany("INSERT INTO d VALUES (?, ?)", ((n, open(os.path.join(src, n), encoding="utf-8", errors="replace").read()) for n in sorted(os.listdir(src))))
db.commit()
PYEOF
		FQ="SELECT path FROM d WHERE d MATCH '\"compare\" OR \"two\" OR \"strings\" OR \"ignoring\" OR \"case\"' ORDER BY bm25(d) LIMIT 10"
		sqlite3 "$T/many/fts5.db" "$FQ" >/dev/null
		for _ in $(seq "$RUNS"); do
			timed sqlite3 "$T/many/fts5.db" "$FQ" >/dev/null
			echo "$(calc "$WALL * 1000" 0) $(calc "$CPU * 1000" 1)"
		done >"$T/oneshot-fts5.txt"
		say "one-shot sqlite3 FTS5 bm25() on the same files, median of $RUNS: $(awk '{print $1}' "$T/oneshot-fts5.txt" | median) ms, $(awk '{print $2}' "$T/oneshot-fts5.txt" | median) ms CPU"
		ratio "one-shot text query CPU, vz / sqlite3 FTS5: $(calc "$(awk '{print $2}' "$T/oneshot.txt" | median) / $(awk '{print $2}' "$T/oneshot-fts5.txt" | median)")"
	fi
	mkdir -p "$T/inc"
	printf 'projects:\n  - name: sys\n    path: /usr/include\n    collections:\n      - name: h\n' >"$T/inc/vectorize-workspace.yml"
	mb=$(du -sb /usr/include | awk '{printf "%.1f", $1 / 1048576}')
	# on 2 cores: the graph is built with 2 threads (the default, 1, gives byte-identical files)
	timed sh -c 'cd "$1" && exec "$2" build --threads 2 -q' _ "$T/inc" "$VZ"
	say "first build of /usr/include, 2 threads: $mb MB in $WALL s = $(calc "$mb / $WALL" 1) MB/s, $CPU s CPU = $(calc "$mb / $CPU" 1) MB per CPU second (goal >= 20 MB/s)"
	# the graph (for --vector queries only) is built after the build returns, by the detached checkpoint
	timed sh -c 'cd "$1" && exec "$2" checkpoint --wait sys/h -q' _ "$T/inc" "$VZ"
	say "graph of /usr/include complete $WALL s after the first build returned (vz checkpoint --wait; the detached checkpoint's CPU is not counted above)"
	say "  its files: $(cd "$T/inc" && ls -l data/workspace/sys/h | awk 'NR > 1 && $5 > 0 {printf "%s %.1f MB, ", $9, $5 / 1048576}')load $(cut -d' ' -f1-3 /proc/loadavg)"
	for _ in $(seq "$RUNS"); do
		timed sh -c 'cd "$1" && exec "$2" build -q' _ "$T/inc" "$VZ"
		echo "$(calc "$WALL * 1000" 0) $(calc "$CPU * 1000" 0)"
	done >"$T/nochange.txt"
	say "no-change build of /usr/include, median of $RUNS: $(awk '{print $1}' "$T/nochange.txt" | median) ms, $(awk '{print $2}' "$T/nochange.txt" | median) ms CPU (goal < 100)"
	say "$(cd "$T/inc" && "$VZ" query sys/h --text "compare two strings ignoring case" -k 3 | cut -f1-2 | tr '\t\n' ' ;')"
fi

say "## Ratios (vz / peer)"
cat "$OUT/ratios.txt" | tee -a "$RESULTS"

# The harness's own reference figures (other machine, other day), to read beside the above.
say "## Reference figures of the harness (bench/annbench/README.md)"
sed -n '/^Figures measured/,$p' bench/annbench/README.md | tee -a "$RESULTS"
