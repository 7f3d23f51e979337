#!/usr/bin/env bash
# make-corpus.sh VZ: (re)creates the seed corpus of every fuzz target from real files made by
# the vz binary and a few hand-written valid and invalid inputs. The corpus is committed; run
# this after a format change.
set -euo pipefail
VZ=$(realpath "$1")
cd "$(dirname "$0")"
C=corpus
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for t in jsonl ops fvecs npy csv vector header wal vectors index metadata collection; do rm -rf "$C/$t"; mkdir -p "$C/$t"; done
printf '%s\n' '{"id":"a","vector":[1,2,3],"payload":{"x":[1,"é",null]}}' '{"id":"b","vector":[4,5,6e-3]}' > $C/jsonl/good
printf '%s\n' '{"id":"a","vector":[1,2' > $C/jsonl/torn
printf '%s\n' '{"id":"\ud83d\ude00","vector":[1e38,-0.0,3]}' '' '{"id":"x","vector":[1,2,3],"payload":"s\\"q"}' > $C/jsonl/escapes
printf '%s\n' '{"op":"insert","id":"a","vector":[1,2,3]}' '{"op":"delete","id":"a"}' '{"op":"upsert","id":"b","vector":[1,2,3],"payload":1}' > $C/ops/good
printf '%s\n' '{"op":"nope","id":"a"}' > $C/ops/bad
printf 'id,x,y,z\na,1,2,3\n"b,""q",4,5,6\n' > $C/csv/ids
printf '1,2,3\n4,5,6\n' > $C/csv/plain
printf '[1, 2.5, -3e-2]' > $C/vector/good
printf '[1,2,' > $C/vector/torn
python3 - "$C" <<'PY'
import struct, sys
c = sys.argv[1]
open(f"{c}/fvecs/good", "wb").write(b"".join(struct.pack("<i3f", 3, i, i + 1, i + 2) for i in range(4)))
open(f"{c}/fvecs/short", "wb").write(struct.pack("<i3f", 3, 1, 2, 3)[:10])
h = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"
h += " " * ((64 - (10 + len(h) + 1) % 64) % 64) + "\n"
open(f"{c}/npy/good", "wb").write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(h)) + h.encode() + struct.pack("<6f", *range(6)))
open(f"{c}/npy/lies", "wb").write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(h)) + h.encode().replace(b"(2, 3)", b"(9, 3)") + struct.pack("<6f", *range(6)))
PY
export VZ_DATA_DIR=$tmp/data
"$VZ" create c --dim 4 -q
printf '{"id":"r%d","vector":[%d,1,2,3],"payload":{"i":%d}}\n' 1 1 1 2 2 2 3 3 3 4 4 4 5 5 5 | "$VZ" insert c - -q
"$VZ" checkpoint c -q
printf '{"id":"w%d","vector":[1,%d,2,3]}\n' 1 1 2 2 | "$VZ" insert c - -q
"$VZ" delete c r2 -q
d=$VZ_DATA_DIR/dynamic/c
cp $d/wal.log $C/wal/good
head -c 200 $d/wal.log > $C/wal/torn
cp $d/vectors.bin $C/vectors/good
cp $d/index.hnsw $C/index/good
cp $d/metadata.json $C/metadata/good
head -c 64 $d/vectors.bin > $C/header/vectors
head -c 64 $d/index.hnsw > $C/header/index
head -c 64 $d/wal.log > $C/header/wal
i=0
for f in metadata.json vectors.bin index.hnsw wal.log; do
	{ printf "\\x$(printf %02x $i)"; cat $d/$f; } > $C/collection/$f
	i=$((i + 1))
done
"$VZ" create s --dim 8 --quantization sq8 --metric dot_product -q
printf '{"id":"s%d","vector":[%d,1,2,3,4,5,6,7]}\n' 1 1 2 2 3 3 4 4 | "$VZ" insert s - -q
"$VZ" checkpoint s -q
cp $VZ_DATA_DIR/dynamic/s/index.hnsw $C/index/sq8
# the same file as a float graph's codes for searching (flags bit 1, not 0): a float graph has
# them from 65,536 rows, too many for a corpus file
python3 -c "import sys; b = bytearray(open(sys.argv[1], 'rb').read()); b[12] = 2; open(sys.argv[2], 'wb').write(b)" $C/index/sq8 $C/index/floatcodes
# export (fuzz_export.c): a byte picking the engine (+4: with vz.json), then an export's rows file
rm -rf "$C/export"; mkdir -p "$C/export"
"$VZ" create x --dim 3 --metric euclidean -q
printf '%s\n' '{"id":"a\"q","vector":[0.1,0.2,0.3],"payload":{"t":"x,y"}}' '{"id":"é","vector":[1,2,3]}' '{"id":"s","vector":[1,2,3],"payload":"str"}' | "$VZ" insert x - -q
i=0
for e in lancedb qdrant milvus pgvector; do
  "$VZ" export x --to $e -o "$tmp/x.$e" -q
  r=$(ls "$tmp/x.$e" | grep -E "^(rows\.|points-)")
  for flag in 0 4; do { printf "\\$(printf %03o $((i + flag)))"; cat "$tmp/x.$e/$r"; } > "$C/export/$e-$flag"; done
  i=$((i + 1))
done
# postings.delta and cache.delta over their bases (fuzz_pdelta.c, fuzz_cdelta.c): u32 the base
# file's length, the base file, then the delta, after an incremental build of a small workspace
rm -rf "$C/pdelta" "$C/cdelta"; mkdir -p "$C/pdelta" "$C/cdelta" "$tmp/ws/p"
printf 'projects:\n  - name: p\n    path: p\n    collections:\n      - name: docs\n' > "$tmp/ws/vectorize-workspace.yml"
for i in $(seq 10 40); do printf '# File %d\nrestore a backup w0%d of the zeppelin\n' $i $i > "$tmp/ws/p/f$i.md"; done
(cd "$tmp/ws" && "$VZ" build -q && "$VZ" checkpoint p/docs --wait -q &&
	printf '# Changed\nw001 w002 fresh words\n' > p/f12.md && rm p/f15.md && printf '# New\nzeppelin w002\n' > p/f90.md && "$VZ" build -q)
w=$VZ_DATA_DIR/workspace/p/docs
pair() { python3 -c 'import struct,sys; a=open(sys.argv[1],"rb").read(); b=open(sys.argv[2],"rb").read(); sys.stdout.buffer.write(struct.pack("<I",len(a))+a+b)' "$1" "$2"; }
pair $w/postings.bin $w/postings.delta > $C/pdelta/good
pair $w/cache.bin $w/cache.delta > $C/cdelta/good
head -c 300 $C/pdelta/good > $C/pdelta/torn
head -c 300 $C/cdelta/good > $C/cdelta/torn
echo "corpus: $(find $C -type f | wc -l) files"
