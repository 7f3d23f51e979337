#!/usr/bin/env bash
# bench/durability.sh: durable ingest of vz beside sqlite3 doing the same work durably
# (a table (id TEXT PRIMARY KEY, vector BLOB, payload TEXT), PRAGMA synchronous=FULL):
#   bulk: 100k x 128 in one transaction, from .fvecs and from JSON lines;
#   single: one process per one-vector insert (median and p99 latency).
# Ratios last. Environment: VZ (binary), BENCH_DIR (scratch; default build/bench/durability),
# BENCH_N (rows, default 100000), BENCH_SINGLE (single inserts, default 200).
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
