#!/usr/bin/env bash
# bench/durability.sh: durable ingest of vz beside sqlite3 doing the same work durably
# (a table (id TEXT PRIMARY KEY, vector BLOB, payload TEXT), PRAGMA synchronous=FULL):
#   bulk: 100k x 128 in one transaction, from .fvecs and from JSON lines;
#   single: one process per one-vector insert (median and p99 latency).
# Ratios last. Environment: VZ (binary), BENCH_DIR (scratch; default build/bench/durability),
# BENCH_N (rows, default 100000), BENCH_SINGLE (single inserts, default 200), BENCH_CKPT_SIZES
# (collections a 1000-operation checkpoint is folded into, default "100000 1000000").
#   never wait: the default insert's time to acknowledge, queries during its detached
#   checkpoint, time until the index is complete, checkpoint time and bytes per 1000 operations
#   (an incremental checkpoint: a segment beside the base), a query with N rows not yet
#   checkpointed (in the log, and in a segment without a graph), recover of an undamaged
#   collection with 1000 operations in its log.
set -euo pipefail
VZ=${VZ:-$PWD/vz}
D=${BENCH_DIR:-$PWD/build/bench/durability}
N=${BENCH_N:-100000}
S=${BENCH_SINGLE:-200}
rm -rf "$D" && mkdir -p "$D"
export VZ_DATA_DIR="$D/data"
now() { date +%s.%N; }
python3 - "$D" "$N" <<'PY'
import json, random, struct, sys
d, n = sys.argv[1], int(sys.argv[2])
r = random.Random(7)
with open(f"{d}/base.fvecs", "wb") as fv, open(f"{d}/base.jsonl", "w") as js, open(f"{d}/base.sql", "w") as sq:
    sq.write("PRAGMA synchronous=FULL;\nBEGIN;\n")
    for i in range(n):
        v = [r.gauss(0, 1) for _ in range(128)]
        fv.write(struct.pack("<i128f", 128, *v))
        js.write(json.dumps({"id": str(i), "vector": [round(x, 6) for x in v], "payload": {"i": i}}) + "\n")
        sq.write("INSERT INTO v VALUES('%d', X'%s', '{\"i\": %d}');\n" % (i, struct.pack("<128f", *v).hex(), i))
    sq.write("COMMIT;\n")
PY
schema="CREATE TABLE v(id TEXT PRIMARY KEY, vector BLOB, payload TEXT);"
row() { echo "{\"id\":\"s$1\",\"vector\":[$(python3 -c "import random; r=random.Random($1); print(','.join('%.5f' % r.gauss(0,1) for _ in range(128)))")]}"; }

t0=$(now); "$VZ" create f --dim 128 --metric euclidean -q; "$VZ" insert f "$D/base.fvecs" --no-bulk -q; t1=$(now)
vz_fvecs_wal=$(echo "$t1 - $t0" | bc)
t0=$(now); "$VZ" create j --dim 128 --metric euclidean -q; "$VZ" insert j "$D/base.jsonl" --no-bulk -q; t1=$(now)
vz_jsonl_wal=$(echo "$t1 - $t0" | bc)
t0=$(now); "$VZ" create fb --dim 128 --metric euclidean -q; "$VZ" insert fb "$D/base.fvecs" --bulk -q; t1=$(now)
vz_fvecs_bulk=$(echo "$t1 - $t0" | bc)
t0=$(now); sqlite3 "$D/bulk.db" "$schema"; sqlite3 "$D/bulk.db" < "$D/base.sql"; t1=$(now)
sq_bulk=$(echo "$t1 - $t0" | bc)

"$VZ" create s --dim 128 --metric euclidean --checkpoint-ops 1000000 -q
sqlite3 "$D/single.db" "PRAGMA journal_mode=DELETE; $schema" >/dev/null
: > "$D/vz_single"; : > "$D/sq_single"
for ((i = 0; i < S; i++)); do
	line=$(row $i)
	hex=$(python3 -c "import struct,random; r=random.Random($i); print(struct.pack('<128f',*[r.gauss(0,1) for _ in range(128)]).hex())")
	t0=$(now); echo "$line" | "$VZ" insert s - -q; t1=$(now); echo "$t1 - $t0" | bc >> "$D/vz_single"
	t0=$(now); sqlite3 "$D/single.db" "PRAGMA synchronous=FULL; INSERT INTO v VALUES('s$i', X'$hex', NULL);"; t1=$(now); echo "$t1 - $t0" | bc >> "$D/sq_single"
done
# Never wait: the default insert (acknowledged after the WAL fsync, its checkpoint detached),
# queries while that checkpoint builds, and the time until the index is complete.
"$VZ" create nw --dim 128 --metric euclidean -q
t0=$(now); VZ_AUTO_CHECKPOINT=background "$VZ" insert nw "$D/base.fvecs" -q; t1=$(now)
nw_ack=$(echo "$t1 - $t0" | bc)
q="[$(python3 -c "import random; r=random.Random(99); print(','.join('%.5f' % r.gauss(0,1) for _ in range(128)))")]"
: > "$D/nw_query"
for i in $(seq 1 600); do [ -d "$VZ_DATA_DIR/dynamic/nw/.vztmp.checkpoint" ] && break; sleep 0.05; done
while [ -d "$VZ_DATA_DIR/dynamic/nw/.vztmp.checkpoint" ] && [ "$(wc -l < "$D/nw_query")" -lt 50 ]; do
	a=$(now); "$VZ" query nw --vector "$q" -k 10 >/dev/null; b=$(now); echo "$b - $a" | bc >> "$D/nw_query"
done
"$VZ" checkpoint --wait nw -q; t2=$(now)
nw_indexed=$(echo "$t2 - $t0" | bc)
a=$(now); for i in 1 2 3 4 5 6 7 8 9 10; do "$VZ" query nw --vector "$q" -k 10 >/dev/null; done; b=$(now)
nw_query_after=$(echo "($b - $a) / 10" | bc -l)
# A query while N rows are in the log only (no checkpoint at all): each process opens the
# collection, so this is the cost of taking the log in.
"$VZ" create u --dim 128 --metric euclidean --checkpoint-ops 100000000 -q
VZ_AUTO_CHECKPOINT=off "$VZ" insert u "$D/base.fvecs" --no-bulk -q
a=$(now); for i in 1 2 3 4 5 6 7 8 9 10; do "$VZ" query u --vector "$q" -k 10 >/dev/null; done; b=$(now)
u_query=$(echo "($b - $a) / 10" | bc -l)
"$VZ" drop u --no-backup -q
# The same N rows inserted by default with no checkpoint after (a segment without a graph, the
# index not built): what a query costs before the index exists, per process (median of 20).
"$VZ" create sg --dim 128 --metric euclidean -q
VZ_AUTO_CHECKPOINT=off "$VZ" insert sg "$D/base.fvecs" -q
: > "$D/sg_query"
for i in $(seq 1 20); do a=$(now); "$VZ" query sg --vector "$q" -k 10 >/dev/null; b=$(now); echo "$b - $a" | bc >> "$D/sg_query"; done
"$VZ" drop sg --no-backup -q

# A checkpoint folding 1000 operations into a collection of S rows (BENCH_CKPT_SIZES): its
# time and the bytes its process wrote (wchar of /proc/PID/io, reaped children included).
: > "$D/ckpt"
for S in ${BENCH_CKPT_SIZES:-100000 1000000}; do
	python3 - "$D/c$S.fvecs" "$S" <<'PY2'
import random, struct, sys
r = random.Random(3)
with open(sys.argv[1], "wb") as f:
    for _ in range(int(sys.argv[2])): f.write(struct.pack("<i128f", 128, *[r.gauss(0, 1) for _ in range(128)]))
PY2
	"$VZ" create "c$S" --dim 128 --metric euclidean --checkpoint-ops 100000000 -q
	VZ_AUTO_CHECKPOINT=off "$VZ" insert "c$S" "$D/c$S.fvecs" -q
	"$VZ" checkpoint --wait "c$S" -q
	python3 -c "
import json, random
r = random.Random(4)
for i in range(1000): print(json.dumps({'id': 'n%d' % i, 'vector': [round(r.gauss(0, 1), 5) for _ in range(128)]}))" > "$D/ops.jsonl"
	VZ_AUTO_CHECKPOINT=off "$VZ" insert "c$S" "$D/ops.jsonl" -q
	a=$(now)
	w=$(bash -c '"$0" checkpoint "$1" -q && sed -n "s/^wchar: //p" /proc/$$/io' "$VZ" "c$S")
	b=$(now)
	# recover of the undamaged collection with another 1000 operations in its log
	python3 -c "
import json, random
r = random.Random(5)
for i in range(1000): print(json.dumps({'id': 'm%d' % i, 'vector': [round(r.gauss(0, 1), 5) for _ in range(128)]}))" > "$D/ops2.jsonl"
	VZ_AUTO_CHECKPOINT=off "$VZ" insert "c$S" "$D/ops2.jsonl" -q
	a2=$(now); "$VZ" recover "c$S" -q; b2=$(now)
	echo "$S $(echo "$b - $a" | bc) $w $(echo "$b2 - $a2" | bc)" >> "$D/ckpt"
	"$VZ" drop "c$S" --no-backup -q
	rm -f "$D/c$S.fvecs"
done

python3 - "$nw_ack" "$nw_indexed" "$nw_query_after" "$D/nw_query" "$D/ckpt" "$N" "$u_query" "$D/sg_query" "$sq_bulk" <<'PY'
import statistics, sys
ack, indexed, after = float(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]) * 1000
u_query = float(sys.argv[7]) * 1000
sg = sorted(float(x) * 1000 for x in open(sys.argv[8]))
sq = float(sys.argv[9])
qs = sorted(float(x) * 1000 for x in open(sys.argv[4]))
n = int(sys.argv[6])
print(f"never wait: default insert of {n} x 128 (a segment without a graph, its index built detached):")
print(f"  acknowledged after              {ack:8.2f} s  {n / ack:10.0f} rows/s  ({sq / ack:.2f}x sqlite3's throughput)")
print(f"  index complete after            {indexed:8.2f} s")
if qs:
    print(f"  vz query during its checkpoint  {statistics.median(qs):8.1f} ms median, {qs[-1]:.1f} ms max ({len(qs)} queries)")
print(f"  vz query once indexed           {after:8.1f} ms")
print(f"  vz query, {n} rows in the log   {u_query:8.1f} ms (no checkpoint yet, --no-bulk: the log replayed)")
print(f"  vz query, {n} rows not indexed  {statistics.median(sg):8.1f} ms median of {len(sg)} (a segment without a graph, scanned)")
for line in open(sys.argv[5]):
    s, t, w, rec = line.split()
    print(f"  checkpoint of 1000 ops into {int(s):>8} rows: {float(t):6.2f} s, {int(w) / 2**20:8.1f} MiB written")
    print(f"  recover with 1000 ops in the log, {int(s):>8} rows: {float(rec):6.2f} s")
PY

python3 - "$N" "$vz_fvecs_wal" "$vz_jsonl_wal" "$vz_fvecs_bulk" "$sq_bulk" "$D/vz_single" "$D/sq_single" <<'PY'
import statistics, sys
n = int(sys.argv[1]); fw, jw, fb, sq = map(float, sys.argv[2:6])
vs = sorted(float(x) * 1000 for x in open(sys.argv[6])); ss = sorted(float(x) * 1000 for x in open(sys.argv[7]))
p99 = lambda a: a[min(len(a) - 1, int(len(a) * 0.99))]
print(f"durable bulk insert of {n} x 128 (one transaction):")
print(f"  vz  .fvecs through the WAL      {fw:8.2f} s  {n / fw:10.0f} rows/s")
print(f"  vz  JSON lines through the WAL  {jw:8.2f} s  {n / jw:10.0f} rows/s")
print(f"  vz  .fvecs bulk (index built)   {fb:8.2f} s  {n / fb:10.0f} rows/s")
print(f"  sqlite3 (synchronous=FULL)      {sq:8.2f} s  {n / sq:10.0f} rows/s")
print(f"single-vector insert, one process each ({len(vs)} runs): median / p99")
print(f"  vz insert                       {statistics.median(vs):6.2f} / {p99(vs):6.2f} ms")
print(f"  sqlite3 INSERT                  {statistics.median(ss):6.2f} / {p99(ss):6.2f} ms")
print("ratios (vz / sqlite3; > 1 means vz is faster):")
print(f"  bulk .fvecs (WAL) throughput  {sq / fw:5.2f}x")
print(f"  bulk JSON lines throughput    {sq / jw:5.2f}x")
print(f"  bulk .fvecs with index build  {sq / fb:5.2f}x")
print(f"  single insert median latency  {statistics.median(ss) / statistics.median(vs):5.2f}x")
PY
